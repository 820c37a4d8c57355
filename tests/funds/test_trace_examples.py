"""Worked examples, computed by hand: Clayton's case (FIFO), the lowest intermediate balance
rule, and every policy on one small laundering graph."""

from __future__ import annotations

import pytest

from fanzha.funds.ledger import Ledger
from fanzha.funds.reference import trace_reference
from fanzha.funds.trace import Policy, Trace, TraceError, trace

from .builders import Row, S, table

YUAN = 100  # fen


def follow(rows: list[Row], account: str, second: int, fen: int, policy: Policy) -> Trace:
    t = trace(Ledger.build(table(rows)), account, second * S, fen, policy)
    if policy.conserves:
        assert t.conservation_errors() == []
    return t


def held(t: Trace) -> dict[str, tuple[int, int, int, int]]:
    """account → (attributed, holdable, cash-out, untraced)."""
    return {
        n.account: (n.attributed_fen, n.holdable_fen, n.cash_out_fen, n.untraced_fen)
        for n in t.nodes
    }


# ------------------------------------------------------------------ Clayton's case (FIFO)


def test_claytons_case_devaynes_v_noble() -> None:
    """Devaynes v Noble (1816): at Devaynes's death Clayton's balance with the bank was
    £1,717. Clayton then drew out more than that and paid in more. The drawings were
    appropriated to the earliest credits first, so the £1,717 owed at the death was paid off
    by the later drawings — although the balance never fell below it. Here the £1,717 is
    the traced money; £3,000 paid in later and £2,000 drawn out (at the counter, in cash)."""
    rows: list[Row] = [
        ("BANK", "CLAYTON", 1, 1717 * YUAN),  # the balance at Devaynes's death
        ("CLAYTON-OTHER", "CLAYTON", 2, 3000 * YUAN),
        ("CLAYTON", "CASH", 3, 2000 * YUAN, "ATM"),
    ]
    fifo = follow(rows, "CLAYTON", 1, 1717 * YUAN, Policy.FIFO)
    # first in, first out: the £2,000 drawn took the £1,717 first, then £283 of the rest
    assert held(fifo)["CLAYTON"] == (1717 * YUAN, 0, 1717 * YUAN, 0)
    libr = follow(rows, "CLAYTON", 1, 1717 * YUAN, Policy.LIBR)
    # the balance fell only to £2,717, so under LIBR all £1,717 is still there
    assert held(libr)["CLAYTON"] == (1717 * YUAN, 1717 * YUAN, 0, 0)


def test_claytons_rule_with_the_victims_money_second() -> None:
    """The holder's own ¥1,000 arrived first, the victim's ¥500 second; ¥800 drawn comes
    out of the holder's money, then ¥400 more takes the last ¥200 of it and ¥200 of the
    victim's: ¥300 of the victim's is left."""
    rows: list[Row] = [
        ("SALARY", "M", 1, 1000 * YUAN),
        ("VICTIM", "M", 2, 500 * YUAN),
        ("M", "SHOP", 3, 800 * YUAN, "POS"),
        ("M", "N", 4, 400 * YUAN),
    ]
    t = follow(rows, "M", 2, 500 * YUAN, Policy.FIFO)
    assert held(t) == {
        "M": (500 * YUAN, 300 * YUAN, 0, 0),
        "N": (200 * YUAN, 200 * YUAN, 0, 0),
    }
    assert t.node("M").innocent_fen == 1000 * YUAN  # type: ignore[union-attr]
    assert [(e.source, e.target, e.fen) for e in t.edges] == [("M", "N", 200 * YUAN)]


def test_claytons_rule_with_the_victims_money_first() -> None:
    """The victim's ¥1,000 first, the holder's ¥500 second, ¥800 lost at an ATM: the ¥800
    was the victim's; ¥200 of it is left (beside ¥500 of the holder's)."""
    rows: list[Row] = [
        ("VICTIM", "M", 1, 1000 * YUAN),
        ("FRIEND", "M", 2, 500 * YUAN),
        ("M", "ATM01", 3, 800 * YUAN, "ATM"),
    ]
    t = follow(rows, "M", 1, 1000 * YUAN, Policy.FIFO)
    assert held(t) == {"M": (1000 * YUAN, 200 * YUAN, 800 * YUAN, 0)}


