"""The in-process event bus: instruction events from any thread to live subscribers.

The Dispatcher runs in worker threads (sync routes, the scheduler, replays); subscribers are
server-sent-event streams on the event loop. :meth:`EventBus.publish` is thread-safe and
never blocks: each subscriber has a bounded queue filled on its own loop; a subscriber too
slow to keep up loses events and is told so once (``lost``), to reload its view.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Collection

from fanzha.dispatch.events import InstructionEvent

QUEUE_SIZE = 1000


class Subscription:
    """Events for a set of units (None: the whole city), read with :meth:`get`."""

    def __init__(self, bus: EventBus, units: frozenset[str] | None) -> None:
        self.units = units
        self.lost = False
        self._bus = bus
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[InstructionEvent] = asyncio.Queue(QUEUE_SIZE)

    def offer(self, event: InstructionEvent) -> None:
        """Queue ``event`` from any thread if it concerns this subscription."""
        if event.concerns(self.units):
            self._loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: InstructionEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lost = True

    async def get(self, timeout: float) -> InstructionEvent | None:
        """The next event, or None after ``timeout`` seconds (time for a keep-alive)."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        """Stop receiving events."""
        self._bus.unsubscribe(self)


class EventBus:
    """Fan-out of instruction events to subscriptions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Callable[[InstructionEvent], None]] = []

    def listen(self, listener: Callable[[InstructionEvent], None]) -> None:
        """Call ``listener`` with every event, in the publisher's thread: it must not block
        (the webhook sender only queues the event for its own thread)."""
        with self._lock:
            self._listeners.append(listener)

    def subscribe(self, units: Collection[str] | None) -> Subscription:
        """A subscription on the running event loop for ``units`` (None: everything)."""
        sub = Subscription(self, None if units is None else frozenset(units))
        with self._lock:
            self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget ``sub`` (idempotent)."""
        with self._lock:
            if sub in self._subscriptions:
                self._subscriptions.remove(sub)

    def publish(self, event: InstructionEvent) -> None:
        """Deliver ``event`` to every subscription it concerns (any thread)."""
        with self._lock:
            subs = list(self._subscriptions)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)
        for sub in subs:
            try:
                sub.offer(event)
            except RuntimeError:  # its loop is closed: the stream is gone
                self.unsubscribe(sub)

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        with self._lock:
            return len(self._subscriptions)
