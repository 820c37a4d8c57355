"""Detection: the engine replaying a simulated city from the lake, beside the per-event Python
reference engine (:mod:`fanzha.detect.reference`) on the same input.

Child side (``python -m bench.detect KIND SPEC WORKDIR``, one process per measurement, pinned
to one core, Arrow on one thread, NumPy's BLAS on one thread):

``prepare PRESET[:DAYS]``
    simulate the preset into ``WORKDIR/sim`` and ingest its registry and events into a fresh
    platform (lake + SQLite store) under ``WORKDIR/data`` with ``App.ingest`` (not measured:
    what follows replays that lake).
``engine HOURS``, ``reference HOURS``
    replay the lake's first ``HOURS`` hours (``all``: everything) in one-hour windows (the
    watermark is the window's end), then flush: the full pipeline (frame building with
    normalised subjects and intel look-ups → features → rules → scoring → warnings). The clock
    runs around ``process``/``flush`` only; reading the lake's Parquet is timed apart.
``latency WARM:HOURS``
    one-hour windows for ``WARM`` hours (state builds up), then 60 s windows for ``HOURS``
    hours, each timed alone.
``stream WARM:HOURS[:FRACTION[:LEAD]]``
    live streaming at half (or ``FRACTION``) of the sustained rate with adaptive
    micro-batches: event → warning latency per frame row (see :func:`stream`); a
    ``FRACTION`` written ``N/s`` is a fixed arrival rate of ``N`` events a second instead.
``profile HOURS``
    cProfile of the engine over the first ``HOURS`` hours: the top 25 by cumulative time.

The parent side (:func:`run_all`) prepares once, runs the engine on everything, the engine and
the reference on the same prefix (their warnings must be identical: same batches, same
events), the 60 s window run and the live stream.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from bench.child import run_child

PEER_NAME = "per-event Python reference (fanzha.detect.reference)"
GOAL_EPS = 500_000.0
GOAL_RATIO = 5.0
#: the arrival rate of the second live run (events a second): fixed, unlike half the sustained
#: rate, so that runs of different versions compare at the same load
FIXED_RATE = 100_000
STREAM_WINDOW_S = 60
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}

Row = tuple[str, str, float, float | None, str]  # figure, unit, ours, peer, peer name


# -------------------------------------------------------------------------- child side


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pin_to_one_core() -> int:
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def _settings(workdir: Path) -> Any:
    from fanzha.settings import Settings

    return Settings(data_dir=workdir / "data")


def prepare(spec: str, workdir: Path) -> dict[str, Any]:
    """Simulate ``PRESET[:DAYS]`` and ingest it into a fresh platform under ``workdir``."""
    from fanzha.ingest.pipeline import Request
    from fanzha.service import App
    from fanzha.sim.engine import simulate
    from fanzha.sim.params import preset

    name, _, days = spec.partition(":")
    params = preset(name, days=int(days)) if days else preset(name)
    start = time.perf_counter()
    sim = simulate(params, workdir / "sim")
    sim_s = time.perf_counter() - start
    start = time.perf_counter()
    with App(_settings(workdir)) as fz:
        report = fz.ingest(Request([workdir / "sim" / "registry", workdir / "sim" / "events"]))
    counts: dict[str, int] = sim.manifest["counts"]
    return {
        "preset": name,
        "residents": params.residents,
        "days": params.days,
        "start": sim.manifest["start"],
        "events": sum(counts.values()),
        "counts": counts,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "simulate_seconds": sim_s,
        "ingest_seconds": time.perf_counter() - start,
    }


def _start(workdir: Path) -> dt.datetime:
    manifest = json.loads((workdir / "sim" / "manifest.json").read_text())
    return dt.datetime.fromisoformat(manifest["start"])


def _windows(fz: Any, workdir: Path, window_s: float, since: float, until: float | None) -> Any:
    """The lake's windows from ``since`` to ``until`` hours after the simulation's start
    (``since`` 0: from the very first event, the accounts and SIMs opened before the start
    included; windows fall on whole hours and minutes either way)."""
    from fanzha.detection import lake_windows

    start = _start(workdir)
    lo = start + dt.timedelta(hours=since) if since else None
    hi = None if until is None else start + dt.timedelta(hours=until)
    return lake_windows(fz.lake, window_s, lo, hi)


def _timed(windows: Any) -> Iterator[tuple[Any, float]]:
    """Each window with the wall seconds spent reading it from the lake."""
    it = iter(windows)
    while True:
        start = time.perf_counter()
        try:
            w = next(it)
        except StopIteration:
            return
        yield w, time.perf_counter() - start


def _engine(kind: str, fz: Any) -> Any:
    from fanzha.detect.engine import Engine
    from fanzha.detect.intel_view import IntelView
    from fanzha.detect.reference import ReferenceEngine
    from fanzha.detect.registry import Registry
    from fanzha.detection import persons_table

    cls = ReferenceEngine if kind == "reference" else Engine
    return cls(Registry(persons_table(fz.store.sessions)), IntelView(fz.intel_index()))


def _digest(table: pa.Table) -> str:
    rows = table.sort_by("warning_id").to_pylist()
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()


def replay(kind: str, spec: str, workdir: Path) -> dict[str, Any]:
    """The engine (or the reference) over the first ``spec`` hours (``all``) of the lake."""
    from fanzha.detect.engine import warnings_table
    from fanzha.service import App

    hours = None if spec == "all" else float(spec)
    with App(_settings(workdir)) as fz:
        engine = _engine(kind, fz)
        rss_start = _status_mib("VmRSS")
        events = windows = 0
        read_s = run_s = run_cpu = 0.0
        for w, seconds in _timed(_windows(fz, workdir, 3600, 0, hours)):
            read_s += seconds
            cpu, start = time.process_time(), time.perf_counter()
            engine.process(w.tables, int(w.end.timestamp()))
            run_s += time.perf_counter() - start
            run_cpu += time.process_time() - cpu
            events += w.events
            windows += 1
        cpu, start = time.process_time(), time.perf_counter()
        engine.flush()
        run_s += time.perf_counter() - start
        run_cpu += time.process_time() - cpu
    table = warnings_table(engine)
    levels = table.column("level").to_pylist()
    out = {
        "kind": kind,
        "hours": spec,
        "events": events,
        "windows": windows,
        "seconds": run_s,
        "cpu_seconds": run_cpu,
        "read_seconds": read_s,
        "events_per_s": events / run_s if run_s else 0.0,
        "events_per_cpu_s": events / run_cpu if run_cpu else 0.0,
        "warnings": table.num_rows,
        "by_level": {str(k): levels.count(k) for k in sorted(set(levels))},
        "warnings_sha256": _digest(table),
        "peak_rss_mib": _status_mib("VmHWM"),
        "rss_before_mib": rss_start,
        "contact_index_bytes": engine.contacts.nbytes(),
    }
    if kind == "engine":
        out["snapshot_bytes"] = len(engine.snapshot())
        out["state"] = state_report(engine)
    return out


def state_report(engine: Any) -> dict[str, Any]:
    """Bytes of the engine's keyed state and how many keyed entries hold them.

    Entries: every counterparty and subject with state, every (subject, counterparty) and
    (counterparty, subject) pair remembered, every scored subject. Columns are dense arrays
    by id (grown by doubling), maps are open-addressing tables (half empty at most): both
    counted as allocated. The contact index (30 days of contacts for retro-correlation) is
    reported apart: it is a log, not per-key state.
    """
    from fanzha.detect.engine import _scorer_out

    cps = engine.counterparties
    cp_cols = (cps.first_at, cps.born_at, cps.subjects, cps.payers)
    cp_maps = (cps.pairs.first, cps.payer_pairs.first)
    col_bytes = sum(c.data.nbytes for c in cp_cols)
    map_bytes = sum(m.nbytes for m in cp_maps)
    pairs = sum(len(m) for m in cp_maps)
    for part in engine.parts:
        s = part.subjects
        cols = (s.out_max, s.out_n, s.last_amount, s.up_run, s.recv_at, s.exposed)
        maps = (s.long_calls, s.payees.first, s.links.first)
        col_bytes += sum(c.data.nbytes for c in cols)
        map_bytes += sum(m.nbytes for m in maps)
        pairs += sum(len(m) for m in maps)
    keys = len(engine.builder.keys)
    scorer = engine.scorer
    scorer_bytes = len(json.dumps(_scorer_out(scorer), separators=(",", ":")).encode())
    entries = keys + pairs + len(scorer.subjects)
    state_bytes = col_bytes + map_bytes + scorer_bytes
    return {
        "keys": keys,
        "pairs": pairs,
        "scored_subjects": len(scorer.subjects),
        "entries": entries,
        "column_bytes": col_bytes,
        "map_bytes": map_bytes,
        "scorer_bytes_json": scorer_bytes,
        "state_bytes": state_bytes,
        "bytes_per_entry": state_bytes / entries if entries else 0.0,
        "contact_index_bytes": engine.contacts.nbytes(),
        "contacts": len(engine.contacts),
    }


def latency(spec: str, workdir: Path) -> dict[str, Any]:
    """Per-window processing time with 60 s windows, after ``WARM`` hours of hourly windows.

    Live, a window closes when its last second has passed (the watermark is its end); its
    warnings come out when ``process`` returns. So beyond the wait for the window to close
    (at most 60 s, and for a call the wait for it to end, which is when the record exists) the
    delay from an event to its warning is the window's processing time: its p99 bounds the
    p99 event → warning latency, provided the engine keeps up (processing time < 60 s).
    """
    from fanzha.service import App

    warm, hours = (float(x) for x in spec.split(":"))
    with App(_settings(workdir)) as fz:
        engine = _engine("engine", fz)
        for w in _windows(fz, workdir, 3600, 0, warm):
            engine.process(w.tables, int(w.end.timestamp()))
        wall: list[float] = []
        cpu: list[float] = []
        sizes: list[int] = []
        for w in _windows(fz, workdir, STREAM_WINDOW_S, warm, warm + hours):
            cpu_start, start = time.process_time(), time.perf_counter()
            engine.process(w.tables, int(w.end.timestamp()))
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
            sizes.append(w.events)
    ms = np.array(wall) * 1000
    cpu_ms = np.array(cpu) * 1000
    n = np.array(sizes, np.float64)
    per_event_us = ms * 1000 / np.maximum(n, 1)
    return {
        "warm_hours": warm,
        "hours": hours,
        "window_s": STREAM_WINDOW_S,
        "windows": len(wall),
        "events": int(n.sum()),
        "ms_p50": float(np.percentile(ms, 50)),
        "ms_p99": float(np.percentile(ms, 99)),
        "ms_max": float(ms.max()),
        "cpu_ms_p50": float(np.percentile(cpu_ms, 50)),
        "cpu_ms_p99": float(np.percentile(cpu_ms, 99)),
        "events_p50": float(np.percentile(n, 50)),
        "events_p99": float(np.percentile(n, 99)),
        "us_per_event_p50": float(np.percentile(per_event_us, 50)),
        "us_per_event_p99": float(np.percentile(per_event_us, 99)),
        "events_per_s": float(n.sum() / (ms.sum() / 1000)),
        "peak_rss_mib": _status_mib("VmHWM"),
    }


def stream(spec: str, workdir: Path) -> dict[str, Any]:
    """Event → warning latency in-process at half the sustained rate (``WARM:HOURS``;
    ``WARM:HOURS:FRACTION[:LEAD]`` arrives at that fraction of it instead, and
    ``WARM:HOURS:N/s`` at ``N`` events a second: a rate that does not move when the batch
    path gets faster).

    After ``WARM`` hours in hourly windows the engine's state is snapshotted. The sustained
    rate ``S`` is measured first: a restored copy (its per-value caches warmed on the same
    hours) replays the next ``HOURS`` in hourly windows (events per CPU second). Then the
    engine streams the same events, arriving one by one in ``ts`` order at ``S / 2`` per
    second on a simulated clock, with the policy a live worker
    uses: each time a call to ``process`` returns, it takes every event that has arrived
    meanwhile (waiting for the next one when none has); the watermark is the second after the
    last of them (``LEAD`` 1, the default: the input is in ``ts`` order, so that second is
    complete as far as the worker knows; a straggler of it would still run, within the grace
    period) or that second itself (``LEAD`` 0: rows of the last second wait for the next
    one). Each call is timed (CPU seconds) and moves the simulated clock on by that much.
    Before both runs the engine is readied for small calls and the heap settled, as the
    live worker does once its state is loaded (:meth:`Engine.prepare_live`,
    :func:`fanzha.live.settle_heap`).

    A row's latency runs from the moment its fact exists on the arrival clock (an event's
    arrival; for a call record, the arrival of the first event as late as the call's end,
    ``ts + duration``; likewise the live-call probe) to the return of the call that runs it,
    the wait for the watermark to pass it included. Rows due after the streamed hours are not
    counted. Both runs end with the same watermark: their warnings must be the same.
    """
    from fanzha.detect.engine import Engine, warnings_table
    from fanzha.detect.intel_view import IntelView
    from fanzha.live import settle_heap
    from fanzha.service import App

    warm_s, hours_s, *rest = spec.split(":")
    warm, hours = float(warm_s), float(hours_s)
    fixed = float(rest[0].removesuffix("/s")) if rest and rest[0].endswith("/s") else None
    fraction = None if fixed is not None else float(rest[0]) if rest else 0.5
    lead = int(rest[1]) if len(rest) > 1 else 1
    with App(_settings(workdir)) as fz:
        engine = _engine("engine", fz)
        for w in _windows(fz, workdir, 3600, 0, warm):
            engine.process(w.tables, int(w.end.timestamp()))
        hourly = list(_windows(fz, workdir, 3600, warm, warm + hours))
        whole = list(_windows(fz, workdir, hours * 3600, warm, warm + hours))
        copy = Engine.restore(engine.snapshot(), engine.registry, IntelView(engine.intel.base))
        for w in _windows(fz, workdir, 3600, 0, warm):  # the copy's per-value caches, warm
            for name, table in w.tables.items():
                copy.builder.build(name, table)
    end = int(hourly[-1].end.timestamp())
    engine.prepare_live()  # as the live worker does once its state is loaded
    settle_heap()
    cpu = time.process_time()
    for w in hourly:
        copy.process(w.tables, int(w.end.timestamp()))
    sustained = sum(w.events for w in hourly) / (time.process_time() - cpu)
    batch_digest = _digest(warnings_table(copy))
    events = _arrivals({t: tb for w in whole for t, tb in w.tables.items()})
    rate = fixed if fixed is not None else sustained * (fraction or 0.5)
    run = _stream_run(engine, events, rate, end, engine.config.call_probe_s, lead)
    latency_ms = run.pop("latency_ms")
    return {
        "warm_hours": warm,
        "hours": hours,
        "events": events.n,
        "sustained_events_per_cpu_s": sustained,
        "rate_fraction": fraction,
        "watermark_lead_s": lead,
        "arrival_rate": rate,
        **run,
        "latency_ms_p50": float(np.percentile(latency_ms, 50)),
        "latency_ms_p99": float(np.percentile(latency_ms, 99)),
        "latency_ms_max": float(latency_ms.max()),
        "rows_timed": int(latency_ms.size),
        "identical": _digest(warnings_table(engine)) == batch_digest,
    }


@dataclass
class Arrivals:
    """The events of a stretch in arrival (``ts``) order, each type's table sorted by ``ts``:
    the events of type ``t`` at arrival positions ``[i, j)`` are one slice of its table."""

    tables: dict[str, pa.Table]
    ts: np.ndarray  # epoch seconds, in arrival order
    position: dict[str, np.ndarray]  # arrival position of each row of each table
    n: int

    def batch(self, i: int, j: int) -> dict[str, pa.Table]:
        """The tables of the events at arrival positions ``[i, j)``."""
        out = {}
        for t, table in self.tables.items():
            pos = self.position[t]
            a, b = int(np.searchsorted(pos, i)), int(np.searchsorted(pos, j))
            if b > a:
                out[t] = table.slice(a, b - a)
        return out


def _seconds(table: pa.Table) -> np.ndarray:
    us = table.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return np.asarray(us.to_numpy(), np.int64) // 1_000_000


def _arrivals(tables: dict[str, pa.Table]) -> Arrivals:
    """Every event of ``tables`` in ``ts`` order (ties: type, then row)."""
    from fanzha.detect.engine import TYPE_ORDER

    names = [t for t in TYPE_ORDER if t in tables and tables[t].num_rows]
    sorted_tables = {t: tables[t].sort_by("ts") for t in names}
    ts = [_seconds(sorted_tables[t]) for t in names]
    rank = [np.full(x.size, k) for k, x in enumerate(ts)]
    rows = [np.arange(x.size) for x in ts]
    all_ts = np.concatenate(ts)
    order = np.lexsort((np.concatenate(rows), np.concatenate(rank), all_ts))
    position = np.empty(order.size, np.int64)
    position[order] = np.arange(order.size)
    bounds = np.cumsum([0, *(x.size for x in ts)])
    return Arrivals(
        sorted_tables,
        all_ts[order],
        {t: position[bounds[k] : bounds[k + 1]] for k, t in enumerate(names)},
        int(order.size),
    )


def _facts(events: Arrivals, probe_s: int) -> tuple[np.ndarray, np.ndarray]:
    """(arrival position of the event, ``at``) of every frame row the events make: one per
    event, a call's at its end, plus the live probe of calls longer than ``probe_s``."""
    pos, at = [], []
    for t, table in events.tables.items():
        ts = _seconds(table)
        if t == "call":
            dur = np.asarray(table.column("duration_s").fill_null(0).to_numpy(), np.int64)
            live = dur > probe_s
            pos += [events.position[t], events.position[t][live]]
            at += [ts + dur, ts[live] + probe_s]
        else:
            pos.append(events.position[t])
            at.append(ts)
    return np.concatenate(pos), np.concatenate(at)


