"""``fanzha trace``: follow a victim's money from one account through the lake's transfers.

``--case ID`` traces every payment of a case (``--json``: the payments' traces merged into
one object — nodes summed by account, every edge — with ``"case"`` and ``"payments"``, the
trace of each payment, beside it).
"""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from fanzha.funds.trace import (
    DEFAULT_DEPTH,
    POLICY_LABELS,
    Policy,
    Trace,
    TraceEdge,
    TraceError,
    TraceNode,
    iso,
    trace,
)
from fanzha.i18n import pick
from fanzha.lake import Lake
from fanzha.model import values
from fanzha.settings import Settings
from fanzha.tracing import lake_ledger

LABELS: dict[str, tuple[str, str]] = {
    "title": ("资金追踪 · {policy}", "Funds trace · {policy}"),
    "traced": ("追踪金额", "traced"),
    "held": ("可冻结", "holdable"),
    "cash_out": ("已取现/消费", "cashed out"),
    "untraced": ("未追踪", "untraced"),
    "attributed": ("涉案", "attributed"),
    "hop": ("第{hop}层", "hop {hop}"),
    "layers": ("层数", "layers"),
    "accounts": ("账户", "accounts"),
    "innocent": ("混有他人资金 {share:.0%}", "{share:.0%} other money"),
    "also": ("另有转入 {amount} 来自 {source}", "also {amount} from {source}"),
    "freeze": ("止付/冻结建议(按可冻结金额排序)", "Stop-payment list (by holdable amount)"),
    "rank": ("序号", "#"),
    "hop_col": ("层", "hop"),
    "innocent_col": ("他人资金占比", "other money"),
    "account": ("账户", "account"),
    "first_seen": ("资金到达", "money arrived"),
    "unmatched": (
        "流水中未找到 {when} 前后转入 {account} 的 {amount} 元:按该时刻到账追踪",
        "no transfer of {amount} yuan into {account} near {when} in the ledger:"
        " tracing it as arriving then",
    ),
    "unknown": (
        "账户 {account} 不在交易流水中:资金视为仍在该账户",
        "account {account} is not in the ledger: the money is taken to be still there",
    ),
    "empty": (
        "湖中没有转账:先运行 fanzha ingest 或 fanzha demo",
        "the lake holds no transfers: run fanzha ingest or fanzha demo first",
    ),
    "timing": (
        "索引 {build:.2f} 秒 · 追踪 {trace:.1f} 毫秒 · 涉及 {touched:,} 笔转账",
        "index {build:.2f} s · trace {trace:.1f} ms · {touched:,} transfers looked at",
    ),
    "cut": (
        "已达工作量上限({touched:,} 笔转账):资金去向只追到 {when},此后的转账未看",
        "work limit reached ({touched:,} transfers): the money is shown as it stood at {when};"
        " later transfers were not looked at",
    ),
}

_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|min|s|天|小时|分钟|分|秒)", re.I)
_UNIT_S: Final = {
    "d": 86400,
    "天": 86400,
    "h": 3600,
    "小时": 3600,
    "m": 60,
    "min": 60,
    "分钟": 60,
    "分": 60,
    "s": 1,
    "秒": 1,
}
_ISO_DURATION: Final = re.compile(
    r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.I
)


