"""``fanzha case open|show|list`` and ``fanzha orders list``: the stop-payment desk on the
command line (the same :class:`fanzha.funding.Funds` service as the API)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from fanzha.funding import UnknownError
from fanzha.funds.extract import decode_narrative, extract
from fanzha.funds.orders import Case, Order, OrderState
from fanzha.funds.report import ReportError, parse_report
from fanzha.i18n import pick
from fanzha.model.values import InvalidValue
from fanzha.service import App
from fanzha.settings import Settings

case_app = typer.Typer(
    help="Cases (报案/立案): open from a report, show, list.", no_args_is_help=True
)
orders_app = typer.Typer(help="Stop-payment and freeze orders: list.", no_args_is_help=True)
err = Console(stderr=True)

LABELS = {
    "opened": ("已立案 {case}{flag}:止付指令 {orders} 条,新增情报 {indicators} 条",
               "case {case}{flag}: {orders} stop-payment orders, {indicators} indicators"),
    "again": ("案件 {case} 已存在(报案重复提交)", "case {case} already exists (report sent again)"),
    "escalated": (" [提级挂牌督办]", " [escalated supervision]"),
    "bad": ("报案信息有误:", "the report has errors:"),
    "unknown": ("没有案件 {case}", "no case {case}"),
    "cases": ("案件", "Cases"),
    "orders": ("止付/冻结指令", "Orders"),
    "case": ("案件", "case"), "unit": ("单位", "unit"), "type": ("案件类别", "fraud type"),
    "loss": ("损失", "loss"), "state": ("状态", "state"), "opened_at": ("立案时间", "opened"),
    "account": ("账户", "account"), "bank": ("银行", "bank"), "kind": ("类型", "kind"),
    "amount": ("止付金额", "to hold"), "held": ("实际控制", "held"), "hop": ("层", "hop"),
}  # fmt: skip


def _l(key: str, lang: str, **kwargs: object) -> str:
    return pick(LABELS, key, lang, **kwargs)


def _yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def _read(path: Path) -> dict[str, Any]:
    raw = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    if not raw.strip():
        raise typer.BadParameter(f"{path}: the file is empty (expected one JSON object)")
    try:
        data = json.loads(decode_narrative(raw))
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(
            f"{path}: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path}: expected one JSON object (the report)")
    return data


def _prefill(data: dict[str, Any], tz: str) -> dict[str, Any]:
    """Fill what the report leaves out from its narrative (payments, numbers, URLs, apps)."""
    at = data.get("received_at") or dt.datetime.now(dt.UTC).isoformat()
    found = extract(str(data.get("narrative") or ""), dt.datetime.fromisoformat(str(at)), tz)
    out = dict(data)
    if not out.get("payments"):
        out["payments"] = [
            {"account": p.account, "amount_fen": p.amount_fen, "paid_at": p.paid_at}
            for p in found.payments
            if p.account
        ]
    out.setdefault("suspect_phones", found.phones)
    out.setdefault("suspect_urls", found.urls)
    out.setdefault("suspect_apps", found.apps)
    if not out.get("loss_fen") and found.loss_fen:
        out["loss_fen"] = found.loss_fen
    return out


@case_app.command("open")
def case_open(
    report: Annotated[Path, typer.Argument(help="Report as JSON (UTF-8 or GB18030; - for stdin).")],
    prefill: Annotated[
        bool, typer.Option("--extract", help="Fill payments, numbers and URLs from the narrative.")
    ] = False,
    actor: Annotated[str, typer.Option(help="Who confirms the report.")] = "cli",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Confirm a report: open its case, learn its indicators, send stop-payment orders."""
    settings = Settings()
    lang = settings.lang
    data = _read(report)
    data.setdefault("taken_by", actor)
    try:
        parsed = parse_report(_prefill(data, settings.timezone) if prefill else data)
    except (ReportError, InvalidValue, ValueError) as exc:
        err.print(f"[red]{_l('bad', lang)}[/red]")
        for line in getattr(exc, "problems", [("report", str(exc))]):
            err.print(f"  {line[0]}: {line[1]}")
        raise typer.Exit(2) from None
    with App(settings) as fz:
        done = fz.funds.intake(parsed, actor)
    if as_json:
        body = {
            "case": done.case.case_id,
            "created": done.created,
            "escalated": done.case.escalated,
            "orders": [o.order_id for o in done.orders],
            "indicators": done.indicators,
        }
        print(json.dumps(body, ensure_ascii=False))
        return
    if not done.created:
        err.print(_l("again", lang, case=done.case.case_id))
    flag = _l("escalated", lang) if done.case.escalated else ""
    print(
        _l(
            "opened",
            lang,
            case=done.case.case_id,
            flag=flag,
            orders=len(done.orders),
            indicators=done.indicators,
        )
    )