def _stream_run(
    engine: Any, events: Arrivals, rate: float, end: int, probe_s: int, lead: int
) -> dict[str, Any]:
    """Feed ``events`` arriving at ``rate`` per second, taking what has arrived each time
    the previous call returns (watermark: the last event's second plus ``lead``); the calls'
    CPU times drive the simulated clock."""
    arrive = np.arange(events.n) / rate
    clock, i = 0.0, 0
    took: list[int] = []
    cpu_s: list[float] = []
    marks: list[int] = []
    finish: list[float] = []
    while i < events.n:
        clock = max(clock, float(arrive[i]))
        j = max(int(np.searchsorted(arrive, clock, side="right")), i + 1)
        watermark = int(events.ts[j - 1]) + lead
        tables = events.batch(i, j)
        start = time.process_time()
        engine.process(tables, watermark)
        cpu = time.process_time() - start
        clock += cpu
        took.append(j - i)
        cpu_s.append(cpu)
        marks.append(watermark)
        finish.append(clock)
        i = j
    engine.process({}, end)  # the same final watermark as the hourly run
    pos, at = _facts(events, probe_s)
    exists = np.searchsorted(events.ts, at, side="left")  # first event as late as the fact
    timed = exists < events.n
    pos, at, exists = pos[timed], at[timed], exists[timed]
    ends = np.cumsum(took)  # events taken once each call returns
    by_mark = np.searchsorted(np.array(marks), at, side="right")  # first call with mark > at
    by_arrival = np.searchsorted(ends, pos, side="right")  # first call that took the event
    call = np.maximum(by_mark, by_arrival)
    ran = call < len(marks)  # the rest run at the final watermark (not timed)
    born = np.maximum(arrive[exists[ran]], arrive[pos[ran]])
    latency_ms = (np.array(finish)[call[ran]] - born) * 1000
    n, c = np.array(took), np.array(cpu_s) * 1000
    return {
        "calls": len(took),
        "batch_events_p50": float(np.percentile(n, 50)),
        "batch_events_p99": float(np.percentile(n, 99)),
        "call_cpu_ms_p50": float(np.percentile(c, 50)),
        "call_cpu_ms_p99": float(np.percentile(c, 99)),
        "stream_events_per_cpu_s": float(n.sum() / c.sum() * 1000),
        "latency_ms": latency_ms,
    }


