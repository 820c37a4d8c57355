"""The victim mirror screen's pads (一机双屏): what the desk officer has typed, per desk form.

Each desk form gets a pad, a random id bound to the officer who opened it; the form sends
its fields to the pad as the officer types, and the mirror window (its own URL, in the same
browser, so with the same session) reads the pad back. Another user, or no session, gets
404: the pad id alone is not enough. Pads live in this process's memory (drafts are not
records; the confirmed report is), are bounded in number and forgotten after a while.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from fanzha.auth import OutOfScope
from fanzha.web.desk import Draft

MAX_PADS = 2000
TTL_S = 12 * 3600


@dataclass
class Pad:
    """One desk form's draft, as the mirror screen shows it."""

    pad_id: str
    owner: str
    version: int = 0
    draft: Draft | None = None
    case_id: str | None = None
    touched: float = 0.0


class Pads:
    """Pads by id (thread-safe: page routes run in worker threads)."""

    def __init__(self, limit: int = MAX_PADS, ttl_s: float = TTL_S) -> None:
        self._pads: OrderedDict[str, Pad] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit
        self._ttl_s = ttl_s

    def open(self, owner: str) -> Pad:
        """A new pad for ``owner`` (the oldest are dropped beyond the limit)."""
        pad = Pad(secrets.token_urlsafe(12), owner, touched=time.monotonic())
        with self._lock:
            self._pads[pad.pad_id] = pad
            while len(self._pads) > self._limit:
                self._pads.popitem(last=False)
        return pad

    def get(self, pad_id: str, owner: str) -> Pad:
        """The pad, if it is ``owner``'s and still alive (else OutOfScope: 404)."""
        with self._lock:
            pad = self._pads.get(pad_id)
            if pad is None or pad.owner != owner:
                raise OutOfScope(f"pad {pad_id}")
            if time.monotonic() - pad.touched > self._ttl_s:
                del self._pads[pad_id]
                raise OutOfScope(f"pad {pad_id}")
            return pad

    def put(self, pad_id: str, owner: str, draft: Draft) -> Pad:
        """Replace the pad's draft (the version moves on, so the mirror redraws)."""
        pad = self.get(pad_id, owner)
        with self._lock:
            pad.draft = draft
            pad.version += 1
            pad.touched = time.monotonic()
            self._pads.move_to_end(pad_id)
        return pad

    def confirm(self, pad_id: str, owner: str, case_id: str) -> Pad:
        """The report was confirmed: the mirror says so."""
        pad = self.get(pad_id, owner)
        with self._lock:
            pad.case_id = case_id
            pad.version += 1
            pad.touched = time.monotonic()
        return pad
