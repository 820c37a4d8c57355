"""Instruction events for live screens: issued, upgraded, overdue, closed, updated.

Every save of an instruction appends one history entry; the entry says what happened, so the
event is read from it (:func:`event_of`). :class:`PublishingRepo` wraps any
:class:`~fanzha.dispatch.repo.InstructionRepo` and hands an event to ``publish`` after every
successful create and save — the Dispatcher publishes through its repository without knowing
who listens (the in-process bus of :mod:`fanzha.bus`, later a NATS subject).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from fanzha.dispatch.instruction import Action, Instruction, State
from fanzha.dispatch.levels import RiskLevel
from fanzha.dispatch.repo import InstructionRepo


class EventKind(enum.StrEnum):
    """What happened to an instruction, as a live screen needs it."""

    ISSUED = "issued"  # new at a unit (first issue, transfer, visit re-dispatch)
    UPGRADED = "upgraded"  # the warning's level rose
    OVERDUE = "overdue"  # a deadline passed: escalated up a tier
    CLOSED = "closed"
    UPDATED = "updated"  # signed, contacted, outcome, assigned, more evidence


_KIND_OF_ACTION = {
    Action.ISSUE: EventKind.ISSUED,
    Action.TRANSFER: EventKind.ISSUED,
    Action.VISIT: EventKind.ISSUED,
    Action.ESCALATE: EventKind.OVERDUE,
    Action.CLOSE: EventKind.CLOSED,
}


@dataclass(frozen=True, slots=True)
class InstructionEvent:
    """One change of one instruction, with every unit it concerns."""

    kind: EventKind
    instruction_id: str
    unit: str
    units: frozenset[str]  # the unit, the unit it left, the units it is copied to
    level: RiskLevel
    state: State
    action: str
    at: dt.datetime

    def concerns(self, units: Collection[str] | None) -> bool:
        """Whether a listener over ``units`` (None: the whole city) hears this event."""
        return units is None or not self.units.isdisjoint(units)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (the SSE ``data``)."""
        return {
            "kind": self.kind.value,
            "instruction_id": self.instruction_id,
            "unit": self.unit,
            "level": int(self.level),
            "state": self.state.value,
            "action": self.action,
            "at": self.at.isoformat(),
        }


def event_of(ins: Instruction) -> InstructionEvent | None:
    """The event of the instruction's latest history entry (None without history)."""
    if not ins.history:
        return None
    last = ins.history[-1]
    kind = _KIND_OF_ACTION.get(last.action, EventKind.UPDATED)
    if last.action is Action.UPDATE and "level_to" in last.detail:
        kind = EventKind.UPGRADED
    units = {ins.unit, *ins.copy_to}
    previous = last.detail.get("from_unit")
    if isinstance(previous, str):
        units.add(previous)
    return InstructionEvent(
        kind=kind,
        instruction_id=ins.instruction_id,
        unit=ins.unit,
        units=frozenset(units),
        level=ins.level,
        state=ins.state,
        action=last.action.value,
        at=last.at,
    )


class PublishingRepo:
    """An instruction repository that publishes an event after every create and save."""

    def __init__(self, inner: InstructionRepo, publish: Callable[[InstructionEvent], None]) -> None:
        self.inner = inner
        self._publish = publish

    def __getattr__(self, name: str) -> Any:
        # Reads (get, by_warning, due, find …) go straight to the wrapped repository.
        return getattr(self.inner, name)

    def create(self, instruction: Instruction) -> tuple[Instruction, bool]:
        """Create, and publish ``issued`` when it is new."""
        stored, created = self.inner.create(instruction)
        if created:
            self._emit(stored)
        return stored, created

    def save(self, instruction: Instruction) -> Instruction:
        """Save, and publish what the latest action did."""
        saved = self.inner.save(instruction)
        self._emit(saved)
        return saved

    def _emit(self, ins: Instruction) -> None:
        event = event_of(ins)
        if event is not None:
            self._publish(event)
