"""The funds service: report intake → case → stop-payment orders → banks → extended
stop-payment, returns and appeals, and the KPIs. Used by the API, the CLI and the replay.

Everything here works over Protocols (the repository, the intel sink, the audit sink, a bank
adapter) and a ledger; :meth:`fanzha.service.App.funds` wires the SQL ones. Every change is
written to the audit chain. Jurisdiction: methods that take a ``scope`` raise
:class:`~fanzha.auth.OutOfScope` (404) for another unit's case or another bank's order.

Pages (desk, mirror screen, trace view) call: :meth:`Funds.intake` (and
:func:`fanzha.funds.extract.extract` to pre-fill the form), :meth:`Funds.case`,
:meth:`Funds.cases`, :meth:`Funds.orders`, :meth:`Funds.place_order`, :meth:`Funds.extend`,
:meth:`Funds.accept`, :meth:`Funds.trace_case`, :meth:`Funds.release`, :meth:`Funds.appeal`,
:meth:`Funds.decide_appeal`, :meth:`Funds.return_to_victims`, :meth:`Funds.scorecard`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pyarrow as pa

from fanzha.auth.principal import OutOfScope, Scope
from fanzha.dispatch.effects import CaseRequest
from fanzha.funds import kpi
from fanzha.funds.banks import BankAdapter, bank_key
from fanzha.funds.extend import Target, pro_rata, targets
from fanzha.funds.ledger import Ledger
from fanzha.funds.orders import (
    BankAnswer,
    Case,
    CaseState,
    Order,
    OrderKind,
    OrderPolicy,
    OrderRefused,
    OrderState,
    case_id_for,
)
from fanzha.funds.repo import FundsRepo, StaleError
from fanzha.funds.report import Report, from_case_request, indicators_of, parse_report
from fanzha.funds.trace import DEFAULT_DEPTH, DEFAULT_HORIZON_S, Policy, Trace, trace
from fanzha.intel.model import Indicator
from fanzha.model.clock import Clock

RETRIES = 8
_T = TypeVar("_T", Case, Order)


class IndicatorSink(Protocol):
    """Where indicators named by reports go (the intel repository)."""

    def upsert_many(self, indicators: Sequence[Indicator], *, actor: str, reason: str) -> Any:
        """Add or merge indicators."""
        ...


class AuditSink(Protocol):
    """The audit chain."""

    def record(
        self,
        actor: str,
        action: str,
        *,
        object_type: str = "",
        object_id: str = "",
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> Any:
        """Append one entry."""
        ...


class UnknownError(KeyError):
    """No such case or order (or not in the caller's jurisdiction: the same answer)."""


@dataclass(frozen=True)
class FundsConfig:
    """How the funds workflow runs (configuration, not code)."""

    orders: OrderPolicy = field(default_factory=OrderPolicy)
    #: send orders to the bank as soon as a report is confirmed
    send_on_intake: bool = True
    #: place extended stop-payments at once (False: propose them for one click)
    auto_extend: bool = True
    policy: Policy = Policy.LIBR
    depth: int = DEFAULT_DEPTH
    horizon_s: int = DEFAULT_HORIZON_S
    #: accounts holding less than this of the victim's money get no extended order (100 yuan)
    min_extend_fen: int = 10_000


@dataclass
class Intake:
    """What confirming a report did."""

    case: Case
    created: bool
    orders: list[Order]
    indicators: int


class Funds:
    """Cases, orders, banks, tracing, returns and appeals."""

    def __init__(
        self,
        repo: FundsRepo,
        clock: Clock,
        *,
        bank: BankAdapter | None = None,
        ledger: Ledger | Callable[[], Ledger] | None = None,
        intel: IndicatorSink | None = None,
        audit: AuditSink | None = None,
        config: FundsConfig | None = None,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.bank = bank
        self._ledger = ledger
        self.intel = intel
        self.audit = audit
        self.config = config or FundsConfig()
        self._traced: dict[str, _Traced] = {}
        # The live loop appends to the ledger while request threads trace over it.
        self._ledger_lock = threading.RLock()

    @property
    def ledger(self) -> Ledger | None:
        """The ledger index (built on first use when given as a function)."""
        with self._ledger_lock:
            if callable(self._ledger) and not isinstance(self._ledger, Ledger):
                self._ledger = self._ledger()
            return self._ledger

    @property
    def ledger_built(self) -> bool:
        """Whether the ledger index exists yet (a lazy one is built from the lake on first
        use, with every transfer committed by then: those need no :meth:`feed`)."""
        return isinstance(self._ledger, Ledger)

    # ------------------------------------------------------------------ intake and cases

    def intake(self, report: Report, actor: str) -> Intake:
        """Confirm a report: open its case (once), learn every indicator it names, and place
        a stop-payment on every account the victim paid (sent at once by configuration)."""
        now = self.clock.now()
        case, created = self.repo.create_case(
            Case.open(case_id_for(report.report_id), report, actor, now)
        )
        learnt = 0
        if created:
            self._record(
                actor,
                "case.open",
                case.case_id,
                "提级挂牌督办" if case.escalated else "",
                {"loss_fen": report.loss_fen, "payments": len(report.payments)},
            )
            found = indicators_of(report)
            if self.intel is not None and found:
                self.intel.upsert_many(found, actor=actor, reason=f"report:{report.report_id}")
            learnt = len(found)
        orders = []
        for account, (fen, bank) in _paid(report).items():
            orders.append(
                self.place_order(
                    case.case_id,
                    account,
                    OrderKind.STOP_PAYMENT,
                    fen,
                    actor,
                    "报案紧急止付",
                    bank=bank,
                    send=self.config.send_on_intake,
                )
            )
        return Intake(case, created, orders, learnt)

    def open_from_request(self, request: CaseRequest, actor: str) -> Intake:
        """The case of an "already defrauded" dissuasion outcome."""
        return self.intake(from_case_request(request, f"I-{request.instruction_id}"), actor)

    def case(self, case_id: str, scope: Scope | None = None) -> Case:
        """One case (UnknownError, or OutOfScope outside the caller's jurisdiction)."""
        found = self.repo.get_case(case_id)
        if found is None:
            raise UnknownError(case_id)
        if scope is not None:
            scope.check(scope.bank is None and scope.sees_unit(found.unit), f"case {case_id}")
        return found

    def cases(
        self, scope: Scope | None = None, *, open_only: bool = False, limit: int = 1000
    ) -> list[Case]:
        """Cases in the caller's jurisdiction, newest first."""
        if scope is not None and scope.bank is not None:
            return []
        units = None if scope is None else scope.narrow(None)
        states = [CaseState.OPEN] if open_only else None
        return self.repo.find_cases(units=units, states=states, limit=limit)

    def close(self, case_id: str, actor: str, reason: str, scope: Scope | None = None) -> Case:
        """办结."""
        self.case(case_id, scope)
        saved = self._update_case(case_id, lambda c: c.close(actor, self.clock.now(), reason))
        self._record(actor, "case.close", case_id, reason)
        return saved

    # ------------------------------------------------------------------ orders

    def orders(
        self,
        scope: Scope | None = None,
        *,
        case_id: str | None = None,
        states: Iterable[OrderState] | None = None,
        limit: int = 10_000,
    ) -> list[Order]:
        """Orders the caller may see: a liaison its bank's, police their units' cases'."""
        wanted = None if states is None else list(states)
        if scope is None:
            return self.repo.find_orders(case_id=case_id, states=wanted, limit=limit)
        if scope.bank is not None:
            found = self.repo.find_orders(case_id=case_id, states=wanted, limit=limit)
            return [o for o in found if bank_key(o.bank) == bank_key(scope.bank)]
        units = scope.narrow(None)
        return self.repo.find_orders(case_id=case_id, units=units, states=wanted, limit=limit)

    def order(self, order_id: str, scope: Scope | None = None) -> Order:
        """One order (UnknownError; OutOfScope outside the caller's jurisdiction)."""
        found = self.repo.get_order(order_id)
        if found is None:
            raise UnknownError(order_id)
        if scope is not None:
            scope.check(_sees(scope, found), f"order {order_id}")
        return found

    def place_order(
        self,
        case_id: str,
        account: str,
        kind: OrderKind,
        amount_fen: int,
        actor: str,
        reason: str,
        *,
        bank: str | None = None,
        hop: int = 0,
        send: bool = True,
        scope: Scope | None = None,
    ) -> Order:
        """Draft (and send) an order; asking again for the same (case, account, kind) returns
        the order already there."""
        case = self.case(case_id, scope)
        if case.state is CaseState.CLOSED:
            raise OrderRefused(f"case {case_id} is closed")
        now = self.clock.now()
        draft = Order.draft(
            case_id,
            case.unit,
            account,
            bank or _bank_of(account),
            kind,
            amount_fen,
            actor,
            now,
            reason,
            hop,
        )
        order, created = self.repo.create_order(draft)
        if created:
            self._record(
                actor,
                "order.draft",
                order.order_id,
                reason,
                {"case": case_id, "kind": kind.value, "amount_fen": amount_fen, "hop": hop},
            )
        if send and order.state is OrderState.DRAFT:
            order = self.send(order.order_id, actor)
        return order

    def send(self, order_id: str, actor: str, scope: Scope | None = None) -> Order:
        """Send a draft to its bank."""
        self.order(order_id, scope)
        saved = self._update_order(order_id, lambda o: o.send(actor, self.clock.now()))
        self._record(actor, "order.send", order_id, "", {"bank": saved.bank})
        if self.bank is not None:
            self.bank.submit(saved, self.clock.now())
        return saved

    def answer(
        self, order_id: str, answer: BankAnswer, actor: str = "bank", scope: Scope | None = None
    ) -> tuple[Order, bool]:
        """A bank's answer (idempotent by the answer's id; late answers change nothing);
        True when it changed the order."""
        self.order(order_id, scope)
        changed: list[bool] = []
        policy = self.config.orders
        when = min(answer.at, self.clock.now())  # the bank's time, never in our future
        saved = self._update_order(
            order_id, lambda o: changed.append(o.answer(answer, when, policy))
        )
        self._record(
            actor,
            "order.answer",
            order_id,
            answer.note,
            {
                "answer_id": answer.answer_id,
                "held_fen": answer.held_fen,
                "state": saved.state.value,
                "changed": changed[-1],
            },
        )
        return saved, changed[-1]

    def poll(self) -> int:
        """Take every answer the bank adapter has ready now; answers applied."""
        if self.bank is None:
            return 0
        done = 0
        for order_id, answer in self.bank.answers(self.clock.now()):
            _, changed = self.answer(order_id, answer)
            done += changed
        return done

    def expire(self) -> list[Order]:
        """Lapse every holding order whose legal duration is over."""
        now = self.clock.now()
        lapsed = []
        for order in self.repo.find_orders(states=[OrderState.EXECUTED, OrderState.PARTIAL]):
            if order.expires_at is not None and order.expires_at <= now:
                saved = self._update_order(order.order_id, lambda o: o.expire(now))
                self._record("system", "order.expire", order.order_id, "期限届满")
                lapsed.append(saved)
        return lapsed

    def convert(self, order_id: str, actor: str, reason: str, scope: Scope | None = None) -> Order:
        """Convert an executed stop-payment into a freeze of what it holds (before it lapses)."""
        stop = self.order(order_id, scope)
        if stop.kind is not OrderKind.STOP_PAYMENT or not stop.state.holding:
            raise OrderRefused(f"order {order_id} is not an executed stop-payment")
        freeze = self.place_order(
            stop.case_id,
            stop.account,
            OrderKind.FREEZE,
            stop.held_fen,
            actor,
            reason or "止付转冻结",
            bank=stop.bank,
            hop=stop.hop,
            send=False,
        )
        now = self.clock.now()
        if freeze.state is OrderState.DRAFT:  # the bank already holds it: the freeze takes over
            held = stop.held_fen
            self._update_order(stop.order_id, lambda o: o.converted(freeze.order_id, actor, now))
            freeze = self._update_order(
                freeze.order_id, lambda o: _take_over(o, held, actor, now, self.config.orders)
            )
            self._record(actor, "order.convert", order_id, reason, {"freeze": freeze.order_id})
        return freeze

    # ------------------------------------------------------------------ tracing and extension

    def trace_case(self, case_id: str, scope: Scope | None = None) -> list[Trace]:
        """One trace per payment of the case, up to now (LIBR unless configured otherwise).

        The last traces of a case are kept: when no account they still follow has paid or
        been paid since, and the ledger took no new transfers, tracing again would give the
        same traces, so they are returned as they are."""
        return self._traces(self.case(case_id, scope), victim_only=False)

    def _traces(self, case: Case, *, victim_only: bool) -> list[Trace]:
        """The case's traces now; ``victim_only``: exact in the victim's money (attributed,
        holdable, cashed out, passed on; not in the holders' own money), which is all that
        extension and the scorecard read. Money arriving in a followed account from
        elsewhere changes only the holder's own money (under every policy but poison), so
        for these figures only the followed accounts' payments need to be quiet — the
        extension checks of a replay then mostly find the traces unchanged."""
        with self._ledger_lock:  # the live loop may be appending to the ledger
            ledger = self.ledger
            if ledger is None:
                return []
            until = _micros(self.clock.now())
            c = self.config
            payments = case.report.payments
            key: tuple[Any, ...] = (len(ledger), c.policy, c.depth, c.horizon_s, *payments)
            kept = self._traced.get(case.case_id)
            if kept is not None and kept.usable(ledger, key, until, victim_only=victim_only):
                return kept.traces
            traces = self._trace_payments(case, ledger, until)
            self._traced[case.case_id] = _Traced(ledger, key, until, until, traces)
            return traces

    def _trace_payments(self, case: Case, ledger: Ledger, until: int) -> list[Trace]:
        found = []
        for p in case.report.payments:
            since = _micros(p.paid_at or case.report.received_at)
            found.append(
                trace(
                    ledger,
                    p.account,
                    since,
                    p.amount_fen,
                    self.config.policy,
                    depth=self.config.depth,
                    horizon_s=self.config.horizon_s,
                    until=max(until, since),
                )
            )
        return found

    def extend(self, case_id: str, actor: str, scope: Scope | None = None) -> list[Target]:
        """延伸止付: every downstream account still holding the victim's money gets an order
        (or a one-click proposal), most money first. Accounts already ordered are skipped."""
        case = self.case(case_id, scope)
        if case.state is CaseState.CLOSED:
            return []
        ordered = {o.account for o in self.repo.find_orders(case_id=case_id)}
        traces = self._traces(case, victim_only=True)
        found = targets(traces, ordered, self.config.min_extend_fen)
        if not found:
            return []
        if self.config.auto_extend:
            for t in found:
                self.place_order(
                    case_id,
                    t.account,
                    OrderKind.STOP_PAYMENT,
                    t.fen,
                    actor,
                    f"延伸止付 第{t.hop}层",
                    hop=t.hop,
                )
        else:
            proposals = {t.account: (t.fen, t.hop) for t in found}
            self._update_case(case_id, lambda c: c.proposals.update(proposals))
            self._record(actor, "case.propose", case_id, "延伸止付", {"accounts": len(found)})
        return found

    def accept(self, case_id: str, account: str, actor: str, scope: Scope | None = None) -> Order:
        """One click: place the proposed extended stop-payment on ``account``."""
        case = self.case(case_id, scope)
        if account not in case.proposals:
            raise UnknownError(f"{case_id}: no proposal for {account}")
        fen, hop = case.proposals[account]
        order = self.place_order(
            case_id, account, OrderKind.STOP_PAYMENT, fen, actor, f"延伸止付 第{hop}层", hop=hop
        )
        self._update_case(case_id, lambda c: c.proposals.pop(account, None))
        return order

    def feed(self, transfers: pa.Table, actor: str = "system") -> int:
        """New transfers into the ledger (appended, no rebuild); then every open case is
        extended again. Returns the number of new orders or proposals."""
        with self._ledger_lock:  # no trace reads a half-appended ledger
            ledger = self.ledger
            if ledger is None:
                self._ledger = ledger = Ledger.build(transfers)
            else:
                ledger.append(transfers)
        return sum(len(self.extend(c.case_id, actor)) for c in self.cases(open_only=True))

    # ------------------------------------------------------------------ returns and appeals

    def release(
        self,
        order_id: str,
        actor: str,
        reason: str,
        fen: int | None = None,
        scope: Scope | None = None,
    ) -> Order:
        """Release all (or ``fen``) of what an order holds; a reason is required."""
        self.order(order_id, scope)
        now = self.clock.now()
        saved = self._update_order(order_id, lambda o: o.release(actor, now, reason, fen))
        self._record(actor, "order.release", order_id, reason, {"fen": fen})
        return saved

    def appeal(
        self, order_id: str, holder: str, reason: str, actor: str, scope: Scope | None = None
    ) -> Order:
        """申诉: the account holder contests the hold (recorded; decided by
        :meth:`decide_appeal`)."""
        if len(reason.strip()) < 2:
            raise OrderRefused("an appeal needs a reason")
        self.order(order_id, scope)
        now = self.clock.now()
        saved = self._update_order(
            order_id, lambda o: o.note(actor, now, "appeal", f"{holder}: {reason}")
        )
        self._record(actor, "order.appeal", order_id, reason, {"holder": holder})
        return saved

    def decide_appeal(
        self, order_id: str, actor: str, decision: str, reason: str, scope: Scope | None = None
    ) -> Order:
        """``reject`` (keep the hold), ``release`` (all of it) or ``libr`` (release what is
        above the victim's money under LIBR: the honest cap)."""
        order = self.order(order_id, scope)
        if decision == "reject":
            now = self.clock.now()
            saved = self._update_order(
                order_id, lambda o: o.note(actor, now, "appeal.reject", reason)
            )
        elif decision == "release":
            saved = self.release(order_id, actor, reason)
        elif decision == "libr":
            cap = self.libr_cap(order.case_id, order.account)
            excess = order.held_fen - cap
            saved = self.release(order_id, actor, reason, excess) if excess > 0 else order
        else:
            raise OrderRefused(f"decision {decision!r}: expected reject, release or libr")
        self._record(actor, "order.appeal_decided", order_id, reason, {"decision": decision})
        return saved

    def libr_cap(self, case_id: str, account: str) -> int:
        """The victim's money in ``account`` now under LIBR (what can honestly be held)."""
        held = 0
        for t in self.trace_case(case_id):
            node = t.node(account)
            held += node.holdable_fen if node is not None else 0
        return held

    def return_to_victims(self, account: str, actor: str, reason: str = "返还") -> dict[str, int]:
        """返还: the money held on ``account`` goes back to the victims whose orders hold it,
        pro rata to their claims (the amounts asked) when several victims' money is there."""
        holding = [
            o
            for o in self.repo.find_orders(states=[OrderState.EXECUTED, OrderState.PARTIAL])
            if o.account == account
        ]
        if not holding:
            return {}
        pool = sum(o.held_fen for o in holding)
        claims: dict[str, int] = {}
        for o in holding:
            claims[o.case_id] = claims.get(o.case_id, 0) + o.amount_fen
        shares = pro_rata(pool, claims)
        self._pay_out(holding, shares, actor, reason)
        for case_id, fen in shares.items():
            if fen:
                self._update_case(case_id, _returning(fen, actor, self.clock.now()))
                self._record(
                    actor, "case.return", case_id, reason, {"account": account, "fen": fen}
                )
        return shares

    def _pay_out(
        self, holding: list[Order], shares: dict[str, int], actor: str, reason: str
    ) -> None:
        """Take the shares out of the orders' holds: each order pays its own case first, then
        what is left over pays the others (the money in the account is one pool)."""
        now = self.clock.now()
        owed = dict(shares)
        left = {o.order_id: o.held_fen for o in holding}
        paid: dict[str, int] = {}
        for own_first in (True, False):
            for o in holding:
                for case_id in [o.case_id] if own_first else list(owed):
                    fen = min(owed.get(case_id, 0), left[o.order_id])
                    if fen > 0:
                        owed[case_id] -= fen
                        left[o.order_id] -= fen
                        paid[o.order_id] = paid.get(o.order_id, 0) + fen
        for order_id, fen in paid.items():
            self._update_order(order_id, _paying(fen, actor, now, reason))

    # ------------------------------------------------------------------ KPIs

    def scorecard(self, cases: Iterable[Case] | None = None) -> dict[str, Any]:
        """The funds scorecard (``stop_payment_60min_rate``, ``median_report_to_first_order_s``,
        ``frozen_share``, ``returned_fen``, ``cashed_out_fen`` and more)."""
        chosen = list(self.repo.find_cases(limit=10**9) if cases is None else cases)
        return kpi.scorecard(
            chosen, self.repo.find_orders(limit=10**9), *self._sums(chosen)
        ).as_dict()

    def _sums(self, cases: list[Case]) -> tuple[dict[str, int], dict[str, int]]:
        cashed = {
            c.case_id: sum(t.totals()["cash_out_fen"] for t in self._traces(c, victim_only=True))
            for c in cases
        }
        return cashed, {c.case_id: c.returned_fen for c in cases}

    # ------------------------------------------------------------------ internals

    def _record(
        self,
        actor: str,
        action: str,
        object_id: str,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        if self.audit is not None:
            kind = action.split(".")[0]
            self.audit.record(
                actor, action, object_type=kind, object_id=object_id, reason=reason, details=details
            )

    def _update_order(self, order_id: str, change: Callable[[Order], object]) -> Order:
        return _retry(self.repo.get_order, self.repo.save_order, order_id, change)

    def _update_case(self, case_id: str, change: Callable[[Case], object]) -> Case:
        return _retry(self.repo.get_case, self.repo.save_case, case_id, change)


@dataclass
class _Traced:
    """A case's last traces: what they were computed with, up to when, over which accounts."""

    ledger: Ledger
    key: tuple[Any, ...]
    until: int  # the traces are exact up to here
    victim_until: int  # ... and exact in the victim's money up to here
    traces: list[Trace]
    #: the accounts the traces still follow: the tracer reads no other account's transfers
    #: after the end (a spent one is read again only when a followed account pays it)
    accounts: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = sorted({a for t in self.traces for a in t.followed})

    def usable(
        self, ledger: Ledger, key: tuple[Any, ...], until: int, *, victim_only: bool
    ) -> bool:
        """Tracing again at ``until`` would give the same traces (``victim_only``: the same
        figures of the victim's money); moves the matching horizon on when it would."""
        if ledger is not self.ledger or key != self.key or until < self.until:
            return False
        if ledger.quiet(self.accounts, self.until, until):
            self.until = self.victim_until = max(self.victim_until, until)
            return True
        if not victim_only or key[1] is Policy.POISON:
            return False
        if until <= self.victim_until or ledger.quiet(
            self.accounts, self.victim_until, until, paying_only=True
        ):
            self.victim_until = until
            return True
        return False


def _retry(
    get: Callable[[str], _T | None],
    save: Callable[[_T], _T],
    key: str,
    change: Callable[[_T], object],
) -> _T:
    """Read, change, save; read again when someone saved in between."""
    for _ in range(RETRIES):
        found = get(key)
        if found is None:
            raise UnknownError(key)
        change(found)
        try:
            return save(found)
        except StaleError:
            continue
    raise StaleError(key, -1, None)


def _take_over(order: Order, held: int, actor: str, at: dt.datetime, policy: OrderPolicy) -> None:
    """A freeze of money a stop-payment already holds: executed at once, for its own term."""
    order.send(actor, at)
    order.answer(
        BankAnswer(answer_id=f"convert-{order.order_id}", held_fen=held, at=at, note="止付转冻结"),
        at,
        policy,
    )


def _returning(fen: int, actor: str, at: dt.datetime) -> Callable[[Case], None]:
    def change(case: Case) -> None:
        case.returned_fen += fen
        case.note(actor, at, "return", f"返还 {fen} 分")

    return change


def _paying(fen: int, actor: str, at: dt.datetime, reason: str) -> Callable[[Order], None]:
    def change(order: Order) -> None:
        order.pay_back(actor, at, fen, reason)

    return change


def _paid(report: Report) -> dict[str, tuple[int, str | None]]:
    """Per payee account: what the victim paid it, and its bank."""
    out: dict[str, tuple[int, str | None]] = {}
    for p in report.payments:
        fen, bank = out.get(p.account, (0, p.bank))
        out[p.account] = (fen + p.amount_fen, bank or p.bank)
    return out


def _bank_of(account: str) -> str | None:
    from fanzha.model.values import InvalidValue, parse_account

    try:
        return parse_account(account).bank
    except InvalidValue:
        return None


def _sees(scope: Scope, order: Order) -> bool:
    if scope.bank is not None:
        return bank_key(order.bank) == bank_key(scope.bank) and bank_key(scope.bank) != ""
    return scope.sees_unit(order.unit)


def _micros(moment: dt.datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


# ---------------------------------------------------------------------- accelerated replay


@dataclass(frozen=True)
class ReplayTiming:
    """How the desk works in a replay: how long after the report the officer confirms it,
    and when (seconds after intake) the case is traced again for extended orders — often at
    first, when money moves fastest, then less often."""

    entry_delay_s: int = 0
    extend_at_s: tuple[int, ...] = (0, 300, 900, 1800, 3600, 7200, 21600)


def replay(
    reports: Sequence[Report],
    ledger: Ledger,
    bank: BankAdapter,
    *,
    config: FundsConfig | None = None,
    timing: ReplayTiming | None = None,
    repo: FundsRepo | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], Funds]:
    """Run intake → orders → bank → extended stop-payment over ``reports`` in accelerated
    event time (no sleeping) against ``ledger`` (which must hold every transfer: tracing
    only looks up to the clock), and return the scorecard and the service. This is what
    ``fanzha replay --responders simulated`` calls with its reports and
    :class:`fanzha.sim.bank.SimulatedBank`. ``progress`` is told the reports taken so far."""
    import heapq

    plan = timing or ReplayTiming()
    ordered = sorted(reports, key=lambda r: (r.received_at, r.report_id))
    if not ordered:
        return kpi.Scorecard().as_dict(), Funds(repo or _memory(), _clock(dt.datetime.now(dt.UTC)))
    clock = _clock(ordered[0].received_at)
    funds = Funds(repo or _memory(), clock, bank=bank, ledger=ledger, config=config)
    delay = dt.timedelta(seconds=plan.entry_delay_s)
    queue: list[tuple[dt.datetime, int, str, str]] = []
    for n, r in enumerate(ordered):
        heapq.heappush(queue, (r.received_at + delay, n, "intake", r.report_id))
    by_id = {r.report_id: r for r in ordered}
    taken = 0
    while queue:
        when, n, what, key = heapq.heappop(queue)
        _answers_until(funds, clock, when)
        clock.set(max(when, clock.now()))
        if what == "intake":
            key = funds.intake(by_id[key], "desk").case.case_id
            taken += 1
            if progress is not None:
                progress(taken)
            for after in plan.extend_at_s:
                heapq.heappush(queue, (when + dt.timedelta(seconds=after), n, "extend", key))
        else:
            funds.extend(key, "system")
    _answers_until(funds, clock, clock.now() + dt.timedelta(days=1))
    return funds.scorecard(), funds


def sim_reports(root: Path, removed: Collection[str] = ()) -> list[Report]:
    """The victims' police reports of a simulator output directory (``events/police_report``
    and ``truth/payments.parquet``): each report with the payments its victim made before
    reporting (the victim's bank statement, as a station takes it). Read only.

    ``removed``: event ids that did not happen after all (a replay's dissuaded victims:
    their reports and the payments they never made)."""
    import pyarrow.parquet as pq

    files = sorted((root / "events" / "police_report").glob("*.parquet"))
    events = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    truth = pq.read_table(root / "truth" / "reports.parquet", columns=["event_id", "victim_id"])
    victim_of = dict(
        zip(truth["event_id"].to_pylist(), truth["victim_id"].to_pylist(), strict=True)
    )
    paid: dict[str, list[dict[str, Any]]] = {}
    for p in pq.read_table(root / "truth" / "payments.parquet").to_pylist():
        if p["event_id"] not in removed:
            paid.setdefault(p["victim_id"], []).append(p)
    out = []
    for r in events.to_pylist():
        if r["event_id"] in removed:
            continue
        payments = [
            {"account": p["payee_account"], "amount_fen": p["amount_fen"], "paid_at": p["ts"]}
            for p in paid.get(victim_of.get(r["event_id"], ""), [])
            if p["ts"] <= r["ts"] and p["amount_fen"] > 0
        ]
        out.append(
            parse_report(
                {
                    "report_id": r["event_id"],
                    "unit": r["org_unit"] or "unknown",
                    "received_at": r["ts"],
                    "taken_by": "desk",
                    "fraud_type": r["fraud_type"] or "other",
                    "narrative": r["narrative"] or "",
                    "loss_fen": r["loss_fen"] or 0,
                    "payments": payments,
                    "suspect_phones": r["suspect_phones"] or [],
                    "suspect_urls": r["suspect_urls"] or [],
                    "victim_phone": r["reporter_phone"],
                }
            )
        )
    return out


def sim_transfers(root: Path, removed: Collection[str] = ()) -> pa.Table:
    """Every transfer of a simulator output directory, in time order (for the ledger),
    but those in ``removed`` (transfers that did not happen after all)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from fanzha.tracing import COLUMNS

    files = sorted((root / "events" / "transfer").glob("*.parquet"))
    columns = list(dict.fromkeys([*COLUMNS, "event_id"]))
    table = pa.concat_tables([pq.read_table(f, columns=columns) for f in files])
    if removed:
        gone = pc.is_in(table["event_id"], value_set=pa.array(list(removed), pa.string()))
        table = table.filter(pc.invert(gone))
    table = table.select(list(COLUMNS))
    order = pc.sort_indices(table, sort_keys=[("ts", "ascending"), ("event_id", "ascending")])
    return table.take(order)


def _answers_until(funds: Funds, clock: Any, until: dt.datetime) -> None:
    """Apply the bank's answers one moment at a time, so each lands at its own time."""
    while funds.bank is not None:
        ready = funds.bank.answers(until)
        if not ready:
            return
        for order_id, answer in ready:
            clock.set(max(answer.at, clock.now()))
            funds.answer(order_id, answer)


def _memory() -> FundsRepo:
    from fanzha.funds.repo import MemoryFundsRepo

    return MemoryFundsRepo()


def _clock(start: dt.datetime) -> Any:
    from fanzha.model.clock import ManualClock

    return ManualClock(start)


__all__ = ["Funds", "FundsConfig", "Intake", "OutOfScope", "ReplayTiming", "UnknownError", "replay"]
