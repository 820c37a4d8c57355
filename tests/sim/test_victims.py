"""The victims' side of a replay: stages of a scam, what stopping a person takes out of the
stream, and the money it leaves lost or saved."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from fanzha.sim.victims import Payment, Scam, Stage, Victims

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
E0 = int(T0.timestamp())
ALICE = "500101198001010011"
ALICE_PHONE = "+8613800000001"
MIN = 60


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def scam(**kw: object) -> Scam:
    """Alice: contacted at 0, engaged at +10 min, pays 100, 200 and 400 yuan at +20/+60/+120
    min; the gang rebates at +25 min; each payment is laundered in two hops; she reports at
    +300 min."""
    base: dict[str, object] = {
        "victim_id": "V1",
        "id_number": ALICE,
        "phone": ALICE_PHONE,
        "fraud_type": "order_brushing",
        "first_contact": E0,
        "engaged_at": E0 + 10 * MIN,
        "payments": [
            Payment("P1", E0 + 20 * MIN, 10_000, "6222000000000001"),
            Payment("P2", E0 + 60 * MIN, 20_000, "6222000000000002"),
            Payment("P3", E0 + 120 * MIN, 40_000, "6222000000000003"),
        ],
        "rebates": [(E0 + 25 * MIN, "R1")],
        "report": (E0 + 300 * MIN, "REP1"),
        "flows": {
            f"P{n}": [(E0 + (m + 5) * MIN, f"P{n}-h1"), (E0 + (m + 9) * MIN, f"P{n}-h2")]
            for n, m in ((1, 20), (2, 60), (3, 120))
        },
    }
    return Scam(**{**base, **kw})  # type: ignore[arg-type]


def test_the_stage_follows_the_scam() -> None:
    v = Victims([scam()])
    assert v.situation(ALICE, None, at(-1)).stage is Stage.NOT_TARGETED
    assert v.situation(ALICE, None, at(5)).stage is Stage.CONTACTED
    assert v.situation(ALICE, None, at(15)).stage is Stage.ENGAGED
    paying = v.situation(None, ALICE_PHONE, at(90))  # found by phone as well
    assert paying.stage is Stage.PAYING
    assert [p.event_id for p in paying.paid] == ["P1", "P2"]
    assert (paying.lost_fen, paying.at_risk_fen) == (30_000, 40_000)
    assert v.situation("someone else", "+8613900000000", at(90)).targeted is False


def test_stopping_takes_later_payments_their_laundering_and_rebates_out() -> None:
    v = Victims([scam()])
    stop = v.stop(ALICE, None, at(15), "phone")
    assert (stop.scams, stop.payments_removed, stop.saved_fen, stop.paid_after_stop) == (
        1,
        3,
        70_000,
        0,
    )
    removed = {"P1", "P2", "P3", "R1", "REP1"} | {f"P{i}-h{h}" for i in (1, 2, 3) for h in (1, 2)}
    assert v.removed == removed  # nothing lost: the report goes too
    money = v.money()
    assert (money.victims, money.protected_before_loss, money.lost_fen, money.saved_fen) == (
        1,
        1,
        0,
        70_000,
    )
    assert money.stopped_by == {"phone": 1}
    assert v.situation(ALICE, None, at(200)).at_risk_fen == 0


def test_a_stop_after_a_loss_keeps_the_report_and_what_was_paid() -> None:
    v = Victims([scam()])
    v.stop(ALICE, None, at(30), "visit")
    assert v.removed == {"P2", "P3", "P2-h1", "P2-h2", "P3-h1", "P3-h2"}
    money = v.money()
    assert (money.protected_before_loss, money.lost_fen, money.saved_fen) == (0, 10_000, 60_000)


def test_payments_already_streamed_still_happen_and_are_counted() -> None:
    v = Victims([scam()])
    v.frontier = E0 + 90 * MIN  # the platform has seen events up to +90 min
    stop = v.stop(ALICE, None, at(30), "phone")
    assert (stop.payments_removed, stop.paid_after_stop) == (1, 1)
    money = v.money()
    assert (money.lost_fen, money.saved_fen, money.paid_after_stop) == (30_000, 40_000, 1)


def test_a_scam_begun_after_the_stop_goes_on() -> None:
    later = scam(victim_id="V2", first_contact=E0 + 500 * MIN, payments=[], report=None, flows={})
    v = Victims([scam(), later])
    assert v.stop(ALICE, None, at(15), "phone").scams == 1
    assert later.stopped_at is None
    assert v.stop(ALICE, None, at(15), "phone").scams == 0  # stopping twice changes nothing


def test_filter_drops_removed_transfers_and_reports_only() -> None:
    v = Victims([scam()])
    v.stop(ALICE, None, at(15), "phone")
    transfers = pa.table({"event_id": ["P1", "X1", "P3-h2"], "amount_fen": [1, 2, 3]})
    calls = pa.table({"event_id": ["P1"]})  # an id in another type is never touched
    out = v.filter({"transfer": transfers, "call": calls})
    assert out["transfer"].column("event_id").to_pylist() == ["X1"]
    assert out["call"].num_rows == 1


def test_window_by_window_each_removal_is_used_in_its_own_window() -> None:
    v = Victims([scam()])
    v.stop(ALICE, None, at(15), "phone")
    first = pa.table({"event_id": ["P1", "P1-h1", "X1"]})  # the window up to +40 min
    out = v.filter({"transfer": first}, until=E0 + 40 * MIN)
    assert out["transfer"].column("event_id").to_pylist() == ["X1"]
    later = pa.table({"event_id": ["P3", "P3-h2", "X2"]})
    out = v.filter({"transfer": later}, until=E0 + 200 * MIN)
    assert out["transfer"].column("event_id").to_pylist() == ["X2"]
    assert v.filter({"transfer": later}, until=E0 + 400 * MIN)["transfer"].num_rows == 3


@given(
    amounts=st.lists(st.integers(1, 10_000_000), min_size=1, max_size=8),
    stop_minute=st.integers(-10, 600),
    frontier_minute=st.none() | st.integers(0, 600),
)
def test_lost_and_saved_add_up_to_what_the_scam_would_have_cost(
    amounts: list[int], stop_minute: int, frontier_minute: int | None
) -> None:
    payments = [Payment(f"P{k}", E0 + (k + 1) * 30 * MIN, a, "6222") for k, a in enumerate(amounts)]
    v = Victims([scam(payments=payments, flows={})])
    v.frontier = None if frontier_minute is None else E0 + frontier_minute * MIN
    v.stop(ALICE, None, at(stop_minute), "phone")
    money = v.money()
    assert money.lost_fen + money.saved_fen == sum(amounts)
    begun = stop_minute >= 0  # a stop before the scam's first contact stops nothing
    assert money.saved_fen == sum(
        p.amount_fen
        for p in payments
        if begun and p.at > E0 + stop_minute * MIN and (v.frontier is None or p.at >= v.frontier)
    )


def test_pays_between_sees_only_what_a_running_scam_still_pays() -> None:
    v = Victims([scam()])
    assert v.pays_between(ALICE, None, E0 + 30 * MIN, E0 + 61 * MIN)  # P2 at +60
    assert not v.pays_between(ALICE, None, E0 + 30 * MIN, E0 + 60 * MIN)  # open interval
    assert not v.pays_between(ALICE, None, E0 + 120 * MIN, E0 + 999 * MIN)  # all paid by then
    assert not v.pays_between(ALICE, None, E0 - 10 * MIN, E0 + 30 * MIN)  # not begun yet
    v.stop(ALICE, None, at(30), "phone")
    assert not v.pays_between(ALICE, None, E0 + 30 * MIN, E0 + 200 * MIN)  # stopped
