"""Dispatch as a service: take the warnings table, issue or update instructions, escalate the
overdue ones on the platform clock, and carry out officers' actions with jurisdiction checked.

Used by the CLI, the API and replay (later); the rules live in :mod:`fanzha.dispatch`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fanzha.dispatch.effects import Decision, FeedbackConfig, decide
from fanzha.dispatch.instruction import (
    SYSTEM,
    Action,
    Breach,
    Evidence,
    Instruction,
    State,
    TransitionError,
    WarningFacts,
)
from fanzha.dispatch.levels import Channel, RiskLevel
from fanzha.dispatch.org import OrgTree, Problem, Role
from fanzha.dispatch.outcome import ContactAttempt, Contacted, parse_outcome
from fanzha.dispatch.repo import InstructionRepo, StaleInstructionError
from fanzha.dispatch.routing import Location, Router
from fanzha.dispatch.scheduler import (
    SCHEDULER,
    Escalation,
    apply_escalation,
    plan_escalations,
)
from fanzha.dispatch.sms import SmsGateway, SmsMessage
from fanzha.lake import Lake
from fanzha.lake.query import connect
from fanzha.model.clock import Clock
from fanzha.model.enums import FRAUD_TYPE_ALIASES
from fanzha.store._sql import chunks
from fanzha.store.tables import WarningRecord

# Saves retried when another writer got there first (each retry re-reads and re-applies).
RETRIES = 3
#: actions that hand an instruction to another unit on purpose (routing then leaves it be)
_HANDOVERS = frozenset({Action.TRANSFER, Action.ESCALATE, Action.VISIT})
_BEFORE_OUTCOME = frozenset({State.ISSUED, State.SIGNED, State.CONTACTING})


@dataclass
class DispatchReport:
    """What one pass over the warnings did."""

    issued: int = 0
    updated: int = 0
    unchanged: int = 0
    shadow: int = 0
    by_unit: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "issued": self.issued,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "shadow": self.shadow,
            "by_unit": dict(sorted(self.by_unit.items())),
            "problems": [str(p) for p in self.problems],
        }


@dataclass
class EscalationReport:
    """What one scheduler tick did."""

    escalated: list[str] = field(default_factory=list)
    overdue_at_top: list[str] = field(default_factory=list)
    conflicts: int = 0


class JurisdictionError(PermissionError):
    """The actor may not act on this instruction (not their unit, nor above it)."""


class UnknownInstructionError(KeyError):
    """No instruction with that id."""


class NoSmsGatewayError(RuntimeError):
    """The dispatcher was built without an SMS gateway (outbox)."""


@dataclass(frozen=True, slots=True)
class Registry:
    """Where residents live (community by identity number and by phone number), and their
    phones (the registry's first is the number to call)."""

    by_id: Mapping[str, str]
    by_phone: Mapping[str, str] = field(default_factory=dict)
    phones_of: Mapping[str, list[str]] = field(default_factory=dict)

    def community(self, id_number: str | None, phone: str | None) -> str | None:
        """The home community of a person, from their ID number, else their phone."""
        if id_number and id_number in self.by_id:
            return self.by_id[id_number]
        return self.by_phone.get(phone) if phone else None

    @classmethod
    def from_table(cls, persons: pa.Table) -> Registry:
        """From the registry's persons table (id_number, phones, community)."""
        by_id: dict[str, str] = {}
        by_phone: dict[str, str] = {}
        phones_of: dict[str, list[str]] = {}
        for row in persons.select(["id_number", "phones", "community"]).to_pylist():
            if row["phones"]:
                phones_of[row["id_number"]] = list(row["phones"])
            if row["community"]:
                by_id[row["id_number"]] = row["community"]
                for phone in row["phones"] or ():
                    by_phone.setdefault(phone, row["community"])
        return cls(by_id, by_phone, phones_of)

    def phone_to_call(self, id_number: str | None) -> str | None:
        """The number to call for a resident (the registry's first)."""
        phones = self.phones_of.get(id_number or "")
        return phones[0] if phones else None


class Dispatcher:
    """Issues and updates instructions, escalates overdue ones, applies officers' actions."""

    #: Whether officers' actions check the actor against the org tree's users. The API's
    #: instruction service turns it off: its callers are logins (the security tables), whose
    #: jurisdiction it checks itself before calling (``Scope.sees_instruction``).
    check_org_users = True

    def __init__(
        self,
        repo: InstructionRepo,
        router: Router,
        clock: Clock,
        feedback: FeedbackConfig | None = None,
        sms: SmsGateway | None = None,
    ) -> None:
        self.repo = repo
        self.router = router
        self.tree: OrgTree = router.tree
        self._city_units = frozenset(u.code for u in self.tree.roots())  # see everything
        self.clock = clock
        self.feedback = feedback or FeedbackConfig()
        # With a gateway, an instruction whose only channel is SMS (低危 by default) is
        # texted and closed by the platform itself as soon as it is issued.
        self.sms = sms

    # ------------------------------------------------------------------ warnings in

    def dispatch_warnings(
        self,
        warnings: pa.Table,
        registry: Registry,
        evidence: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        locations: Mapping[str, Location] | None = None,
    ) -> DispatchReport:
        """Issue an instruction for every live warning without one; update the others.

        ``evidence`` maps warning ids to their signals, ``locations`` phones to where their
        latest call was handled. Replaying the same table changes nothing."""
        return self.dispatch_rows(warnings.to_pylist(), registry, evidence, locations)

    def dispatch_rows(
        self,
        rows: Iterable[Mapping[str, Any]],
        registry: Registry,
        evidence: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        locations: Mapping[str, Location] | None = None,
    ) -> DispatchReport:
        """:meth:`dispatch_warnings` over warnings-table rows as dicts (a replay dispatches
        each change as it happens, one row at a time)."""
        report = DispatchReport()
        for index, row in enumerate(rows, start=1):
            if row.get("shadow"):
                report.shadow += 1
                continue
            facts = _facts(row, (evidence or {}).get(row["warning_id"], ()))
            if isinstance(facts, Problem):
                report.problems.append(Problem(f"warning row {index}", facts.field, facts.reason))
                continue
            where = (locations or {}).get(row.get("phone") or "")
            outcome = self._one(facts, registry.community(facts.id_number, facts.phone), where)
            if outcome != "unchanged":
                self._auto_sms(facts.warning_id)
            if outcome == "issued":
                report.issued += 1
            else:
                setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome != "unchanged":
                unit = self._unit_of(facts.warning_id)
                report.by_unit[unit] = report.by_unit.get(unit, 0) + 1
        return report

    def _one(self, facts: WarningFacts, community: str | None, where: Location | None) -> str:
        now = self.clock.now()
        existing = self.repo.by_warning(facts.warning_id)
        if existing is None:
            route = self.router.route(facts.level, community, where)
            policy = self.tree.policy(route.unit, facts.level)
            _, created = self.repo.create(Instruction.issue(facts, route, policy, now))
            if created:
                return "issued"
        route = self.router.route(facts.level, community, where)

        def update(ins: Instruction) -> bool:
            policy = self.tree.policy(ins.unit, facts.level)
            if not ins.update_from_warning(facts, policy, max(now, ins.updated_at)):
                return False
            self._follow_level(ins, route.unit, now)  # in the same save: nobody sees half
            return True

        changed = self._retrying(facts.warning_id, update, by_warning=True)
        return "updated" if changed else "unchanged"

    def _follow_level(self, ins: Instruction, unit: str, now: dt.datetime) -> None:
        """An upgraded warning whose new level another tier handles (低危's automated SMS is
        the city's, 特危's call the station's) goes to that tier's ``unit`` — unless a person
        or the scheduler has already handed the instruction on."""
        handed = any(h.action in _HANDOVERS for h in ins.history)
        if handed or ins.unit == unit or ins.state not in _BEFORE_OUTCOME:
            return
        policy = self.tree.policy(unit, ins.level)
        reason = "预警升级,按新等级改派 / re-routed for the new level"
        ins.transfer(SYSTEM, unit, policy, max(now, ins.updated_at), reason)

    def _unit_of(self, warning_id: str) -> str:
        ins = self.repo.by_warning(warning_id)
        return "" if ins is None else ins.unit

    # ------------------------------------------------------------------ scheduler

    def escalate_overdue(self) -> EscalationReport:
        """One scheduler tick: escalate every instruction past its deadline at clock time."""
        now = self.clock.now()
        report = EscalationReport()
        for step in plan_escalations(self.repo.due(now), self.tree, now):
            if step.to_unit is None:
                report.overdue_at_top.append(step.instruction_id)
                continue
            escalate = partial(_escalate_if_still_due, step=step, tree=self.tree, now=now)
            try:
                done = self._retrying(step.instruction_id, escalate)
            except TransitionError:
                done = False
            if done:
                report.escalated.append(step.instruction_id)
            else:
                report.conflicts += 1
        return report

    # ------------------------------------------------------------------ officers' actions

    def sign(self, instruction_id: str, actor: str) -> Instruction:
        """签收."""
        return self._act(instruction_id, actor, lambda ins, at: ins.sign(actor, at))

    def assign(self, instruction_id: str, actor: str, assignee: str) -> Instruction:
        """Give the instruction to an officer of its unit."""
        user = self.tree.user(assignee)
        if user is None:
            raise JurisdictionError(f"unknown user {assignee!r}")
        return self._act(
            instruction_id,
            actor,
            lambda ins, at: _assign_within(self.tree, ins, actor, assignee, at),
        )

    def record_attempt(
        self, instruction_id: str, actor: str, attempt: ContactAttempt
    ) -> Instruction:
        """A call, SMS or visit."""
        return self._act(
            instruction_id, actor, lambda ins, at: ins.record_attempt(actor, attempt, at)
        )

    def record_outcome(
        self, instruction_id: str, actor: str, data: Mapping[str, Any]
    ) -> tuple[Instruction, list[Decision]]:
        """Record the outcome (validated: OutcomeError lists the problems) and return the
        decisions it sets in motion (a case request, indicator feedback)."""
        outcome = parse_outcome(data)
        ins = self._act(instruction_id, actor, lambda i, at: i.record_outcome(actor, outcome, at))
        return ins, decide(ins, actor, ins.updated_at, self.feedback)

    def close(self, instruction_id: str, actor: str) -> Instruction:
        """办结."""
        return self._act(instruction_id, actor, lambda ins, at: ins.close(actor, at))

    def escalate(self, instruction_id: str, actor: str, reason: str = "") -> Instruction:
        """Send the instruction up one tier now (a dispatcher's call, before the scheduler's)."""

        def up(ins: Instruction, at: dt.datetime) -> None:
            target = self.tree.escalation_target(ins.unit) if ins.unit in self.tree else None
            if target is None:
                raise TransitionError(
                    Action.ESCALATE, ins.state, "there is no unit above", "已是最高一级"
                )
            breach = ins.breach(at) or _owed(ins.state)
            ins.escalate(actor, target.code, self.tree.policy(target.code, ins.level), at, breach)
            if reason:
                ins.history[-1].detail["reason"] = reason

        return self._act(instruction_id, actor, up)

    def transfer(self, instruction_id: str, actor: str, unit: str, reason: str = "") -> Instruction:
        """转办 to another unit of the tree."""
        self.tree.unit(unit)  # KeyError naming an unknown unit
        return self._act(
            instruction_id,
            actor,
            lambda ins, at: ins.transfer(
                actor, unit, self.tree.policy(unit, ins.level), at, reason
            ),
        )

    def dispatch_visit(
        self, instruction_id: str, actor: str, unit: str | None = None, reason: str = ""
    ) -> Instruction:
        """派警上门: to ``unit``, or the station of the person's home (else the current one)."""
        return self._act(
            instruction_id,
            actor,
            lambda ins, at: ins.dispatch_visit(
                actor, unit or self._visit_unit(ins), self.tree.visit_policy, at, reason
            ),
        )

    # ------------------------------------------------------------------ warning SMS

    def send_sms(self, instruction_id: str, actor: str) -> tuple[Instruction, SmsMessage]:
        """Send the 12381-style warning SMS for the instruction's level and fraud type to
        the person's phone through the gateway, and record it as an SMS contact attempt."""
        if self.sms is None:
            raise NoSmsGatewayError("no SMS gateway is configured")
        ins = self.repo.get(instruction_id)
        if ins is None:
            raise UnknownInstructionError(instruction_id)
        self._check_jurisdiction(actor, ins)
        if not ins.phone:
            raise TransitionError(
                Action.CONTACT, ins.state, "the person has no known phone", "无手机号码"
            )
        at = max(self.clock.now(), ins.updated_at)
        sent = sum(1 for a in ins.attempts if a.attempt.channel is Channel.SMS)
        message = self.sms.send(
            SmsMessage.compose(instruction_id, ins.phone, ins.level, ins.fraud_type, at, sent)
        )
        attempt = ContactAttempt(
            channel=Channel.SMS, reached=True, note=f"{message.template} {message.message_id}"
        )
        return self.record_attempt(instruction_id, actor, attempt), message

    def _auto_sms(self, warning_id: str) -> None:
        """Text and close an SMS-only instruction that is waiting to be signed (低危)."""
        ins = self.repo.by_warning(warning_id)
        if (
            self.sms is None
            or ins is None
            or ins.state is not State.ISSUED
            or set(ins.channels) != {Channel.SMS}
            or not ins.phone
        ):
            return
        iid = ins.instruction_id
        self.sign(iid, SYSTEM)
        _, message = self.send_sms(iid, SYSTEM)
        self.record_outcome(
            iid,
            SYSTEM,
            {
                "reached": True,
                "contacted": Contacted.PERSON,
                "sms_template": message.template,
                "note": "自动发送预警短信 / warning SMS sent automatically",
            },
        )
        self.close(iid, SYSTEM)

    def _visit_unit(self, ins: Instruction) -> str:
        for code in (*ins.copy_to, ins.unit):
            if code in self.tree and self.tree.unit(code).level.value == "station":
                return code
        return ins.unit

    # ------------------------------------------------------------------ internals

    def _act(
        self,
        instruction_id: str,
        actor: str,
        action: Callable[[Instruction, dt.datetime], None],
    ) -> Instruction:
        """Apply an officer's action with jurisdiction checked, retrying lost races."""
        for _ in range(RETRIES):
            ins = self.repo.get(instruction_id)
            if ins is None:
                raise UnknownInstructionError(instruction_id)
            self._check_jurisdiction(actor, ins)
            action(ins, max(self.clock.now(), ins.updated_at))
            try:
                return self.repo.save(ins)
            except StaleInstructionError:
                continue
        raise StaleInstructionError(instruction_id, -1, None)

    def _retrying(
        self, key: str, change: Callable[[Instruction], bool], *, by_warning: bool = False
    ) -> bool:
        """Apply ``change`` to the stored instruction and save it if it changed anything."""
        for _ in range(RETRIES):
            ins = self.repo.by_warning(key) if by_warning else self.repo.get(key)
            if ins is None or not change(ins):
                return False
            try:
                self.repo.save(ins)
                return True
            except StaleInstructionError:
                continue
        return False

    def _check_jurisdiction(self, actor: str, ins: Instruction) -> None:
        if actor in (SYSTEM, SCHEDULER) or not self.check_org_users:
            return
        user = self.tree.user(actor)
        if user is None:
            raise JurisdictionError(f"unknown user {actor!r}")
        if Role.ADMIN in user.roles or user.unit in self._city_units:
            return
        if ins.unit not in self.tree or not self.tree.is_within(ins.unit, user.unit):
            raise JurisdictionError(
                f"{actor!r} ({user.unit}) has no jurisdiction over instruction "
                f"{ins.instruction_id} at unit {ins.unit}"
            )


def _escalate_if_still_due(
    ins: Instruction, step: Escalation, tree: OrgTree, now: dt.datetime
) -> bool:
    """The plan was made from a read that may be stale: escalate only if still overdue there."""
    if ins.unit != step.from_unit or ins.breach(now) is None:
        return False
    return apply_escalation(ins, step, tree, now)


def _owed(state: State) -> Breach:
    """The deadline the state works towards (a manual escalation names it)."""
    if state is State.ISSUED:
        return Breach.SIGN
    return Breach.CONTACT if state is State.SIGNED else Breach.OUTCOME


def _assign_within(
    tree: OrgTree, ins: Instruction, actor: str, assignee: str, at: dt.datetime
) -> None:
    user = tree.user(assignee)
    if user is None or ins.unit not in tree or not tree.is_within(user.unit, ins.unit):
        raise JurisdictionError(f"{assignee!r} does not work at unit {ins.unit} or below it")
    ins.assign(actor, assignee, at)


def _facts(row: Mapping[str, Any], signals: Iterable[Mapping[str, Any]]) -> WarningFacts | Problem:
    """A warnings-table row as the facts an instruction needs (or why it cannot be used)."""
    try:
        level = RiskLevel(int(row["level"]))
    except (TypeError, ValueError):
        return Problem("", "level", f"{row.get('level')!r} is not a level 1–4")
    if not row.get("warning_id") or not row.get("subject"):
        return Problem("", "warning_id" if not row.get("warning_id") else "subject", "is empty")
    fraud = FRAUD_TYPE_ALIASES.get(row.get("fraud_type") or "")
    return WarningFacts(
        warning_id=row["warning_id"],
        subject=row["subject"],
        level=level,
        id_number=row.get("id_number"),
        phone=row.get("phone"),
        score=float(row.get("score") or 0.0),
        fraud_type=fraud,
        evidence=tuple(Evidence.model_validate(s) for s in signals if s.get("rule")),
    )


# ---------------------------------------------------------------------- reading the store


def warning_evidence(
    sessions: sessionmaker[Session], warning_ids: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """The signals of stored warnings, by warning id."""
    ids = list(dict.fromkeys(warning_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    with sessions() as session:
        for group in chunks(ids):
            query = select(WarningRecord.warning_id, WarningRecord.signals).where(
                WarningRecord.warning_id.in_(list(group))
            )
            for warning_id, signals in session.execute(query):
                out[warning_id] = list(signals or [])
    return out


def call_locations(
    lake: Lake, phones: Iterable[str], since: dt.datetime | None = None
) -> dict[str, Location]:
    """Where each phone's latest call (since ``since``) was handled (city, county of the CDR)."""
    wanted = pa.table({"phone": pa.array(sorted(set(phones)), pa.string())})
    if not wanted.num_rows or not lake.files("call"):
        return {}
    con = connect(lake)
    try:
        con.register("wanted", wanted)
        rows = con.sql(
            """
            SELECT phone, city, county, ts FROM (
                SELECT w.phone, c.city, c.county, c.ts,
                       row_number() OVER (PARTITION BY w.phone ORDER BY c.ts DESC) AS k
                FROM call c JOIN wanted w ON w.phone = c.caller OR w.phone = c.callee
                WHERE c.county IS NOT NULL AND c.ts >= $since
            ) WHERE k = 1
            """,
            params={"since": since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)},
        ).to_arrow_table()  # Arrow, not fetchall(): aware timestamps without pytz
    finally:
        con.close()
    return {
        r["phone"]: Location(city=r["city"], county=r["county"], at=r["ts"])
        for r in rows.to_pylist()
    }
