"""Cases and their stop-payment (止付) and freeze (冻结) orders: a state machine per order.

::

    draft ──send──► sent ──bank answers──► executed | partially executed | failed
                                               │
                          expire (the legal duration ran out) ──► expired
                          release (appeal, return, officer)   ──► released

An order is one account of one case, of one kind: its id is derived from ``(case, account,
kind)``, so asking twice finds the same order. A bank's answer carries its own id: the same
answer twice changes nothing, and an answer to an order that is not waiting for one (already
answered, expired, released, never sent) is kept in the history as *ignored* and changes
nothing else — a bank's duplicate or late answer never corrupts state. Every step is kept in
the order's history (who, when, why); refusals raise :class:`OrderRefused` and change nothing.

A stop-payment lasts :attr:`OrderPolicy.stop_payment_s` (48 hours) from its execution unless
it is converted to a freeze, which lasts :attr:`OrderPolicy.freeze_s`.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fanzha.funds.report import Report

STOP_PAYMENT_S: Final = 48 * 3600
FREEZE_S: Final = 180 * 86400


class OrderKind(enum.StrEnum):
    """Stop-payment (a short hold) or freeze (a judicial hold)."""

    STOP_PAYMENT = "stop_payment"
    FREEZE = "freeze"

    def label(self, lang: str = "zh-CN") -> str:
        """止付 / 冻结, or the English."""
        zh, en = _KIND_LABELS[self]
        return en if lang.startswith("en") else zh


_KIND_LABELS: Final = {
    OrderKind.STOP_PAYMENT: ("止付", "stop-payment"),
    OrderKind.FREEZE: ("冻结", "freeze"),
}


class OrderState(enum.StrEnum):
    """Where an order stands."""

    DRAFT = "draft"
    SENT = "sent"
    EXECUTED = "executed"
    PARTIAL = "partially_executed"
    FAILED = "failed"
    EXPIRED = "expired"
    RELEASED = "released"

    def label(self, lang: str = "zh-CN") -> str:
        """The state's label."""
        zh, en = _STATE_LABELS[self]
        return en if lang.startswith("en") else zh

    @property
    def holding(self) -> bool:
        """Whether the bank holds money under the order now."""
        return self in (OrderState.EXECUTED, OrderState.PARTIAL)


_STATE_LABELS: Final = {
    OrderState.DRAFT: ("待发送", "draft"),
    OrderState.SENT: ("已发送", "sent"),
    OrderState.EXECUTED: ("已执行", "executed"),
    OrderState.PARTIAL: ("部分执行", "partially executed"),
    OrderState.FAILED: ("执行失败", "failed"),
    OrderState.EXPIRED: ("已到期", "expired"),
    OrderState.RELEASED: ("已解除", "released"),
}

#: the states an order may move to from each state
TRANSITIONS: Final[dict[OrderState, frozenset[OrderState]]] = {
    OrderState.DRAFT: frozenset({OrderState.SENT, OrderState.RELEASED}),
    OrderState.SENT: frozenset(
        {OrderState.EXECUTED, OrderState.PARTIAL, OrderState.FAILED, OrderState.RELEASED}
    ),
    OrderState.EXECUTED: frozenset({OrderState.EXPIRED, OrderState.RELEASED}),
    OrderState.PARTIAL: frozenset({OrderState.EXPIRED, OrderState.RELEASED}),
    OrderState.FAILED: frozenset(),
    OrderState.EXPIRED: frozenset(),
    OrderState.RELEASED: frozenset(),
}


class OrderRefused(ValueError):
    """An action the order's state does not allow (nothing was changed)."""


class OrderPolicy(BaseModel):
    """Legal durations (configuration, not code)."""

    model_config = ConfigDict(frozen=True)

    stop_payment_s: int = Field(default=STOP_PAYMENT_S, gt=0)
    freeze_s: int = Field(default=FREEZE_S, gt=0)

    def duration_s(self, kind: OrderKind) -> int:
        """How long an executed order of ``kind`` holds the money."""
        return self.stop_payment_s if kind is OrderKind.STOP_PAYMENT else self.freeze_s


class BankAnswer(BaseModel):
    """A bank's answer to an order: how much it actually holds (0: it could hold nothing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    answer_id: str = Field(min_length=1, max_length=128, description="The bank's reference.")
    held_fen: int = Field(ge=0, lt=10**15)
    balance_fen: int | None = Field(default=None, ge=0, lt=10**15)
    at: AwareDatetime
    note: str = Field(default="", max_length=500)


class OrderEvent(BaseModel):
    """One step in an order's history."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    actor: str
    action: str
    state: OrderState
    reason: str = ""
    fen: int = 0


