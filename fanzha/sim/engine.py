"""Runs a simulation: builds the world, walks the days, writes events, registry, truth, manifest.

Memory stays bounded by about one day of ordinary life: each day is drawn, merged with the
scripted rows already due that day (fraud, laundering, openings), written, and dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fanzha.model.events import EVENT_TYPES
from fanzha.sim.fraud import FraudPlanner
from fanzha.sim.gangs import build_gangs
from fanzha.sim.life import DailyLife
from fanzha.sim.output import DayEvents, EventIds, Writer, local_day, write_manifest
from fanzha.sim.params import SimParams
from fanzha.sim.truth import Truth
from fanzha.sim.twocards import CardMarket
from fanzha.sim.world import World, build_world

MANIFEST_VERSION = 1

#: progress(done_days, total_days, events_so_far)
Progress = Callable[[int, int, int], None]


@dataclass(frozen=True, slots=True)
class SimResult:
    """What a run wrote."""

    out_dir: Path
    manifest: dict[str, Any]
    seconds: float


class _Buckets:
    """Scripted rows waiting for their local day to be written."""

    def __init__(self) -> None:
        self.days: dict[int, DayEvents] = {}
        self.written_through: int | None = None

    def emit(self, type_name: str, row: dict[str, Any]) -> None:
        day = local_day(int(row["ts"]))
        if self.written_through is not None and day <= self.written_through:
            raise RuntimeError(
                f"a {type_name} row at {row['ts']} arrived after its day was written"
            )
        self.days.setdefault(day, DayEvents()).add_row(type_name, row)

    def take(self, day: int) -> DayEvents:
        self.written_through = day
        return self.days.pop(day, None) or DayEvents()


def simulate(
    params: SimParams,
    out_dir: Path,
    fmt: str = "parquet",
    progress: Progress | None = None,
    dissuasions: Mapping[str, int] | None = None,
) -> SimResult:
    """Simulate ``params`` into ``out_dir`` (which must be empty or absent).

    ``dissuasions`` maps resident ID numbers to the epoch second from which an officer has
    talked them out of it: scripted payments from then on are not made (outcome ``dissuaded``).
    """
    started = time.perf_counter()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty; choose a new folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    world = build_world(params)
    writer = Writer(out_dir, fmt)
    ids, truth, buckets = EventIds(run_tag(params)), Truth(), _Buckets()
    end = world.day_start(params.days)
    market = CardMarket(world, ids, truth, buckets.emit)
    gangs = build_gangs(world, market, truth)
    fraud = FraudPlanner(world, gangs, ids, truth, buckets.emit, end, dissuasions)
    life = DailyLife(world, ids)
    first = min([*buckets.days, local_day(world.day_start(0))])
    last = local_day(world.day_start(params.days - 1))
    total = last - first + 1
    written = 0
    for k, epoch_day in enumerate(range(first, last + 1)):
        sim_day = epoch_day - local_day(world.day_start(0))
        if sim_day >= 0:
            life.day(sim_day, _into(buckets, epoch_day))
            fraud.day(sim_day)
        events = buckets.take(epoch_day)
        written += events.count()
        writer.write_day(epoch_day, events)
        if progress is not None:
            progress(k + 1, total, written)
    leftovers = sum(d.count() for d in buckets.days.values())
    if leftovers:
        raise RuntimeError(f"{leftovers} scripted rows fall after the window")  # a script bug
    _write_registry(world, writer)
    truth_counts = truth.write(writer)
    manifest = _manifest(params, fmt, writer, truth_counts, world)
    write_manifest(out_dir, manifest)
    return SimResult(out_dir, manifest, time.perf_counter() - started)


def run_tag(params: SimParams) -> str:
    """Seed plus a short digest of the parameters and generator version (for event ids)."""
    digest = hashlib.sha256(f"{MANIFEST_VERSION}:{params.model_dump_json()}".encode()).hexdigest()
    return f"{params.seed}.{digest[:6]}"


def _into(buckets: _Buckets, epoch_day: int) -> DayEvents:
    """Today's bucket (ordinary life is added to the scripted rows already due today)."""
    return buckets.days.setdefault(epoch_day, DayEvents())


def _write_registry(world: World, writer: Writer) -> None:
    writer.write_table(writer.out / "registry" / "org_unit", world.geo.org_units())
    writer.write_table(writer.out / "registry" / "person", world.residents.persons(world.geo))


def _manifest(
    params: SimParams, fmt: str, writer: Writer, truth_counts: dict[str, int], world: World
) -> dict[str, Any]:
    return {
        "version": MANIFEST_VERSION,
        "generator": "fanzha.sim",
        "preset": params.preset,
        "seed": params.seed,
        "format": fmt,
        "start": world.start.isoformat(),
        "end": (world.start + dt.timedelta(days=params.days)).isoformat(),
        "counts": {t: writer.counts.get(t, 0) for t in EVENT_TYPES},
        "registry": {"person": world.residents.n, "org_unit": int(world.geo.org_units().num_rows)},
        "truth": truth_counts,
        "parameters": json.loads(params.model_dump_json()),
        "content_sha256": writer.content_hash(),
    }
