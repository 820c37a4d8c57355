"""``fanzha simulate``: write a seeded synthetic city (events, registry, truth, manifest) with a
progress bar, and summarise what happened in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fanzha.i18n import pick, t
from fanzha.model.enums import FraudType
from fanzha.sim.engine import SimResult, simulate
from fanzha.sim.params import SimParams, preset
from fanzha.sim.truth import read_truth

# Labels only the simulator shows (zh-CN, en); the shared ones come from fanzha.i18n.
LABELS: dict[str, tuple[str, str]] = {
    "simulating": ("正在模拟", "Simulating"),
    "days": ("天", "days"),
    "events": ("事件", "events"),
    "sim_title": ("模拟城市", "Simulated city"),
    "residents": ("居民", "residents"),
    "period": ("时段", "period"),
    "fraud_title": ("诈骗真相(按类型)", "Fraud ground truth by typology"),
    "contacted": ("被接触", "contacted"),
    "engaged": ("上钩", "engaged"),
    "paid": ("受骗", "lost money"),
    "loss": ("损失(元)", "loss (yuan)"),
    "reports": ("报案", "reports"),
    "total": ("合计", "total"),
    "written_to": ("已写入 {path}（{seconds:.1f} 秒）", "written to {path} ({seconds:.1f} s)"),
    "hash": ("内容哈希", "content hash"),
}


def label(key: str, lang: str) -> str:
    """A simulator label in the chosen language."""
    return pick(LABELS, key, lang)


def build_params(name: str, seed: int | None, residents: int | None, days: int | None) -> SimParams:
    """The preset's parameters with the command-line overrides."""
    overrides: dict[str, Any] = {}
    if seed is not None:
        overrides["seed"] = seed
    if residents is not None:
        overrides["residents"] = residents
    if days is not None:
        overrides["days"] = days
    return preset(name, **overrides)


def run_with_progress(
    params: SimParams, out: Path, fmt: str, console: Console, lang: str
) -> SimResult:
    """Simulate with a Rich progress bar over the days (prehistory included)."""
    columns = (
        TextColumn(f"[bold]{label('simulating', lang)}[/bold] {params.preset}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(label("days", lang)),
        TextColumn("{task.fields[events]:>12,} " + label("events", lang)),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("sim", total=None, events=0)

        def show(done: int, total: int, events: int) -> None:
            bar.update(task, completed=done, total=total, events=events)

        return simulate(params, out, fmt, progress=show)


def fraud_summary(out: Path) -> list[dict[str, Any]]:
    """Contacts, engaged, victims with a loss, loss and reports per typology (from the truth)."""
    victims = _truth(out, "victims")
    rows = []
    for kind in FraudType:
        sel = victims.filter(pc.equal(victims["fraud_type"], kind.value))
        if sel.num_rows == 0:
            continue
        rows.append(_row(kind.label_zh, kind.value, sel))
    rows.append(_row("合计", "total", victims))
    return rows


def _row(zh: str, en: str, sel: Any) -> dict[str, Any]:
    paid = pc.greater(sel["loss_fen"], 0)
    return {
        "typology_zh": zh,
        "typology": en,
        "contacted": sel.num_rows,
        "engaged": int(pc.sum(sel["hooked"].cast("int64")).as_py() or 0),
        "paid": int(pc.sum(paid.cast("int64")).as_py() or 0),
        "loss_yuan": int(pc.sum(sel["loss_fen"]).as_py() or 0) // 100,
        "reports": int(pc.sum(sel["reported"].cast("int64")).as_py() or 0),
    }


def _fmt(out: Path) -> str:
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    return str(manifest["format"])


def _truth(out: Path, name: str) -> pa.Table:
    return read_truth(out, name)


def print_summary(result: SimResult, console: Console, lang: str) -> None:
    """The city's size and the fraud that happened in it, as Rich tables."""
    m = result.manifest
    params = m["parameters"]
    head = Table(title=label("sim_title", lang), show_header=False)
    head.add_row(label("residents", lang), f"{params['residents']:,}")
    head.add_row(label("period", lang), f"{m['start'][:10]} → {m['end'][:10]}")
    for type_name, count in m["counts"].items():
        head.add_row(type_name, f"{count:,}")
    console.print(head)
    table = Table(title=label("fraud_title", lang))
    for key in ("type", "contacted", "engaged", "paid", "loss", "reports"):
        table.add_column(
            t(key, lang) if key == "type" else label(key, lang),
            justify="right" if key != "type" else "left",
        )
    for row in fraud_summary(result.out_dir):
        name = row["typology_zh"] if not lang.lower().startswith("en") else row["typology"]
        table.add_row(
            name,
            f"{row['contacted']:,}",
            f"{row['engaged']:,}",
            f"{row['paid']:,}",
            f"{row['loss_yuan']:,}",
            f"{row['reports']:,}",
        )
    console.print(table)
    if result.seconds > 0:  # a reused folder (fanzha demo) has no run time to report
        console.print(label("written_to", lang).format(path=result.out_dir, seconds=result.seconds))
    console.print(f"{label('hash', lang)}: {m['content_sha256']}")
