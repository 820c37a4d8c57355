"""A small cache of the dashboard's figures, so that the city-wide pages stay fast.

Entries are kept per key (units scope, day, and a slot of the platform clock: ``SLOT_S``
seconds), so that figures that move with time alone (overdue now, the funds tiles) are at
most one slot old. Any instruction event on the bus empties the cache: the listener only
bumps a generation under a lock, it never blocks the publisher. A value computed while an
event arrived is not stored (it may predate the change).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
SLOT_S = 10
MAX_ENTRIES = 512


class PageCache:
    """Values per key within a clock slot, dropped on every instruction event."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._items: dict[Hashable, Any] = {}

    def invalidate(self, _event: object = None) -> None:
        """Forget everything (a bus listener: cheap and non-blocking)."""
        with self._lock:
            self._generation += 1
            self._items.clear()

    def get(self, key: Hashable, now: dt.datetime, compute: Callable[[], T]) -> T:
        """The cached value of ``key`` in ``now``'s slot, else ``compute()`` (stored)."""
        full = (key, int(now.timestamp()) // SLOT_S)
        with self._lock:
            generation = self._generation
            if full in self._items:
                value: T = self._items[full]
                return value
        value = compute()
        with self._lock:
            if self._generation == generation:
                if len(self._items) >= MAX_ENTRIES:
                    self._items.clear()
                self._items[full] = value
        return value

    @property
    def generation(self) -> int:
        """How many times the cache was emptied."""
        with self._lock:
            return self._generation


_ATTACH = threading.Lock()


def cache_of(fz: Any) -> PageCache:
    """The app's page cache, made on first use and listening on its bus."""
    with _ATTACH:
        found: PageCache | None = fz.__dict__.get("_page_cache")
        if found is None:
            found = PageCache()
            fz.bus.listen(found.invalidate)
            fz.__dict__["_page_cache"] = found
        return found