# ------------------------------------------------------------------ LIBR


def test_libr_classic_claim_capped_at_the_lowest_balance() -> None:
    """¥100 of the victim's is deposited; the balance falls to ¥20; ¥50 of innocent money
    arrives. The claim is capped at ¥20: the later deposit does not restore it."""
    rows: list[Row] = [
        ("VICTIM", "M", 1, 100 * YUAN),
        ("M", "SHOP", 2, 80 * YUAN, "POS"),
        ("FRIEND", "M", 3, 50 * YUAN),
    ]
    t = follow(rows, "M", 1, 100 * YUAN, Policy.LIBR)
    assert held(t) == {"M": (100 * YUAN, 20 * YUAN, 80 * YUAN, 0)}
    assert t.freeze_list()[0].holdable_fen == 20 * YUAN


def test_libr_a_balance_at_zero_ends_the_claim_for_good() -> None:
    """¥100 in, all ¥100 out to another account, ¥70 of the holder's own back in: nothing is
    left to claim here; the ¥100 is followed to the next account."""
    rows: list[Row] = [
        ("VICTIM", "M", 1, 100 * YUAN),
        ("M", "N", 2, 100 * YUAN),
        ("FRIEND", "M", 3, 70 * YUAN),
        ("M", "SHOP", 4, 60 * YUAN, "POS"),
    ]
    t = follow(rows, "M", 1, 100 * YUAN, Policy.LIBR)
    assert held(t) == {"M": (100 * YUAN, 0, 0, 0), "N": (100 * YUAN, 100 * YUAN, 0, 0)}


def test_libr_the_holders_own_money_is_spent_first() -> None:
    """An account that already held ¥10,000 (seen in the ledger before) gets ¥100 of the
    victim's and pays ¥5,000 to a landlord: the balance never fell below ¥100, so all of
    it can still be frozen; the account is shown as carrying innocent money."""
    rows: list[Row] = [
        ("EMPLOYER", "M", 1, 10_000 * YUAN),
        ("VICTIM", "M", 2, 100 * YUAN),
        ("M", "LANDLORD", 3, 5_000 * YUAN),
    ]
    t = follow(rows, "M", 2, 100 * YUAN, Policy.LIBR)
    assert held(t) == {"M": (100 * YUAN, 100 * YUAN, 0, 0)}
    node = t.node("M")
    assert node is not None and node.mixed and node.innocent_fen == 10_000 * YUAN
    assert node.innocent_share == pytest.approx(10_000 / 10_100)


def test_payments_beyond_the_known_balance_take_all_the_victims_money() -> None:
    """Nothing else seen in the account: a payment larger than the victim's ¥100 carries all
    of it (the rest was the holder's own money the ledger never showed)."""
    rows: list[Row] = [("VICTIM", "M", 1, 100 * YUAN), ("M", "N", 2, 150 * YUAN)]
    for policy in Policy:
        t = follow(rows, "M", 1, 100 * YUAN, policy)
        want = 150 * YUAN if policy is Policy.POISON else 100 * YUAN
        assert [(e.source, e.target, e.fen) for e in t.edges] == [("M", "N", want)]


# ------------------------------------------------------------------ every policy, one graph

#: ¥10 of the victim's into M1, which held ¥4 of its own; M1 pays M2, gets ¥3 from a
#: stranger, pays M3; M2 withdraws ¥5 at an ATM; M3 pays M4 ¥2.
GRAPH: list[Row] = [
    ("OWNER", "M1", 50, 400),
    ("VICTIM", "M1", 100, 1000),
    ("M1", "M2", 110, 600),
    ("STRANGER", "M1", 120, 300),
    ("M1", "M3", 130, 700),
    ("M2", "ATM01", 140, 500, "ATM"),
    ("M3", "M4", 150, 200),
]

