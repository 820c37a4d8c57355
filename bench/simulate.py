"""Simulator measurements: ``fanzha.sim`` presets against a raw NumPy + PyArrow row writer.

The child side (``sim`` and ``peer_raw_rows``) runs inside ``python -m bench.measure`` (one
process per measurement, pinned to one core, Arrow on one thread); the parent side
(``run_all``) orders the runs, puts each simulator run and its peer side by side, deletes
each output once measured (a city run writes gigabytes) and checks determinism.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PEER_NAME = "numpy+pyarrow raw rows, no model"
PEER_BATCH_ROWS = 1_000_000  # one Parquet file per million rows (the simulator: one per type/day)
GOALS_S = {"tiny": 5.0, "demo": 60.0}  # from the simulator issue; city has a memory goal instead
LOCAL_MIDNIGHT_US = 1_714_492_800 * 1_000_000  # 2024-05-01 00:00 Asia/Shanghai, in UTC µs

#: parent-side runner: (kind, argument, workdir) → the child's JSON result
Runner = Callable[[str, str, Path], dict[str, Any]]


# ------------------------------------------------------------------------------- child side


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _source_sha256() -> str:
    """Digest of the simulator's source, to tell a code change from non-determinism."""
    import fanzha.sim

    digest = hashlib.sha256()
    root = Path(fanzha.sim.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def sim(spec: str, workdir: Path) -> dict[str, Any]:
    """Run ``simulate`` for ``spec`` (``PRESET`` or ``PRESET:DAYS``) into ``workdir/out``."""
    from fanzha.sim.engine import simulate
    from fanzha.sim.params import preset

    name, _, days = spec.partition(":")
    params = preset(name, days=int(days)) if days else preset(name)
    # (days done, events so far, VmRSS, VmHWM) after every written local day
    trace: list[tuple[int, int, float, float]] = []

    def progress(done: int, total: int, events: int) -> None:
        trace.append((done, events, _status_mib("VmRSS"), _status_mib("VmHWM")))

    out = workdir / "out"
    source = _source_sha256()
    result = simulate(params, out, "parquet", progress)
    counts: dict[str, int] = result.manifest["counts"]
    window = trace[-params.days :]  # the first entries are days before the window (openings)
    before = trace[-params.days - 1][3] if len(trace) > params.days else 0.0
    return {
        "rows": sum(counts.values()),
        "preset": name,
        "residents": params.residents,
        "days": params.days,
        "counts": counts,
        "truth": result.manifest["truth"],
        "content_sha256": result.manifest["content_sha256"],
        "source_sha256": source,
        "bytes": _du(out),
        "event_bytes": _du(out / "events"),
        "sim_seconds": result.seconds,
        "hwm_before_window_mib": before,
        "rss_after_day_mib": [round(t[2], 1) for t in window],
        "hwm_after_day_mib": [round(t[3], 1) for t in window],
    }


CALL_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("source", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("caller", pa.string()),
        ("callee", pa.string()),
        ("duration_s", pa.int64()),
        ("direction", pa.string()),
        ("caller_imei", pa.string()),
        ("callee_imei", pa.string()),
        ("city", pa.string()),
        ("county", pa.string()),
    ]
)
MOBILE_PREFIXES = np.array([130, 133, 135, 138, 139, 150, 159, 170, 177, 186, 189, 198])
COUNTIES = np.array(["渝中区", "江北区", "南岸区", "沙坪坝区", "九龙坡区", "巴南区", "万州区"])


def _e164(rng: np.random.Generator, n: int) -> pa.Array:
    numbers = rng.choice(MOBILE_PREFIXES, n) * 100_000_000 + rng.integers(0, 100_000_000, n)
    return pc.binary_join_element_wise("+86", pa.array(numbers).cast(pa.string()), "")


