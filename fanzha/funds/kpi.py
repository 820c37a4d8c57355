"""Funds KPIs: how fast money was stopped and how much of it was saved.

* **60-minute stop-payment rate**: of the cases with an order, the share whose first
  executed order (the bank held something) was executed within 60 minutes of the report
  (Shenzhen: 18 % → 87 %).
* **Median time from report to first order** (sent), and the same per layer (hop).
* **Frozen share**: money the banks held (at execution, before any release or return) over
  the reported loss; **returned** and **cashed out** in fen.

Grouped per unit, fraud type and period by :func:`by`. Pure: orders and cases in, numbers out.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fanzha.funds.orders import Case, Order, OrderState

WINDOW_S = 3600


@dataclass
class Scorecard:
    """The funds figures for a set of cases."""

    cases: int = 0
    cases_with_orders: int = 0
    stopped_60min: int = 0
    loss_fen: int = 0
    frozen_fen: int = 0
    returned_fen: int = 0
    cashed_out_fen: int = 0
    report_to_first_order_s: list[float] = field(default_factory=list)
    per_layer_s: dict[int, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The scorecard keys (and a few more)."""
        rate = self.stopped_60min / self.cases_with_orders if self.cases_with_orders else 0.0
        return {
            "stop_payment_60min_rate": round(rate, 4),
            "median_report_to_first_order_s": _median(self.report_to_first_order_s),
            "frozen_share": round(self.frozen_fen / self.loss_fen, 4) if self.loss_fen else 0.0,
            "returned_fen": self.returned_fen,
            "cashed_out_fen": self.cashed_out_fen,
            "cases": self.cases,
            "cases_with_orders": self.cases_with_orders,
            "loss_fen": self.loss_fen,
            "frozen_fen": self.frozen_fen,
            "median_s_per_layer": {str(h): _median(v) for h, v in sorted(self.per_layer_s.items())},
        }


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def secured_fen(order: Order) -> int:
    """What the bank held under the order when it executed (before releases and returns);
    a stop-payment converted to a freeze counts once, in the freeze."""
    if order.converted_to is not None:
        return 0
    return order.held_fen + order.released_fen + order.returned_fen


def executed_at(order: Order) -> dt.datetime | None:
    """When the bank held money under the order (None: it never did)."""
    if order.answered_at is None or order.state in (OrderState.FAILED, OrderState.SENT):
        return None
    return order.answered_at if secured_fen(order) > 0 or order.converted_to else None


def scorecard(
    cases: Iterable[Case],
    orders: Iterable[Order],
    cashed_out: Mapping[str, int] | None = None,
    returned: Mapping[str, int] | None = None,
) -> Scorecard:
    """The figures for ``cases``; ``cashed_out`` / ``returned``: fen per case id (from the
    traces and the returns)."""
    by_case: dict[str, list[Order]] = {}
    for order in orders:
        by_case.setdefault(order.case_id, []).append(order)
    card = Scorecard()
    for case in cases:
        _add_case(card, case, by_case.get(case.case_id, []))
        card.cashed_out_fen += (cashed_out or {}).get(case.case_id, 0)
        card.returned_fen += (returned or {}).get(case.case_id, 0)
    return card


def _add_case(card: Scorecard, case: Case, orders: list[Order]) -> None:
    reported = case.report.received_at
    card.cases += 1
    card.loss_fen += case.report.loss_fen
    card.frozen_fen += sum(secured_fen(o) for o in orders)
    sent = [o for o in orders if o.sent_at is not None]
    if not sent:
        return
    card.cases_with_orders += 1
    first = min(o.sent_at for o in sent if o.sent_at is not None)
    card.report_to_first_order_s.append(max(0.0, (first - reported).total_seconds()))
    done = [t for t in map(executed_at, orders) if t is not None]
    if done and (min(done) - reported).total_seconds() <= WINDOW_S:
        card.stopped_60min += 1
    for o in sent:
        assert o.sent_at is not None
        delay = max(0.0, (o.sent_at - reported).total_seconds())
        card.per_layer_s.setdefault(o.hop, []).append(delay)


def by(
    cases: Iterable[Case],
    orders: Iterable[Order],
    key: Callable[[Case], str],
    cashed_out: Mapping[str, int] | None = None,
    returned: Mapping[str, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """One scorecard per group of cases (``key``: :func:`unit`, :func:`fraud_type`,
    :func:`period`)."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(key(case), []).append(case)
    all_orders = list(orders)
    return {
        name: scorecard(group, all_orders, cashed_out, returned).as_dict()
        for name, group in sorted(groups.items())
    }


def unit(case: Case) -> str:
    """Group by the unit that took the report."""
    return case.unit


def fraud_type(case: Case) -> str:
    """Group by fraud type."""
    return case.report.fraud_type.value


def period(kind: str = "day", tz: dt.tzinfo = dt.UTC) -> Callable[[Case], str]:
    """Group by the day (``2024-05-01``), ISO week (``2024-W18``) or month of the report."""

    def key(case: Case) -> str:
        local = case.report.received_at.astimezone(tz)
        if kind == "month":
            return f"{local.year}-{local.month:02d}"
        if kind == "week":
            year, week, _ = local.isocalendar()
            return f"{year}-W{week:02d}"
        return local.date().isoformat()

    return key