def profile(spec: str, workdir: Path) -> dict[str, Any]:
    """cProfile of the engine over the first ``spec`` hours: top 25 by cumulative time."""
    from fanzha.service import App

    hours = None if spec == "all" else float(spec)
    with App(_settings(workdir)) as fz:
        engine = _engine("engine", fz)
        windows = list(_windows(fz, workdir, 3600, 0, hours))
        prof = cProfile.Profile()
        prof.enable()
        for w in windows:
            engine.process(w.tables, int(w.end.timestamp()))
        engine.flush()
        prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
    sys.stderr.write(buf.getvalue())
    return {"events": sum(w.events for w in windows), "profile": buf.getvalue()}


def _warm_imports() -> None:
    import fanzha.detect.engine
    import fanzha.detect.reference
    import fanzha.detection
    import fanzha.service  # noqa: F401
    from fanzha.detect.kernels import warm
    from fanzha.model.values import parse_url

    # The suffix list loads on the first URL a police report names (0.2 s): a live worker
    # loads it before it takes traffic.
    parse_url("http://example.com/")
    # Numba and the compiled kernels load before the first batch, as a worker does (1-2 s).
    warm()


def main() -> None:
    """``python -m bench.detect KIND SPEC WORKDIR``: one measurement, its JSON on stdout."""
    kind, spec, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    workdir.mkdir(parents=True, exist_ok=True)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    core = _pin_to_one_core()
    _warm_imports()
    if kind == "prepare":
        result = prepare(spec, workdir)
    elif kind in ("engine", "reference"):
        result = replay(kind, spec, workdir)
    elif kind == "latency":
        result = latency(spec, workdir)
    elif kind == "stream":
        result = stream(spec, workdir)
    elif kind == "profile":
        result = profile(spec, workdir)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    print(json.dumps(result | {"core": core}))


