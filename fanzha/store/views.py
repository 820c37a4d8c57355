"""Read-only queries for the pages and the instruction API: filtered, bounded, indexed.

Every query here has a limit or reads a bounded window (today, the last days), so that the
dashboard and the queue stay fast on a city's data (indexes: migration ``0006_web``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from fanzha.dispatch.instruction import Instruction, State
from fanzha.store.tables import CaseRecord, InstructionRecord, WarningRecord

_INS: Table = InstructionRecord.__table__  # type: ignore[assignment]
_WARN: Table = WarningRecord.__table__  # type: ignore[assignment]
_CASES: Table = CaseRecord.__table__  # type: ignore[assignment]
MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class InstructionFilter:
    """Which instructions: units (None: all), states, levels, only overdue at ``overdue_at``."""

    units: Collection[str] | None = None
    states: Collection[State] | None = None
    levels: Collection[int] | None = None
    overdue_at: dt.datetime | None = None


def _where(query: Any, f: InstructionFilter) -> Any:
    if f.units is not None:
        query = query.where(_INS.c.unit.in_(sorted(f.units)))
    if f.states is not None:
        query = query.where(_INS.c.state.in_(sorted(s.value for s in f.states)))
    if f.levels is not None:
        query = query.where(_INS.c.level.in_(sorted(f.levels)))
    if f.overdue_at is not None:
        query = query.where(_INS.c.next_due < f.overdue_at)
    return query


def find_instructions(
    sessions: sessionmaker[Session], f: InstructionFilter, *, limit: int = 100, offset: int = 0
) -> tuple[list[Instruction], int]:
    """A page of matching instructions, most urgent first (level, then newest), and the total."""
    limit = max(1, min(limit, MAX_PAGE))
    query = _where(select(_INS.c.body), f).order_by(
        _INS.c.level.desc(), _INS.c.created_at.desc(), _INS.c.instruction_id
    )
    count = _where(select(func.count()).select_from(_INS), f)
    with sessions() as session:
        total = int(session.scalar(count) or 0)
        rows = session.scalars(query.limit(limit).offset(max(0, offset))).all()
    return [Instruction.model_validate(b) for b in rows], total


@dataclass
class Figures:
    """The dashboard's numbers for one window (today) over some units."""

    warnings_by_level: dict[int, int] = field(default_factory=dict)
    instructions_by_unit: dict[str, int] = field(default_factory=dict)
    open_by_unit: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    overdue_by_unit: dict[str, int] = field(default_factory=dict)
    dissuaded: int = 0
    saved_fen: int = 0
    fraud_types: dict[str, int] = field(default_factory=dict)


def figures(
    sessions: sessionmaker[Session],
    units: Collection[str] | None,
    since: dt.datetime,
    now: dt.datetime,
    *,
    fraud: bool = True,
) -> Figures:
    """Warnings since ``since`` by level (city-wide for the city, else of the units'
    instructions), instructions by unit, overdue now, dissuaded and saved since ``since``,
    and (``fraud``) instructions by fraud type."""
    out = Figures()
    scoped = InstructionFilter(units=units)
    with sessions() as session:
        if units is None:
            q = select(_WARN.c.level, func.count()).where(_WARN.c.first_at >= since)
            q = q.where(_WARN.c.shadow.is_(False)).group_by(_WARN.c.level)
        else:
            q = _where(select(_INS.c.level, func.count()), scoped)
            q = q.where(_INS.c.created_at >= since).group_by(_INS.c.level)
        out.warnings_by_level = {int(k): int(n) for k, n in session.execute(q)}
        q = _where(select(_INS.c.unit, func.count()), scoped).where(_INS.c.created_at >= since)
        out.instructions_by_unit = {u: int(n) for u, n in session.execute(q.group_by(_INS.c.unit))}
        q = _where(select(_INS.c.unit, func.count()), scoped).where(_INS.c.state != "closed")
        out.open_by_unit = {u: int(n) for u, n in session.execute(q.group_by(_INS.c.unit))}
        late = InstructionFilter(units=units, overdue_at=now)
        q = _where(select(_INS.c.unit, func.count()), late).group_by(_INS.c.unit)
        out.overdue_by_unit = {u: int(n) for u, n in session.execute(q)}
        out.overdue = sum(out.overdue_by_unit.values())
        out.dissuaded, out.saved_fen = _outcomes(session, scoped, since, None)
    if fraud:
        out.fraud_types = fraud_types(sessions, units, since)
    return out


def fraud_types(
    sessions: sessionmaker[Session], units: Collection[str] | None, since: dt.datetime
) -> dict[str, int]:
    """Instructions created since ``since`` by fraud type ("unknown" without one): the
    costliest of the day's figures (JSON read per row), so only the chart asks for it."""
    fraud_type = _INS.c.body["fraud_type"].as_string()
    q = _where(select(fraud_type, func.count()), InstructionFilter(units=units))
    q = q.where(_INS.c.created_at >= since).group_by(fraud_type)
    out: dict[str, int] = {}
    with sessions() as session:
        for found, n in session.execute(q):
            key = found or "unknown"
            out[key] = out.get(key, 0) + int(n)
    return out


