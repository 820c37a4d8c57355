"""Forward, time-respecting, amount-aware tracing of a victim's money through the ledger.

One pass in ``(ts, seq)`` order, starting at the transfer that brought the victim's money
into the first account, over the accounts that hold some of it *at that moment* — never an
enumeration of paths, and money only ever leaves an account after it arrived there. Each
followed account keeps a :class:`Holding` for the chosen :class:`Policy`; every transfer
into or out of it updates the holding, and a payment out of it carries the part of the
victim's money the policy says it carries.

Policies (which part of a payment is the victim's money):

- **LIBR** (lowest intermediate balance rule, the default): the account's own money is
  spent first; the victim's claim on the account is capped by the lowest balance the account
  fell to since the money arrived, and money arriving later from elsewhere does not raise it.
  It is what can honestly be frozen.
- **FIFO** (first in, first out; Clayton's case, *Devaynes v Noble* (1816)): payments are
  made from the oldest money first.
- **LIFO**: payments are made from the newest money first.
- **pro-rata** (haircut): every payment carries the victim's share of the balance at that
  moment (rounded to the nearest fen, half up).
- **poison**: every payment out of an account that holds the victim's money is the victim's
  money, whole. Value is *not* conserved (a payment can carry more than arrived); it shows the
  widest net. An account stays poisoned until its balance is back to zero.

**Balances.** An account's opening balance is unknown. The tracer takes the least balance
consistent with the ledger: it replays the account's transfers from the start of the ledger,
starting from zero and never letting the balance go below zero (money paid out beyond what was
seen arriving was the holder's own money, already there). That balance, when the victim's
money arrives, is the holder's own (innocent) money; so is money arriving later from
accounts that hold none of the victim's money, and so is any payment beyond the money the
tracer knows of (it takes all the money known, the victim's included, and the rest from the
holder's own money the ledger never showed).

**Conservation.** For every policy except poison, in integer fen at every account::

    attributed = Σ outgoing edge fen + holdable + cash_out + untraced
    attributed = Σ incoming edge fen (+ traced_fen at the first account)

``cash_out`` is the victim's money paid out through a cash-out point (ATM, merchant, crypto,
gold: see :class:`~fanzha.funds.ledger.CashOutRule`), which ends the branch; ``untraced`` is
the victim's money paid to another account beyond the depth limit or after the time horizon;
``holdable`` is the victim's money the account still holds at the end (what a freeze can
hold). Transfers are followed until ``until`` (default: the end of the ledger), so
``holdable`` is what is there now; the horizon only stops the tracer from following money
into new accounts.
"""

from __future__ import annotations

import abc
import datetime as dt
import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np

from fanzha.funds import kernels
from fanzha.funds.ledger import BLOCK, FOREVER, I64, NEVER, Events, Key, Ledger, Run, View

#: a payment's parts in the order they left: (is the victim's money, fen)
Parcel = list[tuple[bool, int]]

DEFAULT_DEPTH: Final = 6
DEFAULT_HORIZON_S: Final = 72 * 3600
#: events of one account worth applying at once (fewer: one by one is cheaper)
BATCH_MIN: Final = 24
#: how far from ``since`` a transfer of exactly the traced amount is looked for
MATCH_WINDOW_S: Final = 600
#: work the general tracer does before it stops (a few seconds): transfers looked at, plus
#: for every account the money reaches its transfers before the money (whose balance is a
#: look-up now, but was a replay when the limit was set) and those read after it, and a
#: fixed cost per account (:data:`REACH_WORK`). Poison and pro-rata money spreads over
#: every payee of a payment platform, and a trace that follows a city's hubs for a month
#: would run for minutes. A trace cut short is a trace "as of" the moment it reached
#: (:attr:`Trace.cut_at`): every figure is exact up to then.
MAX_WORK: Final = 2_000_000
#: the work of reaching an account, beside the transfers read for it (a few NumPy calls)
REACH_WORK: Final = 100
#: transfers of a followed account read at first (then windows twice as long, up to
#: :data:`fanzha.funds.ledger.MAX_WINDOW`): most victim money leaves a mule within a few
WINDOW: Final = 64


class Policy(StrEnum):
    """Which part of a payment out of an account is the victim's money."""

    LIBR = "libr"
    FIFO = "fifo"
    LIFO = "lifo"
    PRO_RATA = "pro_rata"
    POISON = "poison"

    @classmethod
    def parse(cls, text: str) -> Policy:
        """A policy by name (``pro-rata``, ``haircut`` and Chinese names accepted)."""
        key = text.strip().lower().replace("-", "_")
        found = _ALIASES.get(key)
        if found is None:
            raise ValueError(
                f"unknown policy {text[:40]!r}; expected one of {', '.join(p.value for p in cls)}"
            )
        return found

    @property
    def conserves(self) -> bool:
        """Whether value is conserved exactly (every policy but poison)."""
        return self is not Policy.POISON