# ------------------------------------------------------------------------- parent side


@dataclass(frozen=True)
class DetectBench:
    """What the detection part of the bench measured."""

    label: str
    prepared: dict[str, Any]
    full: dict[str, Any]
    prefix_hours: float | None  # None: the reference replayed everything
    engine: dict[str, Any]  # the engine on the prefix (``full`` when everything)
    reference: dict[str, Any]  # the reference on the prefix
    stream: dict[str, Any]  # 60 s windows, each timed
    live: dict[str, Any]  # adaptive micro-batches at half the sustained rate (``stream``)
    live_fixed: dict[str, Any]  # the same at FIXED_RATE events a second
    load: dict[str, tuple[float, float]]  # 1-minute load average before and after each run

    @property
    def compared(self) -> str:
        """What the engine and the reference both replayed."""
        return "everything" if self.prefix_hours is None else f"first {self.prefix_hours:g} h"

    @property
    def identical(self) -> bool:
        """Whether the engine and the reference issued the same warnings on the prefix."""
        return bool(self.engine["warnings_sha256"] == self.reference["warnings_sha256"])

    @property
    def ratio(self) -> float:
        """Engine events/s over the reference's on the prefix (CPU seconds)."""
        return float(self.engine["events_per_cpu_s"]) / float(self.reference["events_per_cpu_s"])


