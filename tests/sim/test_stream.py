"""Streaming replay of the simulator's event files: windows in event-time order, every event
exactly once, filters, pacing (with an injected sleep and wall) and a replay into a real App."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.lake.log import Lake
from fanzha.lake.query import run_sql
from fanzha.model.events import EVENT_TYPES
from fanzha.model.schema import arrow_schema
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.sim.stream import REPLAY_ORDER, Window, event_files, iter_windows, replay

CST = dt.timezone(dt.timedelta(hours=8))
MAY1, MAY2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)


def at(day: dt.date, clock: str) -> dt.datetime:
    """A local (Asia/Shanghai) instant on ``day``, e.g. ``at(MAY1, "23:59:30.5")``."""
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), CST)


def record(event_type: str, n: int, ts: dt.datetime) -> dict[str, Any]:
    """A valid event of ``event_type`` with id ``<type>-<n>``."""
    common = {"event_id": f"{event_type}-{n}", "source": "sim", "ts": ts}
    phone = f"+86138{n:08d}"
    card = f"62220210{n:011d}"
    extra: dict[str, dict[str, Any]] = {
        "call": {"caller": phone, "callee": "+8613800138000", "duration_s": 30},
        "sms": {"sender": phone, "recipient": "+8613800138000", "text": "您的快递已到"},
        "transfer": {
            "payer_account": card,
            "payee_account": "6222021047290000033",
            "amount_fen": 1,
        },
        "account_opened": {"account": card, "bank": "ICBC"},
        "web_visit": {"subscriber": phone, "url": f"https://example.cn/p/{n}"},
    }
    return common | extra[event_type]


def write_events(
    events_dir: Path, event_type: str, day: dt.date, times: list[dt.datetime], fmt: str
) -> list[str]:
    """One day file of the simulator's layout; returns the event ids written."""
    folder = events_dir / event_type
    folder.mkdir(parents=True, exist_ok=True)
    start = len(list(folder.iterdir())) * 1000  # ids unique across a type's files
    records = [record(event_type, start + i, ts) for i, ts in enumerate(sorted(times))]
    path = folder / f"{event_type}-{day.isoformat()}.{fmt}"
    if fmt == "parquet":
        schema = arrow_schema(EVENT_TYPES[event_type])
        pq.write_table(pa.Table.from_pylist(records, schema=schema), path)
    else:
        lines = [json.dumps(r | {"ts": r["ts"].isoformat()}, ensure_ascii=False) for r in records]
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return [r["event_id"] for r in records]


@pytest.fixture
def events(tmp_path: Path) -> tuple[Path, list[str]]:
    """Two local days of calls, SMS (NDJSON), transfers and account openings, with events on
    both sides of local midnight and ties on ``ts``."""
    folder = tmp_path / "sim" / "events"
    ids: list[str] = []
    late = ["10:00:00", "10:00:30", "10:01:10", "23:59:30", "23:59:59.5", "23:59:59.5"]
    ids += write_events(folder, "call", MAY1, [at(MAY1, c) for c in late], "parquet")
    early = ["00:00:00", "00:00:20", "09:00:00"]
    ids += write_events(folder, "call", MAY2, [at(MAY2, c) for c in early], "parquet")
    ids += write_events(folder, "sms", MAY1, [at(MAY1, "23:59:45")], "ndjson")
    sms2 = [at(MAY2, "00:00:10"), at(MAY2, "00:03:00")]
    ids += write_events(folder, "sms", MAY2, sms2, "ndjson")
    ids += write_events(folder, "transfer", MAY1, [at(MAY1, "12:00:00")], "parquet")
    ids += write_events(folder, "transfer", MAY2, [at(MAY2, "00:00:05")], "parquet")
    ids += write_events(folder, "account_opened", MAY1, [at(MAY1, "09:59:00")], "parquet")
    (folder / "call" / "README.txt").write_text("not an event file")
    return folder, ids


def rows(lake: Lake, query: str) -> list[dict[str, Any]]:
    """Rows of a SQL query over the lake (tests/sim has no package, so no ``factories``)."""
    result: list[dict[str, Any]] = run_sql(lake, query).to_pylist()
    return result


def count(lake: Lake, event_type: str) -> int:
    """Events of one type in the lake."""
    n: int = rows(lake, f'SELECT count(*) AS n FROM "{event_type}"')[0]["n"]
    return n


def ids_of(windows: list[Window]) -> list[str]:
    return [i for w in windows for t in w.tables.values() for i in t["event_id"].to_pylist()]


