"""The funds service end to end on a small ledger: intake → orders → simulated bank →
extended stop-payment (automatic and one-click, again as transfers arrive) → returns,
appeals, expiry and the KPIs. Memory repository; real ledger, tracer and bank simulation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from fanzha.auth.principal import OutOfScope, Scope
from fanzha.funding import Funds, FundsConfig, UnknownError
from fanzha.funds.ledger import Ledger
from fanzha.funds.orders import BankAnswer, OrderKind, OrderState
from fanzha.funds.repo import MemoryFundsRepo
from fanzha.funds.report import Report, parse_report
from fanzha.intel.model import Indicator
from fanzha.model.clock import ManualClock
from fanzha.sim.bank import BankBehaviour, SimulatedBank

from .builders import Row, table

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
BASE = int(T0.timestamp())
VICTIM, A, B, C, D = "6222021234567890128", "6217000000000000001", "6217000000000000002", \
    "6217000000000000003", "6217000000000000004"  # fmt: skip
INSTANT = BankBehaviour(median_latency_s=60, latency_sigma=0.0, failure_rate=0.0)


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


LEDGER: list[Row] = [
    ("X", A, BASE - 3600, 500),  # A's own money before the victim's arrived
    (VICTIM, A, BASE + 100, 10_000_00),
    (A, B, BASE + 200, 8_000_00),
    (B, C, BASE + 300, 5_000_00),
    (C, "ATM", BASE + 400, 2_000_00, "ATM"),
]


class Sink:
    def __init__(self) -> None:
        self.indicators: list[Indicator] = []
        self.entries: list[tuple[str, str, str]] = []

    def upsert_many(self, indicators: Sequence[Indicator], *, actor: str, reason: str) -> None:
        self.indicators.extend(indicators)

    def record(self, actor: str, action: str, *, object_type: str = "", object_id: str = "",
               reason: str = "", details: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self.entries.append((actor, action, object_id))


def report(report_id: str = "R1", account: str = A, fen: int = 10_000_00, **more: Any) -> Report:
    return parse_report({
        "report_id": report_id, "unit": "S1", "received_at": at(600), "taken_by": "user:li",
        "payments": [{"account": account, "amount_fen": fen, "paid_at": at(100)}],
        "suspect_phones": ["13809402934"], **more,
    })  # fmt: skip


def service(auto: bool = True, rows: list[Row] | None = None) -> tuple[Funds, ManualClock, Sink]:
    clock = ManualClock(at(600))
    ledger = Ledger.build(table(rows or LEDGER))
    sink = Sink()
    funds = Funds(MemoryFundsRepo(), clock, bank=SimulatedBank(ledger, INSTANT), ledger=ledger,
                  intel=sink, audit=sink, config=FundsConfig(auto_extend=auto))  # fmt: skip
    return funds, clock, sink


def test_intake_opens_a_case_learns_indicators_and_stops_the_payee() -> None:
    funds, clock, sink = service()
    done = funds.intake(report(), "user:li")
    assert done.created and done.indicators == 2
    assert {i.value for i in sink.indicators} == {"+8613809402934", A}
    (order,) = done.orders
    assert (order.state, order.kind, order.amount_fen) == (
        OrderState.SENT,
        OrderKind.STOP_PAYMENT,
        10_000_00,
    )
    again = funds.intake(report(), "user:li")  # idempotent
    assert not again.created and again.orders[0].order_id == order.order_id
    clock.advance(120)
    assert funds.poll() == 1
    executed = funds.order(order.order_id)
    # at execution A holds its own 5 yuan and 2,000 yuan of the victim's: 2,005 yuan
    assert (executed.state, executed.held_fen) == (OrderState.PARTIAL, 2_005_00)
    assert ("user:li", "case.open", "C-R1") in sink.entries


def test_extended_stop_payment_follows_the_money_ranked_by_amount() -> None:
    funds, _, _ = service()
    funds.intake(report(), "user:li")
    placed = funds.extend("C-R1", "user:li")
    assert [(t.account, t.hop, t.fen) for t in placed] == [(B, 1, 3_000_00), (C, 2, 3_000_00)]
    assert len(funds.orders(case_id="C-R1")) == 3
    assert funds.extend("C-R1", "user:li") == []  # nothing new


def test_one_click_proposals_and_new_transfers_while_the_case_is_open() -> None:
    funds, clock, _ = service(auto=False)
    funds.intake(report(), "user:li")
    funds.extend("C-R1", "user:li")
    assert set(funds.case("C-R1").proposals) == {B, C}
    order = funds.accept("C-R1", C, "user:li")
    assert order.hop == 2 and C not in funds.case("C-R1").proposals
    clock.set(at(900))
    new = funds.feed(table([(C, D, BASE + 800, 2_500_00)]))
    assert new >= 1 and D in funds.case("C-R1").proposals


def test_returns_are_pro_rata_when_two_victims_money_sits_in_one_account() -> None:
    rows: list[Row] = [("V1", A, BASE + 100, 3_000_00), ("V2", A, BASE + 110, 1_000_00)]
    funds, clock, _ = service(rows=rows)
    funds.intake(report("R1", A, 3_000_00), "user:li")
    funds.intake(report("R2", A, 1_000_00), "user:li")
    clock.advance(120)
    funds.poll()
    assert sum(o.held_fen for o in funds.orders()) == 4_000_00
    shares = funds.return_to_victims(A, "user:li")
    assert shares == {"C-R1": 3_000_00, "C-R2": 1_000_00}
    assert funds.case("C-R2").returned_fen == 1_000_00
    assert all(o.state is OrderState.RELEASED for o in funds.orders())
    assert funds.scorecard()["returned_fen"] == 4_000_00


def test_an_appeal_is_released_down_to_the_libr_cap() -> None:
    rows: list[Row] = [*LEDGER, ("Y", B, BASE + 350, 4_000_00)]  # innocent money arrives at B later
    funds, clock, sink = service(rows=rows)
    funds.intake(report(), "user:li")
    order = funds.place_order("C-R1", B, OrderKind.FREEZE, 7_000_00, "user:li", "冻结")
    clock.advance(120)
    funds.poll()
    assert funds.order(order.order_id).held_fen == 7_000_00
    funds.appeal(order.order_id, "张三", "其中4000元是货款", "user:li")
    decided = funds.decide_appeal(order.order_id, "user:li", "libr", "LIBR 上限")
    assert decided.held_fen == 3_000_00 and decided.released_fen == 4_000_00
    assert any(a == "order.appeal_decided" for _, a, _ in sink.entries)


def test_late_bank_answers_expiry_and_conversion() -> None:
    funds, clock, _ = service()
    (order,) = funds.intake(report(), "user:li").orders
    funds.answer(order.order_id, BankAnswer(answer_id="B1", held_fen=1_000_00, at=at(700)))
    late, changed = funds.answer(order.order_id, BankAnswer(answer_id="B2", held_fen=9, at=at(650)))
    assert not changed and late.held_fen == 1_000_00
    freeze = funds.convert(order.order_id, "user:li", "转冻结")
    assert (freeze.kind, freeze.state, freeze.held_fen) == (
        OrderKind.FREEZE,
        OrderState.EXECUTED,
        1_000_00,
    )
    clock.advance(49 * 3600)
    assert funds.expire() == []  # the freeze runs for months; the stop-payment was converted


def test_jurisdiction_and_bank_scopes() -> None:
    funds, _, _ = service()
    (order,) = funds.intake(report(), "user:li").orders
    with pytest.raises(OutOfScope):
        funds.case("C-R1", Scope(frozenset({"S2"})))
    with pytest.raises(UnknownError):
        funds.case("C-nope")
    bank = order.bank or ""
    assert funds.orders(Scope(frozenset(), bank=bank))
    assert funds.orders(Scope(frozenset(), bank="工商银行")) == []
    with pytest.raises(OutOfScope):
        funds.order(order.order_id, Scope(frozenset(), bank="工商银行"))


def test_scorecard_keys() -> None:
    funds, clock, _ = service()
    funds.intake(report(), "user:li")
    clock.advance(120)
    funds.poll()
    card = funds.scorecard()
    assert card["stop_payment_60min_rate"] == 1.0
    assert card["median_report_to_first_order_s"] == 0.0
    assert card["frozen_share"] == pytest.approx(2_005_00 / 10_000_00, abs=1e-4)
    assert card["cashed_out_fen"] == 1_995_00  # LIBR: C's own 5 yuan went first
    assert card["returned_fen"] == 0


def _victims_money(traces: list[Any]) -> list[Any]:
    """Every figure of the victim's money in traces (not the holders' own money)."""
    return [
        [(n.account, n.hop, n.attributed_fen, n.holdable_fen, n.cash_out_fen, n.untraced_fen,
          n.out_fen) for n in t.nodes] + [t.edges]
        for t in traces
    ]  # fmt: skip


def test_kept_traces_are_the_traces_a_fresh_service_finds() -> None:
    rows: list[Row] = [
        *LEDGER[:3],
        ("Y", B, BASE + 1_000, 500_00),  # own money into a followed account: only that changes
        (B, C, BASE + 2_000, 5_000_00),
        (C, "ATM", BASE + 3_000, 2_000_00, "ATM"),
        (A, D, BASE + 4_000, 1_000_00),
    ]
    funds, clock, _ = service(rows=rows)
    funds.intake(report(), "user:li")
    case = funds.case("C-R1")
    seen = []
    for moment in (600, 900, 1_500, 1_600, 2_500, 3_500, 5_000, 5_000):
        clock.set(at(moment))
        fresh, fresh_clock, _ = service(rows=rows)
        fresh.intake(report(), "user:li")
        fresh_clock.set(at(moment))
        kept = funds._traces(case, victim_only=True)  # what extension and the scorecard read
        seen.append(id(kept))
        assert _victims_money(kept) == _victims_money(fresh.trace_case("C-R1")), moment
        exact = [t.to_json(extra=True) for t in funds.trace_case("C-R1")]
        assert exact == [t.to_json(extra=True) for t in fresh.trace_case("C-R1")], moment
    assert 1 < len(set(seen)) < len(seen)  # kept while quiet, traced again after payments