EXPECTED = {
    # LIBR: M1 falls to 800 → claim 800 (200 left for M2); falls to 400 → claim 400 (400 to
    # M3). M2 (600, 200 victim's) withdraws 500 → claim 100. M3 (700, 400) pays 200 → 500
    # left ≥ 400: nothing passes.
    Policy.LIBR: (
        {
            "M1": (1000, 400, 0, 0),
            "M2": (200, 100, 100, 0),
            "M3": (400, 400, 0, 0),
        },
        [("M1", "M2", 200), ("M1", "M3", 400)],
    ),
    # FIFO: M1 [own 400, V 1000]; 600 = own 400 + V 200; then [V 800, own 300]; 700 = V 700.
    # M2 [own 400, V 200] withdraws 500 = own 400 + V 100. M3 [V 700] pays V 200 to M4.
    Policy.FIFO: (
        {
            "M1": (1000, 100, 0, 0),
            "M2": (200, 100, 100, 0),
            "M3": (700, 500, 0, 0),
            "M4": (200, 200, 0, 0),
        },
        [("M1", "M2", 200), ("M1", "M3", 700), ("M3", "M4", 200)],
    ),
    # LIFO: M1 [own 400, V 1000]; 600 = V 600; [own 400, V 400, own 300]; 700 = own 300 +
    # V 400. M2 [V 600] withdraws V 500. M3 [own 300, V 400] pays V 200 from the top.
    Policy.LIFO: (
        {
            "M1": (1000, 0, 0, 0),
            "M2": (600, 100, 500, 0),
            "M3": (400, 200, 0, 0),
            "M4": (200, 200, 0, 0),
        },
        [("M1", "M2", 600), ("M1", "M3", 400), ("M3", "M4", 200)],
    ),
    # pro rata (nearest fen, half up): 600·1000/1400 = 428.57 → 429; 700·571/1100 = 363.36
    # → 363; M2 500·429/600 = 357.5 → 358; M3 200·363/700 = 103.71 → 104.
    Policy.PRO_RATA: (
        {
            "M1": (1000, 208, 0, 0),
            "M2": (429, 71, 358, 0),
            "M3": (363, 259, 0, 0),
            "M4": (104, 104, 0, 0),
        },
        [("M1", "M2", 429), ("M1", "M3", 363), ("M3", "M4", 104)],
    ),
    # poison: every payment out of a poisoned account, whole; holdable is the balance.
    Policy.POISON: (
        {
            "M1": (1000, 400, 0, 0),
            "M2": (600, 100, 500, 0),
            "M3": (700, 500, 0, 0),
            "M4": (200, 200, 0, 0),
        },
        [("M1", "M2", 600), ("M1", "M3", 700), ("M3", "M4", 200)],
    ),
}


@pytest.mark.parametrize("policy", list(Policy))
def test_each_policy_on_one_hand_computed_graph(policy: Policy) -> None:
    t = follow(GRAPH, "M1", 100, 1000, policy)
    nodes, edges = EXPECTED[policy]
    assert held(t) == nodes
    assert [(e.source, e.target, e.fen) for e in t.edges] == edges
    assert t.root_seq == 1 and t.traced_fen == 1000
    hops = {"M1": 0, "M2": 1, "M3": 1, "M4": 2}
    assert {n.account: n.hop for n in t.nodes} == {a: hops[a] for a in nodes}


def test_json_has_the_issues_shape() -> None:
    t = follow(GRAPH, "M1", 100, 1000, Policy.LIBR)
    out = t.to_json()
    assert set(out) == {"policy", "traced_fen", "nodes", "edges"}
    assert out["policy"] == "libr" and out["traced_fen"] == 1000
    assert set(out["nodes"][0]) == {
        "account",
        "hop",
        "attributed_fen",
        "holdable_fen",
        "cash_out_fen",
        "untraced_fen",
    }
    assert out["edges"][0] == {
        "from": "M1",
        "to": "M2",
        "ts": "1970-01-01T00:01:50+00:00",
        "fen": 200,
    }
    shanghai = t.to_json(tz="Asia/Shanghai")["edges"][0]["ts"]
    assert shanghai == "1970-01-01T08:01:50+08:00"


