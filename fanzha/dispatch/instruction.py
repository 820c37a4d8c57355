"""The instruction (预警指令) and its state machine.

```
issued ──sign──▶ signed ──contact──▶ contacting ──outcome──▶ outcome_recorded ──close──▶ closed
  ▲                 │                    │                        │                      │
  └── transfer / escalate (new unit) ────┘                        │                      │
  └── re-dispatch for a home visit (station) ◀────────────────────┘                      │
  └── the warning upgrades after closing: reopened ◀─────────────────────────────────────┘
```

Every action checks its state first and refuses with a :class:`TransitionError` (what, from
which state, why) without touching anything; a successful one appends who, when and what to
the history, so that the history alone retells the instruction. Times come from the caller
(the platform clock, in event time); a warning that upgrades while its instruction is open
updates the instruction (level, tighter SLA, evidence) instead of opening a second one.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fanzha.dispatch.levels import Channel, LevelPolicy, RiskLevel
from fanzha.dispatch.outcome import ContactAttempt, Outcome
from fanzha.dispatch.routing import Route
from fanzha.model.enums import FraudType

SYSTEM = "system"
MAX_UNIT = 32  # characters of a unit code
MAX_NAME = 64  # characters of a username


class State(enum.StrEnum):
    """Where an instruction stands."""

    ISSUED = "issued"
    SIGNED = "signed"
    CONTACTING = "contacting"
    OUTCOME_RECORDED = "outcome_recorded"
    CLOSED = "closed"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _STATE_ZH[self]


_STATE_ZH = {
    State.ISSUED: "已下发",
    State.SIGNED: "已签收",
    State.CONTACTING: "劝阻中",
    State.OUTCOME_RECORDED: "已反馈",
    State.CLOSED: "已办结",
}
OPEN_STATES = frozenset(State) - {State.CLOSED}
# States in which the unit still owes contact; an instruction may change hands only then.
_BEFORE_OUTCOME = frozenset({State.ISSUED, State.SIGNED, State.CONTACTING})


class Action(enum.StrEnum):
    """What was done to an instruction (one history entry each)."""

    ISSUE = "issue"
    SIGN = "sign"
    ASSIGN = "assign"
    CONTACT = "contact"
    OUTCOME = "outcome"
    CLOSE = "close"
    TRANSFER = "transfer"
    ESCALATE = "escalate"
    VISIT = "visit"
    UPDATE = "update"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _ACTION_ZH[self]


_ACTION_ZH = {
    Action.ISSUE: "下发",
    Action.SIGN: "签收",
    Action.ASSIGN: "指派",
    Action.CONTACT: "联系",
    Action.OUTCOME: "反馈结果",
    Action.CLOSE: "办结",
    Action.TRANSFER: "转办",
    Action.ESCALATE: "超时升级",
    Action.VISIT: "派警上门",
    Action.UPDATE: "预警升级",
}


class Breach(enum.StrEnum):
    """Which SLA deadline passed."""

    SIGN = "sign"
    CONTACT = "contact"
    OUTCOME = "outcome"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {Breach.SIGN: "签收超时", Breach.CONTACT: "联系超时", Breach.OUTCOME: "反馈超时"}[
            self
        ]


class TransitionError(ValueError):
    """An action the instruction's state does not allow; nothing was changed."""

    def __init__(self, action: Action, state: State, reason: str, reason_zh: str) -> None:
        self.action = action
        self.state = state
        self.reason = reason
        self.reason_zh = reason_zh
        super().__init__(f"cannot {action.value} an instruction that is {state.value}: {reason}")


Detail = Mapping[str, str | int | float | bool | None]