_ALIASES: Final = {p.value: p for p in Policy} | {
    "haircut": Policy.PRO_RATA,
    "prorata": Policy.PRO_RATA,
    "最低中间余额": Policy.LIBR,
    "先进先出": Policy.FIFO,
    "后进先出": Policy.LIFO,
    "按比例": Policy.PRO_RATA,
    "污染": Policy.POISON,
}

#: Chinese and English names of the policies
POLICY_LABELS: Final = {
    Policy.LIBR: ("最低中间余额法", "lowest intermediate balance (LIBR)"),
    Policy.FIFO: ("先进先出", "first in, first out (FIFO)"),
    Policy.LIFO: ("后进先出", "last in, first out (LIFO)"),
    Policy.PRO_RATA: ("按比例", "pro rata (haircut)"),
    Policy.POISON: ("全额污染", "poison"),
}


def victim_part(parcel: Parcel) -> int:
    """The victim's fen in a parcel."""
    return sum(fen for victim, fen in parcel if victim)


# ------------------------------------------------------------------------------ holdings


class Holding(abc.ABC):
    """What the tracer knows an account holds: ``balance`` fen, of which ``victim`` fen are
    the victim's money under the policy. Subclasses decide which part of a payment is."""

    __slots__ = ("balance", "victim")

    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.victim = 0

    def credit(self, parcel: Parcel) -> None:
        """Money arrived."""
        for victim, fen in parcel:
            self.balance += fen
            if victim:
                self.victim += fen

    @abc.abstractmethod
    def debit(self, fen: int) -> Parcel:
        """Money left: the parts of the payment, in order (each policy says which)."""

    @property
    def holdable(self) -> int:
        """The victim's money a freeze can hold now."""
        return self.victim

    @property
    def spent(self) -> bool:
        """Nothing of the victim's is left (the account stops being followed)."""
        return self.victim == 0

    def restart(self, balance: int) -> None:
        """Start again from ``balance`` fen of the holder's own money."""
        self.balance = balance
        self.victim = 0


def _split(victim: int, innocent: int) -> Parcel:
    parcel: Parcel = []
    if victim:
        parcel.append((True, victim))
    if innocent:
        parcel.append((False, innocent))
    return parcel


class Libr(Holding):
    """Lowest intermediate balance: own money leaves first; the claim never rises again."""

    __slots__ = ()

    def debit(self, fen: int) -> Parcel:
        self.balance = max(0, self.balance - fen)
        left = min(self.victim, self.balance)
        out = self.victim - left
        self.victim = left
        return _split(out, fen - out)


