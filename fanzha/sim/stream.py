"""Streaming replay: the simulator's events in event-time order, window by window, at a chosen
speed (×1 … ×10,000, or as fast as possible) into a sink such as the platform's ingestion.

The simulator writes ``<events>/<type>/<type>-YYYY-MM-DD.parquet`` (or ``.ndjson``): one file per
event type and local day, rows sorted by ``ts``. Files are read a day at a time, so memory holds
about one day of events whatever the length of the simulation.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from fanzha.model.clock import ScaledClock
from fanzha.model.events import EVENT_TYPES
from fanzha.model.schema import arrow_schema

#: The order in which a window's types reach the sink: reference-like facts (accounts, SIMs)
#: first, so that a rule reading them sees them before the calls and transfers that use them.
REPLAY_ORDER = (
    "account_opened",
    "sim_activated",
    "call",
    "sms",
    "web_visit",
    "app_install",
    "transfer",
    "police_report",
)
DEFAULT_TZ = "Asia/Shanghai"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FILE = re.compile(r"(?P<type>[a-z_]+)-(?P<day>\d{4}-\d{2}-\d{2})\.(?P<fmt>parquet|ndjson)")

Sink = Callable[[str, pa.Table], object]
DayFiles = dict[str, list[Path]]  # event type → that day's files


@dataclass(frozen=True)
class Window:
    """The events whose ``ts`` falls in ``[start, end)``, per type, sorted by ``ts``."""

    start: dt.datetime
    end: dt.datetime
    tables: dict[str, pa.Table]

    @property
    def events(self) -> int:
        """Events in the window, all types together."""
        return sum(t.num_rows for t in self.tables.values())


@dataclass
class ReplayStats:
    """What a replay sent: events per type, windows, simulated and wall seconds."""

    events: dict[str, int] = field(default_factory=dict)
    windows: int = 0
    start: dt.datetime | None = None  # the first window's start
    end: dt.datetime | None = None  # the last window's end
    wall_s: float = 0.0

    @property
    def total(self) -> int:
        """Events sent, all types together."""
        return sum(self.events.values())

    @property
    def simulated_s(self) -> float:
        """Simulated seconds from the first window's start to the last one's end."""
        if self.start is None or self.end is None:
            return 0.0
        return (self.end - self.start).total_seconds()


# --------------------------------------------------------------------------- files


def event_files(events_dir: Path, types: Collection[str] | None = None) -> dict[dt.date, DayFiles]:
    """The simulator's event files by local day, then type (only ``types`` when given)."""
    wanted = _check_types(types)
    days: dict[dt.date, DayFiles] = {}
    for type_dir in sorted(p for p in events_dir.iterdir() if p.is_dir()):
        if type_dir.name not in wanted:
            continue
        for path in sorted(type_dir.iterdir()):
            match = _FILE.fullmatch(path.name)
            if match is None or match["type"] != type_dir.name:
                continue  # not an event file (a checksum, a temp file)
            day = dt.date.fromisoformat(match["day"])
            days.setdefault(day, {}).setdefault(type_dir.name, []).append(path)
    return dict(sorted(days.items()))


def _check_types(types: Collection[str] | None) -> frozenset[str]:
    if types is None:
        return frozenset(EVENT_TYPES)
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}")
    return frozenset(types)


def read_events(path: Path, event_type: str) -> pa.Table:
    """One event file (Parquet or NDJSON) with exactly the stored Arrow schema of its type."""
    schema = arrow_schema(EVENT_TYPES[event_type])
    if path.suffix == ".parquet":
        table = pq.read_table(path, columns=schema.names)
    elif path.stat().st_size == 0:
        return schema.empty_table()  # pyarrow's JSON reader refuses empty files
    else:
        options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        table = pj.read_json(path, parse_options=options)
    table = table.select(schema.names).cast(schema)
    if table["ts"].null_count:
        raise ValueError(f"{path}: events without ts cannot be replayed in time order")
    return table