class HistoryEntry(BaseModel):
    """One action: when, who, what, the state before and after, at which unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    actor: str
    action: Action
    state_from: State | None
    state_to: State
    unit: str
    detail: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class Evidence(BaseModel):
    """One signal behind the warning (see ``fanzha.detect.scoring.signal_json``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    rule: str
    event_id: str = ""
    at: int = 0  # epoch seconds
    value: str = ""
    indicator: str = ""  # "verdict · source" of the matched indicator; empty when none
    fraud_type: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity within a warning: the same rule hit by the same event."""
        return (self.rule, self.event_id, self.value)


class Attempt(BaseModel):
    """A contact attempt as recorded: the attempt, when, by whom."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    actor: str
    attempt: ContactAttempt


class Deadlines(BaseModel):
    """When signing, first contact and the outcome are due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sign_by: AwareDatetime
    contact_by: AwareDatetime
    outcome_by: AwareDatetime

    @classmethod
    def start(cls, policy: LevelPolicy, at: dt.datetime) -> Deadlines:
        """Deadlines of ``policy`` counted from ``at``."""
        return cls(
            sign_by=at + policy.sign_within,
            contact_by=at + policy.contact_within,
            outcome_by=at + policy.outcome_within,
        )

    def tightest(self, other: Deadlines) -> Deadlines:
        """The earlier of each deadline."""
        return Deadlines(
            sign_by=min(self.sign_by, other.sign_by),
            contact_by=min(self.contact_by, other.contact_by),
            outcome_by=min(self.outcome_by, other.outcome_by),
        )


@dataclass(frozen=True, slots=True)
class WarningFacts:
    """What an instruction needs from a warning (a row of the warnings table)."""

    warning_id: str
    subject: str
    level: RiskLevel
    id_number: str | None = None
    phone: str | None = None
    score: float = 0.0
    fraud_type: FraudType | None = None
    evidence: Sequence[Evidence] = field(default_factory=tuple)


def instruction_id(warning_id: str) -> str:
    """The instruction's id, derived from its warning's (so replays find the same one)."""
    return "I" + hashlib.blake2b(warning_id.encode(), digest_size=8).hexdigest()


class Instruction(BaseModel):
    """A warning sent to a unit for action, with its SLA deadlines and full history."""

    model_config = ConfigDict(extra="forbid")

    instruction_id: str
    warning_id: str
    subject: str
    id_number: str | None = None
    phone: str | None = None
    level: RiskLevel
    score: float = 0.0
    fraud_type: FraudType | None = None
    unit: str
    copy_to: tuple[str, ...] = ()
    route_reason: str = ""
    assignee: str | None = None
    channels: tuple[Channel, ...]
    sms_template: str | None = None
    state: State
    created_at: AwareDatetime
    updated_at: AwareDatetime
    signed_at: AwareDatetime | None = None
    first_contact_at: AwareDatetime | None = None
    outcome_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    deadlines: Deadlines
    escalations: int = 0
    home_visit: bool = False
    evidence: list[Evidence] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list)
    outcome: Outcome | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    version: int = Field(default=0, description="Bumped by the repository on every save.")

    # ------------------------------------------------------------------ creation

    @classmethod
    def issue(
        cls,
        warning: WarningFacts,
        route: Route,
        policy: LevelPolicy,
        at: dt.datetime,
        actor: str = SYSTEM,
    ) -> Instruction:
        """A new instruction for ``warning``, issued to the routed unit under ``policy``."""
        made = cls(
            instruction_id=instruction_id(warning.warning_id),
            warning_id=warning.warning_id,
            subject=warning.subject,
            id_number=warning.id_number,
            phone=warning.phone,
            level=warning.level,
            score=warning.score,
            fraud_type=warning.fraud_type,
            unit=route.unit,
            copy_to=route.copy_to,
            route_reason=route.reason.value,
            channels=policy.channels,
            sms_template=policy.sms_template,
            state=State.ISSUED,
            created_at=at,
            updated_at=at,
            deadlines=Deadlines.start(policy, at),
            evidence=_merge_evidence([], warning.evidence),
        )
        made._log(
            at,
            actor,
            Action.ISSUE,
            None,
            {
                "level": int(warning.level),
                "route": route.reason.value,
                "contact_by": made.deadlines.contact_by.isoformat(),
            },
        )
        return made

    # ------------------------------------------------------------------ reading

    @property
    def is_open(self) -> bool:
        """Not closed."""
        return self.state is not State.CLOSED

    def next_due(self) -> dt.datetime | None:
        """The deadline the current state is working towards (None when nothing is owed)."""
        if self.state is State.ISSUED:
            return min(self.deadlines.sign_by, self.deadlines.contact_by)
        if self.state is State.SIGNED:
            return self.deadlines.contact_by
        if self.state is State.CONTACTING:
            return self.deadlines.outcome_by
        return None

    def breach(self, now: dt.datetime) -> Breach | None:
        """The deadline passed at ``now`` for the current state, if any (the earliest)."""
        d = self.deadlines
        owed = {
            State.ISSUED: [(d.sign_by, Breach.SIGN), (d.contact_by, Breach.CONTACT)],
            State.SIGNED: [(d.contact_by, Breach.CONTACT)],
            State.CONTACTING: [(d.outcome_by, Breach.OUTCOME)],
        }.get(self.state, [])
        passed = sorted((due, breach) for due, breach in owed if now > due)
        return passed[0][1] if passed else None

    # ------------------------------------------------------------------ actions

    def sign(self, actor: str, at: dt.datetime) -> None:
        """签收: the unit takes the instruction."""
        self._require(
            Action.SIGN,
            {State.ISSUED},
            "only an issued instruction is signed",
            "只有已下发的指令可以签收",
        )
        self._check_time(Action.SIGN, at)
        self.signed_at = at
        self._move(at, actor, Action.SIGN, State.SIGNED)

    def assign(self, actor: str, assignee: str, at: dt.datetime) -> None:
        """Give the instruction to an officer of the unit (reassign)."""
        self._require(
            Action.ASSIGN,
            OPEN_STATES,
            "a closed instruction is not reassigned",
            "已办结的指令不能指派",
        )
        if not 0 < len(assignee) <= MAX_NAME:
            self._refuse(
                Action.ASSIGN, f"an assignee has 1 to {MAX_NAME} characters", "指派对象无效"
            )
        if assignee == self.assignee:
            self._refuse(Action.ASSIGN, f"already assigned to {assignee!r}", f"已指派给{assignee}")
        self._check_time(Action.ASSIGN, at)
        previous = self.assignee
        self.assignee = assignee
        self._move(
            at, actor, Action.ASSIGN, self.state, {"assignee": assignee, "previous": previous}
        )

    def record_attempt(self, actor: str, attempt: ContactAttempt, at: dt.datetime) -> None:
        """A call, SMS or visit, reached or not; the first one meets the contact deadline."""
        allowed = {State.SIGNED, State.CONTACTING}
        self._require(
            Action.CONTACT,
            allowed,
            "sign (签收) it first" if self.state is State.ISSUED else "contact is over",
            "须先签收" if self.state is State.ISSUED else "联系阶段已结束",
        )
        self._check_time(Action.CONTACT, at)
        self.attempts.append(Attempt(at=at, actor=actor, attempt=attempt))
        if self.first_contact_at is None:
            self.first_contact_at = at
        detail = {"channel": attempt.channel.value, "reached": attempt.reached}
        if attempt.reason is not None:
            detail["reason"] = attempt.reason.value
        self._move(at, actor, Action.CONTACT, State.CONTACTING, detail)

    def record_outcome(self, actor: str, outcome: Outcome, at: dt.datetime) -> None:
        """The result of dissuasion (after at least one contact attempt)."""
        why = (
            "record a contact attempt first"
            if self.state in (State.ISSUED, State.SIGNED)
            else "the outcome is already recorded"
        )
        why_zh = "须先记录联系情况" if self.state in (State.ISSUED, State.SIGNED) else "结果已反馈"
        self._require(Action.OUTCOME, {State.CONTACTING}, why, why_zh)
        self._check_time(Action.OUTCOME, at)
        self.outcome = outcome
        self.outcome_at = at
        detail = {
            "reached": outcome.reached,
            "judgement": outcome.judgement.value,
            "defrauded": outcome.defrauded,
            "dissuaded": outcome.dissuaded,
        }
        self._move(at, actor, Action.OUTCOME, State.OUTCOME_RECORDED, detail)

    def close(self, actor: str, at: dt.datetime) -> None:
        """办结: the work is done (only once an outcome is recorded)."""
        self._require(
            Action.CLOSE,
            {State.OUTCOME_RECORDED},
            "record the outcome first" if self.state is not State.CLOSED else "already closed",
            "须先反馈结果" if self.state is not State.CLOSED else "已办结",
        )
        self._check_time(Action.CLOSE, at)
        self.closed_at = at
        self._move(at, actor, Action.CLOSE, State.CLOSED)

    def transfer(
        self, actor: str, unit: str, policy: LevelPolicy, at: dt.datetime, reason: str = ""
    ) -> None:
        """转办: hand the instruction to another unit, which must sign it again."""
        self._handover(Action.TRANSFER, actor, unit, policy, at, {"reason": reason})

    def escalate(
        self, actor: str, unit: str, policy: LevelPolicy, at: dt.datetime, breach: Breach
    ) -> None:
        """Send an overdue instruction up (station → district → city)."""
        self._handover(Action.ESCALATE, actor, unit, policy, at, {"breach": breach.value})
        self.escalations += 1

    def dispatch_visit(
        self, actor: str, unit: str, policy: LevelPolicy, at: dt.datetime, reason: str = ""
    ) -> None:
        """派警上门: re-dispatch to a station for a home visit (phone failed or not enough)."""
        allowed = {State.SIGNED, State.CONTACTING, State.OUTCOME_RECORDED}
        self._require(
            Action.VISIT,
            allowed,
            "sign (签收) it first" if self.state is State.ISSUED else "it is closed",
            "须先签收" if self.state is State.ISSUED else "已办结",
        )
        self._check_unit(Action.VISIT, unit)
        self._check_time(Action.VISIT, at)
        detail: dict[str, Any] = {"from_unit": self.unit, "reason": reason}
        if self.outcome is not None:
            detail["previous_outcome"] = self.outcome.judgement.value
        self.outcome, self.outcome_at, self.signed_at, self.assignee = None, None, None, None
        self.unit = unit
        self.channels = policy.channels
        self.home_visit = True
        self.deadlines = Deadlines.start(policy, at)
        detail.update(to_unit=unit, contact_by=self.deadlines.contact_by.isoformat())
        self._move(at, actor, Action.VISIT, State.ISSUED, detail)

    def update_from_warning(
        self, warning: WarningFacts, policy: LevelPolicy, at: dt.datetime, actor: str = SYSTEM
    ) -> bool:
        """The warning changed: take a higher level (tighter SLA, more channels) and new
        evidence. A closed instruction whose warning rises above its level is reopened.
        Returns whether anything changed."""
        if warning.warning_id != self.warning_id:
            self._refuse(
                Action.UPDATE,
                f"warning {warning.warning_id!r} is not this instruction's",
                "预警编号不符",
            )
        self._check_time(Action.UPDATE, at)
        evidence = _merge_evidence(self.evidence, warning.evidence)
        added = len(evidence) - len(self.evidence)
        upgrade = warning.level > self.level
        if not upgrade and not added:
            return False
        detail: dict[str, Any] = {"evidence_added": added}
        state = self.state
        if upgrade:
            detail.update(level_from=int(self.level), level_to=int(warning.level))
            self.level, self.score = warning.level, max(self.score, warning.score)
            self.channels = tuple(dict.fromkeys((*self.channels, *policy.channels)))
            fresh = Deadlines.start(policy, at)
            if self.state is State.CLOSED:
                state, self.deadlines = State.ISSUED, fresh
                self.signed_at = self.outcome = self.outcome_at = self.closed_at = None
                detail["reopened"] = True
            else:
                self.deadlines = self.deadlines.tightest(fresh)
            detail["contact_by"] = self.deadlines.contact_by.isoformat()
        self.evidence = evidence
        self.fraud_type = self.fraud_type or warning.fraud_type
        self._move(at, actor, Action.UPDATE, state, detail)
        return True

    # ------------------------------------------------------------------ internals

    def _handover(
        self,
        action: Action,
        actor: str,
        unit: str,
        policy: LevelPolicy,
        at: dt.datetime,
        detail: dict[str, Any],
    ) -> None:
        self._require(
            action,
            _BEFORE_OUTCOME,
            "the outcome is recorded: close it or dispatch a visit",
            "结果已反馈,应办结或派警上门",
        )
        if unit == self.unit:
            self._refuse(action, f"it is already at unit {unit!r}", f"指令已在单位{unit}")
        self._check_unit(action, unit)
        self._check_time(action, at)
        from_unit = self.unit
        self.unit, self.assignee, self.signed_at = unit, None, None
        self.deadlines = Deadlines.start(policy, at)
        detail = {
            **detail,
            "from_unit": from_unit,
            "to_unit": unit,
            "contact_by": self.deadlines.contact_by.isoformat(),
        }
        self._move(at, actor, action, State.ISSUED, detail)

    def _require(
        self, action: Action, states: Iterable[State], reason: str, reason_zh: str
    ) -> None:
        if self.state not in set(states):
            raise TransitionError(action, self.state, reason, reason_zh)

    def _refuse(self, action: Action, reason: str, reason_zh: str) -> None:
        raise TransitionError(action, self.state, reason, reason_zh)

    def _check_unit(self, action: Action, unit: str) -> None:
        if not 0 < len(unit) <= MAX_UNIT:
            self._refuse(action, f"a unit code has 1 to {MAX_UNIT} characters", "单位编码无效")

    def _check_time(self, action: Action, at: dt.datetime) -> None:
        if at.tzinfo is None:
            self._refuse(action, "time must be timezone-aware", "时间须带时区")
        if at < self.updated_at:
            self._refuse(
                action,
                f"{at.isoformat()} is before the last action ({self.updated_at.isoformat()})",
                "时间早于上一次操作",
            )

    def _move(
        self, at: dt.datetime, actor: str, action: Action, to: State, detail: Detail | None = None
    ) -> None:
        entry = HistoryEntry(
            at=at,
            actor=actor,
            action=action,
            state_from=self.state,
            state_to=to,
            unit=self.unit,
            detail=dict(detail or {}),
        )
        self.history.append(entry)
        self.state = to
        self.updated_at = at

    def _log(
        self, at: dt.datetime, actor: str, action: Action, frm: State | None, detail: Detail
    ) -> None:
        self.history.append(
            HistoryEntry(
                at=at,
                actor=actor,
                action=action,
                state_from=frm,
                state_to=self.state,
                unit=self.unit,
                detail=dict(detail),
            )
        )


def _merge_evidence(old: Sequence[Evidence], new: Iterable[Evidence]) -> list[Evidence]:
    """Old evidence, then the new items not already there, in order."""
    seen = {e.key for e in old}
    out = list(old)
    for item in new:
        if item.key not in seen:
            seen.add(item.key)
            out.append(item)
    return out
