"""The reference tracer: the same trace as :func:`~fanzha.funds.trace.trace`, written the
straightforward way — one Python loop over *every* transfer of the ledger in time order.

It exists to check the indexed tracer (the same input gives the same nodes and edges, fen
for fen) and to measure what the index buys. It shares nothing with the tracer but the
input validation (:func:`~fanzha.funds.ledger.validate`) and the result classes: it keeps
every account's least balance in a dict from the first transfer on, and its own small
per-policy state (a plain list of layers for FIFO and LIFO) for the accounts that hold the
victim's money.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from fanzha.funds.ledger import CashOutRule, validate
from fanzha.funds.trace import (
    DEFAULT_DEPTH,
    DEFAULT_HORIZON_S,
    MATCH_WINDOW_S,
    Policy,
    Trace,
    TraceEdge,
    TraceError,
    TraceNode,
)


class _State:
    """The money of one followed account: ``layers`` of ``[victim?, fen]``, oldest first."""

    def __init__(self, policy: Policy, own: int) -> None:
        self.policy = policy
        self.layers: list[list[Any]] = [[False, own]] if own else []

    @property
    def balance(self) -> int:
        return sum(fen for _, fen in self.layers)

    @property
    def victim(self) -> int:
        return sum(fen for v, fen in self.layers if v)

    def credit_parts(self, parts: list[tuple[bool, int]]) -> None:
        for v, fen in parts:
            if fen:
                self.layers.append([v, fen])

    def debit(self, fen: int) -> list[tuple[bool, int]]:
        """The parts of a payment of ``fen`` under the policy, in the order they left."""
        p = self.policy
        if p in (Policy.FIFO, Policy.LIFO):
            return self._take_layers(fen, newest=p is Policy.LIFO)
        balance, victim = self.balance, self.victim
        if p is Policy.POISON:
            rest = max(0, balance - fen)
            self.layers = [[False, rest]] if rest else []
            return [(True, fen)] if fen else []
        if p is Policy.LIBR:
            rest = max(0, balance - fen)
            keep = min(victim, rest)
        elif fen >= balance:  # pro rata, paying out everything known
            rest, keep = 0, 0
        else:
            rest = balance - fen
            keep = victim - (fen * victim + balance // 2) // balance
        out = victim - keep
        self.layers = [[True, keep], [False, rest - keep]]
        return [(v, f) for v, f in ((True, out), (False, fen - out)) if f]

    def _take_layers(self, fen: int, newest: bool) -> list[tuple[bool, int]]:
        parts: list[tuple[bool, int]] = []
        left = fen
        while left and self.layers:
            i = len(self.layers) - 1 if newest else 0
            v, have = self.layers[i]
            take = min(left, have)
            if parts and parts[-1][0] == v:
                parts[-1] = (v, parts[-1][1] + take)
            else:
                parts.append((v, take))
            left -= take
            if take == have:
                self.layers.pop(i)
            else:
                self.layers[i][1] = have - take
        if left:
            if parts and not parts[-1][0]:
                parts[-1] = (False, parts[-1][1] + left)
            else:
                parts.append((False, left))
        return parts

    def spent(self) -> bool:
        if self.policy is Policy.POISON:
            return self.balance == 0
        return self.victim == 0

    def holdable(self) -> int:
        return self.balance if self.policy is Policy.POISON else self.victim


def trace_reference(
    table: pa.Table,
    account: str,
    since: int,
    amount_fen: int,
    policy: Policy = Policy.LIBR,
    *,
    depth: int = DEFAULT_DEPTH,
    horizon_s: int = DEFAULT_HORIZON_S,
    until: int | None = None,
    match_window_s: int = MATCH_WINDOW_S,
    rule: CashOutRule | None = None,
) -> Trace:
    """Trace like :func:`~fanzha.funds.trace.trace`, from a transfer table, one transfer at
    a time over the whole table."""
    if amount_fen <= 0:
        raise TraceError(f"amount_fen: must be positive, got {amount_fen}")
    cols = validate(table, rule or CashOutRule())
    payer = cols.payer.to_pylist()
    payee = cols.payee.to_pylist()
    ts = cols.ts.tolist()
    fen = cols.fen.tolist()
    cash = cols.cash_out.tolist()
    order = sorted(range(len(ts)), key=lambda i: (ts[i], i))
    result = Trace(policy, amount_fen, account, since, None, depth, horizon_s)
    root = _root(payer, payee, ts, fen, account, since, amount_fen, match_window_s)
    result.root_seq = root
    horizon_end = since + horizon_s * 1_000_000
    if until is not None:  # never before the money came
        until = max(until, since if root is None else ts[root])
    balance: dict[str, int] = {}  # least balance of every account not followed
    states: dict[str, _State] = {}  # followed accounts
    nodes: dict[str, TraceNode] = {}
    edges: list[TraceEdge] = []

    def arrive(acc: str, when: int, parts: list[tuple[bool, int]], hop: int) -> None:
        node = nodes.get(acc)
        if node is None:
            node = nodes[acc] = TraceNode(acc, hop, first_ts=when)
        node.hop = min(node.hop, hop)
        state = states.get(acc)
        if state is None:
            own = balance.pop(acc, 0)
            state = states[acc] = _State(policy, own)
            node.innocent_fen += own
        state.credit_parts(parts)
        node.attributed_fen += sum(f for v, f in parts if v)
        node.innocent_fen += sum(f for v, f in parts if not v)

    started = False
    if root is None:
        first = next((k for k, i in enumerate(order) if ts[i] >= since), len(order))
    for k, i in enumerate(order):
        if not started and (i == root or (root is None and k == first)):
            started = True
            if i == root:  # the victim's payment: the payer is not followed
                balance[payer[i]] = max(0, balance.get(payer[i], 0) - fen[i])
                arrive(account, ts[i], [(True, amount_fen)], 0)
                continue
            arrive(account, since, [(True, amount_fen)], 0)
        if until is not None and ts[i] > until:
            break
        src, dst, amount = payer[i], payee[i], fen[i]
        if src == dst:
            continue
        _move(
            states, balance, nodes, edges, arrive,
            (src, dst, ts[i], i, amount, cash[i]), horizon_end, depth,
        )  # fmt: skip
    if not started:  # the money arrived after every transfer of the table
        arrive(account, since, [(True, amount_fen)], 0)
    for acc, node in nodes.items():
        state = states.get(acc)
        node.holdable_fen = state.holdable() if state is not None else 0
    result.nodes = sorted(nodes.values(), key=lambda n: (n.hop, n.first_ts, n.account))
    result.edges = edges
    result.touched = len(order)
    return result


def _move(
    states: dict[str, _State],
    balance: dict[str, int],
    nodes: dict[str, TraceNode],
    edges: list[TraceEdge],
    arrive: Any,
    transfer: tuple[str, str, int, int, int, bool],
    horizon_end: int,
    depth: int,
) -> None:
    """One transfer: the payer's state pays, the payee's receives."""
    src, dst, when, seq, amount, cash = transfer
    state = states.get(src)
    if state is None:
        balance[src] = max(0, balance.get(src, 0) - amount)
        parts: list[tuple[bool, int]] = [(False, amount)] if amount else []
    else:
        parts = state.debit(amount)
        node = nodes[src]
        victim = sum(f for v, f in parts if v)
        if victim:
            if cash:
                node.cash_out_fen += victim
                parts = [(False, amount)]
            elif when > horizon_end or node.hop >= depth:
                node.untraced_fen += victim
                parts = [(False, amount)]
            else:
                node.out_fen += victim
                edges.append(TraceEdge(src, dst, when, victim, seq))
                arrive(dst, when, parts, node.hop + 1)
                parts = []
        if state.spent():
            balance[src] = state.balance
            del states[src]
    if not parts:
        return
    target = states.get(dst)
    if target is None:
        balance[dst] = balance.get(dst, 0) + amount
    else:
        target.credit_parts([(False, amount)])
        if when <= horizon_end:
            nodes[dst].innocent_fen += amount


def _root(
    payer: list[str],
    payee: list[str],
    ts: list[int],
    fen: list[int],
    account: str,
    since: int,
    amount: int,
    window_s: int,
) -> int | None:
    """Row of the transfer of exactly ``amount`` into ``account`` (from another account)
    nearest ``since``."""
    window = window_s * 1_000_000
    best: tuple[int, int, int] | None = None
    for i, (by, to, when, f) in enumerate(zip(payer, payee, ts, fen, strict=True)):
        if by != to == account and f == amount and abs(when - since) <= window:
            candidate = (abs(when - since), when, i)
            if best is None or candidate < best:
                best = candidate
    return None if best is None else best[2]
