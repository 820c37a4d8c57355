"""Ingestion runs: recorded when they start, completed when they end, listed newest first."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from fanzha.store import IngestRun, Store
from fanzha.store.runs import UnknownRunError

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def run(n: int, **changes: object) -> IngestRun:
    values: dict[str, object] = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "started_at": T0 + dt.timedelta(minutes=n),
        "files": (f"/data/calls-{n}.ndjson", "/data/数据 二.csv"),
        "event_type": "call",
        "strict": n % 2 == 0,
    }
    values.update(changes)
    return IngestRun(**values)  # type: ignore[arg-type]


def test_a_started_run_reads_back_as_running(store: Store) -> None:
    started = run(1)
    store.runs.start(started)
    assert store.runs.get(started.id) == started
    assert started.status == "running" and started.finished_at is None


def test_finish_records_counts_status_and_end_time(store: Store) -> None:
    started = run(1)
    store.runs.start(started)
    finished = store.runs.finish(started.id, 90, 7, 3)
    assert finished == store.runs.get(started.id)
    assert (finished.accepted, finished.rejected, finished.duplicates) == (90, 7, 3)
    assert finished.status == "done" and finished.error is None
    assert finished.finished_at is not None and finished.finished_at >= started.started_at
    assert finished.files == started.files


def test_a_failed_run_keeps_its_error(store: Store) -> None:
    store.runs.start(run(1))
    failed = store.runs.finish(
        run(1).id, accepted=0, rejected=0, duplicates=0, status="failed", error="disk full\x00"
    )
    assert failed.status == "failed"
    assert failed.error == "disk full\\x00"
    rolled = store.runs.finish(run(1).id, 0, 0, 0, status="rolled_back")
    assert rolled.status == "rolled_back" and rolled.error is None


def test_finish_refuses_running_and_unknown_status(store: Store) -> None:
    store.runs.start(run(1))
    for status in ("running", "finished"):
        with pytest.raises(ValueError, match="a run ends as one of"):
            store.runs.finish(run(1).id, 0, 0, 0, status=status)


def test_finish_of_an_unknown_run_raises(store: Store) -> None:
    with pytest.raises(UnknownRunError):
        store.runs.finish("no-such-run", 0, 0, 0)
    assert store.runs.get("no-such-run") is None


def test_a_run_id_is_started_once(store: Store) -> None:
    store.runs.start(run(1))
    with pytest.raises(IntegrityError):
        store.runs.start(run(1))


def test_start_refuses_an_unknown_status(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown run status"):
        store.runs.start(run(1, status="paused"))


def test_list_is_newest_first_and_limited(store: Store) -> None:
    for n in (2, 4, 1, 3):
        store.runs.start(run(n))
    assert [r.id[-1] for r in store.runs.list()] == ["4", "3", "2", "1"]
    assert [r.id[-1] for r in store.runs.list(limit=2)] == ["4", "3"]
    assert store.runs.list(limit=0) == []


def test_new_makes_a_fresh_aware_run() -> None:
    a = IngestRun.new(["a.ndjson"], event_type="sms", strict=True)
    b = IngestRun.new(["a.ndjson"])
    assert a.id != b.id and len(a.id) == 36
    assert a.started_at.tzinfo is not None
    assert (a.files, a.event_type, a.strict, a.status) == (("a.ndjson",), "sms", True, "running")


def test_times_in_another_zone_are_the_same_instant(store: Store) -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    started = run(1, started_at=dt.datetime(2026, 3, 1, 16, 0, tzinfo=beijing))
    store.runs.start(started)
    got = store.runs.get(started.id)
    assert got is not None
    assert got.started_at == T0.replace(hour=8)
    assert got.started_at.utcoffset() == dt.timedelta(0)