@case_app.command("show")
def case_show(
    case_id: Annotated[str, typer.Argument(help="Case id (C-<report id>).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One case, its orders and their history."""
    settings = Settings()
    with App(settings) as fz:
        try:
            case = fz.funds.case(case_id)
        except UnknownError:
            err.print(_l("unknown", settings.lang, case=case_id))
            raise typer.Exit(1) from None
        orders = fz.funds.orders(case_id=case_id)
    if as_json:
        out = {
            "case": case.model_dump(mode="json"),
            "orders": [o.model_dump(mode="json") for o in orders],
        }
        print(json.dumps(out, ensure_ascii=False))
        return
    console = Console()
    console.print(_cases_table([case], settings.lang, settings.timezone))
    console.print(_orders_table(orders, settings.lang))
    for o in orders:
        for e in o.history:
            console.print(
                f"[dim]{o.order_id} {_local(e.at, settings.timezone)} {e.actor} {e.action}"
                f" → {e.state.label(settings.lang)} {e.reason}[/dim]"
            )


@case_app.command("list")
def case_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only open cases.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Cases, newest first."""
    settings = Settings()
    with App(settings) as fz:
        cases = fz.funds.cases(open_only=open_only, limit=limit)
    if as_json:
        print(json.dumps([_case_row(c) for c in cases], ensure_ascii=False))
        return
    Console().print(_cases_table(cases, settings.lang, settings.timezone))


@orders_app.command("list")
def orders_list(
    case_id: Annotated[str | None, typer.Option("--case", help="Only this case's.")] = None,
    state: Annotated[str | None, typer.Option(help="sent, executed, partially_executed …")] = None,
    bank: Annotated[str | None, typer.Option(help="Only this bank's (ICBC = 工商银行).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Stop-payment and freeze orders, oldest first."""
    settings = Settings()
    try:
        states = None if state is None else [OrderState(state)]
    except ValueError:
        known = ", ".join(s.value for s in OrderState)
        raise typer.BadParameter(f"state {state!r}: expected one of {known}") from None
    with App(settings) as fz:
        found = fz.funds.repo.find_orders(
            case_id=case_id, states=states, banks=None if bank is None else [bank]
        )
    if as_json:
        print(
            json.dumps(
                [o.model_dump(mode="json", exclude={"history", "answers"}) for o in found],
                ensure_ascii=False,
            )
        )
        return
    Console().print(_orders_table(found, settings.lang))


def _case_row(case: Case) -> dict[str, Any]:
    r = case.report
    return {
        "case": case.case_id,
        "unit": case.unit,
        "fraud_type": r.fraud_type.value,
        "loss_fen": r.loss_fen,
        "state": case.state.value,
        "escalated": case.escalated,
        "opened_at": case.opened_at.isoformat(),
        "returned_fen": case.returned_fen,
    }


def _local(at: dt.datetime, tz: str) -> str:
    """A moment as the centre reads it: local time to the minute."""
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _cases_table(cases: list[Case], lang: str, tz: str) -> Table:
    table = Table(title=_l("cases", lang))
    for key in ("case", "unit", "type", "loss", "state", "opened_at"):
        table.add_column(_l(key, lang))
    for c in cases:
        flag = " ⚑" if c.escalated else ""
        fraud = c.report.fraud_type
        table.add_row(
            c.case_id + flag,
            c.unit,
            fraud.value if lang.startswith("en") else fraud.label_zh,
            _yuan(c.report.loss_fen),
            c.state.label(lang),
            _local(c.opened_at, tz),
        )
    return table


def _orders_table(orders: list[Order], lang: str) -> Table:
    table = Table(title=_l("orders", lang))
    for key in ("account", "bank", "kind", "hop", "amount", "held", "state"):
        table.add_column(_l(key, lang))
    for o in orders:
        table.add_row(
            o.account,
            o.bank or "",
            o.kind.label(lang),
            str(o.hop),
            _yuan(o.amount_fen),
            _yuan(o.held_fen),
            o.state.label(lang),
        )
    return table
