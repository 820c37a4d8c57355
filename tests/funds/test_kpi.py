"""KPIs and pro-rata returns: worked examples and exactness."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from fanzha.funds import kpi
from fanzha.funds.extend import pro_rata
from fanzha.funds.orders import BankAnswer, Case, Order, OrderKind, OrderPolicy
from fanzha.funds.report import parse_report

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)


def case(n: int, unit: str, loss: int, fraud: str = "刷单返利") -> Case:
    report = parse_report({"report_id": f"R{n}", "unit": unit, "received_at": T0,
                           "taken_by": "x", "loss_fen": loss, "fraud_type": fraud})  # fmt: skip
    return Case.open(f"C-R{n}", report, "x", T0)


def order(case_id: str, sent_min: int, held: int | None, answered_min: int, hop: int = 0) -> Order:
    o = Order.draft(
        case_id, "S", f"62220{hop}{case_id}", None, OrderKind.STOP_PAYMENT, 1000, "x", T0, hop=hop
    )
    o.send("x", T0 + sent_min * MIN)
    if held is not None:
        at = T0 + answered_min * MIN
        o.answer(BankAnswer(answer_id="A", held_fen=held, at=at), at, OrderPolicy())
    return o


def test_scorecard_worked_example() -> None:
    cases = [case(1, "S1", 2000), case(2, "S1", 1000), case(3, "S2", 1000, "虚假网络投资理财")]
    orders = [
        order("C-R1", 2, 1000, 30),  # executed in 30 min
        order("C-R1", 20, 500, 50, hop=1),
        order("C-R2", 10, 0, 15),  # failed
        order("C-R2", 40, 300, 90, hop=1),  # held, but after 60 min
    ]
    card = kpi.scorecard(cases, orders, cashed_out={"C-R2": 700}, returned={"C-R1": 100}).as_dict()
    assert card["stop_payment_60min_rate"] == 0.5  # case 3 has no order
    assert card["median_report_to_first_order_s"] == 360.0  # 2 and 10 minutes
    assert card["frozen_share"] == 0.45  # 1800 of 4000
    assert (card["returned_fen"], card["cashed_out_fen"]) == (100, 700)
    assert card["median_s_per_layer"] == {"0": 360.0, "1": 1800.0}
    per_unit = kpi.by(cases, orders, kpi.unit)
    assert per_unit["S1"]["stop_payment_60min_rate"] == 0.5 and per_unit["S2"]["cases"] == 1
    assert set(kpi.by(cases, orders, kpi.fraud_type)) == {"order_brushing", "fake_investment"}
    assert set(kpi.by(cases, orders, kpi.period("week"))) == {"2024-W18"}


def test_pro_rata_worked_example() -> None:
    assert pro_rata(100, {"a": 300, "b": 100, "c": 100}) == {"a": 60, "b": 20, "c": 20}
    assert pro_rata(10, {"a": 1, "b": 1, "c": 1}) == {"a": 1, "b": 1, "c": 1}
    assert pro_rata(2, {"a": 1, "b": 1, "c": 1}) == {"a": 1, "b": 1, "c": 0}


@given(st.integers(0, 10**12), st.dictionaries(st.text(max_size=3), st.integers(0, 10**12)))
def test_pro_rata_is_exact_and_fair(pool: int, claims: dict[str, int]) -> None:
    shares = pro_rata(pool, claims)
    assert sum(shares.values()) == min(pool, sum(claims.values()))
    total = sum(claims.values())
    for key, claim in claims.items():
        assert 0 <= shares[key] <= claim
        if total > pool:  # within one fen of the exact proportion
            assert abs(shares[key] * total - pool * claim) < total