def _child(
    kind: str, spec: str, workdir: Path, load: dict[str, tuple[float, float]] | None = None
) -> dict[str, Any]:
    print(f"measuring detect {kind} {spec} …", file=sys.stderr)
    before = os.getloadavg()[0]
    result = run_child("bench.detect", kind, spec, str(workdir), env=THREAD_ENV)
    if load is not None:
        load[f"{kind} {spec}"] = (before, os.getloadavg()[0])
    return result


def _say(r: dict[str, Any]) -> None:
    print(
        f"  {r['events']:,} events in {r['seconds']:.1f} s ({r['cpu_seconds']:.1f} CPU s):"
        f" {r['events_per_cpu_s']:,.0f} events/CPU s, {r['warnings']:,} warnings,"
        f" peak RSS {r['peak_rss_mib']:,.0f} MiB",
        file=sys.stderr,
    )


def run_all(
    base: Path, spec: str, prefix_hours: float | None, stream_at: float, stream_hours: float
) -> DetectBench:
    """Prepare ``spec`` (``PRESET[:DAYS]``), then every measurement on its lake: the engine on
    everything, the reference on the first ``prefix_hours`` (None: everything) beside the
    engine on the same, and 60 s windows for ``stream_hours`` from ``stream_at`` hours."""
    base.mkdir(parents=True, exist_ok=True)
    load: dict[str, tuple[float, float]] = {}
    prepared = _child("prepare", spec, base)
    print(
        f"  {prepared['events']:,} events simulated in {prepared['simulate_seconds']:.1f} s,"
        f" ingested in {prepared['ingest_seconds']:.1f} s",
        file=sys.stderr,
    )
    full = _child("engine", "all", base, load)
    _say(full)
    if prefix_hours is None:
        engine = full
    else:
        engine = _child("engine", f"{prefix_hours:g}", base, load)
        _say(engine)
    prefix = "all" if prefix_hours is None else f"{prefix_hours:g}"
    reference = _child("reference", prefix, base, load)
    _say(reference)
    stream = _child("latency", f"{stream_at:g}:{stream_hours:g}", base, load)
    print(
        f"  60 s windows: p50 {stream['ms_p50']:.1f} ms, p99 {stream['ms_p99']:.1f} ms",
        file=sys.stderr,
    )
    live = _child("stream", f"{stream_at:g}:{stream_hours:g}", base, load)
    print(
        f"  live at half the sustained rate: event → warning p50 {live['latency_ms_p50']:.1f}"
        f" ms, p99 {live['latency_ms_p99']:.1f} ms",
        file=sys.stderr,
    )
    fixed = _child("stream", f"{stream_at:g}:{stream_hours:g}:{FIXED_RATE}/s", base, load)
    print(
        f"  live at {FIXED_RATE:,} events/s: event → warning p50 {fixed['latency_ms_p50']:.1f}"
        f" ms, p99 {fixed['latency_ms_p99']:.1f} ms",
        file=sys.stderr,
    )
    label = spec.replace(":", " ") + " d" if ":" in spec else spec
    bench = DetectBench(
        label, prepared, full, prefix_hours, engine, reference, stream, live, fixed, load
    )
    if not bench.identical:
        print("  the reference's warnings DIFFER from the engine's", file=sys.stderr)
    return bench