def check_order(windows: list[Window]) -> None:
    """Windows are consecutive and disjoint; each holds its own events, sorted by ts."""
    for before, after in pairwise(windows):
        assert before.end <= after.start
    for w in windows:
        assert w.start < w.end and w.events > 0
        for event_type, table in w.tables.items():
            stamps = table["ts"].to_pylist()
            assert stamps == sorted(stamps)
            assert all(w.start <= ts < w.end for ts in stamps)
            assert table.schema == arrow_schema(EVENT_TYPES[event_type])


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("window_s", [0.5, 1, 60, 77, 3600, 7 * 86400])
def test_every_event_once_in_event_time_order(
    events: tuple[Path, list[str]], window_s: float
) -> None:
    folder, ids = events
    windows = list(iter_windows(folder, window_s))
    check_order(windows)
    assert Counter(ids_of(windows)) == Counter(ids) and len(set(ids)) == len(ids)


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 3 * 86400 * 1000), min_size=1, max_size=40),
    window_ms=st.integers(1, 2 * 86400 * 1000),
    bounds=st.tuples(st.integers(0, 3 * 86400), st.integers(0, 3 * 86400)),
)
def test_any_events_any_window(offsets: list[int], window_ms: int, bounds: tuple[int, int]) -> None:
    """Events at arbitrary millisecond offsets over three local days, split into day files."""
    origin = at(MAY1, "00:00")
    stamps = [origin + dt.timedelta(milliseconds=ms) for ms in offsets]
    since, until = (origin + dt.timedelta(seconds=b) for b in sorted(bounds))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        by_day: dict[dt.date, list[dt.datetime]] = {}
        for ts in stamps:
            by_day.setdefault(ts.date(), []).append(ts)  # ts is local (CST)
        ids = [
            i
            for day, times in sorted(by_day.items())
            for i in write_events(folder, "call", day, times, "parquet")
        ]
        windows = list(iter_windows(folder, window_ms / 1000))
        check_order(windows)
        assert Counter(ids_of(windows)) == Counter(ids)
        bounded = list(iter_windows(folder, window_ms / 1000, since=since, until=until))
        check_order(bounded)
        expected = [i for i, ts in zip(ids, sorted(stamps), strict=True) if since <= ts < until]
        assert Counter(ids_of(bounded)) == Counter(expected)


def test_windows_fall_on_whole_minutes_and_types_keep_their_rows(
    events: tuple[Path, list[str]],
) -> None:
    folder, _ = events
    windows = list(iter_windows(folder, 60))
    assert all(w.start.second == 0 and w.end - w.start == dt.timedelta(minutes=1) for w in windows)
    last_of_may1 = next(w for w in windows if w.start == at(MAY1, "23:59"))
    assert sorted(last_of_may1.tables) == ["call", "sms"]
    assert last_of_may1.tables["call"].num_rows == 3  # a tie on ts: both kept
    assert last_of_may1.end == at(MAY2, "00:00")


def test_a_window_across_local_midnight_joins_both_days(events: tuple[Path, list[str]]) -> None:
    folder, _ = events
    windows = list(iter_windows(folder, 120, since=at(MAY1, "23:59")))
    first = windows[0]
    assert (first.start, first.end) == (at(MAY1, "23:59"), at(MAY2, "00:01"))
    assert first.tables["call"]["event_id"].to_pylist() == [
        "call-3",
        "call-4",
        "call-5",
        "call-1000",
        "call-1001",
    ]
    assert [t for t in REPLAY_ORDER if t in first.tables] == ["call", "sms", "transfer"]


def test_since_and_until(events: tuple[Path, list[str]]) -> None:
    folder, _ = events
    since, until = at(MAY1, "23:59:40"), at(MAY2, "00:00:10")
    windows = list(iter_windows(folder, 60, since=since, until=until))
    check_order(windows)
    assert windows[0].start == since
    assert sorted(ids_of(windows)) == ["call-1000", "call-4", "call-5", "sms-0", "transfer-1000"]
    only_may2 = ids_of(list(iter_windows(folder, 3600, since=at(MAY2, "00:00"))))
    assert sorted(only_may2) == ["call-1000", "call-1001", "call-1002", "sms-1000", "sms-1001",
                                 "transfer-1000"]  # fmt: skip
    assert list(iter_windows(folder, 60, until=at(MAY1, "09:00"))) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        list(iter_windows(folder, 60, since=dt.datetime(2024, 5, 1)))


def test_types(events: tuple[Path, list[str]]) -> None:
    folder, _ = events
    windows = list(iter_windows(folder, 60, types=["sms", "transfer"]))
    assert {t for w in windows for t in w.tables} == {"sms", "transfer"}
    assert len(ids_of(windows)) == 5
    assert list(iter_windows(folder, 60, types=["police_report"])) == []
    with pytest.raises(ValueError, match="unknown event types"):
        list(iter_windows(folder, 60, types=["calls"]))
    assert sorted(event_files(folder)) == [MAY1, MAY2]
    assert set(REPLAY_ORDER) == set(EVENT_TYPES)


