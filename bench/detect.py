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
``profile HOURS``
    cProfile of the engine over the first ``HOURS`` hours: the top 25 by cumulative time.

The parent side (:func:`run_all`) prepares once, runs the engine on everything, the engine and
the reference on the same prefix (their warnings must be identical: same batches, same
events), and the latency run.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import pstats
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

PEER_NAME = "per-event Python reference (fanzha.detect.reference)"
GOAL_EPS = 500_000.0
GOAL_RATIO = 5.0
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
    """Event → warning latency in-process at half the sustained rate (``WARM:HOURS:WINDOW_S``).

    After ``WARM`` hours in hourly windows, the next ``HOURS`` are cut into micro-batches of
    ``WINDOW_S`` seconds of event time, each processed as it closes (CPU time measured per
    batch). The sustained rate is events / CPU seconds over those batches; arrivals are then
    replayed at half of it, one event every 2/rate seconds in event order: a batch closes when
    its last event has arrived, waits for the previous batch, and takes its measured CPU time.
    An event's latency is its batch's finish time minus its arrival (the wait for its batch to
    close included). Processing is measured; only the arrival clock is simulated.
    """
    from fanzha.service import App

    warm, hours, window_s = (float(x) for x in spec.split(":"))
    sizes: list[int] = []
    cpu: list[float] = []
    with App(_settings(workdir)) as fz:
        engine = _engine("engine", fz)
        for w in _windows(fz, workdir, 3600, 0, warm):
            engine.process(w.tables, int(w.end.timestamp()))
        for w in _windows(fz, workdir, window_s, warm, warm + hours):
            start = time.process_time()
            engine.process(w.tables, int(w.end.timestamp()))
            cpu.append(time.process_time() - start)
            sizes.append(w.events)
    n = np.array(sizes, np.int64)
    c = np.array(cpu)
    sustained = float(n.sum() / c.sum()) if c.sum() else 0.0
    rate = sustained / 2
    last = np.cumsum(n) / rate  # arrival of each batch's last event (s)
    finish = np.empty(n.size)
    free = 0.0
    for k in range(n.size):
        free = max(free, last[k]) + c[k]
        finish[k] = free
    arrivals = np.arange(int(n.sum())) / rate
    batch = np.repeat(np.arange(n.size), n)
    waits_ms = (finish[batch] - arrivals) * 1000
    return {
        "warm_hours": warm,
        "hours": hours,
        "window_s": window_s,
        "batches": int(n.size),
        "events": int(n.sum()),
        "sustained_events_per_cpu_s": sustained,
        "arrival_rate": rate,
        "latency_ms_p50": float(np.percentile(waits_ms, 50)) if waits_ms.size else 0.0,
        "latency_ms_p99": float(np.percentile(waits_ms, 99)) if waits_ms.size else 0.0,
        "batch_cpu_ms_p50": float(np.percentile(c * 1000, 50)),
        "batch_cpu_ms_p99": float(np.percentile(c * 1000, 99)),
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
    stream: dict[str, Any]
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
    out = subprocess.run(
        [sys.executable, "-m", "bench.detect", kind, spec, str(workdir)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **THREAD_ENV},
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"bench.detect {kind} {spec} failed with exit status {out.returncode}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
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
    label = spec.replace(":", " ") + " d" if ":" in spec else spec
    bench = DetectBench(label, prepared, full, prefix_hours, engine, reference, stream, load)
    if not bench.identical:
        print("  the reference's warnings DIFFER from the engine's", file=sys.stderr)
    return bench


def rows(bench: DetectBench) -> list[Row]:
    """Rows for the results table (events/s on CPU seconds: the process is pinned to a core
    that other work may share; wall seconds are in the details)."""
    p, f, e, r, s = bench.prepared, bench.full, bench.engine, bench.reference, bench.stream
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
        "- Machine load (1-minute average, "
        f"{os.cpu_count()} CPUs) before → after each run: "
        + "; ".join(f"{k} {a:.1f} → {b:.1f}" for k, (a, b) in bench.load.items())
        + ". CPU s below wall s means the core was shared with other work.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
