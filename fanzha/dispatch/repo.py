"""Where instructions are kept: the :class:`InstructionRepo` Protocol and an in-memory
implementation (the SQL one is :mod:`fanzha.store.instructions`).

Creation is idempotent by warning: replaying a warning finds the instruction it already has.
Saving is optimistic: an instruction carries the version it was read at, and a save over a
newer version is refused (:class:`StaleInstructionError`), so two officers (or an officer and
the scheduler) never silently overwrite each other.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection
from typing import Protocol

from fanzha.dispatch.instruction import Instruction, State
from fanzha.dispatch.levels import RiskLevel


class StaleInstructionError(RuntimeError):
    """Someone saved the instruction after it was read: read it again and redo the action."""

    def __init__(self, instruction_id: str, read: int, stored: int | None) -> None:
        self.instruction_id = instruction_id
        found = "it does not exist" if stored is None else f"it is at version {stored}"
        super().__init__(f"instruction {instruction_id} was read at version {read} but {found}")


class InstructionRepo(Protocol):
    """Instructions by id and by warning, open ones by deadline."""

    def create(self, instruction: Instruction) -> tuple[Instruction, bool]:
        """Store a new instruction (version 1), or return the one its warning already has
        (and False)."""
        ...

    def get(self, instruction_id: str) -> Instruction | None:
        """One instruction by id."""
        ...

    def by_warning(self, warning_id: str) -> Instruction | None:
        """The instruction of a warning."""
        ...

    def save(self, instruction: Instruction) -> Instruction:
        """Write an instruction read at ``instruction.version``; returns it at the next
        version. StaleInstructionError when the stored one moved on."""
        ...

    def due(self, at: dt.datetime) -> list[Instruction]:
        """Open instructions whose current deadline is at or before ``at``, earliest first."""
        ...

    def find(
        self,
        *,
        units: Collection[str] | None = None,
        states: Collection[State] | None = None,
        level: RiskLevel | None = None,
        limit: int = 1000,
    ) -> list[Instruction]:
        """Instructions matching every filter given, newest first."""
        ...


class MemoryInstructionRepo:
    """Instructions in a dict (tests, simulation); copies in and out, like a database."""

    def __init__(self) -> None:
        self._by_id: dict[str, Instruction] = {}
        self._by_warning: dict[str, str] = {}

    def create(self, instruction: Instruction) -> tuple[Instruction, bool]:
        """Store a new instruction, or return the warning's existing one."""
        existing = self._by_warning.get(instruction.warning_id)
        if existing is not None:
            return self._by_id[existing].model_copy(deep=True), False
        if instruction.instruction_id in self._by_id:
            raise ValueError(f"instruction id {instruction.instruction_id} is taken")
        stored = instruction.model_copy(deep=True, update={"version": 1})
        self._by_id[stored.instruction_id] = stored
        self._by_warning[stored.warning_id] = stored.instruction_id
        return stored.model_copy(deep=True), True

    def get(self, instruction_id: str) -> Instruction | None:
        """One instruction by id."""
        found = self._by_id.get(instruction_id)
        return None if found is None else found.model_copy(deep=True)

    def by_warning(self, warning_id: str) -> Instruction | None:
        """The instruction of a warning."""
        found = self._by_warning.get(warning_id)
        return None if found is None else self.get(found)

    def save(self, instruction: Instruction) -> Instruction:
        """Write it back if nobody saved it since it was read."""
        stored = self._by_id.get(instruction.instruction_id)
        if stored is None or stored.version != instruction.version:
            current = None if stored is None else stored.version
            raise StaleInstructionError(instruction.instruction_id, instruction.version, current)
        saved = instruction.model_copy(deep=True, update={"version": instruction.version + 1})
        self._by_id[saved.instruction_id] = saved
        return saved.model_copy(deep=True)

    def due(self, at: dt.datetime) -> builtins.list[Instruction]:
        """Open instructions past their current deadline, earliest deadline first."""
        late = []
        for ins in self._by_id.values():
            due = ins.next_due()
            if due is not None and due <= at:
                late.append((due, ins.instruction_id))
        return [self._by_id[i].model_copy(deep=True) for _, i in sorted(late)]

    def find(
        self,
        *,
        units: Collection[str] | None = None,
        states: Collection[State] | None = None,
        level: RiskLevel | None = None,
        limit: int = 1000,
    ) -> builtins.list[Instruction]:
        """Matching instructions, newest first."""
        found = [
            ins
            for ins in self._by_id.values()
            if (units is None or ins.unit in units)
            and (states is None or ins.state in states)
            and (level is None or ins.level == level)
        ]
        found.sort(key=lambda i: (i.created_at, i.instruction_id), reverse=True)
        return [ins.model_copy(deep=True) for ins in found[:limit]]