class ProRata(Holding):
    """Every payment carries the victim's share of the balance (nearest fen, half up)."""

    __slots__ = ()

    def debit(self, fen: int) -> Parcel:
        if fen >= self.balance:
            out = self.victim
            self.balance = 0
        else:
            out = (fen * self.victim + self.balance // 2) // self.balance
            self.balance -= fen
        self.victim -= out
        return _split(out, fen - out)


class Layers(Holding):
    """FIFO or LIFO: the money held as a queue of layers, each all victim's or all own."""

    __slots__ = ("layers", "newest_first")

    def __init__(self, balance: int, *, newest_first: bool) -> None:
        super().__init__(balance)
        self.newest_first = newest_first
        self.layers: deque[list[Any]] = deque()
        if balance:
            self.layers.append([False, balance])

    def credit(self, parcel: Parcel) -> None:
        for victim, fen in parcel:
            if not fen:
                continue
            self.balance += fen
            if victim:
                self.victim += fen
            if self.layers and self.layers[-1][0] == victim:
                self.layers[-1][1] += fen
            else:
                self.layers.append([victim, fen])

    def debit(self, fen: int) -> Parcel:
        parcel: Parcel = []
        left = fen
        layers = self.layers
        while left and layers:
            layer = layers[-1] if self.newest_first else layers[0]
            take = min(left, layer[1])
            _add(parcel, layer[0], take)
            layer[1] -= take
            left -= take
            if not layer[1]:
                if self.newest_first:
                    layers.pop()
                else:
                    layers.popleft()
        taken = fen - left
        self.balance -= taken
        self.victim -= victim_part(parcel)
        if left:  # beyond the money known: the holder's own money
            _add(parcel, False, left)
        return parcel

    def restart(self, balance: int) -> None:
        super().restart(balance)
        self.layers.clear()
        if balance:
            self.layers.append([False, balance])


def _add(parcel: Parcel, victim: bool, fen: int) -> None:
    if not fen:
        return
    if parcel and parcel[-1][0] == victim:
        parcel[-1] = (victim, parcel[-1][1] + fen)
    else:
        parcel.append((victim, fen))


class Poison(Holding):
    """Every payment out of a poisoned account is the victim's money, whole."""

    __slots__ = ()

    def debit(self, fen: int) -> Parcel:
        self.balance = max(0, self.balance - fen)
        self.victim = min(self.victim, self.balance)
        return _split(fen, 0)

    @property
    def holdable(self) -> int:
        return self.balance

    @property
    def spent(self) -> bool:
        return self.balance == 0


def holding(policy: Policy, balance: int) -> Holding:
    """A fresh holding of ``balance`` fen of the holder's own money under ``policy``."""
    if policy is Policy.LIBR:
        return Libr(balance)
    if policy is Policy.PRO_RATA:
        return ProRata(balance)
    if policy is Policy.POISON:
        return Poison(balance)
    return Layers(balance, newest_first=policy is Policy.LIFO)


def least_balance(start: int, signed: I64) -> int:
    """The balance after ``signed`` flows from ``start``, never below zero (Lindley)."""
    if len(signed) == 0:
        return start
    running = np.cumsum(signed) + start
    return int(running[-1] - min(0, int(running.min())))


# ------------------------------------------------------------------------------ results


@dataclass
class TraceNode:
    """One account the victim's money reached."""

    account: str
    hop: int
    attributed_fen: int = 0
    holdable_fen: int = 0
    cash_out_fen: int = 0
    untraced_fen: int = 0
    out_fen: int = 0
    #: other money in the account: already there when the victim's money arrived, or
    #: arriving from elsewhere (until the horizon) while the account held some of it
    innocent_fen: int = 0
    first_ts: int = 0

    @property
    def mixed(self) -> bool:
        """The account also carried money that is not the victim's."""
        return self.innocent_fen > 0

    @property
    def innocent_share(self) -> float:
        """Share of the money seen in the account that is not the victim's."""
        total = self.innocent_fen + self.attributed_fen
        return self.innocent_fen / total if total else 0.0

    def to_json(self, extra: bool = False) -> dict[str, Any]:
        """The issue's node shape (``extra``: with the innocent money and the first time)."""
        out: dict[str, Any] = {
            "account": self.account,
            "hop": self.hop,
            "attributed_fen": self.attributed_fen,
            "holdable_fen": self.holdable_fen,
            "cash_out_fen": self.cash_out_fen,
            "untraced_fen": self.untraced_fen,
        }
        if extra:
            out["innocent_fen"] = self.innocent_fen
            out["innocent_share"] = round(self.innocent_share, 4)
        return out


@dataclass(frozen=True)
class TraceEdge:
    """The victim's money carried by one transfer."""

    source: str
    target: str
    ts: int  # microseconds since the epoch, UTC
    fen: int
    seq: int  # the transfer's position in the ledger


def iso(ts_us: int, tz: str = "UTC") -> str:
    """A microsecond timestamp as ISO 8601 in ``tz``."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts_us)
    return moment.astimezone(ZoneInfo(tz)).isoformat()


@dataclass
class Trace:
    """Where the victim's money went: the accounts, and the transfers that carried it."""

    policy: Policy
    traced_fen: int
    account: str
    since: int
    #: ``seq`` of the ledger transfer that brought the money in (None: not found, so the
    #: money was taken to arrive at ``since`` on top of what the ledger shows)
    root_seq: int | None
    depth: int
    horizon_s: int
    nodes: list[TraceNode] = field(default_factory=list)
    edges: list[TraceEdge] = field(default_factory=list)
    #: transfers the tracer looked at
    touched: int = 0
    #: ledger ids of the accounts still followed at the end (holding some of the money):
    #: only their later transfers can change this trace
    followed: list[int] = field(default_factory=list)
    #: µs: the work limit stopped the trace here; it shows the money as it stood then
    cut_at: int | None = None

    def node(self, account: str) -> TraceNode | None:
        """The node of an account, if the money reached it."""
        return next((n for n in self.nodes if n.account == account), None)

    def freeze_list(self) -> list[TraceNode]:
        """Accounts still holding the victim's money, most first (for stop-payment)."""
        held = [n for n in self.nodes if n.holdable_fen > 0]
        return sorted(held, key=lambda n: (-n.holdable_fen, n.hop, n.account))

    @property
    def layers(self) -> int:
        """Deepest hop the money was followed to."""
        return max((n.hop for n in self.nodes), default=0)

    def totals(self) -> dict[str, int]:
        """Sums over the nodes: holdable, cash-out and untraced fen."""
        return {
            "holdable_fen": sum(n.holdable_fen for n in self.nodes),
            "cash_out_fen": sum(n.cash_out_fen for n in self.nodes),
            "untraced_fen": sum(n.untraced_fen for n in self.nodes),
        }

    def to_json(self, tz: str = "UTC", extra: bool = False) -> dict[str, Any]:
        """``{"policy", "traced_fen", "nodes", "edges"}`` as in the issue (and ``cut_at``
        when the work limit stopped the trace)."""
        out: dict[str, Any] = {
            "policy": self.policy.value,
            "traced_fen": self.traced_fen,
            "nodes": [n.to_json(extra) for n in self.nodes],
            "edges": [
                {"from": e.source, "to": e.target, "ts": iso(e.ts, tz), "fen": e.fen}
                for e in self.edges
            ],
        }
        if self.cut_at is not None:
            out["cut_at"] = iso(self.cut_at, tz)
        return out

    def conservation_errors(self) -> list[str]:
        """Where value is not conserved (always empty for every policy but poison)."""
        incoming: dict[str, int] = {n.account: 0 for n in self.nodes}
        outgoing: dict[str, int] = dict(incoming)
        for e in self.edges:
            incoming[e.target] += e.fen
            outgoing[e.source] += e.fen
        errors = []
        for n in self.nodes:
            came = incoming[n.account] + (self.traced_fen if n.account == self.account else 0)
            went = outgoing[n.account] + n.holdable_fen + n.cash_out_fen + n.untraced_fen
            if n.attributed_fen != came or n.attributed_fen != went:
                errors.append(
                    f"{n.account}: attributed {n.attributed_fen}, in {came}, out+held {went}"
                )
        return errors


class TraceError(ValueError):
    """A trace that cannot be started (bad amount, bad limits)."""


# ------------------------------------------------------------------------------ the tracer


@dataclass
class _Stream:
    """The transfers of a followed account still to come: the window being read, as Python
    lists, and the windows after it (read only when the money gets that far)."""

    rest: Iterator[Events]
    ts: list[int] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    out: list[bool] = field(default_factory=list)
    other: list[int] = field(default_factory=list)
    fen: list[int] = field(default_factory=list)
    cash: list[bool] = field(default_factory=list)
    events: Events | None = None
    pos: int = 0

    def more(self) -> int:
        """Move to the next window with transfers in it once this one is read; how many
        transfers were read (0: none left)."""
        for events in self.rest:
            if len(events):
                self.ts, self.seq = events.ts.tolist(), events.seq.tolist()
                self.out, self.other = events.out.tolist(), events.other.tolist()
                self.fen, self.cash = events.fen.tolist(), events.cash.tolist()
                self.events, self.pos = events, 0
                return len(events)
        return 0

    def key(self) -> tuple[int, int, int]:
        i = self.pos
        return (self.ts[i], self.seq[i], 0 if self.out[i] else 1)


def _reached(
    nodes: dict[int, TraceNode], ledger: Ledger, account: int, key: Key, hop: int
) -> TraceNode:
    """The node of an account the money reaches at ``key``, made on first reach; its hop is
    the shallowest it was reached at."""
    node = nodes.get(account)
    if node is None:
        node = nodes[account] = TraceNode(ledger.account(account), hop, first_ts=key[0])
    else:
        node.hop = min(node.hop, hop)
    return node


class _Tracer:
    """The state of one trace: holdings, nodes, the streams of the followed accounts."""

    def __init__(
        self,
        ledger: Ledger,
        policy: Policy,
        depth: int,
        horizon_end: int,
        until: int,
        max_work: int = MAX_WORK,
    ) -> None:
        self.ledger = ledger
        self.policy = policy
        self.max_work = max_work
        self.work = 0  # beside ``touched``: transfers read and accounts reached
        self.cut_at: int | None = None
        self.depth = depth
        self.horizon_end = horizon_end
        self.until = until
        self.holdings: dict[int, Holding] = {}
        self.last: dict[int, Key] = {}  # when a no-longer-followed account was last seen
        self.nodes: dict[int, TraceNode] = {}
        self.streams: dict[int, _Stream] = {}
        self.heap: list[tuple[int, int, int, int]] = []
        self.done: set[int] = set()  # transfers already handled from the payer's side
        self.edges: list[TraceEdge] = []
        self.touched = 0

    def receive(self, account: int, key: Key, parcel: Parcel, hop: int) -> None:
        """Victim's money (and maybe own money) arrives in ``account`` at ``key``."""
        node = _reached(self.nodes, self.ledger, account, key, hop)
        held = self.holdings.get(account)
        self.work += REACH_WORK
        if held is None:  # the balance the money finds, from the ledger's balances
            held = holding(self.policy, self._balance_before(account, key))
            self.holdings[account] = held
            node.innocent_fen += held.balance
        elif account in self.last:  # followed again: catch up on what happened meanwhile
            gap = self.ledger.events(account, self.last.pop(account), key)
            self.work += len(gap)
            held.restart(least_balance(held.balance, gap.signed()))
            node.innocent_fen += held.balance
        if account not in self.streams:  # what comes after, a window at a time
            stream = _Stream(self.ledger.windows(account, key, (self.until + 1, NEVER), WINDOW))
            if stream.more():
                self.streams[account] = stream
                heapq.heappush(self.heap, (*stream.key(), account))
        held.credit(parcel)
        node.attributed_fen += victim_part(parcel)
        node.innocent_fen += sum(fen for victim, fen in parcel if not victim)

    def _balance_before(self, account: int, key: Key) -> int:
        """The account's balance just before ``key``: a look-up in the ledger's least
        balances (a replay of its history only for an account with late appends).

        The work limit counts the account's transfers before and after the money, as when
        both were read at once: a trace stops at the same point as then (a poison trace
        through the hubs), in less time."""
        view = self.ledger.view(account, self.until)
        if view is None:
            history, future = self.ledger.events(account, before=(self.until + 1, NEVER)).split(key)
            self.work += len(history) + len(future)
            return least_balance(0, history.signed())
        self.work += len(view)  # its transfers (up to ``until``), before and after the money
        return view.balance(view.find(key) - 1)

    def _ended(self, account: int, stream: _Stream) -> bool:
        """Whether the stream has nothing left once its window is read (then it is dropped)."""
        if stream.pos < len(stream.ts) or stream.more():
            return False
        del self.streams[account]
        return True

    def run(self) -> None:
        """Process every event of every followed account in ``(ts, seq)`` order."""
        heap = self.heap
        while heap:
            _, _, _, account = heapq.heappop(heap)
            stream = self.streams.get(account)
            if stream is None:
                continue
            while True:
                if self.touched + self.work >= self.max_work:  # the next event: the earliest left
                    self.cut_at = int(stream.ts[stream.pos])
                    return
                if self.policy is Policy.LIBR and len(stream.ts) - stream.pos >= BATCH_MIN:
                    applied = self._plain(account, stream)
                    stream.pos += applied
                    if self._ended(account, stream):
                        break
                    # the batch stops at another account's next event: that one may come first
                    if applied and heap and heap[0] < (*stream.key(), account):
                        heapq.heappush(heap, (*stream.key(), account))
                        break
                self._step(account, stream)
                stream.pos += 1
                if account not in self.streams:  # no longer followed
                    break
                if self._ended(account, stream):
                    break
                key = stream.key()
                if heap and heap[0] < (*key, account):
                    heapq.heappush(heap, (*key, account))
                    break

    def _plain(self, account: int, s: _Stream) -> int:
        """LIBR only: how many of the next events of ``account`` were applied at once.

        They are the events before any other followed account's next event (so the order
        between accounts is kept) that touch no other followed account and carry none of
        the victim's money: money in from outside and payments that leave the victim's
        claim whole. Their effect is a sum (the balance stays above the claim, so the
        Lindley floor at zero is never reached), the same as taking them one by one.
        """
        held = self.holdings[account]
        if held.victim <= 0:
            return 0
        e, lo = s.events, s.pos
        hi = len(s.ts)
        assert e is not None
        if self.heap and s.ts[lo + BATCH_MIN - 1] >= self.heap[0][0]:
            # another followed account moves first, before a batch worth it: seen from the
            # Python list, without the NumPy calls (most calls when two busy accounts alternate)
            return 0
        if self.heap:
            hi = lo + int(np.searchsorted(e.ts[lo:], self.heap[0][0], "left"))
        if hi - lo < BATCH_MIN:
            return 0
        out = e.out[lo:hi]
        signed = np.where(out, -e.fen[lo:hi], e.fen[lo:hi])
        balance = held.balance + np.cumsum(signed)
        stop = balance < held.victim  # a payment that takes some of the victim's money
        others = [a for a in self.streams if a != account]
        if others:
            stop |= out & np.isin(e.other[lo:hi], others)
        if self.done:
            stop |= ~out & np.isin(e.seq[lo:hi], list(self.done))
        first = np.flatnonzero(stop)
        n = int(first[0]) if first.size else hi - lo
        if n == 0:
            return 0
        held.balance = int(balance[n - 1])
        inside = ~out[:n] & (e.ts[lo : lo + n] <= self.horizon_end)
        self.nodes[account].innocent_fen += int(e.fen[lo : lo + n][inside].sum())
        self.touched += n
        return n

    def _step(self, account: int, s: _Stream) -> None:
        i = s.pos
        seq = s.seq[i]
        self.touched += 1
        if seq in self.done:
            self.done.discard(seq)
            return
        held = self.holdings[account]
        node = self.nodes[account]
        fen = s.fen[i]
        ts = s.ts[i]
        if not s.out[i]:  # from an account that holds none of the victim's money
            held.credit([(False, fen)])
            if ts <= self.horizon_end:
                node.innocent_fen += fen
            return
        other = s.other[i]
        parcel = held.debit(fen)
        victim = victim_part(parcel)
        passed = False
        if victim:
            if s.cash[i]:
                node.cash_out_fen += victim
            elif ts > self.horizon_end or node.hop >= self.depth:
                node.untraced_fen += victim
            else:
                node.out_fen += victim
                self.edges.append(
                    TraceEdge(node.account, self.ledger.account(other), ts, victim, seq)
                )
                if other in self.streams:
                    self.done.add(seq)
                self.receive(other, (ts, seq), parcel, node.hop + 1)
                passed = True
        if not passed and other in self.streams:
            self.done.add(seq)
            self.holdings[other].credit([(False, fen)])
            if ts <= self.horizon_end:
                self.nodes[other].innocent_fen += fen
        if held.spent:
            del self.streams[account]
            self.last[account] = (ts, seq)

    def finish(self) -> list[TraceNode]:
        for account, node in self.nodes.items():
            node.holdable_fen = self.holdings[account].holdable
        return list(self.nodes.values())


class _NoView(Exception):
    """A reached account has no view (see :attr:`Ledger.late`): use the general tracer."""


@dataclass
class _Claim:
    """LIBR: the victim's claim on a followed account and where its current period began."""

    view: View
    claim: int = 0
    start: int = -1  # position of the transfer that began the period; -1: not followed
    gifts: int = 0  # the victim's fen received in the period after its start
    version: int = 0  # bumped when the next cut is searched again


class _LibrTracer:
    """LIBR over precomputed balances (:meth:`Ledger.view`): the ledger knows every account's
    least balance after each of its transfers, and the tracer's balance of an account is that
    balance (money passed between followed accounts is a ledger transfer like any other). So
    the only events that matter are *cuts*: a payment after which the balance is below the
    victim's claim, found by a search instead of a replay; they are taken in ``(ts, seq)``
    order from a heap, and a cut that passes money on raises the payee's claim and searches
    its next cut again. Same answers as :class:`_Tracer` with :class:`Libr` holdings.

    The same walk runs compiled (:func:`_libr_runs`: each account's view a slice of each run);
    this one stays for traces that reach an account with late appends."""

    def __init__(self, ledger: Ledger, depth: int, horizon_end: int, until: int) -> None:
        self.ledger = ledger
        self.depth = depth
        self.horizon_end = horizon_end
        self.until = until
        self.claims: dict[int, _Claim] = {}
        self.nodes: dict[int, TraceNode] = {}
        self.heap: list[tuple[int, int, int, int, int]] = []  # ts, seq, account, version, pos
        self.edges: list[TraceEdge] = []
        self.touched = 0

    def receive(
        self,
        account: int,
        key: Key,
        victim: int,
        fen: int,
        hop: int,
        where: tuple[Any, int] | None = None,
    ) -> None:
        """``victim`` of the ``fen`` fen of the transfer at ``key`` (at ``where``: its run and
        row, when known) are the victim's money."""
        node = _reached(self.nodes, self.ledger, account, key, hop)
        state = self.claims.get(account)
        if state is None:
            view = self.ledger.view(account, self.until)
            if view is None:
                raise _NoView
            state = self.claims[account] = _Claim(view)
        k = state.view.find(key) if where is None else state.view.at(*where)
        if state.start < 0:  # followed from here: what it held before is innocent money
            state.start, state.gifts = k, 0
            node.innocent_fen += state.view.balance(k - 1) + fen - victim
        else:  # the transfer's fen counts with the period's money in: take the victim's out
            state.gifts += victim
        state.claim += victim
        node.attributed_fen += victim
        self._search(account, state, k + 1)

    def _search(self, account: int, state: _Claim, k: int) -> None:
        state.version += 1
        cut = state.view.below(k, state.claim)
        if cut < len(state.view):
            run, row, _ = state.view.event(cut)
            heapq.heappush(
                self.heap, (int(run.ts[row]), int(run.seq[row]), account, state.version, cut)
            )

    def run(self) -> None:
        """Take every cut in ``(ts, seq)`` order."""
        while self.heap:
            _, _, account, version, cut = heapq.heappop(self.heap)
            state = self.claims[account]
            if version == state.version:
                self._cut(account, state, cut)

    def _cut(self, account: int, state: _Claim, k: int) -> None:
        run, row, _ = state.view.event(k)  # a payment: the balance only falls on one
        ts, seq, fen, other = (
            int(run.ts[row]),
            int(run.seq[row]),
            int(run.fen[row]),
            int(run.payee[row]),
        )
        left = state.view.balance(k)
        out = state.claim - left
        state.claim = left
        node = self.nodes[account]
        if run.cash[row]:
            node.cash_out_fen += out
        elif ts > self.horizon_end or node.hop >= self.depth:
            node.untraced_fen += out
        else:
            node.out_fen += out
            self.edges.append(TraceEdge(node.account, self.ledger.account(other), ts, out, seq))
            self.receive(other, (ts, seq), out, fen, node.hop + 1, (run, row))
        if left == 0:
            self._end(account, state, k)
        else:
            self._search(account, state, k + 1)

    def _end(self, account: int, state: _Claim, k: int) -> None:
        """The period ends at position ``k``: the money in from elsewhere until the horizon
        was innocent money."""
        view = state.view
        last = min(k, view.until(self.horizon_end) - 1)
        if last > state.start:
            money = view.money_in(last) - view.money_in(state.start) - state.gifts
            self.nodes[account].innocent_fen += money
        self.touched += k - state.start
        state.start = -1
        state.version += 1

    def finish(self) -> list[TraceNode]:
        for account, state in self.claims.items():
            if state.start >= 0:
                self._end(account, state, len(state.view) - 1)
                state.start = len(state.view)  # still followed
            self.nodes[account].holdable_fen = state.claim
        return list(self.nodes.values())

    def followed(self) -> list[int]:
        return sorted(a for a, s in self.claims.items() if s.claim > 0)


def _libr_runs(
    ledger: Ledger,
    main: Run,
    root: int,
    key: Key,
    fen: int,
    depth: int,
    horizon_end: int,
    until: int,
) -> tuple[list[TraceNode], list[TraceEdge], int, list[int]] | None:
    """:class:`_LibrTracer` over the main run and the delta runs (if any), as one compiled call
    (:func:`fanzha.funds.kernels.libr_runs`): nodes, edges, transfers looked at, followed;
    None when the money reaches an account with late appends (the caller traces it as
    :class:`_LibrTracer` would: through the general tracer)."""
    assert main.off is not None
    joined = ledger.joined()
    runs = np.zeros((1 + len(ledger.deltas), kernels.R_COLUMNS), np.int64)
    runs[0, : kernels.R_UNTIL] = main.shift, 0, len(main.entry), 0, 0
    runs[1:, : kernels.R_UNTIL] = joined.bases
    for r, run in enumerate([main, *ledger.deltas]):
        runs[r, kernels.R_UNTIL] = run.ts.searchsorted(until, "right")
        runs[r, kernels.R_HORIZON] = run.ts.searchsorted(horizon_end, "right")
        runs[r, kernels.R_KEY] = run.rows_before(key)
    size = 64
    while True:  # tables for most traces; larger ones when they fill up
        nodes = np.empty((size, kernels.N_COLUMNS), np.int64)
        index = np.zeros(4 * size, np.int64)
        pieces = np.empty((size * len(runs), kernels.P_COLUMNS), np.int64)
        heap = np.empty((4 * size, 5), np.int64)
        edges = np.empty((4 * size, 5), np.int64)
        out = np.zeros(3, np.int64)
        found = kernels.libr_runs(
            main.entry, main.low, main.cin, main.low_min, main.off, main.ts, main.seq, main.fen,
            main.payee, main.cash, joined.entry, joined.low, joined.rel, joined.cin,
            joined.low_min, joined.rel_min, joined.ts, joined.seq, joined.fen, joined.payee,
            joined.cash, runs, ledger.late_mask(), BLOCK, root, key[0], fen, depth,
            horizon_end, nodes, index, pieces, heap, edges, out,
        )  # fmt: skip
        if found == kernels.LATE:
            return None
        if found != kernels.FULL:
            break
        size *= 4
    return _walked(ledger, nodes, edges, out)


def _walked(
    ledger: Ledger, nodes: I64, edges: I64, out: I64
) -> tuple[list[TraceNode], list[TraceEdge], int, list[int]]:
    """The compiled walk's tables as nodes, edges, transfers looked at and followed."""
    count, edge_count, touched = out.tolist()
    table = nodes[:count].tolist()
    names = [ledger.account(row[kernels.N_ACCOUNT]) for row in table]
    result = [
        TraceNode(
            name,
            row[kernels.N_HOP],
            row[kernels.N_ATTRIBUTED],
            row[kernels.N_CLAIM],
            row[kernels.N_CASH_OUT],
            row[kernels.N_UNTRACED],
            row[kernels.N_OUT],
            row[kernels.N_INNOCENT],
            row[kernels.N_FIRST_TS],
        )
        for name, row in zip(names, table, strict=True)
    ]
    by_id = dict(zip((row[kernels.N_ACCOUNT] for row in table), names, strict=True))
    moved = [
        TraceEdge(names[source], by_id[target], ts, money, seq)
        for source, target, ts, money, seq in edges[:edge_count].tolist()
    ]
    followed = sorted(row[kernels.N_ACCOUNT] for row in table if row[kernels.N_CLAIM] > 0)
    return result, moved, touched, followed


def find_root(ledger: Ledger, account: int, since: int, fen: int, window_s: int) -> Key | None:
    """``(ts, seq)`` of the transfer of exactly ``fen`` into ``account`` nearest to ``since``
    (the earlier one of two as near)."""
    window = window_s * 1_000_000
    found = ledger.inflows(account, since - window, since + window)
    hits = np.flatnonzero(found.fen == fen)
    if hits.size == 0:
        return None
    best = hits[np.argmin(np.abs(found.ts[hits] - since))]
    return int(found.ts[best]), int(found.seq[best])


def trace(
    ledger: Ledger,
    account: str,
    since: int,
    amount_fen: int,
    policy: Policy = Policy.LIBR,
    *,
    depth: int = DEFAULT_DEPTH,
    horizon_s: int = DEFAULT_HORIZON_S,
    until: int | None = None,
    match_window_s: int = MATCH_WINDOW_S,
    max_work: int = MAX_WORK,
) -> Trace:
    """Follow ``amount_fen`` fen that arrived in ``account`` at ``since`` (µs, UTC).

    The money is matched to the ledger transfer of exactly that amount into the account
    nearest to ``since`` (within ``match_window_s``); without one, it is taken to arrive at
    ``since`` on top of what the ledger shows. ``depth``: most transfers from the first
    account; ``horizon_s``: money is followed into new accounts until ``since + horizon_s``;
    ``until`` (µs): the last moment looked at (default: the end of the ledger);
    ``max_work``: the general tracer's work (:data:`MAX_WORK`) before it stops where it has
    got to (:attr:`Trace.cut_at`; the LIBR search needs no limit).
    """
    if amount_fen <= 0:
        raise TraceError(f"amount_fen: must be positive, got {amount_fen}")
    if depth < 0:
        raise TraceError(f"depth: must be zero or more, got {depth}")
    if horizon_s < 0:
        raise TraceError(f"horizon: must be zero or more, got {horizon_s}")
    result = Trace(policy, amount_fen, account, since, None, depth, horizon_s)
    root = ledger.account_id(account)
    if root is None:  # the ledger never saw the account: the money is all still there
        result.nodes = [TraceNode(account, 0, amount_fen, amount_fen, first_ts=since)]
        return result
    key = find_root(ledger, root, since, amount_fen, match_window_s)
    if key is None:
        key = (since, NEVER)
    else:
        result.root_seq = key[1]
    end = FOREVER - 1 if until is None else max(until, key[0])  # never before the money came
    horizon_end = since + horizon_s * 1_000_000
    if policy is Policy.LIBR and result.root_seq is not None:
        walked = None  # None: no main run, or the walk reached an account with late appends
        if ledger.main is not None:
            walked = _libr_runs(ledger, ledger.main, root, key, amount_fen, depth, horizon_end,
                                end)  # fmt: skip
        if walked is not None:
            _fill(result, *walked)
            return result
        fast = _LibrTracer(ledger, depth, horizon_end, end)
        try:
            fast.receive(root, key, amount_fen, amount_fen, 0)
            fast.run()
        except _NoView:  # an account with late appends: the general tracer below
            pass
        else:
            _fill(result, fast.finish(), fast.edges, fast.touched, fast.followed())
            return result
    tracer = _Tracer(ledger, policy, depth, horizon_end, end, max_work)
    tracer.receive(root, key, [(True, amount_fen)], 0)
    tracer.run()
    followed = sorted(a for a in tracer.nodes if a not in tracer.last)
    _fill(result, tracer.finish(), tracer.edges, tracer.touched, followed)
    result.cut_at = tracer.cut_at
    return result


def _fill(
    result: Trace, nodes: list[TraceNode], edges: list[TraceEdge], touched: int, followed: list[int]
) -> None:
    result.nodes = sorted(nodes, key=lambda n: (n.hop, n.first_ts, n.account))
    result.edges = sorted(edges, key=lambda e: (e.ts, e.seq))
    result.touched = touched
    result.followed = followed
