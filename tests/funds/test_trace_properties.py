"""Property tests of the tracer on random transfer graphs (cycles, ties in time, overdrafts,
zero amounts, cash-outs, depth and time limits), for every policy:

- value is conserved exactly in fen at every account (every policy but poison);
- the indexed tracer gives the same nodes and edges as the per-transfer reference;
- money only leaves an account after it arrived, and never beyond the depth limit;
- a ledger grown by appends traces the same as one built at once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.funds.ledger import Ledger
from fanzha.funds.reference import trace_reference
from fanzha.funds.trace import Policy, Trace, trace

from .builders import Row, S, table

ACCOUNTS = ["A", "B", "C", "D", "E", "F"]
CHANNELS = ["mobile"] * 6 + ["ATM", "POS"]

ROW = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from(ACCOUNTS),
    st.integers(0, 12),  # few distinct seconds: many transfers share a time
    st.integers(0, 300),
    st.sampled_from(CHANNELS),
)


@dataclass(frozen=True)
class Case:
    rows: list[Row]
    account: str
    since: int
    amount: int
    depth: int
    horizon_s: int
    until: int | None


@st.composite
def chain(draw: st.DrawFn) -> list[Row]:
    """A victim's payment into an account, then money moved on hop by hop (with splits)."""
    path = draw(st.lists(st.sampled_from(ACCOUNTS), min_size=2, max_size=6))
    second = draw(st.integers(0, 3))
    rows: list[Row] = [("V", path[0], second, draw(st.integers(1, 300)))]
    for payer, payee in itertools.pairwise(path):
        for _ in range(draw(st.integers(1, 2))):
            second += draw(st.integers(0, 2))
            rows.append((payer, payee, second, draw(st.integers(0, 300)), "mobile"))
    return rows


@st.composite
def cases(draw: st.DrawFn) -> Case:
    size = draw(st.sampled_from([0, 10, 20]))
    rows: list[Row] = list(draw(st.lists(ROW, min_size=size, max_size=40)))
    kind = draw(st.integers(0, 7))
    if kind < 4:  # a laundering chain woven into the other transfers
        money = draw(chain())
        at = draw(st.integers(0, len(rows)))
        rows = rows[:at] + money + rows[at:]
        account, since, amount = money[0][1], money[0][2] * S, money[0][3]
    elif rows and kind < 7:  # trace a transfer in the ledger
        row = draw(st.sampled_from(rows))
        account, since, amount = row[1], row[2] * S, max(1, row[3])
    else:  # money the ledger does not show
        account = draw(st.sampled_from(ACCOUNTS))
        since = draw(st.integers(0, 12)) * S
        amount = draw(st.integers(1, 400))
    until = draw(st.one_of(st.none(), st.none(), st.integers(0, 14).map(lambda s: s * S)))
    return Case(
        rows,
        account,
        since,
        amount,
        depth=draw(st.sampled_from([0, 1, 2, 3, 5, 8])),
        horizon_s=draw(st.sampled_from([0, 1, 3, 6, 100])),
        until=until,
    )


def run(case: Case, policy: Policy, ledger: Ledger | None = None) -> Trace:
    return trace(
        ledger or Ledger.build(table(case.rows)),
        case.account,
        case.since,
        case.amount,
        policy,
        depth=case.depth,
        horizon_s=case.horizon_s,
        until=case.until,
    )


def shape(t: Trace) -> tuple[object, ...]:
    nodes = [(n.to_json(extra=True), n.out_fen, n.first_ts) for n in t.nodes]
    edges = [(e.source, e.target, e.ts, e.fen, e.seq) for e in t.edges]
    return t.root_seq, nodes, edges


POLICY = st.sampled_from(list(Policy))


@given(cases(), POLICY)
@settings(max_examples=400, deadline=None)
def test_value_is_conserved_at_every_account(case: Case, policy: Policy) -> None:
    t = run(case, policy)
    incoming = {n.account: 0 for n in t.nodes}
    for e in t.edges:
        incoming[e.target] += e.fen
        assert e.fen > 0
    for n in t.nodes:
        arrived = incoming[n.account] + (t.traced_fen if n.account == case.account else 0)
        assert n.attributed_fen == arrived  # every policy, poison too
        assert min(n.holdable_fen, n.cash_out_fen, n.untraced_fen, n.innocent_fen) >= 0
    if policy.conserves:
        assert t.conservation_errors() == []
        total = t.totals()
        assert total["holdable_fen"] + total["cash_out_fen"] + total["untraced_fen"] == case.amount


