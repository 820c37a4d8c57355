"""``fanzha demo``: simulate a city with fraud in it (or reuse the simulation already on disk),
ingest it into the configured platform, and give an analyst's first look at the lake.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from shlex import quote
from typing import Any

import pyarrow.compute as pc
import typer
from rich.console import Console
from rich.table import Table

from fanzha.cli.main import ingest_with_progress
from fanzha.cli.simulate import build_params, print_summary, run_with_progress
from fanzha.i18n import pick, t
from fanzha.ingest.pipeline import IngestReport, Request, type_from_name
from fanzha.lake import Lake
from fanzha.lake.query import run_sql
from fanzha.model.enums import FraudType
from fanzha.model.events import EVENT_TYPES, REFERENCE_TYPES
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.sim.engine import SimResult
from fanzha.sim.params import SimParams
from fanzha.sim.truth import read_truth

TOP_CALLERS = 5
#: Event types with a column of their own in the per-day table; the rest share ``OTHER``.
DAILY_COLUMNS = ("call", "sms", "web_visit", "transfer", "police_report")
OTHER = "other"

# Labels only the demo shows (zh-CN, en); the shared ones come from fanzha.i18n.
LABELS: dict[str, tuple[str, str]] = {
    "reusing": (
        "沿用已有模拟 {path}(manifest.json 参数相同,无需重新模拟)",
        "reusing the simulation in {path} (its manifest.json has the same parameters)",
    ),
    "folder_taken": (
        "{path} 里不是这次的模拟(没有 manifest.json,或参数不同,可能来自另一版本):"
        "请删除它或换一个 --folder",
        "{path} holds something other than this simulation (no manifest.json, or other "
        "parameters, perhaps from another version): delete it or choose another --folder",
    ),
    "registry_mark": ("{name}(登记表)", "{name} (registry)"),
    "registry_note": (
        "登记表按主键更新,重复导入不会新增",
        "registry rows are upserted by key, never added twice",
    ),
    "total": ("合计", "total"),
    "events_line": ("事件", "events"),
    "registry_line": ("登记表更新 {n:,} 条", "registry {n:,} rows upserted"),
    "per_day": ("每日事件数(按类型)", "Events per day and type"),
    "day": ("日期", "day"),
    "earlier": ("此前", "earlier"),
    "other": ("其他", "other"),
    "other_note": (
        "其他 = app_install + account_opened + sim_activated;此前 = 模拟时段之前的开户、开卡",
        "other = app_install + account_opened + sim_activated; "
        "earlier = openings before the period",
    ),
    "top_callers": (
        "被叫号码最多的主叫(前 {n} 名)",
        "Top {n} callers by distinct callees",
    ),
    "one_way_callers": (
        "只打不接的主叫(无人呼入),前 {n} 名",
        "Top {n} one-way callers (nobody called them)",
    ),
    "caller": ("主叫", "caller"),
    "callees": ("不同被叫", "callees"),
    "calls": ("通话", "calls"),
    "called_by": ("呼入方", "called by"),
    "truth": ("模拟真相", "simulated truth"),
    "gang_number": ("{gang} 团伙{role}", "gang {gang} {role}"),
    "role_caller": ("外呼号码", "caller"),
    "no_gang": ("非团伙号码", "not a gang number"),
    "reports_title": ("报案数(按诈骗类型)", "Police reports by fraud type"),
    "fraud_type": ("诈骗类型", "fraud type"),
    "reports": ("报案", "reports"),
    "loss": ("报称损失(元)", "reported loss (yuan)"),
    "next": ("下一步", "Next steps"),
    "next_sql": ("用 SQL 查询事件库:", "query the event lake with SQL:"),
    "next_replay": (
        "按事件时间重新回放(600 倍速;换一个空的数据目录,否则全部是重复):",
        "stream it again in event time at 600x (into an empty data folder, or all are duplicates):",
    ),
    "next_deadletters": ("查看被拒收的记录:", "look at rejected records:"),
}


def label(key: str, lang: str, **kwargs: object) -> str:
    """A demo label in the chosen language."""
    return pick(LABELS, key, lang, **kwargs)


def default_folder(settings: Settings, params: SimParams) -> Path:
    """Where the demo keeps a preset's simulation: one folder per preset and seed."""
    return settings.data_dir / "sim" / f"{params.preset}-{params.seed}"


def run_demo(
    settings: Settings, preset_name: str, seed: int | None, folder: Path | None, console: Console
) -> None:
    """Simulate (or reuse), ingest, and summarise the demo city."""
    lang = settings.lang
    params = build_params(preset_name, seed, None, None)
    folder = folder or default_folder(settings, params)
    reusable = reusable_manifest(params, folder, lang)
    console.rule(t("demo_title", lang))
    result = simulation(params, folder, reusable, console, lang)
    print_summary(result, console, lang)
    with App(settings) as fz:
        report = ingest_simulation(fz, folder, result.manifest)
        print_ingest(report, console, lang)
        print_first_look(fz.lake, result, console, lang)
    print_next_steps(folder, console, lang)


# ------------------------------------------------------------------------- simulate or reuse