def _raw_batch(rng: np.random.Generator, first: int, n: int, span_us: tuple[int, int]) -> pa.Table:
    """``n`` call-shaped rows (ids from ``first``), times sorted inside ``span_us``."""
    ids = pc.utf8_lpad(pa.array(np.arange(first, first + n)).cast(pa.string()), 10, "0")
    ts = LOCAL_MIDNIGHT_US + np.sort(rng.integers(span_us[0], span_us[1], n))
    columns: list[pa.Array] = [
        pc.binary_join_element_wise("C1-", ids, ""),
        pa.array(np.full(n, "raw-cdr")),
        pa.array(ts, pa.int64()).cast(CALL_SCHEMA.field("ts").type),
        _e164(rng, n),
        _e164(rng, n),
        pa.array(rng.lognormal(np.log(45), 1.0, n).astype(np.int64)),
        pa.array(np.full(n, "originated")),
        pa.array(rng.integers(10**14, 10**15, n)).cast(pa.string()),
        pa.nulls(n, pa.string()),
        pa.array(np.full(n, "江州市")),
        pa.array(COUNTIES[rng.integers(0, len(COUNTIES), n)]),
    ]
    return pa.Table.from_arrays(columns, schema=CALL_SCHEMA)


def peer_raw_rows(spec: str, workdir: Path) -> dict[str, Any]:
    """Draw ``ROWS`` call-shaped rows over ``DAYS`` (spec ``ROWS:DAYS``) and write Parquet+zstd.

    No world model: independent uniform draws, one file per million rows, the same writer
    options as the simulator (zstd, statistics). It bounds how close the simulator is to
    the raw speed of drawing and writing rows of this shape.
    """
    rows, days = (int(x) for x in spec.split(":"))
    out = workdir / "out"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    span = days * 86_400 * 1_000_000
    for k, first in enumerate(range(0, rows, PEER_BATCH_ROWS)):
        n = min(PEER_BATCH_ROWS, rows - first)
        window = (span * first // rows, span * (first + n) // rows)
        table = _raw_batch(rng, first, n, window)
        pq.write_table(table, out / f"calls-{k:05d}.parquet", compression="zstd")
    return {"rows": rows, "bytes": _du(out), "event_bytes": _du(out)}


KINDS: dict[str, Callable[[str, Path], dict[str, Any]]] = {
    "sim": sim,
    "peer-raw-rows": peer_raw_rows,
}


def warm_imports() -> None:
    """What both sides import before the clock starts (the simulator modules included)."""
    import fanzha.sim.engine
    import fanzha.sim.params  # noqa: F401


# ------------------------------------------------------------------------------ parent side


@dataclass(frozen=True)
class Case:
    """One simulator run and the raw-rows peer measured right after it."""

    label: str
    spec: str
    ours: dict[str, Any]
    peer: dict[str, Any]

    @property
    def eps(self) -> float:
        """Simulated events per second (the whole run: world, days, registry, truth)."""
        return float(self.ours["rows"]) / float(self.ours["seconds"])

    @property
    def peer_eps(self) -> float:
        """Raw rows per second of the peer."""
        return float(self.peer["rows"]) / float(self.peer["seconds"])


@dataclass(frozen=True)
class SimBench:
    """Everything the simulator part of the bench measured."""

    cases: list[Case]
    tiny_again: dict[str, Any]
    city_days: tuple[int, int]

    @property
    def tiny_sha256(self) -> tuple[str, str]:
        """The manifests' ``content_sha256`` of the two tiny runs."""
        return str(self.cases[0].ours["content_sha256"]), str(self.tiny_again["content_sha256"])

    @property
    def deterministic(self) -> bool:
        """Whether two tiny runs wrote the same bytes (manifests' ``content_sha256``)."""
        return self.tiny_sha256[0] == self.tiny_sha256[1]

    @property
    def same_source(self) -> bool:
        """Whether both tiny runs ran the same simulator source (others may edit it meanwhile)."""
        return bool(self.cases[0].ours["source_sha256"] == self.tiny_again["source_sha256"])

    def case(self, label: str) -> Case:
        """The case called ``label``."""
        return next(c for c in self.cases if c.label == label)


def specs(city_days: tuple[int, int]) -> Iterator[tuple[str, str]]:
    """(label, spec) of every simulator run, smallest first."""
    yield "tiny", "tiny"
    yield "demo", "demo"
    for days in city_days:
        yield f"city-{days}d", f"city:{days}"


def run_all(base: Path, run: Runner, city_days: tuple[int, int] = (3, 6)) -> SimBench:
    """Measure every preset and its peer, side by side; tiny a second time for determinism."""
    cases: list[Case] = []
    again: dict[str, Any] = {}
    for label, spec in specs(city_days):
        ours = _measured(run, "sim", spec, base / label)
        if label == "tiny":  # right away, so that a concurrent edit of the source is unlikely
            again = _measured(run, "sim", spec, base / f"{label}-again")
        peer_spec = f"{ours['rows']}:{ours['days']}"
        peer = _measured(run, "peer-raw-rows", peer_spec, base / f"{label}-peer")
        cases.append(Case(label, spec, ours, peer))
    return SimBench(cases, again, city_days)


def _measured(run: Runner, kind: str, spec: str, workdir: Path) -> dict[str, Any]:
    print(f"measuring {kind} {spec} …", file=sys.stderr)
    try:
        result = run(kind, spec, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"  {result['rows']:,} rows in {result['seconds']:.1f} s,"
        f" peak RSS {result['peak_rss_mib']:.0f} MiB",
        file=sys.stderr,
    )
    return result


def markdown(bench: SimBench) -> str:
    """The per-run details as a Markdown table, and the determinism fact."""
    lines = [
        "",
        "### Simulator runs (Parquet, one process pinned to one core; peer right after each)",
        "",
        "| run | residents | days | events | s (CPU s) | events/s | peak RSS MiB"
        " | RSS after each day MiB | on disk MiB | peer s (CPU s) | peer events/s"
        " | peer peak RSS MiB | peer on disk MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in bench.cases:
        o, p = c.ours, c.peer
        lines.append(
            f"| {c.label} | {o['residents']:,} | {o['days']} | {o['rows']:,}"
            f" | {o['seconds']:.1f} ({o['cpu_seconds']:.1f}) | {c.eps:,.0f}"
            f" | {o['peak_rss_mib']:,.0f}"
            f" | {' → '.join(f'{x:,.0f}' for x in o['rss_after_day_mib'])}"
            f" | {o['bytes'] / 2**20:,.1f} | {p['seconds']:.1f} ({p['cpu_seconds']:.1f})"
            f" | {c.peer_eps:,.0f}"
            f" | {p['peak_rss_mib']:,.0f} | {p['bytes'] / 2**20:,.1f} |"
        )
    lines += ["", "Events written per type (manifest `counts`):", ""]
    for c in bench.cases:
        counts = ", ".join(f"{t} {n:,}" for t, n in c.ours["counts"].items())
        lines.append(f"- {c.label}: {counts}")
    verdict = "equal" if bench.deterministic else "DIFFERENT"
    if not bench.deterministic and not bench.same_source:
        verdict += " (inconclusive: the fanzha/sim source changed between the two runs)"
    lines += [
        "",
        f"Determinism: tiny run twice in two processes → manifests' `content_sha256` {verdict}"
        f" (`{bench.tiny_sha256[0][:16]}…` / `{bench.tiny_sha256[1][:16]}…`).",
        f"Peer: {PEER_NAME}: the same number of call-shaped rows (E.164 numbers, ints,"
        " timestamps), Parquet + zstd, one file per million rows.",
        "Seconds are wall time of the whole run (world, days, registry, truth, manifest);"
        " CPU s below wall s means the core was shared with other work during the run.",
    ]
    return "\n".join(lines) + "\n"