def rows(bench: DetectBench) -> list[Row]:
    """Rows for the results table (events/s on CPU seconds: the process is pinned to a core
    that other work may share; wall seconds are in the details)."""
    p, f, e, r, s = bench.prepared, bench.full, bench.engine, bench.reference, bench.stream
    live = bench.live
    what = f"detect {bench.label} ({p['residents']:,} residents, {p['days']} d)"
    same = "identical" if bench.identical else "DIFFERENT"
    h = bench.compared
    return [
        (
            f"{what}: full pipeline replayed from the lake, 1 h windows (goal ≥ {GOAL_EPS:,.0f})",
            "events/s/core",
            float(f["events_per_cpu_s"]),
            None,
            "",
        ),
        (
            f"{what}, {h}: engine vs per-event reference (goal ≥ {GOAL_RATIO:g}×; warnings {same})",
            "events/s/core",
            float(e["events_per_cpu_s"]),
            float(r["events_per_cpu_s"]),
            PEER_NAME,
        ),
        (f"{what}: peak RSS", "MiB", float(f["peak_rss_mib"]), None, ""),
        (
            f"{what}: keyed state per entry (goal ≤ 200; {f['state']['entries']:,} entries)",
            "bytes",
            float(f["state"]["bytes_per_entry"]),
            None,
            "",
        ),
        (
            f"{what}: state after the run (snapshot)",
            "MiB",
            float(f["snapshot_bytes"]) / 2**20,
            None,
            "",
        ),
        (
            f"{what}: contact index (30 d look-back)",
            "MiB",
            float(f["contact_index_bytes"]) / 2**20,
            None,
            "",
        ),
        (
            f"{what}: 60 s windows, p99 processing time per window (bounds event → warning"
            " beyond the window's close)",
            "ms",
            float(s["ms_p99"]),
            None,
            "",
        ),
        (
            f"{what}: live, p99 event → warning at half the sustained rate, adaptive"
            " micro-batches (goal ≤ 10)",
            "ms",
            float(live["latency_ms_p99"]),
            None,
            "",
        ),
        (
            f"{what}: live, p99 event → warning at a fixed {FIXED_RATE:,} events/s",
            "ms",
            float(bench.live_fixed["latency_ms_p99"]),
            None,
            "",
        ),
    ]