_DONE = ["outcome_recorded", "closed"]


def _outcomes(
    session: Session, scoped: InstructionFilter, since: dt.datetime, until: dt.datetime | None
) -> tuple[int, int]:
    """(dissuaded, saved fen) of the outcomes recorded in ``[since, until)``, summed in SQL."""
    dissuaded = _INS.c.body[("outcome", "dissuaded")].as_boolean()
    saved = _INS.c.body[("outcome", "amount_saved_fen")].as_integer()
    q = select(
        func.count().filter(dissuaded.is_(True)), func.coalesce(func.sum(saved), 0)
    ).select_from(_INS)
    q = _where(q, scoped).where(_INS.c.updated_at >= since, _INS.c.state.in_(_DONE))
    if until is not None:
        q = q.where(_INS.c.updated_at < until)
    row = session.execute(q).one()
    return int(row[0] or 0), int(row[1] or 0)


def warnings_per_hour(
    sessions: sessionmaker[Session], since: dt.datetime, until: dt.datetime
) -> dict[tuple[dt.datetime, int], int]:
    """Live warnings first seen in ``[since, until)`` by (hour, level), counted in SQL
    (GROUP BY the UTC hour); a window of days."""
    out: dict[tuple[dt.datetime, int], int] = {}
    with sessions() as session:
        hour = _hour(session, _WARN.c.first_at)
        query = (
            select(hour, _WARN.c.level, func.count())
            .where(_WARN.c.first_at >= since, _WARN.c.first_at < until)
            .where(_WARN.c.shadow.is_(False))
            .group_by(hour, _WARN.c.level)
        )
        for at, level, n in session.execute(query):
            out[(_utc_hour(at), int(level))] = int(n)
    return out


def reports_per_hour(
    sessions: sessionmaker[Session], since: dt.datetime, until: dt.datetime
) -> dict[dt.datetime, int]:
    """Reports (funds cases) opened in ``[since, until)`` per UTC hour, counted in SQL."""
    out: dict[dt.datetime, int] = {}
    with sessions() as session:
        hour = _hour(session, _CASES.c.opened_at)
        query = (
            select(hour, func.count())
            .where(_CASES.c.opened_at >= since, _CASES.c.opened_at < until)
            .group_by(hour)
        )
        for at, n in session.execute(query):
            out[_utc_hour(at)] = int(n)
    return out


def _hour(session: Session, column: Any) -> Any:
    """``column`` truncated to its (UTC) hour, in the session's dialect."""
    if session.get_bind().dialect.name == "sqlite":  # UTC wall time, stored as text
        return func.strftime("%Y-%m-%d %H:00:00", column)
    return func.date_trunc("hour", func.timezone("UTC", column))


def _utc_hour(value: Any) -> dt.datetime:
    at = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def rule_hits(sessions: sessionmaker[Session], limit: int = 5000) -> dict[str, tuple[int, int]]:
    """Per rule: (live, shadow) warnings among the latest ``limit`` that it contributed to."""
    query = select(_WARN.c.shadow, _WARN.c.signals).order_by(_WARN.c.updated_at.desc()).limit(limit)
    out: dict[str, tuple[int, int]] = {}
    with sessions() as session:
        for shadow, signals in session.execute(query):
            for rule in {s.get("rule") for s in signals or [] if isinstance(s, dict)}:
                if not isinstance(rule, str):
                    continue
                live, shadowed = out.get(rule, (0, 0))
                out[rule] = (live, shadowed + 1) if shadow else (live + 1, shadowed)
    return out


@dataclass(frozen=True, slots=True)
class Totals:
    """A period's warnings, instructions, dissuaded and money saved (fen) over some units."""

    warnings: int = 0
    instructions: int = 0
    dissuaded: int = 0
    saved_fen: int = 0


def period_totals(
    sessions: sessionmaker[Session],
    units: Collection[str] | None,
    since: dt.datetime,
    until: dt.datetime,
) -> Totals:
    """Counts and sums over ``[since, until)``, each one SQL aggregate on an indexed range:
    live warnings first seen (city-wide for the city, else the units' instructions created),
    instructions created, and the outcomes recorded then."""
    scoped = InstructionFilter(units=units)
    made = _where(select(func.count()).select_from(_INS), scoped)
    made = made.where(_INS.c.created_at >= since, _INS.c.created_at < until)
    with sessions() as session:
        instructions = int(session.scalar(made) or 0)
        if units is None:
            seen = select(func.count()).select_from(_WARN).where(_WARN.c.shadow.is_(False))
            seen = seen.where(_WARN.c.first_at >= since, _WARN.c.first_at < until)
            warnings = int(session.scalar(seen) or 0)
        else:
            warnings = instructions
        dissuaded, saved = _outcomes(session, scoped, since, until)
    return Totals(warnings, instructions, dissuaded, saved)