def reusable_manifest(params: SimParams, folder: Path, lang: str) -> dict[str, Any] | None:
    """The manifest of a finished simulation of ``params`` in ``folder``, None if it is empty.

    The manifest is written last, so its presence means the run completed. A folder holding
    anything else is refused (exit 2) rather than cleared: it may be the user's.
    """
    manifest = read_manifest(folder)
    if manifest is not None and manifest.get("parameters") == json.loads(params.model_dump_json()):
        return manifest
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise typer.BadParameter(label("folder_taken", lang, path=folder), param_hint="--folder")
    return None


def simulation(
    params: SimParams,
    folder: Path,
    reusable: dict[str, Any] | None,
    console: Console,
    lang: str,
) -> SimResult:
    """The reused simulation (said so), or a new one run with the progress bar."""
    if reusable is None:
        return run_with_progress(params, folder, "parquet", console, lang)
    console.print(label("reusing", lang, path=folder), markup=False)
    return SimResult(folder, reusable, 0.0)  # how long it once took is not recorded


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's ``manifest.json``, or None when it is missing or unreadable."""
    try:
        data = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ------------------------------------------------------------------------------------ ingest


def ingest_simulation(fz: App, folder: Path, manifest: Mapping[str, Any]) -> IngestReport:
    """Ingest ``registry/`` then ``events/`` as one run, with a bar over the manifest's rows."""
    rows = sum(manifest["counts"].values()) + sum(manifest["registry"].values())
    # One request is one recorded run, and its paths are read in the order given: the
    # reference data (people, police units) lands before the events that mention it.
    request = Request([folder / "registry", folder / "events"])
    return ingest_with_progress(fz, request, rows=rows)


