"""Platform clocks: manual time only moves forward; scaled time runs `speed` times the wall."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from fanzha.model.clock import ManualClock, ScaledClock, SystemClock

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0
    assert clock.advance(90) == T0 + dt.timedelta(seconds=90)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(T0)


def test_clocks_need_aware_times_and_a_positive_speed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(dt.datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        ScaledClock(dt.datetime(2024, 5, 1), 10)
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(T0, 0)


def test_scaled_clock_runs_faster_than_the_wall() -> None:
    clock = ScaledClock(T0, speed=10_000)
    time.sleep(0.01)
    elapsed = (clock.now() - T0).total_seconds()
    assert 50 <= elapsed <= 10_000  # 0.01 s of wall ≈ 100 s simulated (generous for slow CI)
    assert clock.wall_seconds_until(T0) == 0.0
    assert 0 < clock.wall_seconds_until(T0 + dt.timedelta(hours=10)) <= 3.6


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo is dt.UTC