def parse_duration(text: str) -> int:
    """Seconds in ``72h``, ``1d12h``, ``90m``, ``3600`` (seconds), ``PT72H`` or ``3天``."""
    raw = text.strip()
    if re.fullmatch(r"\d+", raw):
        return int(raw)
    iso_match = _ISO_DURATION.fullmatch(raw)
    if iso_match and raw.upper() not in ("P", "PT"):
        d, h, m, s = (float(g) if g else 0.0 for g in iso_match.groups())
        return int(d * 86400 + h * 3600 + m * 60 + s)
    parts = _DURATION.findall(raw)
    if not parts or _DURATION.sub("", raw).strip():
        raise ValueError(f"duration {raw[:40]!r}: expected e.g. 72h, 1d12h, 30m, 3600 or PT72H")
    return int(sum(float(n) * _UNIT_S[u.lower()] for n, u in parts))


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals: ``¥1,234.56``."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def trace_command(
    account: Annotated[
        str | None, typer.Option(help="Account the victim's money arrived in.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="When it arrived (ISO 8601; local time if no offset).")
    ] = None,
    amount: Annotated[int | None, typer.Option(min=1, help="How much arrived, in fen.")] = None,
    case: Annotated[
        str | None, typer.Option("--case", help="Trace every payment of this case instead.")
    ] = None,
    policy: Annotated[
        str, typer.Option(help="libr (default), fifo, lifo, pro_rata (haircut) or poison.")
    ] = "libr",
    depth: Annotated[int, typer.Option(min=0, help="Most hops followed.")] = DEFAULT_DEPTH,
    horizon: Annotated[
        str, typer.Option(help="How long after --since money is followed (72h, 1d12h, PT72H).")
    ] = "72h",
    until: Annotated[
        str | None, typer.Option(help="Last moment looked at (default: the end of the lake).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the trace as JSON.")] = False,
) -> None:
    """Trace --amount fen that arrived in --account at --since through the lake's transfers:
    accounts, hop, time, amount attributable, balance that can be frozen, cash-outs."""
    settings = Settings()
    lang, tz = settings.lang, settings.timezone
    if case is None and (account is None or since is None or amount is None):
        raise typer.BadParameter("give --case ID, or --account, --since and --amount")
    try:
        chosen = Policy.parse(policy)
        horizon_s = parse_duration(horizon)
        end = values.parse_timestamp(until, tz=tz) if until else None
    except (ValueError, values.InvalidValue) as exc:
        raise typer.BadParameter(str(exc)) from None
    err = Console(stderr=True)
    lake = Lake(settings.lake_dir, tz)
    if not lake.files("transfer"):
        err.print(pick(LABELS, "empty", lang))
        raise typer.Exit(1)
    if case is not None:
        limits = (chosen, depth, horizon_s, None if end is None else _micros(end.timestamp()))
        _trace_case(settings, lake, case, limits, as_json)
        return
    assert account is not None and since is not None and amount is not None
    try:
        start = values.parse_timestamp(since, tz=tz)
        acc = values.parse_account(account).value
    except (ValueError, values.InvalidValue) as exc:
        raise typer.BadParameter(str(exc)) from None
    began = time.process_time()
    ledger = lake_ledger(lake)
    built = time.process_time() - began
    began = time.process_time()
    try:
        result = trace(
            ledger,
            acc,
            _micros(start.timestamp()),
            amount,
            chosen,
            depth=depth,
            horizon_s=horizon_s,
            until=None if end is None else _micros(end.timestamp()),
        )
    except TraceError as exc:
        raise typer.BadParameter(str(exc)) from None
    took_ms = (time.process_time() - began) * 1000
    if ledger.account_id(acc) is None:
        err.print(f"[yellow]{pick(LABELS, 'unknown', lang, account=acc)}[/yellow]")
    elif result.root_seq is None:
        note = pick(LABELS, "unmatched", lang, amount=yuan(amount)[1:], account=acc, when=since)
        err.print(f"[yellow]{note}[/yellow]")
    if as_json:
        print(json.dumps(result.to_json(tz), ensure_ascii=False))
        return
    console = Console()
    console.print(render_tree(result, lang, tz))
    console.print(freeze_table(result, lang))
    _say_cut(result, lang, tz)
    timing = pick(LABELS, "timing", lang, build=built, trace=took_ms, touched=result.touched)
    err.print(f"[dim]{timing}[/dim]")


def _trace_case(
    settings: Settings,
    lake: Lake,
    case_id: str,
    limits: tuple[Policy, int, int, int | None],
    as_json: bool,
) -> None:
    """Every payment of a case, traced through the lake's transfers."""
    from fanzha.funding import UnknownError
    from fanzha.service import App

    policy, depth, horizon_s, until = limits
    with App(settings) as fz:
        try:
            found = fz.funds.case(case_id)
        except UnknownError:
            raise typer.BadParameter(f"no case {case_id!r}") from None
    ledger = lake_ledger(lake)
    traces = []
    for p in found.report.payments:
        since = _micros((p.paid_at or found.report.received_at).timestamp())
        traces.append(
            trace(
                ledger,
                p.account,
                since,
                p.amount_fen,
                policy,
                depth=depth,
                horizon_s=horizon_s,
                until=until,
            )
        )
    tz, lang = settings.timezone, settings.lang
    if as_json:
        print(json.dumps(merged_json(case_id, traces, tz), ensure_ascii=False))
        return
    console = Console()
    for result in traces:
        console.print(render_tree(result, lang, tz))
        console.print(freeze_table(result, lang))
        _say_cut(result, lang, tz)


def _say_cut(result: Trace, lang: str, tz: str) -> None:
    """Say so when the work limit stopped a trace (its figures are as of that moment)."""
    if result.cut_at is not None:
        when = iso(result.cut_at, tz)[:19].replace("T", " ")
        note = pick(LABELS, "cut", lang, touched=result.touched, when=when)
        Console(stderr=True).print(f"[yellow]{note}[/yellow]")


