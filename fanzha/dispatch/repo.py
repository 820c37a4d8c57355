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
    """Instructions in a dict (tests, simulation); copies in and out, like a database.

    ``copies=False`` hands out the stored objects themselves: for one single-threaded writer
    (a replay) whose actions never half-apply (they check before they change), it saves a
    deep copy of every instruction on every read and write. Versions are still checked."""

    def __init__(self, *, copies: bool = True) -> None:
        self._by_id: dict[str, Instruction] = {}
        self._by_warning: dict[str, str] = {}
        self._copies = copies
        # The deadline each open instruction works towards: the scheduler asks for the due
        # ones every minute, and most instructions are closed.
        self._next_due: dict[str, dt.datetime] = {}

    def _out(self, ins: Instruction) -> Instruction:
        return ins.model_copy(deep=True) if self._copies else ins

    def _keep(self, ins: Instruction) -> None:
        self._by_id[ins.instruction_id] = ins
        due = ins.next_due()
        if due is None:
            self._next_due.pop(ins.instruction_id, None)
        else:
            self._next_due[ins.instruction_id] = due

    def create(self, instruction: Instruction) -> tuple[Instruction, bool]:
        """Store a new instruction, or return the warning's existing one."""
        existing = self._by_warning.get(instruction.warning_id)
        if existing is not None:
            return self._out(self._by_id[existing]), False
        if instruction.instruction_id in self._by_id:
            raise ValueError(f"instruction id {instruction.instruction_id} is taken")
        stored = instruction.model_copy(deep=self._copies, update={"version": 1})
        self._keep(stored)
        self._by_warning[stored.warning_id] = stored.instruction_id
        return self._out(stored), True

    def get(self, instruction_id: str) -> Instruction | None:
        """One instruction by id."""
        found = self._by_id.get(instruction_id)
        return None if found is None else self._out(found)

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
        if self._copies:
            saved = instruction.model_copy(deep=True, update={"version": instruction.version + 1})
        else:
            saved = instruction
            saved.version += 1
        self._keep(saved)
        return self._out(saved)

    def due(self, at: dt.datetime) -> builtins.list[Instruction]:
        """Open instructions past their current deadline, earliest deadline first."""
        late = sorted((due, i) for i, due in self._next_due.items() if due <= at)
        return [self._out(self._by_id[i]) for _, i in late]

    def earliest_due(self) -> dt.datetime | None:
        """The earliest deadline an open instruction works towards (None: nothing is owed)."""
        return min(self._next_due.values(), default=None)

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
        return [self._out(ins) for ins in found[:limit]]

    def all(self) -> builtins.list[Instruction]:
        """Every instruction, oldest first (a replay's end, KPIs)."""
        found = sorted(self._by_id.values(), key=lambda i: (i.created_at, i.instruction_id))
        return [self._out(ins) for ins in found]