def markdown(bench: DetectBench) -> str:
    """Details: every figure behind the rows and the equivalence check."""
    p, f, e, r, s = bench.prepared, bench.full, bench.engine, bench.reference, bench.stream

    def line(name: str, x: dict[str, Any]) -> str:
        levels = ", ".join(f"L{k} {v:,}" for k, v in x["by_level"].items())
        return (
            f"| {name} | {x['events']:,} | {x['windows']:,} | {x['seconds']:.1f}"
            f" ({x['cpu_seconds']:.1f}) | {x['events_per_s']:,.0f} | {x['events_per_cpu_s']:,.0f}"
            f" | {x['read_seconds']:.1f} | {x['warnings']:,} ({levels})"
            f" | {x['peak_rss_mib']:,.0f} | `{x['warnings_sha256'][:12]}` |"
        )

    h = bench.compared
    v, x = bench.live, bench.live_fixed
    verdict = (
        "identical (same sha256 of the sorted warnings table)" if bench.identical else "DIFFERENT"
    )
    lines = [
        "",
        "### Detection (one process pinned to one core, Arrow and BLAS on one thread)",
        "",
        f"- Input: `{bench.label}` simulated ({p['events']:,} events, {p['residents']:,}"
        f" residents, {p['days']} d) in {p['simulate_seconds']:.1f} s and ingested into a fresh"
        f" lake with `App.ingest` in {p['ingest_seconds']:.1f} s ({p['accepted']:,} accepted,"
        f" {p['rejected']:,} rejected); every run replays that lake (`lake_windows`).",
        "- Clock: `Engine.process` + `flush` (frame building, features, rules, scoring,"
        " warnings); reading the lake's Parquet is the `read s` column. events/s/core in the"
        " table above use CPU seconds (the core may be shared with other work).",
        "",
        "| run | events | windows | s (CPU s) | events/s | events/CPU s | read s | warnings"
        " | peak RSS MiB | warnings sha256 |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *([line("engine, everything", f)] if bench.prefix_hours is not None else []),
        line(f"engine, {h}", e),
        line(f"reference, {h}", r),
        "",
        f"- Engine vs reference, {h}: {bench.ratio:.1f}× (CPU s); warnings {verdict}.",
        f"- State after everything: snapshot {f['snapshot_bytes'] / 2**20:,.1f} MiB, contact"
        f" index {f['contact_index_bytes'] / 2**20:,.1f} MiB; keyed state"
        f" {f['state']['state_bytes'] / 2**20:,.1f} MiB over {f['state']['entries']:,} entries"
        f" ({f['state']['keys']:,} keys, {f['state']['pairs']:,} pairs,"
        f" {f['state']['scored_subjects']:,} scored subjects) ="
        f" {f['state']['bytes_per_entry']:.0f} bytes per entry (see `state_report`).",
        f"- Streaming: after the first {s['warm_hours']:g} h in hourly windows, {s['windows']:,}"
        f" windows of {s['window_s']} s ({s['events']:,} events; p50 {s['events_p50']:,.0f}, p99"
        f" {s['events_p99']:,.0f} events per window): processing time per window p50"
        f" {s['ms_p50']:.1f} ms, p99 {s['ms_p99']:.1f} ms, max {s['ms_max']:.1f} ms (CPU p50"
        f" {s['cpu_ms_p50']:.1f} ms, p99 {s['cpu_ms_p99']:.1f} ms)"
        f" ({s['us_per_event_p50']:.1f} µs/event p50, {s['us_per_event_p99']:.1f} p99;"
        f" {s['events_per_s']:,.0f} events/s). A window's warnings are out when its processing"
        " ends, so the p99 event → warning latency is at most the window (60 s, and a call's"
        " own duration: its record exists when it ends) plus the p99 processing time.",
        f"- Live (`stream {v['warm_hours']:g}:{v['hours']:g}`): sustained"
        f" {v['sustained_events_per_cpu_s']:,.0f} events/CPU s (hourly windows on a restored"
        " copy); events arriving at half that, each call taking what arrived while the"
        f" previous one ran: {v['calls']:,} calls of {v['batch_events_p50']:,.0f} events p50"
        f" ({v['call_cpu_ms_p50']:.1f} ms CPU p50, {v['call_cpu_ms_p99']:.1f} p99); event →"
        f" warning p50 {v['latency_ms_p50']:.1f} ms, p99 {v['latency_ms_p99']:.1f} ms, max"
        f" {v['latency_ms_max']:.1f} ms; warnings"
        f" {'identical to' if v['identical'] else 'DIFFERENT from'} the hourly run's."
        f" At a fixed {FIXED_RATE:,} events/s (a rate that stays put when the batch path gets"
        f" faster): {x['calls']:,} calls of {x['batch_events_p50']:,.0f} events p50"
        f" ({x['call_cpu_ms_p50']:.1f} ms CPU p50, {x['call_cpu_ms_p99']:.1f} p99); p50"
        f" {x['latency_ms_p50']:.1f} ms, p99 {x['latency_ms_p99']:.1f} ms, max"
        f" {x['latency_ms_max']:.1f} ms; warnings"
        f" {'identical' if x['identical'] else 'DIFFERENT'}.",
        "- Machine load (1-minute average, "
        f"{os.cpu_count()} CPUs) before → after each run: "
        + "; ".join(f"{k} {a:.1f} → {b:.1f}" for k, (a, b) in bench.load.items())
        + ". CPU s below wall s means the core was shared with other work.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
