"""The live loop's cost: ``python -m bench.live [PRESET] [WINDOW_S]`` (default ``tiny 60``).

Simulates PRESET, ingests the registry, then lands the events window by window (WINDOW_S of
event time each, through :meth:`App.ingest_table` as the ingest API does) with the live loop
listening, on a clock that follows the windows. After each window the live loop takes one
detection step (read the new lake files, run them through the engine, store and dispatch
what changed); every 10th window it ticks (escalation, expiry, funds). Reports CPU seconds
(``time.process_time``) of ingestion and of the live steps per window (p50, p99, max), the
snapshot's size and time, and a restart's restore time. Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fanzha.ingest.pipeline import Request
from fanzha.live import snapshots_of
from fanzha.model.clock import ManualClock
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.sim.engine import simulate
from fanzha.sim.params import preset
from fanzha.sim.stream import REPLAY_ORDER, iter_windows


def _cpu(work: Any) -> tuple[Any, float]:
    start = time.process_time()
    out = work()
    return out, time.process_time() - start


def measure(name: str, window_s: float, root: Path) -> dict[str, Any]:
    """Run the measurement in ``root`` (a scratch folder)."""
    sim = root / "sim"
    simulate(preset(name), sim)
    settings = Settings(data_dir=root / "data", argon2_time_cost=1, argon2_memory_kib=8)
    ingest_cpu, step_cpu, tick_cpu, events = 0.0, [], [], 0
    with App(settings) as fz:
        fz.ingest(Request([sim / "registry"]))
        windows = list(iter_windows(sim / "events", window_s, tz=settings.timezone))
        clock = ManualClock(windows[0].end)
        fz.clock = clock
        fz.live.attach()
        for n, window in enumerate(windows):
            clock.set(window.end)
            for event_type in REPLAY_ORDER:
                table = window.tables.get(event_type)
                if table is not None and table.num_rows:
                    _, spent = _cpu(lambda t=table, e=event_type: fz.ingest_table(t, e, source="b"))
                    ingest_cpu += spent
            report, spent = _cpu(fz.live.detection.step)
            step_cpu.append(spent)
            events += report.events
            if n % 10 == 9:
                tick_cpu.append(_cpu(fz.live.tick)[1])
        _, snap_cpu = _cpu(fz.live.detection.snapshot)
        warnings = fz.warnings.table().num_rows
        instructions = len(fz.instructions.find(limit=10**6))
    snap = snapshots_of(App(settings)).folder
    size = sum(p.stat().st_size for p in snap.glob("engine-*.snap"))
    with App(settings) as again:
        _, restore_cpu = _cpu(again.live.detection.open)
    steps = np.array(step_cpu)
    return {
        "preset": name,
        "window_s": window_s,
        "windows": len(windows),
        "events": events,
        "warnings": warnings,
        "instructions": instructions,
        "ingest_cpu_s": round(ingest_cpu, 3),
        "live_cpu_s": round(float(steps.sum()), 3),
        "live_events_per_cpu_s": round(events / float(steps.sum())),
        "step_cpu_ms_p50": round(float(np.percentile(steps, 50)) * 1000, 2),
        "step_cpu_ms_p99": round(float(np.percentile(steps, 99)) * 1000, 2),
        "step_cpu_ms_max": round(float(steps.max()) * 1000, 2),
        "tick_cpu_ms_p50": round(float(np.percentile(tick_cpu, 50)) * 1000, 2),
        "snapshot_bytes": size,
        "snapshot_cpu_s": round(snap_cpu, 3),
        "restore_cpu_s": round(restore_cpu, 3),
    }


def main() -> None:
    """Command line: PRESET WINDOW_S."""
    name = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    window_s = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(name, window_s, Path(tmp))))


if __name__ == "__main__":
    main()
