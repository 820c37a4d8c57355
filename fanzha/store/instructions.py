"""Instructions in SQL: the store behind :class:`fanzha.dispatch.repo.InstructionRepo`.

One row per instruction: the whole instruction as JSON, with the filtered columns beside it
(unit, state, level, the SLA deadlines and ``next_due``, the one the current state works
towards, indexed for the escalation scheduler). Creation is ``INSERT … ON CONFLICT DO NOTHING``
on the warning id, so replays and concurrent dispatchers never make two; saving is an
``UPDATE … WHERE version = read version``, so a concurrent change is refused, not overwritten.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

import orjson
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from fanzha.dispatch.instruction import Instruction, State
from fanzha.dispatch.levels import RiskLevel
from fanzha.dispatch.repo import StaleInstructionError
from fanzha.store._sql import chunks, dialect_insert, safe_text
from fanzha.store.tables import InstructionRecord

_TABLE: Table = InstructionRecord.__table__  # type: ignore[assignment]


class SqlInstructions:
    """The ``instructions`` table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(self, instruction: Instruction) -> tuple[Instruction, bool]:
        """Store a new instruction (version 1), or return the warning's existing one."""
        fresh = instruction.model_copy(update={"version": 1})
        with self._sessions.begin() as session:
            insert = dialect_insert(session, _TABLE)
            stmt = insert.on_conflict_do_nothing(index_elements=["warning_id"]).returning(
                _TABLE.c.instruction_id
            )
            if session.execute(stmt, _params(fresh)).first() is not None:
                return fresh, True
            body = session.scalar(
                select(_TABLE.c.body).where(_TABLE.c.warning_id == instruction.warning_id)
            )
        if body is None:  # pragma: no cover - the conflict was on the warning id
            raise RuntimeError(f"no instruction for warning {instruction.warning_id}")
        return Instruction.model_validate(body), False

    def get(self, instruction_id: str) -> Instruction | None:
        """One instruction by id."""
        return self._one(_TABLE.c.instruction_id == instruction_id)

    def by_warning(self, warning_id: str) -> Instruction | None:
        """The instruction of a warning."""
        return self._one(_TABLE.c.warning_id == warning_id)

    def save(self, instruction: Instruction) -> Instruction:
        """Write back an instruction read at ``instruction.version``."""
        saved = instruction.model_copy(update={"version": instruction.version + 1})
        params = _params(saved)
        params.pop("instruction_id")
        params.pop("warning_id")
        params.pop("created_at")
        stmt = (
            update(_TABLE)
            .where(_TABLE.c.instruction_id == instruction.instruction_id)
            .where(_TABLE.c.version == instruction.version)
            .values(**params)
        )
        with self._sessions.begin() as session:
            if session.execute(stmt).rowcount == 1:  # type: ignore[attr-defined]
                return saved
            stored = session.scalar(
                select(_TABLE.c.version).where(
                    _TABLE.c.instruction_id == instruction.instruction_id
                )
            )
        raise StaleInstructionError(instruction.instruction_id, instruction.version, stored)

    def due(self, at: dt.datetime) -> builtins.list[Instruction]:
        """Open instructions whose current deadline is at or before ``at``, earliest first."""
        query = (
            select(_TABLE.c.body)
            .where(_TABLE.c.next_due <= at)
            .order_by(_TABLE.c.next_due, _TABLE.c.instruction_id)
        )
        return self._many(query)

    def find(
        self,
        *,
        units: Collection[str] | None = None,
        states: Collection[State] | None = None,
        level: RiskLevel | None = None,
        limit: int = 1000,
    ) -> builtins.list[Instruction]:
        """Matching instructions, newest first."""
        query = select(_TABLE.c.body)
        if units is not None:
            query = query.where(_TABLE.c.unit.in_(list(units)))
        if states is not None:
            query = query.where(_TABLE.c.state.in_([s.value for s in states]))
        if level is not None:
            query = query.where(_TABLE.c.level == int(level))
        query = query.order_by(_TABLE.c.created_at.desc(), _TABLE.c.instruction_id.desc())
        return self._many(query.limit(limit))

    def between(
        self, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> builtins.list[Instruction]:
        """Every instruction created in ``[since, until)`` (either open), oldest first."""
        query = select(_TABLE.c.body)
        if since is not None:
            query = query.where(_TABLE.c.created_at >= since)
        if until is not None:
            query = query.where(_TABLE.c.created_at < until)
        return self._many(query.order_by(_TABLE.c.created_at, _TABLE.c.instruction_id))

    def replace_all(self, instructions: Iterable[Instruction]) -> int:
        """Delete every stored instruction and store these (a replay's result), in one
        transaction: readers see the old set or the new one, never a mix."""
        rows = [_params(ins) for ins in instructions]
        with self._sessions.begin() as session:
            session.execute(delete(_TABLE))
            for group in chunks(rows):
                session.execute(insert(_TABLE), list(group))
        return len(rows)

    def _one(self, where: Any) -> Instruction | None:
        with self._sessions() as session:
            body = session.scalar(select(_TABLE.c.body).where(where))
        return None if body is None else Instruction.model_validate(body)

    def _many(self, query: Any) -> builtins.list[Instruction]:
        with self._sessions() as session:
            return [Instruction.model_validate(b) for b in session.scalars(query)]


def _params(ins: Instruction) -> dict[str, Any]:
    return {
        "instruction_id": ins.instruction_id,
        "warning_id": ins.warning_id,
        "unit": ins.unit,
        "state": ins.state.value,
        "level": int(ins.level),
        "assignee": ins.assignee,
        "created_at": ins.created_at,
        "updated_at": ins.updated_at,
        "sign_by": ins.deadlines.sign_by,
        "contact_by": ins.deadlines.contact_by,
        "outcome_by": ins.deadlines.outcome_by,
        "next_due": ins.next_due(),
        "escalations": ins.escalations,
        "version": ins.version,
        "body": _body(ins),
    }


def _body(ins: Instruction) -> Any:
    """The instruction as JSON for the ``body`` column; the walk that escapes what a database
    refuses runs only when the JSON text holds such a character (long histories are dumped
    by pydantic's serialiser in one go)."""
    try:
        text = ins.model_dump_json()
    except ValueError:  # a lone surrogate pydantic cannot encode
        return _storable(ins.model_dump(mode="json"))
    if "\\u0000" in text:
        return _storable(ins.model_dump(mode="json"))
    return orjson.loads(text)


def _storable(value: Any) -> Any:
    """JSON that every database takes: text without NUL or lone surrogates (notes are free
    text typed by people; PostgreSQL refuses a NUL in JSONB)."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value