# --------------------------------------------------------------------------- windows


def iter_windows(
    events_dir: Path,
    window_s: float = 60.0,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    types: Collection[str] | None = None,
    *,
    tz: str = DEFAULT_TZ,
) -> Iterator[Window]:
    """Consecutive windows of simulated time, in order, with every event of ``events_dir`` in
    ``[since, until)`` exactly once; windows without events are skipped.

    Windows are ``window_s`` long, counted from ``since`` (or from the Unix epoch, so that
    60 s windows fall on whole minutes). ``tz`` is the zone of the files' local days.
    """
    return iter_day_windows(event_files(events_dir, types), window_s, since, until, tz=tz)


def iter_day_windows(
    days: dict[dt.date, DayFiles],
    window_s: float = 60.0,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    *,
    tz: str = DEFAULT_TZ,
) -> Iterator[Window]:
    """Like :func:`iter_windows` over files already grouped by local day and type (the
    simulator's folders or the lake's ``day=`` partitions)."""
    step = _micros_of_seconds(window_s)
    lo, hi = _micros(since, "since"), _micros(until, "until")
    origin = 0 if lo is None else lo
    zone = ZoneInfo(tz)
    pending: dict[str, pa.Table] = {}
    done = lo  # every event before this instant has been yielded
    for day, files in days.items():
        day_start, day_end = _local_day(day, zone)
        if (hi is not None and day_start >= hi) or (lo is not None and day_end <= lo):
            continue
        fresh = {t: _read_day(paths, t, lo, hi) for t, paths in files.items()}
        _check_not_before(fresh, done, day)
        pending = _merge(pending, fresh)
        # Later files hold later local days, so windows ending by this day's end are complete.
        cut = origin + (day_end - origin) // step * step
        yield from _windows(pending, origin, step, cut)
        pending = {t: _from(table, cut) for t, table in pending.items()}
        done = cut if done is None else max(done, cut)
    yield from _windows(pending, origin, step, None)


def _micros_of_seconds(seconds: float) -> int:
    micros = round(seconds * 1_000_000)
    if micros <= 0:
        raise ValueError(f"window must be a positive number of seconds, got {seconds}")
    return micros


def _micros(when: dt.datetime | None, name: str) -> int | None:
    """Microseconds since the epoch (the integer form of a ``timestamp[us]`` column)."""
    if when is None:
        return None
    if when.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {when.isoformat()}")
    return _epoch_micros(when)


def _epoch_micros(when: dt.datetime) -> int:
    return (when - EPOCH) // dt.timedelta(microseconds=1)


def _instant(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=micros)


def _local_day(day: dt.date, zone: ZoneInfo) -> tuple[int, int]:
    """The first and the last-plus-one microsecond of a local day."""
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return _epoch_micros(start), _epoch_micros(end)


def _ts(table: pa.Table) -> np.ndarray:
    """The ``ts`` column as microseconds since the epoch."""
    micros: np.ndarray = table["ts"].cast(pa.int64()).to_numpy()
    return micros


def _read_day(paths: list[Path], event_type: str, lo: int | None, hi: int | None) -> pa.Table:
    table = pa.concat_tables([read_events(p, event_type) for p in paths])
    if lo is None and hi is None:
        return table
    ts = _ts(table)
    keep = np.ones(len(ts), dtype=bool)
    if lo is not None:
        keep &= ts >= lo
    if hi is not None:
        keep &= ts < hi
    return table.filter(pa.array(keep))


def _check_not_before(fresh: dict[str, pa.Table], done: int | None, day: dt.date) -> None:
    """Refuse events earlier than what was already yielded (a file outside its local day):
    replaying them late would break the event-time order the platform relies on."""
    if done is None:
        return
    for event_type, table in fresh.items():
        first = int(_ts(table).min()) if table.num_rows else done
        if first < done:
            raise ValueError(
                f"{event_type} file of {day} has events at {_instant(first).isoformat()}, "
                f"before {_instant(done).isoformat()} which is already replayed: each file "
                "must hold only its local day"
            )


