"""A simulated bank: executes stop-payment and freeze orders against the ledger.

An order submitted at ``t`` is executed at ``t + latency`` (log-normal: most within a few
minutes, a tail of slow branches), and the bank holds what the account really had then —
its balance in the ledger at that moment, less what other orders already hold on it,
capped at the amount asked. A share of orders fail outright (account closed, wrong bank,
system down). Answers are given once each, in time order.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from dataclasses import dataclass, field

from fanzha.funds.ledger import Ledger
from fanzha.funds.orders import BankAnswer, Order
from fanzha.funds.trace import least_balance


@dataclass(frozen=True)
class BankBehaviour:
    """How the simulated bank behaves."""

    median_latency_s: float = 180.0
    latency_sigma: float = 0.9
    max_latency_s: float = 6 * 3600.0
    failure_rate: float = 0.03
    seed: int = 7


@dataclass
class SimulatedBank:
    """Every bank at once (the ledger knows every account)."""

    ledger: Ledger
    behaviour: BankBehaviour = field(default_factory=BankBehaviour)
    _queue: list[tuple[dt.datetime, str, Order]] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _held: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.behaviour.seed)

    def latency_s(self) -> float:
        """One execution delay."""
        b = self.behaviour
        drawn = b.median_latency_s * math.exp(self._rng.gauss(0.0, b.latency_sigma))
        return min(drawn, b.max_latency_s)

    def submit(self, order: Order, at: dt.datetime) -> None:
        """Queue the order for execution (repeats are ignored)."""
        if order.order_id in self._seen:
            return
        self._seen.add(order.order_id)
        due = at + dt.timedelta(seconds=self.latency_s())
        heapq.heappush(self._queue, (due, order.order_id, order))

    def answers(self, until: dt.datetime) -> list[tuple[str, BankAnswer]]:
        """Execute every order due by ``until``."""
        out = []
        while self._queue and self._queue[0][0] <= until:
            due, order_id, order = heapq.heappop(self._queue)
            out.append((order_id, self._execute(order, due)))
        return out

    def balance_fen(self, account: str, at: dt.datetime) -> int:
        """The account's balance in the ledger just before ``at`` (least balance consistent
        with the transfers seen; 0 for an account the ledger never saw)."""
        account_id = self.ledger.account_id(account)
        if account_id is None:
            return 0
        before = (round(at.timestamp() * 1_000_000), 0)
        return least_balance(0, self.ledger.events(account_id, before=before).signed())

    def _execute(self, order: Order, at: dt.datetime) -> BankAnswer:
        if self._rng.random() < self.behaviour.failure_rate:
            return BankAnswer(answer_id=f"SIM-{order.order_id}", held_fen=0, at=at, note="执行失败")
        balance = self.balance_fen(order.account, at)
        free = max(0, balance - self._held.get(order.account, 0))
        held = min(free, order.amount_fen)
        self._held[order.account] = self._held.get(order.account, 0) + held
        note = "已足额执行" if held >= order.amount_fen else f"余额不足,实际控制{held}分"
        return BankAnswer(
            answer_id=f"SIM-{order.order_id}", held_fen=held, balance_fen=balance, at=at, note=note
        )