class Order(BaseModel):
    """A stop-payment or freeze on one account for one case."""

    order_id: str
    case_id: str
    unit: str
    account: str
    bank: str | None
    kind: OrderKind
    amount_fen: int = Field(gt=0, description="How much to hold.")
    held_fen: int = Field(default=0, ge=0, description="What the bank holds under the order.")
    released_fen: int = 0
    returned_fen: int = 0
    state: OrderState = OrderState.DRAFT
    hop: int = Field(default=0, description="0: the victim paid this account; n: n hops on.")
    requested_by: str
    reason: str = ""
    created_at: AwareDatetime
    sent_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    converted_to: str | None = None
    answers: list[str] = Field(default_factory=list)
    history: list[OrderEvent] = Field(default_factory=list)
    version: int = 0

    @classmethod
    def draft(
        cls,
        case_id: str,
        unit: str,
        account: str,
        bank: str | None,
        kind: OrderKind,
        amount_fen: int,
        actor: str,
        at: dt.datetime,
        reason: str = "",
        hop: int = 0,
    ) -> Order:
        """A new order (not yet sent)."""
        order = cls(
            order_id=order_id(case_id, account, kind),
            case_id=case_id,
            unit=unit,
            account=account,
            bank=bank,
            kind=kind,
            amount_fen=amount_fen,
            hop=hop,
            requested_by=actor,
            reason=reason,
            created_at=at,
        )
        order._log(at, actor, "draft", reason, amount_fen)
        return order

    # ------------------------------------------------------------------ officers' steps

    def send(self, actor: str, at: dt.datetime) -> None:
        """Send to the bank."""
        self._move(OrderState.SENT, at, actor, "send")
        self.sent_at = at

    def release(self, actor: str, at: dt.datetime, reason: str, fen: int | None = None) -> int:
        """Release ``fen`` of what is held (all by default; a draft or unanswered order is
        withdrawn); returns what was released. A reason is required."""
        if len(reason.strip()) < 2:
            raise OrderRefused("a release needs a reason")
        if self.state in (OrderState.DRAFT, OrderState.SENT):
            self._move(OrderState.RELEASED, at, actor, "withdraw", reason)
            return 0
        if not self.state.holding:
            raise OrderRefused(f"order {self.order_id} is {self.state.value}: nothing is held")
        amount = self.held_fen if fen is None else fen
        if not 0 < amount <= self.held_fen:
            raise OrderRefused(f"can release 1 to {self.held_fen} fen, not {amount}")
        self.held_fen -= amount
        self.released_fen += amount
        if self.held_fen == 0:
            self._move(OrderState.RELEASED, at, actor, "release", reason, amount)
        else:
            self._log(at, actor, "release", reason, amount)
        return amount

    def pay_back(self, actor: str, at: dt.datetime, fen: int, reason: str) -> None:
        """Return ``fen`` of the held money to victims (返还); the order ends once nothing
        is held any more."""
        if not self.state.holding:
            raise OrderRefused(f"order {self.order_id} is {self.state.value}: nothing is held")
        if not 0 < fen <= self.held_fen:
            raise OrderRefused(f"can return 1 to {self.held_fen} fen, not {fen}")
        self.held_fen -= fen
        self.returned_fen += fen
        if self.held_fen == 0:
            self._move(OrderState.RELEASED, at, actor, "return", reason, fen)
        else:
            self._log(at, actor, "return", reason, fen)

    def expire(self, at: dt.datetime) -> bool:
        """Lapse once the legal duration is over (unless converted to a freeze)."""
        due = self.expires_at
        if not self.state.holding or due is None or at < due:
            return False
        self._move(OrderState.EXPIRED, at, "system", "expire", "期限届满")
        return True

    def converted(self, freeze_id: str, actor: str, at: dt.datetime) -> None:
        """A freeze order now holds this stop-payment's money: it no longer lapses itself."""
        if self.kind is not OrderKind.STOP_PAYMENT or not self.state.holding:
            raise OrderRefused(f"order {self.order_id} is not an executed stop-payment")
        self.converted_to = freeze_id
        self._move(OrderState.RELEASED, at, actor, "convert", f"转冻结 {freeze_id}")

    def note(self, actor: str, at: dt.datetime, action: str, reason: str = "") -> None:
        """Add a step to the history that changes nothing else (an appeal, a decision)."""
        self._log(at, actor, action, reason)

    # ------------------------------------------------------------------ the bank's answer

    def answer(self, answer: BankAnswer, at: dt.datetime, policy: OrderPolicy) -> bool:
        """Take a bank's answer; True when it changed the order's state. A duplicate changes
        nothing; a late one (the order is not waiting) is only noted in the history."""
        if answer.answer_id in self.answers:
            return False
        self.answers.append(answer.answer_id)
        when = max(at, self.history[-1].at)
        if self.state is not OrderState.SENT:
            self._log(when, "bank", "ignored", f"late answer {answer.answer_id}", answer.held_fen)
            return False
        held = min(answer.held_fen, self.amount_fen)
        state = (
            OrderState.EXECUTED
            if held >= self.amount_fen
            else OrderState.PARTIAL
            if held > 0
            else OrderState.FAILED
        )
        self.held_fen = held
        self.answered_at = when
        if held > 0:
            self.expires_at = when + dt.timedelta(seconds=policy.duration_s(self.kind))
        self._move(state, when, "bank", "answer", answer.note or answer.answer_id, held)
        return True

    # ------------------------------------------------------------------ internals

    def _move(
        self, state: OrderState, at: dt.datetime, actor: str, action: str, reason: str = "",
        fen: int = 0,
    ) -> None:  # fmt: skip
        if state not in TRANSITIONS[self.state]:
            raise OrderRefused(
                f"order {self.order_id}: cannot {action} when {self.state.value}"
                f" ({self.state.label()})"
            )
        self.state = state
        self._log(at, actor, action, reason, fen)

    def _log(self, at: dt.datetime, actor: str, action: str, reason: str, fen: int = 0) -> None:
        when = max(at, self.history[-1].at) if self.history else at
        self.history.append(OrderEvent(at=when, actor=actor, action=action, state=self.state,
                                       reason=reason, fen=fen))  # fmt: skip