def merged_json(case_id: str, traces: list[Trace], tz: str) -> dict[str, Any]:
    """The traces of a case's payments as one object: nodes summed by account (hop: the
    nearest), every edge, and each payment's own trace under ``payments``."""
    nodes: dict[str, dict[str, Any]] = {}
    for t in traces:
        for n in t.to_json(tz)["nodes"]:
            got = nodes.setdefault(n["account"], {**n, **dict.fromkeys(_SUMMED, 0)})
            got["hop"] = min(got["hop"], n["hop"])
            for key in _SUMMED:
                got[key] += n[key]
    edges = [e for t in traces for e in t.to_json(tz)["edges"]]
    return {
        "case": case_id,
        "policy": traces[0].policy.value if traces else Policy.LIBR.value,
        "traced_fen": sum(t.traced_fen for t in traces),
        "nodes": sorted(nodes.values(), key=lambda n: (n["hop"], n["account"])),
        "edges": sorted(edges, key=lambda e: e["ts"]),
        "payments": [t.to_json(tz) for t in traces],
    }


_SUMMED: Final = ("attributed_fen", "holdable_fen", "cash_out_fen", "untraced_fen")


def _micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _l(key: str, lang: str, **kwargs: object) -> str:
    return pick(LABELS, key, lang, **kwargs)


def _node_line(node: TraceNode, lang: str, tz: str) -> str:
    parts = [
        f"[bold]{node.account}[/bold]",
        _l("hop", lang, hop=node.hop),
        iso(node.first_ts, tz)[:19].replace("T", " "),
        f"{_l('attributed', lang)} {yuan(node.attributed_fen)}",
    ]
    if node.holdable_fen:
        parts.append(f"[green]{_l('held', lang)} {yuan(node.holdable_fen)}[/green]")
    if node.cash_out_fen:
        parts.append(f"[red]{_l('cash_out', lang)} {yuan(node.cash_out_fen)}[/red]")
    if node.untraced_fen:
        parts.append(f"[yellow]{_l('untraced', lang)} {yuan(node.untraced_fen)}[/yellow]")
    if node.mixed:
        parts.append(f"[magenta]{_l('innocent', lang, share=node.innocent_share)}[/magenta]")
    return " · ".join(parts)


def render_tree(result: Trace, lang: str, tz: str) -> Tree:
    """The trace as a tree: each account under the account that first paid it the money."""
    zh, en = POLICY_LABELS[result.policy]
    totals = result.totals()
    title = (
        f"[bold]{_l('title', lang, policy=en if lang.startswith('en') else zh)}[/bold] · "
        f"{_l('traced', lang)} {yuan(result.traced_fen)} · "
        f"{_l('held', lang)} {yuan(totals['holdable_fen'])} · "
        f"{_l('cash_out', lang)} {yuan(totals['cash_out_fen'])} · "
        f"{_l('untraced', lang)} {yuan(totals['untraced_fen'])} · "
        f"{_l('layers', lang)} {result.layers} · {_l('accounts', lang)} {len(result.nodes)}"
    )
    tree = Tree(title)
    by_account = {n.account: n for n in result.nodes}
    children: dict[str, list[TraceEdge]] = {}
    placed = {result.account}
    later: dict[str, list[TraceEdge]] = {}
    for edge in result.edges:
        if edge.target in placed:
            later.setdefault(edge.target, []).append(edge)
        else:
            placed.add(edge.target)
            children.setdefault(edge.source, []).append(edge)

    def grow(branch: Tree, account: str) -> None:
        for again in later.get(account, []):
            branch.add(
                f"[dim]{_l('also', lang, amount=yuan(again.fen), source=again.source)}[/dim]"
            )
        for edge in children.get(account, []):
            node = by_account[edge.target]
            grow(branch.add(f"{yuan(edge.fen)} → {_node_line(node, lang, tz)}"), edge.target)

    root = by_account.get(result.account)
    if root is not None:
        grow(tree.add(_node_line(root, lang, tz)), result.account)
    return tree


def freeze_table(result: Trace, lang: str, limit: int = 20) -> Table:
    """The accounts still holding the victim's money, most first."""
    table = Table(title=_l("freeze", lang))
    for key in ("rank", "account", "hop_col", "held", "attributed", "innocent_col"):
        table.add_column(_l(key, lang), justify="left" if key == "account" else "right")
    for rank, node in enumerate(result.freeze_list()[:limit], 1):
        table.add_row(
            str(rank),
            node.account,
            str(node.hop),
            yuan(node.holdable_fen),
            yuan(node.attributed_fen),
            f"{node.innocent_share:.0%}",
        )
    return table