@given(cases(), POLICY)
@settings(max_examples=400, deadline=None)
def test_the_index_traces_like_the_per_transfer_reference(case: Case, policy: Policy) -> None:
    ours = run(case, policy)
    ref = trace_reference(
        table(case.rows),
        case.account,
        case.since,
        case.amount,
        policy,
        depth=case.depth,
        horizon_s=case.horizon_s,
        until=case.until,
    )
    assert shape(ours) == shape(ref)


@given(cases(), POLICY)
@settings(max_examples=200, deadline=None)
def test_money_leaves_only_after_it_arrived_and_within_the_limits(
    case: Case, policy: Policy
) -> None:
    t = run(case, policy)
    first = {n.account: n.first_ts for n in t.nodes}
    hop = {n.account: n.hop for n in t.nodes}
    for e in t.edges:
        assert e.ts >= first[e.source]
        assert e.ts <= case.since + case.horizon_s * S
        assert case.until is None or e.ts <= max(case.until, case.since)  # never before it came
        assert hop[e.source] < case.depth
    # A node's hop is the shallowest layer it was reached at; a sender may itself be reached
    # more shallowly after it sent (money coming back a shorter way), so the bound is one
    # past the shallowest sender, not past every sender.
    senders: dict[str, list[int]] = {}
    for e in t.edges:
        senders.setdefault(e.target, []).append(hop[e.source])
    for n in t.nodes:
        if n.account != case.account and n.account in senders:
            assert n.hop >= min(senders[n.account]) + 1
    assert all(n.hop <= case.depth for n in t.nodes)


@given(cases(), POLICY, st.integers(0, 40), st.integers(1, 3))
@settings(max_examples=200, deadline=None)
def test_appending_traces_like_building_at_once(
    case: Case, policy: Policy, cut: int, pieces: int
) -> None:
    grown = Ledger.build(table(case.rows[:cut]))
    rest = case.rows[cut:]
    step = max(1, len(rest) // pieces)
    for i in range(0, len(rest), step):
        grown.append(table(rest[i : i + step]))
    assert shape(run(case, policy, grown)) == shape(run(case, policy))
    grown.compact()
    assert shape(run(case, policy, grown)) == shape(run(case, policy))


def general(ledger: Ledger) -> Ledger:
    """``ledger`` with every account marked late: traces take the general tracer."""
    ledger.late = set(range(ledger.accounts))
    return ledger


@given(cases())
@settings(max_examples=300, deadline=None)
def test_libr_over_precomputed_balances_traces_like_the_general_tracer(case: Case) -> None:
    fast = run(case, Policy.LIBR)
    slow = run(case, Policy.LIBR, general(Ledger.build(table(case.rows))))
    assert shape(fast) == shape(slow)
    assert fast.followed == slow.followed


@given(cases(), st.integers(0, 40), st.integers(1, 3))
@settings(max_examples=200, deadline=None)
def test_libr_over_runs_appended_in_time_order_traces_like_the_reference(
    case: Case, cut: int, pieces: int
) -> None:
    """Appends in time order leave no account late: balances carry over from run to run."""
    rows = sorted(case.rows, key=lambda r: r[2])
    grown = Ledger.build(table(rows[:cut]))
    rest = rows[cut:]
    step = max(1, len(rest) // pieces)
    for i in range(0, len(rest), step):
        grown.append(table(rest[i : i + step]))
    assert not grown.late
    ordered = Case(
        rows, case.account, case.since, case.amount, case.depth, case.horizon_s, case.until
    )
    ref = trace_reference(
        table(rows),
        case.account,
        case.since,
        case.amount,
        Policy.LIBR,
        depth=case.depth,
        horizon_s=case.horizon_s,
        until=case.until,
    )
    assert shape(run(ordered, Policy.LIBR, grown)) == shape(ref)


@given(cases(), POLICY, st.integers(1, 400))
@settings(max_examples=300, deadline=None)
def test_a_trace_cut_by_the_work_limit_is_exact_up_to_where_it_stopped(
    case: Case, policy: Policy, limit: int
) -> None:
    ledger = general(Ledger.build(table(case.rows)))  # the limit is the general tracer's
    t = trace(
        ledger, case.account, case.since, case.amount, policy,
        depth=case.depth, horizon_s=case.horizon_s, until=case.until, max_work=limit,
    )  # fmt: skip
    whole = run(case, policy, general(Ledger.build(table(case.rows))))
    if t.cut_at is None:  # it did not need more
        assert shape(t) == shape(whole)
        return
    assert all(e.ts <= t.cut_at for e in t.edges)  # nothing after the moment it reached
    if policy.conserves:
        assert t.conservation_errors() == []
        total = t.totals()
        assert total["holdable_fen"] + total["cash_out_fen"] + total["untraced_fen"] == case.amount
    assert "cut_at" in t.to_json() and "cut_at" not in whole.to_json() and whole.cut_at is None