def order_id(case_id: str, account: str, kind: OrderKind) -> str:
    """The id of the order of ``kind`` on ``account`` for ``case_id`` (idempotency key)."""
    digest = hashlib.sha256(f"{case_id}\x1f{account}\x1f{kind.value}".encode()).hexdigest()
    return "O" + digest[:19].upper()


class CaseState(enum.StrEnum):
    """Open while money is being stopped and traced; closed after."""

    OPEN = "open"
    CLOSED = "closed"

    def label(self, lang: str = "zh-CN") -> str:
        """办理中 / 已结案, or the English."""
        zh, en = ("办理中", "open") if self is CaseState.OPEN else ("已结案", "closed")
        return en if lang.startswith("en") else zh


class CaseEvent(BaseModel):
    """One step in a case's history."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    actor: str
    action: str
    reason: str = ""


class Case(BaseModel):
    """A fraud that happened: its report, and the orders that follow (kept apart)."""

    case_id: str
    unit: str
    report: Report
    state: CaseState = CaseState.OPEN
    opened_at: AwareDatetime
    opened_by: str
    escalated: bool = False
    #: accounts proposed by extended stop-payment for one click (account → fen, hop)
    proposals: dict[str, tuple[int, int]] = Field(default_factory=dict)
    #: money given back to the victim (返还)
    returned_fen: int = 0
    history: list[CaseEvent] = Field(default_factory=list)
    version: int = 0

    @classmethod
    def open(cls, case_id: str, report: Report, actor: str, at: dt.datetime) -> Case:
        """A new open case for ``report``."""
        case = cls(
            case_id=case_id,
            unit=report.unit,
            report=report,
            opened_at=at,
            opened_by=actor,
            escalated=report.escalated,
        )
        why = "提级挂牌督办" if report.escalated else ""
        case.history.append(CaseEvent(at=at, actor=actor, action="open", reason=why))
        return case

    def close(self, actor: str, at: dt.datetime, reason: str) -> None:
        """办结."""
        if self.state is CaseState.CLOSED:
            raise OrderRefused(f"case {self.case_id} is already closed")
        self.state = CaseState.CLOSED
        self.history.append(CaseEvent(at=at, actor=actor, action="close", reason=reason))

    def note(self, actor: str, at: dt.datetime, action: str, reason: str = "") -> None:
        """Add a step to the history."""
        self.history.append(CaseEvent(at=at, actor=actor, action=action, reason=reason))


def case_id_for(report_id: str) -> str:
    """The case of a report (one case per report: opening twice finds the same case)."""
    return "C-" + report_id
