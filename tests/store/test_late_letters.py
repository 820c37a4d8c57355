"""Events detection set aside as too late become dead letters that say where and why."""

from __future__ import annotations

from fanzha.detection import late_letters
from fanzha.store import Store

ROWS = [("call", "C-1", 1_714_521_600), ("transfer", "T-9", 1_714_525_200)]


def test_late_events_are_kept_as_located_dead_letters(store: Store) -> None:
    letters = late_letters(ROWS, 3600)
    assert [(x.event_type, x.location, x.field) for x in letters] == [
        ("call", "event C-1", "ts"),
        ("transfer", "event T-9", "ts"),
    ]
    assert all("3600" in x.reason and x.source == "detect" for x in letters)
    assert store.dead_letters.add_many(letters) == 2
    assert store.dead_letters.add_many(late_letters(ROWS, 3600)) == 0  # a re-run adds none
    stored = store.dead_letters.list(source="detect")
    assert sorted(s.letter.raw for s in stored) == [b"C-1", b"T-9"]
    assert "2024-05-01T00:00:00+00:00" in next(
        s.letter.reason for s in stored if s.letter.raw == b"C-1"
    )