@dataclass
class Tally:
    """What ingestion made of one record type."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0


def tally_by_type(report: IngestReport) -> dict[str, Tally]:
    """Accepted, rejected and duplicate records per type: registry first, then event types."""
    tallies: dict[str, Tally] = {}
    for file in report.files:
        path = Path(file.path)
        tally = tallies.setdefault(type_from_name(path) or path.parent.name, Tally())
        tally.accepted += file.accepted
        tally.rejected += file.rejected
        tally.duplicates += file.duplicates
    order = [*REFERENCE_TYPES, *EVENT_TYPES]
    return dict(sorted(tallies.items(), key=lambda kv: _rank(order, kv[0])))


def _rank(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def print_ingest(report: IngestReport, console: Console, lang: str) -> None:
    """The ingestion table per type and a line of event totals and registry upserts."""
    tallies = tally_by_type(report)
    table = Table(title=t("ingest_summary", lang), caption=label("registry_note", lang))
    table.add_column(t("type", lang))
    for key in ("accepted", "rejected", "duplicates"):
        table.add_column(t(key, lang), justify="right")
    for name, tally in tallies.items():
        shown = label("registry_mark", lang, name=name) if name in REFERENCE_TYPES else name
        table.add_row(shown, *_counts(tally))
    events = _sum(tally for name, tally in tallies.items() if name not in REFERENCE_TYPES)
    table.add_row(label("total", lang) + " · " + label("events_line", lang), *_counts(events))
    console.print(table)
    upserted = sum(tally.accepted for name, tally in tallies.items() if name in REFERENCE_TYPES)
    console.print(
        f"{label('events_line', lang)}: {t('accepted', lang)} {events.accepted:,} · "
        f"{t('rejected', lang)} {events.rejected:,} · {t('duplicates', lang)} "
        f"{events.duplicates:,}"
    )
    console.print(
        f"{label('registry_line', lang, n=upserted)} · {t('seconds', lang)} {report.seconds:.1f}"
    )
    console.print(t("some_rejected", lang) if report.rejected else t("no_dead_letters", lang))


def _counts(tally: Tally) -> tuple[str, str, str]:
    return f"{tally.accepted:,}", f"{tally.rejected:,}", f"{tally.duplicates:,}"


def _sum(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.accepted += tally.accepted
        total.rejected += tally.rejected
        total.duplicates += tally.duplicates
    return total


# ----------------------------------------------------------------------- first look (lake)


def print_first_look(lake: Lake, result: SimResult, console: Console, lang: str) -> None:
    """Events per day, callers reaching most people (all, then one-way), reports by type."""
    start, end = result.manifest["start"][:10], result.manifest["end"][:10]
    console.print(events_per_day(lake, start, end, lang))
    console.print(top_callers(lake, result.out_dir, lang))
    console.print(top_callers(lake, result.out_dir, lang, one_way=True))
    console.print(reports_by_type(lake, lang))


def events_per_day(lake: Lake, start: str, end: str, lang: str) -> Table:
    """Rows per local day and type: the big streams each, the rare lifecycle types together.

    Openings of accounts and SIM cards go back weeks before the period (the city's history);
    they are folded into one ``earlier`` row, and the rare types into one ``other`` column, so
    the table stays small enough for an 80-column terminal.
    """
    parts = [
        f"SELECT CASE WHEN CAST(ts AS DATE) < DATE '{start}' THEN '' "
        f"ELSE CAST(CAST(ts AS DATE) AS VARCHAR) END AS day, '{name}' AS type, "
        f"count(*) AS n FROM \"{name}\" WHERE CAST(ts AS DATE) < DATE '{end}' GROUP BY 1"
        for name in EVENT_TYPES
    ]
    rows = run_sql(lake, " UNION ALL ".join(parts)).to_pylist()
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        column = row["type"] if row["type"] in DAILY_COLUMNS else OTHER
        key = (row["day"], column)
        counts[key] = counts.get(key, 0) + int(row["n"])
    table = Table(title=label("per_day", lang), caption=label("other_note", lang))
    table.add_column(label("day", lang))
    for name in (*DAILY_COLUMNS, OTHER):
        table.add_column(label("other", lang) if name == OTHER else name, justify="right")
    for day in sorted({day for day, _ in counts}):
        cells = (f"{counts.get((day, name), 0):,}" for name in (*DAILY_COLUMNS, OTHER))
        # month-day is enough (the period with its year is in the summary above)
        table.add_row(day[5:] or label("earlier", lang), *cells)
    return table


def top_callers(lake: Lake, folder: Path, lang: str, *, one_way: bool = False) -> Table:
    """The callers with the most distinct callees, next to what the simulation says they are.

    ``called by`` (distinct numbers that called them) is what tells the two kinds apart:
    couriers and shops reach many people and are called back; fraud numbers are not, so
    ``one_way`` keeps only the numbers nobody called.
    """
    rows = run_sql(
        lake,
        "WITH o AS (SELECT caller AS number, count(DISTINCT callee) AS callees, count(*) AS "
        "calls FROM call GROUP BY 1), i AS (SELECT callee AS number, count(DISTINCT caller) AS "
        "callers FROM call GROUP BY 1) SELECT number, callees, calls, coalesce(callers, 0) AS "
        "callers FROM o LEFT JOIN i USING (number) "
        + ("WHERE i.callers IS NULL " if one_way else "")
        + f"ORDER BY callees DESC, number LIMIT {TOP_CALLERS}",
    ).to_pylist()
    known = gang_phones(folder)
    title = label("one_way_callers" if one_way else "top_callers", lang, n=TOP_CALLERS)
    table = Table(title=title)
    table.add_column(label("caller", lang))
    for key in ("callees", "calls", "called_by"):
        table.add_column(label(key, lang), justify="right")
    table.add_column(label("truth", lang))
    for row in rows:
        gang = known.get(row["number"])
        truth = _gang_text(gang, lang) if gang else label("no_gang", lang)
        counts = (f"{row[key]:,}" for key in ("callees", "calls", "callers"))
        table.add_row(row["number"], *counts, truth)
    return table


def _gang_text(gang: tuple[str, str], lang: str) -> str:
    gang_id, role = gang
    shown = label("role_caller", lang) if role == "caller" else role
    return label("gang_number", lang, gang=gang_id, role=shown)


def gang_phones(folder: Path) -> dict[str, tuple[str, str]]:
    """Phone numbers the simulated gangs use: number → (gang, role), from the ground truth."""
    entities = read_truth(folder, "entities")
    phones = entities.filter(pc.equal(entities["kind"], "phone"))
    return {
        row["value"]: (row["gang_id"], row["role"])
        for row in phones.select(["value", "gang_id", "role"]).to_pylist()
    }


def reports_by_type(lake: Lake, lang: str) -> Table:
    """Police reports and their reported loss per fraud type, most reported first."""
    rows = run_sql(
        lake,
        "SELECT fraud_type, count(*) AS reports, coalesce(sum(loss_fen), 0) AS loss_fen "
        "FROM police_report GROUP BY 1 ORDER BY reports DESC, fraud_type",
    ).to_pylist()
    table = Table(title=label("reports_title", lang))
    table.add_column(label("fraud_type", lang))
    table.add_column(label("reports", lang), justify="right")
    table.add_column(label("loss", lang), justify="right")
    for row in rows:
        table.add_row(
            _fraud_name(row["fraud_type"], lang),
            f"{row['reports']:,}",
            f"{int(row['loss_fen']) // 100:,}",
        )
    return table


def _fraud_name(value: str | None, lang: str) -> str:
    if value is None or lang.lower().startswith("en"):
        return value or "—"
    try:
        return FraudType(value).label_zh
    except ValueError:  # a lake fed from elsewhere may hold other values
        return value


# ------------------------------------------------------------------------------- next steps


def print_next_steps(folder: Path, console: Console, lang: str) -> None:
    """Three commands to go on with: SQL, replay in event time, dead letters."""
    sql = "SELECT caller, count(DISTINCT callee) AS n FROM call GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
    steps = [
        ("next_sql", f'fanzha sql "{sql}"'),
        (
            "next_replay",
            f"FANZHA_DATA_DIR=/tmp/live fanzha replay {quote(str(folder))} --speed 600",
        ),
        ("next_deadletters", "fanzha deadletters list"),
    ]
    console.rule(label("next", lang))
    for key, command in steps:
        console.print(label(key, lang), markup=False)
        # soft_wrap: a long command stays one line, so it can be copied and pasted whole
        console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
