"""The platform clock: every piece of logic reads time from a :class:`Clock`, never the wall.

Detection, SLA timers and the simulator all take a clock, so that tests are deterministic and a
simulated fortnight can run in seconds (:class:`ScaledClock`) or step by step
(:class:`ManualClock`).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    """Where the current (event) time comes from."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> dt.datetime:
        """The wall-clock time."""
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that only moves when told to (tests, batch replay)."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start

    def now(self) -> dt.datetime:
        """The time last set."""
        return self._now

    def set(self, when: dt.datetime) -> None:
        """Move to ``when``; time never goes backwards."""
        if when < self._now:
            raise ValueError(f"clock cannot go back from {self._now} to {when}")
        self._now = when

    def advance(self, seconds: float) -> dt.datetime:
        """Move forward by ``seconds`` and return the new time."""
        self.set(self._now + dt.timedelta(seconds=seconds))
        return self._now


class ScaledClock:
    """Simulated time that runs ``speed`` times faster than the wall from ``start``."""

    def __init__(self, start: dt.datetime, speed: float) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs a timezone-aware start time")
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.start = start
        self.speed = speed
        self._wall_start = time.monotonic()

    def now(self) -> dt.datetime:
        """Start plus the scaled wall time elapsed since the clock was made."""
        elapsed = (time.monotonic() - self._wall_start) * self.speed
        return self.start + dt.timedelta(seconds=elapsed)

    def wall_seconds_until(self, when: dt.datetime) -> float:
        """Wall seconds to wait until simulated time reaches ``when`` (0 if it has)."""
        return max(0.0, (when - self.now()).total_seconds() / self.speed)
