"""``fanzha kpi``: the dispatch KPIs per unit and level from the stored instructions, as a Rich
table (zh-CN by default) or one JSON object."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fanzha.cli.org import fail
from fanzha.dispatch.org import OrgError, OrgTree
from fanzha.i18n import pick
from fanzha.model import values
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.stats.kpi import ALL_UNITS, KpiRow, Kpis, kpis
from fanzha.store.instructions import SqlInstructions

LABELS: dict[str, tuple[str, str]] = {
    "title_time": ("预警指令考核:时效", "Dispatch KPIs: timeliness"),
    "title_work": ("预警指令考核:劝阻", "Dispatch KPIs: dissuasion"),
    "unit": ("单位", "unit"),
    "level": ("等级", "level"),
    "all_levels": ("全部", "all"),
    "all_units": ("合计", "all units"),
    "instructions": ("指令", "instructions"),
    "sign": ("签收用时中位(秒)", "median sign s"),
    "contact": ("首次联系中位(秒)", "median first contact s"),
    "on_time": ("按时率", "on time"),
    "overdue": ("超时", "overdue"),
    "calls": ("电话", "calls"),
    "reach": ("接通率", "reach"),
    "refusal": ("拒接率", "refusal"),
    "dissuasion": ("劝阻成功率", "dissuasion"),
    "per_dissuasion": ("每成功劝阻通话", "calls per dissuasion"),
    "saved": ("挽回(万元)", "saved (10k¥)"),
    "none": ("没有符合条件的预警指令", "no instructions match"),
    "unknown_unit": ("没有这个单位：{unit}", "no such unit: {unit}"),
}
LEVEL_NAMES = {
    4: ("特危", "critical"),
    3: ("高危", "high"),
    2: ("中危", "medium"),
    1: ("低危", "low"),
}


def _l(key: str, lang: str, **kwargs: object) -> str:
    return pick(LABELS, key, lang, **kwargs)


def _when(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return values.parse_timestamp(text)
    except values.InvalidValue as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def run_kpi(
    settings: Settings,
    unit: str | None,
    since: str | None,
    until: str | None,
    *,
    as_json: bool,
    console: Console,
    err: Console,
) -> Kpis:
    """Read the instructions created in ``[since, until)`` and print their KPIs."""
    lang = settings.lang
    start, stop = _when(since, "--since"), _when(until, "--until")
    if start is not None and stop is not None and start >= stop:
        raise typer.BadParameter("must be after --since", param_hint="--until")
    with App(settings) as fz:
        instructions = SqlInstructions(fz.store.sessions).between(start, stop)
        tree = _tree(fz, lang, as_json)
    within = _within(tree, unit, lang, err)
    as_of = stop or dt.datetime.now(dt.UTC)
    table = kpis(instructions, as_of, units=within)
    if as_json:
        typer.echo(json.dumps(table.to_json(), ensure_ascii=False))
        return table
    if not table.total.legs:
        console.print(_l("none", lang))
        return table
    print_kpis(table, tree, console, lang)
    return table


def _tree(fz: App, lang: str, as_json: bool) -> OrgTree | None:
    """The org tree dispatch uses (the registry's units, the org file over them); None
    without units (they are shown by code)."""
    try:
        return fz.load_org()
    except OrgError as exc:
        fail(exc, lang, as_json)


def _within(
    tree: OrgTree | None, unit: str | None, lang: str, err: Console
) -> Callable[[str], bool] | None:
    if unit is None:
        return None
    if tree is None or unit not in tree:
        err.print(_l("unknown_unit", lang, unit=unit), markup=False)
        raise typer.Exit(2)
    return lambda code: code in tree and tree.is_within(code, unit)


def print_kpis(table: Kpis, tree: OrgTree | None, console: Console, lang: str) -> None:
    """Two tables (timeliness, then dissuasion), each with one row per unit and level, the
    unit's total, the level totals and the overall row."""
    parts = (
        ("title_time", ("instructions", "sign", "contact", "on_time", "overdue"), _time_cells),
        (
            "title_work",
            ("calls", "reach", "refusal", "dissuasion", "per_dissuasion", "saved"),
            _work_cells,
        ),
    )
    for title, keys, cells in parts:
        out = Table(title=_l(title, lang))
        out.add_column(_l("unit", lang))
        out.add_column(_l("level", lang))
        for key in keys:
            out.add_column(_l(key, lang), justify="right")
        for row in table.rows:
            name = _unit_name(row.unit, tree, lang)
            out.add_row(name, _level_name(row.level, lang), *cells(row))
        console.print(out)


def _time_cells(row: KpiRow) -> list[str]:
    j = row.to_json()
    return [
        f"{row.legs:,}",
        _num(j["median_sign_s"]),
        _num(j["median_first_contact_s"]),
        _pct(row.on_time_rate),
        f"{row.overdue:,}",
    ]


def _work_cells(row: KpiRow) -> list[str]:
    return [
        f"{row.calls:,}",
        _pct(row.reach_rate),
        _pct(row.refusal_rate),
        _pct(row.dissuasion_rate),
        _num(row.calls_per_dissuasion),
        f"{row.saved_fen / 1_000_000:,.1f}",
    ]


def _unit_name(code: str, tree: OrgTree | None, lang: str) -> str:
    if code == ALL_UNITS:
        return _l("all_units", lang)
    unit = tree.get(code) if tree is not None else None
    if unit is None:
        return code
    name = unit.name_en if lang.lower().startswith("en") and unit.name_en else unit.name
    return f"{name} {code}"


def _level_name(level: int | None, lang: str) -> str:
    if level is None:
        return _l("all_levels", lang)
    return LEVEL_NAMES[level][1 if lang.lower().startswith("en") else 0]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def kpi(
    unit: Annotated[
        str | None, typer.Option(help="Only this unit and the units under it (code).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Instructions created at or after (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Instructions created before (ISO 8601).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the KPIs as JSON.")] = False,
) -> None:
    """Dispatch KPIs per unit and level: time to sign and to first contact, on-time rate,
    reach and refusal rates, dissuasion rate, calls per dissuasion, money saved, overdue."""
    run_kpi(
        Settings(),
        unit,
        since,
        until,
        as_json=as_json,
        console=Console(),
        err=Console(stderr=True),
    )
