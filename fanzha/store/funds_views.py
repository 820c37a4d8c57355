"""Read-only funds queries for the dashboard: bounded to today (and aggregated in SQL where a
sum will do), so that the tiles stay fast however many orders the city has placed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from fanzha.funds.orders import Case, Order, OrderKind, OrderState
from fanzha.store.tables import CaseRecord, OrderRecord

_CASES: Table = CaseRecord.__table__  # type: ignore[assignment]
_ORDERS: Table = OrderRecord.__table__  # type: ignore[assignment]
#: today's cases read for the 60-minute rate (a city takes far fewer reports a day)
MAX_CASES = 5000
_HOLDING = [OrderState.EXECUTED.value, OrderState.PARTIAL.value]


@dataclass
class FundsToday:
    """Stop-payments placed today, what banks hold now, and today's cases with their orders."""

    stop_payments: int = 0
    held_fen: int = 0
    cases: list[Case] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)


def _in(query: Any, column: Any, units: Collection[str] | None) -> Any:
    return query if units is None else query.where(column.in_(sorted(units)))


def funds_today(
    sessions: sessionmaker[Session], units: Collection[str] | None, since: dt.datetime
) -> FundsToday:
    """The dashboard's funds figures over ``units`` (None: the city) since ``since``."""
    o = _ORDERS.c
    count = _in(
        select(func.count())
        .select_from(_ORDERS)
        .where(o.kind == OrderKind.STOP_PAYMENT.value, o.created_at >= since),
        o.unit,
        units,
    )
    held = _in(
        select(func.coalesce(func.sum(o.held_fen), 0)).where(o.state.in_(_HOLDING)), o.unit, units
    )
    cases = _in(
        select(_CASES.c.case_id, _CASES.c.body).where(_CASES.c.opened_at >= since),
        _CASES.c.unit,
        units,
    ).limit(MAX_CASES)
    with sessions() as session:
        out = FundsToday(int(session.scalar(count) or 0), int(session.scalar(held) or 0))
        found = session.execute(cases).all()
        out.cases = [_light_case(body) for _, body in found]
        ids = [case_id for case_id, _ in found]
        for start in range(0, len(ids), 500):  # bounded IN lists
            part = select(o.body).where(o.case_id.in_(ids[start : start + 500]))
            out.orders += [_light_order(b) for b in session.scalars(part)]
    return out


def _light_case(body: dict[str, Any]) -> Case:
    """What the KPIs read of a case (id, unit, report time and loss), as a plain object:
    validating whole reports, or even pydantic's ``model_construct``, would cost the
    dashboard most of its time. The KPI itself stays :func:`fanzha.funds.kpi.scorecard`."""
    report = body["report"]
    light = SimpleNamespace(
        received_at=_at(report["received_at"]), loss_fen=int(report["loss_fen"])
    )
    return cast(Case, SimpleNamespace(case_id=body["case_id"], unit=body["unit"], report=light))


def _light_order(body: dict[str, Any]) -> Order:
    """What the KPIs read of an order (not its history or the bank's answers)."""
    fields = {k: body.get(k) for k in _KPI_FIELDS}
    for key in ("sent_at", "answered_at"):
        fields[key] = _at(fields[key])
    fields["state"] = OrderState(str(body["state"]))
    return cast(Order, SimpleNamespace(**fields))


def _at(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


_KPI_FIELDS = (
    "case_id", "hop", "state", "sent_at", "answered_at", "converted_to",
    "held_fen", "released_fen", "returned_fen", "kind", "unit",
)  # fmt: skip
