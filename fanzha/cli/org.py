"""``fanzha org check|show``: the org tree dispatch routes on — the registry's units with the
org file (``FANZHA_ORG_FILE``, YAML: places, duty desks, per-unit policies, routing rules,
officers) over them — checked, with every problem located, and shown as dispatch sees it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from fanzha.dispatch.levels import Channel, RiskLevel
from fanzha.dispatch.org import OrgError, OrgTree
from fanzha.dispatch.orgfile import OrgSetup, load_org
from fanzha.i18n import pick
from fanzha.security import org_setup
from fanzha.service import App
from fanzha.settings import Settings

app = typer.Typer(
    help="The org tree: check an org file against the registry, show units and policies.",
    no_args_is_help=True,
)

LABELS: dict[str, tuple[str, str]] = {
    "title": ("组织架构与处置策略", "Org tree and dispatch policies"),
    "unit": ("单位", "unit"),
    "level": ("层级", "tier"),
    "parent": ("上级", "parent"),
    "duty": ("值班台", "duty desk"),
    "places": ("辖区地名", "places"),
    "users": ("人员", "users"),
    "routing": ("路由规则", "routing"),
    "ok": (
        "组织文件无误:{units} 个单位,{users} 名人员",
        "org file OK: {units} units, {users} users",
    ),
    "problems": ("组织文件有 {n} 处问题:", "the org file has {n} problems:"),
    "none": (
        "没有组织单位:请先导入 org_unit 登记数据",
        "no org units: ingest the org_unit registry first",
    ),
}
LEVEL_NAMES = {"city": ("市局", "city"), "district": ("分局", "district")}
LEVEL_NAMES |= {"station": ("派出所", "station"), "community": ("社区", "community")}


def _l(key: str, lang: str, **kwargs: object) -> str:
    return pick(LABELS, key, lang, **kwargs)


@app.command("check")
def check(
    path: Annotated[
        Path | None, typer.Argument(help="Org file (YAML); default: FANZHA_ORG_FILE.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check an org file over the registry's units; every problem with its line and field."""
    settings = Settings()
    path = path or settings.org_file
    if path is None:
        raise typer.BadParameter("give a file or set FANZHA_ORG_FILE", param_hint="PATH")
    with App(settings) as fz:
        rows = fz.store.reference.org_units()
    try:
        setup = load_org(_read(path), source=str(path), registry=rows)
    except OrgError as exc:
        fail(exc, settings.lang, as_json)
    users = len(setup.tree.users())
    if as_json:
        typer.echo(json.dumps({"ok": True, "units": len(setup.tree), "users": users}))
        return
    Console().print(_l("ok", settings.lang, units=len(setup.tree), users=users))


@app.command("show")
def show(
    as_json: Annotated[bool, typer.Option("--json", help="Print the tree as JSON.")] = False,
) -> None:
    """Units, duty desks and each level's policy (tier, channels, deadlines) as dispatch uses
    them: the registry's units with FANZHA_ORG_FILE over them."""
    settings = Settings()
    with App(settings) as fz:
        try:
            setup = org_setup(fz.store.sessions, settings.org_file)
        except OrgError as exc:
            fail(exc, settings.lang, as_json)
    if setup is None:
        Console(stderr=True).print(_l("none", settings.lang))
        raise typer.Exit(1)
    rows = [unit_json(setup.tree, code) for code in _codes(setup.tree)]
    if as_json:
        out = {"routing": setup.routing.model_dump(mode="json"), "units": rows}
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    print_tree(setup, rows, Console(), settings.lang)


def unit_json(tree: OrgTree, code: str) -> dict[str, Any]:
    """One unit as dispatch sees it: links, places and each level's effective policy."""
    unit = tree.unit(code)
    policies = {}
    for level in sorted(RiskLevel, reverse=True):
        p = tree.policy(code, level)
        policies[str(int(level))] = {
            "handled_by": p.handled_by.value,
            "channels": [c.value for c in p.channels],
            "sign_within_s": _seconds(p.sign_within),
            "contact_within_s": _seconds(p.contact_within),
            "outcome_within_s": _seconds(p.outcome_within),
        }
    return {
        "code": unit.code,
        "name": unit.name,
        "level": unit.level.value,
        "parent": unit.parent,
        "duty_desk": tree.duty_desk(code).code,
        "places": list(unit.place_names()),
        "users": sorted(u.username for u in tree.users(code)),
        "policies": policies,
    }


def print_tree(setup: OrgSetup, rows: list[dict[str, Any]], console: Console, lang: str) -> None:
    """One row per unit, a column per level: '5m 电话+上门 (派出所)'."""
    table = Table(title=_l("title", lang))
    for key in ("unit", "level", "parent", "duty", "places"):
        table.add_column(_l(key, lang))
    for level in sorted(RiskLevel, reverse=True):
        table.add_column(level.label_en if lang.lower().startswith("en") else level.label_zh)
    table.add_column(_l("users", lang), justify="right")
    for row in rows:
        cells = [
            f"{row['code']} {row['name']}",
            pick(LEVEL_NAMES, row["level"], lang),
            row["parent"] or "—",
            row["duty_desk"],
            "、".join(row["places"]),
        ]
        for policy in row["policies"].values():
            cells.append(_policy_cell(policy, lang))
        table.add_row(*cells, str(len(row["users"])))
    console.print(table)
    console.print(f"{_l('routing', lang)}: {setup.routing.model_dump(mode='json')}")


def _policy_cell(policy: dict[str, Any], lang: str) -> str:
    minutes = policy["contact_within_s"] / 60
    by = pick(LEVEL_NAMES, policy["handled_by"], lang)
    en = lang.lower().startswith("en")
    ways = "+".join(c if en else Channel(c).label_zh[:2] for c in policy["channels"])
    return f"{minutes:g}m {ways} ({by})"


def _codes(tree: OrgTree) -> list[str]:
    """Depth first from the city, children by code."""
    out: list[str] = []
    stack = sorted((u.code for u in tree.roots()), reverse=True)
    while stack:
        code = stack.pop()
        out.append(code)
        stack.extend(sorted((u.code for u in tree.children(code)), reverse=True))
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint="PATH") from None


def fail(exc: OrgError, lang: str, as_json: bool) -> NoReturn:
    """Print an org file's problems (one per line, or as JSON) and exit with status 2."""
    problems = [str(p) for p in exc.problems]
    if as_json:
        typer.echo(json.dumps({"ok": False, "problems": problems}, ensure_ascii=False))
    else:
        err = Console(stderr=True)
        err.print(_l("problems", lang, n=len(problems)))
        for line in problems:
            err.print(f"  {line}", markup=False)
    raise typer.Exit(2)


def _seconds(delta: dt.timedelta) -> int:
    return int(delta.total_seconds())