def test_a_file_outside_its_local_day(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    write_events(folder, "call", MAY1, [at(MAY1, "12:00"), at(MAY2, "00:00:30")], "parquet")
    write_events(folder, "call", MAY2, [at(MAY2, "00:00:10")], "parquet")
    # Events after their file's day are carried forward and merged in order ...
    windows = list(iter_windows(folder, 60))
    assert ids_of(windows) == ["call-0", "call-1000", "call-1"]
    # ... but events before what was already replayed cannot be put back in order.
    write_events(folder, "sms", MAY2, [at(MAY1, "10:00")], "ndjson")
    with pytest.raises(ValueError, match="must hold only its local day"):
        list(iter_windows(folder, 60))


def test_bad_window_length(events: tuple[Path, list[str]]) -> None:
    with pytest.raises(ValueError, match="positive"):
        list(iter_windows(events[0], 0))


# --------------------------------------------------------------------------- replay


class FakeWall:
    """A monotonic clock that moves only when slept on (or when a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("speed", [1.0, 60.0, 10_000.0])
def test_pacing_follows_simulated_time(events: tuple[Path, list[str]], speed: float) -> None:
    folder, ids = events
    wall = FakeWall()
    sent: list[tuple[str, float, dt.datetime]] = []

    def sink(event_type: str, table: pa.Table) -> None:
        sent.append((event_type, wall.now, max(table["ts"].to_pylist())))

    stats = replay(folder, sink, speed=speed, sleep=wall.sleep, wall=wall)
    first = at(MAY1, "09:59")
    assert stats.start == first and stats.end == at(MAY2, "09:01")
    assert stats.simulated_s == (stats.end - first).total_seconds()
    assert sum(wall.sleeps) == pytest.approx(stats.simulated_s / speed)
    assert stats.wall_s == pytest.approx(stats.simulated_s / speed)
    assert stats.total == len(ids) and stats.events["call"] == 9
    # Nothing is sent before simulated time has passed it.
    for _, sent_at, latest in sent:
        assert first + dt.timedelta(seconds=(sent_at - 1000.0) * speed) > latest


def test_a_slow_sink_is_not_slowed_further(events: tuple[Path, list[str]]) -> None:
    folder, _ = events
    wall = FakeWall()
    calls: list[dt.datetime] = []

    def slow_sink(event_type: str, table: pa.Table) -> None:
        calls.append(table["ts"][0].as_py())
        wall.now += 0.25  # a quarter of a second per call: under a window's 1 s at ×60

    stats = replay(folder, slow_sink, speed=60.0, sleep=wall.sleep, wall=wall)
    assert stats.end is not None
    in_last_window = sum(1 for ts in calls if ts >= stats.end - dt.timedelta(minutes=1))
    # The sink's time is taken out of the waits: only the last window's calls add to the span.
    assert stats.wall_s == pytest.approx(stats.simulated_s / 60.0 + 0.25 * in_last_window)
    assert sum(wall.sleeps) == pytest.approx(stats.wall_s - 0.25 * len(calls))


def test_as_fast_as_possible_never_sleeps_and_keeps_the_type_order(
    events: tuple[Path, list[str]],
) -> None:
    folder, ids = events
    order: list[str] = []
    seen: list[Window] = []

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}")

    stats = replay(
        folder,
        lambda event_type, table: order.append(event_type),
        speed=None,
        window_s=7 * 86400,
        since=at(MAY1, "00:00"),
        sleep=no_sleep,
        progress=seen.append,
    )
    assert order == ["account_opened", "call", "sms", "transfer"]
    assert (stats.windows, len(seen), stats.total) == (1, 1, len(ids))
    with pytest.raises(ValueError, match="positive"):
        replay(folder, lambda event_type, table: None, speed=0)


def test_replay_into_a_real_app(events: tuple[Path, list[str]], tmp_path: Path) -> None:
    folder, ids = events
    with App(Settings(data_dir=tmp_path / "data")) as fz:

        def sink(event_type: str, table: pa.Table) -> None:
            report = fz.ingest_table(table, event_type, source=f"replay:{event_type}")
            assert report.rejected == 0

        stats = replay(folder, sink, speed=None)
        assert stats.total == len(ids)
        assert {t: count(fz.lake, t) for t in stats.events} == stats.events
        landed = rows(fz.lake, "SELECT event_id FROM call UNION ALL SELECT event_id FROM sms")
        expected = [i for i in ids if i.startswith(("call", "sms"))]
        assert sorted(r["event_id"] for r in landed) == sorted(expected)
        late = rows(fz.lake, "SELECT ts FROM call WHERE event_id = 'call-4'")
        assert late == [{"ts": at(MAY1, "23:59:59.5")}]
        # Replaying again adds nothing: the lake de-duplicates by event id.
        replay(folder, sink, speed=None)
        assert count(fz.lake, "call") == 9
        assert fz.store.runs.list(1)[0].duplicates > 0