def test_depth_and_horizon_leave_money_untraced() -> None:
    shallow = follow(GRAPH, "M1", 100, 1000, Policy.FIFO)
    t = trace(Ledger.build(table(GRAPH)), "M1", 100 * S, 1000, Policy.FIFO, depth=1)
    assert held(t)["M3"] == (700, 500, 0, 200)  # its payment to M4 is beyond the depth
    assert "M4" not in held(t) and t.conservation_errors() == []
    t = trace(Ledger.build(table(GRAPH)), "M1", 100 * S, 1000, Policy.FIFO, horizon_s=20)
    # only the payment at 110 s is within 20 s: the one at 130 s is not followed
    assert held(t)["M1"] == (1000, 100, 0, 700) and "M3" not in held(t)
    assert t.conservation_errors() == [] and len(shallow.edges) == 3


def test_until_stops_the_pass() -> None:
    t = trace(Ledger.build(table(GRAPH)), "M1", 100 * S, 1000, Policy.FIFO, until=120 * S)
    assert held(t) == {"M1": (1000, 800, 0, 0), "M2": (200, 200, 0, 0)}


def test_money_coming_back_round_a_cycle() -> None:
    rows: list[Row] = [
        ("VICTIM", "A", 1, 500),
        ("A", "B", 2, 500),
        ("B", "A", 3, 300),
        ("A", "C", 4, 300),
    ]
    t = follow(rows, "A", 1, 500, Policy.LIBR)
    assert held(t) == {"A": (800, 0, 0, 0), "B": (500, 200, 0, 0), "C": (300, 300, 0, 0)}
    assert t.node("A").hop == 0  # type: ignore[union-attr]


def test_an_unknown_account_or_an_unmatched_amount() -> None:
    ledger = Ledger.build(table(GRAPH))
    t = trace(ledger, "NOWHERE", 0, 500)
    assert held(t) == {"NOWHERE": (500, 500, 0, 0)} and t.root_seq is None
    # ¥9.99 never arrived in M1: it is taken to arrive at 100 s on top of the ledger's money
    t = trace(ledger, "M1", 100 * S, 999, Policy.FIFO)
    assert t.root_seq is None and t.conservation_errors() == []
    with pytest.raises(TraceError, match="amount_fen"):
        trace(ledger, "M1", 0, 0)
    with pytest.raises(TraceError, match="depth"):
        trace(ledger, "M1", 0, 5, depth=-1)
    with pytest.raises(ValueError, match="unknown policy"):
        Policy.parse("newest")
    assert Policy.parse("Pro-Rata") is Policy.PRO_RATA is Policy.parse("haircut")


def test_libr_batches_keep_the_order_between_accounts() -> None:
    """A busy account's run of plain inflows (a batch) stops before another followed
    account pays it; that payment is counted once (the general tracer, as after late
    appends, against the per-transfer reference)."""
    rows: list[Row] = [("V", "R", 0, 1000), ("X", "A", 0, 1000)]
    rows += [("R", "B", 1, 600), ("R", "A", 1, 300)]
    rows += [(f"P{i}", "B", 2 + i // 4, 10) for i in range(32)]  # 32 inflows before 10 s
    rows += [("A", "B", 10, 50)]  # A keeps the victim's 300: this is innocent money
    rows += [(f"Q{i}", "B", 11, 10) for i in range(30)]
    ledger = Ledger.build(table(rows))
    ledger.late = set(range(ledger.accounts))  # every account: the general tracer
    t = trace(ledger, "R", 0, 1000)
    ref = trace_reference(table(rows), "R", 0, 1000)
    assert t.node("B") == ref.node("B")
    assert t.node("B").innocent_fen == 320 + 50 + 300  # type: ignore[union-attr]
    assert trace(Ledger.build(table(rows)), "R", 0, 1000).node("B") == ref.node("B")