def _merge(pending: dict[str, pa.Table], fresh: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Carried-over events plus a new day's, per type, sorted by ``ts``."""
    merged = dict(pending)
    for event_type, table in fresh.items():
        if event_type in merged:
            table = pa.concat_tables([merged[event_type], table])
        merged[event_type] = _sorted(table)
    return merged


def _sorted(table: pa.Table) -> pa.Table:
    ts = _ts(table)
    if len(ts) < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return table  # files come sorted; sort only what a concatenation disordered
    return table.sort_by("ts")


def _from(table: pa.Table, cut: int) -> pa.Table:
    """The rows at or after ``cut`` (the table is sorted)."""
    start = int(np.searchsorted(_ts(table), cut, side="left"))
    return table.slice(start)


def _windows(
    pending: dict[str, pa.Table], origin: int, step: int, cut: int | None
) -> Iterator[Window]:
    """The non-empty windows of ``pending`` that end by ``cut`` (all of them when None)."""
    keys: dict[str, np.ndarray] = {}
    for event_type, table in pending.items():
        ts = _ts(table)
        if cut is not None:
            ts = ts[: np.searchsorted(ts, cut, side="left")]
        keys[event_type] = (ts - origin) // step
    if not keys:
        return
    for key in np.unique(np.concatenate(list(keys.values()))).tolist():
        tables: dict[str, pa.Table] = {}
        for event_type, table_keys in keys.items():
            first, last = np.searchsorted(table_keys, [key, key + 1], side="left").tolist()
            if last > first:
                tables[event_type] = pending[event_type].slice(first, last - first)
        start = origin + key * step
        yield Window(_instant(start), _instant(start + step), tables)


# --------------------------------------------------------------------------- replay


class _PacingClock(ScaledClock):
    """A :class:`ScaledClock` that reads an injectable wall, so tests pace without waiting."""

    def __init__(self, start: dt.datetime, speed: float, wall: Callable[[], float]) -> None:
        super().__init__(start, speed)
        self._wall = wall
        self._wall_at_start = wall()

    def now(self) -> dt.datetime:
        """Start plus the scaled wall time elapsed since the clock was made."""
        elapsed = (self._wall() - self._wall_at_start) * self.speed
        return self.start + dt.timedelta(seconds=elapsed)


def replay(
    events_dir: Path,
    sink: Sink,
    *,
    speed: float | None,
    window_s: float = 60.0,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    types: Collection[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[Window], None] | None = None,
    wall: Callable[[], float] = time.monotonic,
    tz: str = DEFAULT_TZ,
) -> ReplayStats:
    """Send every window's events to ``sink(type, table)`` in :data:`REPLAY_ORDER`, each window
    once simulated time (``speed`` × the wall, from the first window's start) reaches its end;
    ``speed=None`` sends as fast as the sink takes them.

    ``sleep`` and ``wall`` (a monotonic clock in seconds) are injectable for tests; time spent
    in the sink counts against the pacing, so a slow sink is not slowed further.
    """
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be positive, got {speed}")
    stats = ReplayStats()
    started = wall()
    clock: _PacingClock | None = None
    for window in iter_windows(events_dir, window_s, since, until, types, tz=tz):
        if clock is None and speed is not None:
            clock = _PacingClock(window.start, speed, wall)
        if clock is not None and (pause := clock.wall_seconds_until(window.end)) > 0:
            sleep(pause)
        _send(window, sink, stats)
        if progress is not None:
            progress(window)
    stats.wall_s = wall() - started
    return stats


def _send(window: Window, sink: Sink, stats: ReplayStats) -> None:
    for event_type in REPLAY_ORDER:
        table = window.tables.get(event_type)
        if table is not None and table.num_rows:
            sink(event_type, table)
            stats.events[event_type] = stats.events.get(event_type, 0) + table.num_rows
    stats.windows += 1
    stats.start = stats.start or window.start
    stats.end = window.end
