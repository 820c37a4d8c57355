"""Instructions for people: list, read and act on them as a logged-in principal.

The service every router and page calls. Jurisdiction is decided here, never in a router:
lists are narrowed to the principal's scope (:meth:`Scope.narrow`), single instructions are
checked with :meth:`Scope.sees_instruction` and answer :class:`OutOfScope` (404) outside it.
Actions then go through the :class:`~fanzha.dispatching.Dispatcher` with the principal's
name as the actor, so the history says who did what.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fanzha.auth import Forbidden, OutOfScope, Permission, Principal, Scope
from fanzha.auth.principal import subtree
from fanzha.dispatch.effects import CaseRequest, Decision, Direction, IndicatorFeedback
from fanzha.dispatch.events import PublishingRepo
from fanzha.dispatch.instruction import SYSTEM, Instruction, State
from fanzha.dispatch.org import OrgTree
from fanzha.dispatch.outcome import ContactAttempt
from fanzha.dispatch.routing import Router
from fanzha.dispatch.scheduler import SCHEDULER
from fanzha.dispatching import Dispatcher
from fanzha.funds.report import ReportError
from fanzha.intel.model import IndicatorKind
from fanzha.model.clock import Clock
from fanzha.stats.kpi import Kpis, kpis
from fanzha.store.instructions import SqlInstructions
from fanzha.store.views import InstructionFilter, find_instructions

if TYPE_CHECKING:
    from fanzha.service import App


#: the warning SMS outbox of the platform (``data_dir/outbox``), tailed by the SMS gateway
SMS_OUTBOX = "sms.jsonl"


class NoOrgTreeError(LookupError):
    """No org units are loaded (``fanzha ingest`` the registry's org units first)."""


def build_dispatcher(fz: App, tree: OrgTree, clock: Clock) -> Dispatcher:
    """The Dispatcher over the SQL instructions, publishing every change on the app's bus."""
    from fanzha.outbox import FileOutbox

    repo = PublishingRepo(SqlInstructions(fz.store.sessions), fz.bus.publish)
    outbox = FileOutbox(fz.settings.data_dir / "outbox" / SMS_OUTBOX)
    dispatcher = Dispatcher(repo, Router(tree, fz.routing), clock, sms=outbox)
    dispatcher.check_org_users = False  # logins: this service checks their jurisdiction
    return dispatcher


@dataclass(frozen=True, slots=True)
class Query:
    """A list request: a unit (and everything below it), levels, states, only overdue."""

    unit: str | None = None
    levels: Collection[int] | None = None
    states: Collection[State] | None = None
    overdue: bool = False
    limit: int = 100
    offset: int = 0


@dataclass
class Page:
    """A page of instructions and how many match in all."""

    items: list[Instruction]
    total: int
    now: dt.datetime


@dataclass
class Detail:
    """One instruction with its warning's explanation and signals."""

    instruction: Instruction
    explanation_zh: str = ""
    explanation_en: str = ""
    signals: list[dict[str, Any]] = field(default_factory=list)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


log = logging.getLogger(__name__)


def apply_decisions(fz: App, decisions: Collection[Decision], actor: str) -> None:
    """Carry out an outcome's decisions: case requests to the funds workflow, feedback to the
    intelligence store (every kind stored under the value; audited with the actor)."""
    for decision in decisions:
        if isinstance(decision, CaseRequest):
            try:
                fz.funds.open_from_request(decision, actor)
            except ReportError as exc:  # the outcome stands; the desk can open the case
                log.warning("no case from instruction %s: %s", decision.instruction_id, exc)
    apply_feedback(fz, [d for d in decisions if isinstance(d, IndicatorFeedback)], actor)


def apply_feedback(fz: App, feedback: Sequence[IndicatorFeedback], actor: str) -> int:
    """Move the confidence of the stored indicators the feedback names, in order; returns
    how many confidences moved (values not in the store are left alone)."""
    if not feedback:
        return 0
    # The feedback names a value, not its kind: adjust whichever kinds are stored for it.
    values = {f.value for f in feedback}
    kinds: dict[str, list[IndicatorKind]] = {}
    for ind in fz.intel.get_many([(kind, v) for v in sorted(values) for kind in IndicatorKind]):
        kinds.setdefault(ind.value, []).append(ind.kind)
    moved = 0
    for item in feedback:
        delta = item.delta if item.direction is Direction.RAISE else -item.delta
        for kind in kinds.get(item.value, ()):
            fz.intel.adjust_confidence(kind, item.value, delta, actor=actor, reason=item.reason)
            moved += 1
    return moved


class InstructionService:
    """Read and act on instructions within a principal's jurisdiction."""

    def __init__(self, fz: App) -> None:
        self.fz = fz

    @property
    def dispatcher(self) -> Dispatcher:
        """The app's dispatcher (404-like error when no org tree is loaded)."""
        return self.fz.dispatcher

    def scope(self, principal: Principal) -> Scope:
        """The principal's jurisdiction over the current tree."""
        return self.fz.security.scope(principal)

    def units_below(self, principal: Principal, unit: str | None) -> frozenset[str] | None:
        """``unit`` and its descendants within the principal's scope (None: no filter)."""
        scope = self.scope(principal)
        if unit is None:
            return scope.narrow(None)
        tree = self.fz.security.tree
        known = tree is None or unit in tree
        scope.check(known and scope.sees_unit(unit), f"unit {unit}")
        below = subtree(tree, unit) if tree is not None and unit in tree else {unit}
        if scope.is_city and tree is not None and tree.get(unit) in tree.roots():
            return None  # the city's own view is everything, known units or not
        return scope.narrow(below)

    # ------------------------------------------------------------------ reading

    def find(self, principal: Principal, query: Query) -> Page:
        """Instructions in the principal's jurisdiction matching ``query``, most urgent first."""
        principal.require(Permission.INSTRUCTIONS_READ)
        now = self.fz.clock.now()
        units = self.units_below(principal, query.unit)
        f = InstructionFilter(
            units=units,
            states=query.states,
            levels=query.levels,
            overdue_at=now if query.overdue else None,
        )
        items, total = find_instructions(
            self.fz.store.sessions, f, limit=query.limit, offset=query.offset
        )
        return Page(items, total, now)

    def get(self, principal: Principal, instruction_id: str) -> Instruction:
        """One instruction in jurisdiction (OutOfScope, like a missing one, otherwise)."""
        principal.require(Permission.INSTRUCTIONS_READ)
        found = self.fz.instructions.get(instruction_id)
        scope = self.scope(principal)
        if found is None or not scope.sees_instruction(found.unit, found.copy_to):
            raise OutOfScope(f"instruction {instruction_id}")
        return found

    def detail(self, principal: Principal, instruction_id: str) -> Detail:
        """The instruction with its warning's explanation and signals."""
        ins = self.get(principal, instruction_id)
        warning = self.fz.warnings.get(ins.warning_id) or {}
        return Detail(
            instruction=ins,
            explanation_zh=str(warning.get("explanation_zh") or ""),
            explanation_en=str(warning.get("explanation_en") or ""),
            signals=list(warning.get("signals") or []),
            now=self.fz.clock.now(),
        )

    # ------------------------------------------------------------------ acting

    def _actor(self, principal: Principal, permission: Permission, instruction_id: str) -> str:
        principal.require(permission)
        self.get(principal, instruction_id)  # in jurisdiction, or 404
        if principal.name in (SYSTEM, SCHEDULER):
            raise Forbidden(f"the name {principal.name!r} is reserved for the platform")
        return principal.name

    def sign(self, principal: Principal, instruction_id: str) -> Instruction:
        """签收."""
        actor = self._actor(principal, Permission.INSTRUCTIONS_ACT, instruction_id)
        return self.dispatcher.sign(instruction_id, actor)

    def record_attempt(
        self, principal: Principal, instruction_id: str, attempt: ContactAttempt
    ) -> Instruction:
        """A call, SMS or visit, reached or not."""
        actor = self._actor(principal, Permission.INSTRUCTIONS_ACT, instruction_id)
        return self.dispatcher.record_attempt(instruction_id, actor, attempt)

    def kpis(
        self,
        principal: Principal,
        unit: str | None,
        since: dt.datetime | None,
        until: dt.datetime | None,
    ) -> Kpis:
        """Dispatch KPIs of the instructions created in ``[since, until)``, per unit and level,
        over ``unit`` and the units below it within the caller's jurisdiction."""
        principal.require(Permission.INSTRUCTIONS_READ)
        below = self.units_below(principal, unit)
        instructions = self.fz.instructions.between(since, until)
        as_of = until or self.fz.clock.now()
        return kpis(instructions, as_of, units=None if below is None else below.__contains__)

    def record_outcome(
        self, principal: Principal, instruction_id: str, data: Mapping[str, Any]
    ) -> tuple[Instruction, list[Decision]]:
        """The structured outcome (OutcomeError lists every problem by field), and what it
        sets in motion: "already defrauded" opens a case for the stop-payment desk; "not
        fraud" lowers and "confirmed" raises the confidence of the warning's indicators."""
        actor = self._actor(principal, Permission.INSTRUCTIONS_ACT, instruction_id)
        ins, decisions = self.dispatcher.record_outcome(instruction_id, actor, data)
        apply_decisions(self.fz, decisions, actor)
        return ins, decisions

    def close(self, principal: Principal, instruction_id: str) -> Instruction:
        """办结."""
        actor = self._actor(principal, Permission.INSTRUCTIONS_ACT, instruction_id)
        return self.dispatcher.close(instruction_id, actor)

    def transfer(
        self, principal: Principal, instruction_id: str, unit: str, reason: str
    ) -> Instruction:
        """转办 to another unit within the principal's jurisdiction."""
        actor = self._actor(principal, Permission.INSTRUCTIONS_DISPATCH, instruction_id)
        scope = self.scope(principal)
        tree = self.fz.security.tree
        if tree is None or unit not in tree or not scope.sees_unit(unit):
            raise UnknownUnitError(unit)
        return self.dispatcher.transfer(instruction_id, actor, unit, reason)

    def escalate(self, principal: Principal, instruction_id: str, reason: str) -> Instruction:
        """Send it up one tier now."""
        actor = self._actor(principal, Permission.INSTRUCTIONS_DISPATCH, instruction_id)
        return self.dispatcher.escalate(instruction_id, actor, reason)


class UnknownUnitError(LookupError):
    """A unit that does not exist or lies outside the caller's jurisdiction."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        super().__init__(f"no unit {unit!r} in your jurisdiction")
