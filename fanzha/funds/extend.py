"""Extended stop-payment (延伸止付) and returns (返还): pure decisions over traces and orders.

* :func:`targets`: every downstream account that still holds the victim's money under the
  trace's policy (LIBR by default: what can honestly be frozen), summed over the case's
  payments, ranked by amount — minus the accounts that already have an order.
* :func:`pro_rata`: a pool of frozen money shared among victims in proportion to their
  claims, exactly, in integer fen (largest remainders; nobody gets more than their claim).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from fanzha.funds.trace import Trace


@dataclass(frozen=True, order=True)
class Target:
    """An account to stop: how much of the victim's money it holds, and how deep it is."""

    fen: int
    account: str
    hop: int


def targets(
    traces: Iterable[Trace], ordered: Collection[str] = (), min_fen: int = 1
) -> list[Target]:
    """Accounts holding the victim's money beyond the first hop, most money first."""
    held: dict[str, list[int]] = {}
    for trace in traces:
        for node in trace.nodes:
            if node.hop == 0 or node.holdable_fen <= 0:
                continue
            fen, hop = held.get(node.account, [0, node.hop])
            held[node.account] = [fen + node.holdable_fen, min(hop, node.hop)]
    found = [
        Target(fen, account, hop)
        for account, (fen, hop) in held.items()
        if fen >= min_fen and account not in ordered
    ]
    return sorted(found, key=lambda t: (-t.fen, t.hop, t.account))


def pro_rata(pool_fen: int, claims: Mapping[str, int]) -> dict[str, int]:
    """``pool_fen`` shared by ``claims`` (key → fen claimed): in proportion, each share at most
    its claim, the shares summing to ``min(pool, Σ claims)`` exactly. Remainders go to the
    largest fractional parts (ties: the larger claim, then the key)."""
    if pool_fen < 0 or any(c < 0 for c in claims.values()):
        raise ValueError("pool and claims must be zero or more")
    total = sum(claims.values())
    if total <= pool_fen:
        return dict(claims)
    shares = {k: pool_fen * c // total for k, c in claims.items()}
    left = pool_fen - sum(shares.values())
    order = sorted(claims, key=lambda k: (-(pool_fen * claims[k] % total), -claims[k], k))
    for key in order[:left]:
        shares[key] += 1
    return shares
