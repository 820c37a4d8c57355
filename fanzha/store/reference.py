"""Reference data: residents from the registry and the police org tree.

Upserts are idempotent: loading the same rows again changes nothing (and reports 0); a row
whose values changed is updated. Each call is one transaction of batched statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import Session, sessionmaker

from fanzha.store._sql import chunks, dialect_insert, safe_text, write_lock
from fanzha.store.tables import ORG_LEVELS, OrgUnitRecord, PersonRecord, utcnow

_PERSONS: Table = PersonRecord.__table__  # type: ignore[assignment]
_ORG_UNITS: Table = OrgUnitRecord.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A resident as given by the registry."""

    id_number: str  # 18-character resident identity number
    name: str
    birth_date: dt.date
    phones: tuple[str, ...] = ()  # E.164
    accounts: tuple[str, ...] = ()
    community: str | None = None  # org-unit code of the residence community
    source: str = "registry"


@dataclass(frozen=True, slots=True)
class OrgUnitRow:
    """A unit of the police hierarchy."""

    code: str
    name: str
    level: str  # city / district / station / community
    parent_code: str | None = None
    name_en: str | None = None


class OrgTreeError(ValueError):
    """Org units that would not form a tree (a unit that is its own ancestor)."""


class SqlReference:
    """Residents and org units kept in the operational store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def upsert_persons(self, rows: Sequence[PersonRow]) -> int:
        """Insert new residents and update changed ones; return how many rows changed."""
        latest = {row.id_number: row for row in rows}  # the last row for an id wins
        for id_number in latest:
            if not 0 < len(id_number) <= 18:
                raise ValueError(f"identity number must have 1 to 18 characters: {id_number!r}")
        now = utcnow()
        params = [_person_params(row, now) for row in latest.values()]
        return self._upsert(_PERSONS, "id_number", params)

    def upsert_org_units(self, rows: Sequence[OrgUnitRow]) -> int:
        """Insert new units and update changed ones (parents first); return how many changed."""
        latest = {row.code: row for row in rows}
        for row in latest.values():
            if row.level not in ORG_LEVELS:
                raise ValueError(f"unit {row.code!r}: level must be one of {ORG_LEVELS}")
            if not 0 < len(row.code) <= 32:
                raise ValueError(f"unit code must have 1 to 32 characters: {row.code!r}")
        with self._sessions.begin() as session:
            write_lock(session)  # it reads the tree before it writes
            tree = select(OrgUnitRecord.code, OrgUnitRecord.parent_code)
            existing = dict(session.execute(tree).all())
            parents = existing | {code: row.parent_code for code, row in latest.items()}
            order = _parents_first(latest, parents)
            params = [_org_params(latest[code]) for code in order]
            return self._upsert_in(session, _ORG_UNITS, "code", params)

    def get_person(self, id_number: str) -> PersonRow | None:
        """One resident by identity number."""
        with self._sessions() as session:
            record = session.get(PersonRecord, id_number)
            return None if record is None else _person(record)

    def get_org_unit(self, code: str) -> OrgUnitRow | None:
        """One unit by code."""
        with self._sessions() as session:
            record = session.get(OrgUnitRecord, code)
            return None if record is None else _org_unit(record)

    def org_unit_children(self, code: str) -> list[OrgUnitRow]:
        """The units directly under ``code``, by code."""
        query = (
            select(OrgUnitRecord)
            .where(OrgUnitRecord.parent_code == code)
            .order_by(OrgUnitRecord.code)
        )
        with self._sessions() as session:
            return [_org_unit(r) for r in session.scalars(query)]

    def org_units(self) -> list[OrgUnitRow]:
        """Every unit, by code (the tree is small: a city has thousands, not millions)."""
        with self._sessions() as session:
            query = select(OrgUnitRecord).order_by(OrgUnitRecord.code)
            return [_org_unit(r) for r in session.scalars(query)]

    def _upsert(self, table: Table, key: str, params: list[dict[str, Any]]) -> int:
        if not params:
            return 0
        with self._sessions.begin() as session:
            return self._upsert_in(session, table, key, params)

    @staticmethod
    def _upsert_in(session: Session, table: Table, key: str, params: list[dict[str, Any]]) -> int:
        """INSERT ... ON CONFLICT DO UPDATE only where a value differs; count changed rows."""
        if not params:
            return 0
        insert = dialect_insert(session, table)
        compared = [c for c in params[0] if c not in (key, "updated_at")]
        stmt = insert.on_conflict_do_update(
            index_elements=[key],
            set_={c: insert.excluded[c] for c in params[0] if c != key},
            where=or_(*(table.c[c].is_distinct_from(insert.excluded[c]) for c in compared)),
        ).returning(table.c[key])
        changed = 0
        for group in chunks(params):
            changed += len(session.execute(stmt, list(group)).all())
        return changed


def _parents_first(batch: dict[str, OrgUnitRow], parents: dict[str, str | None]) -> list[str]:
    """Codes of the batch ordered so that a parent comes before its children; reject cycles."""
    depth: dict[str, int] = {}

    def depth_of(code: str) -> int:
        seen: list[str] = []
        current: str | None = code
        while current is not None and current not in depth:
            if current in seen:
                raise OrgTreeError(f"org units form a cycle: {' → '.join([*seen, current])}")
            seen.append(current)
            current = parents.get(current)
        base = -1 if current is None else depth[current]
        for offset, c in enumerate(reversed(seen), start=1):
            depth[c] = base + offset
        return depth[code]

    return sorted(batch, key=lambda code: (depth_of(code), code))


def _person_params(row: PersonRow, now: dt.datetime) -> dict[str, Any]:
    return {
        "id_number": row.id_number,
        "name": safe_text(row.name, 128),
        "birth_date": row.birth_date,
        "phones": list(row.phones),
        "accounts": list(row.accounts),
        "community": row.community,
        "source": safe_text(row.source, 256),
        "updated_at": now,
    }


def _org_params(row: OrgUnitRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": safe_text(row.name, 128),
        "name_en": None if row.name_en is None else safe_text(row.name_en, 256),
        "level": row.level,
        "parent_code": row.parent_code,
    }


def _person(record: PersonRecord) -> PersonRow:
    return PersonRow(
        id_number=record.id_number,
        name=record.name,
        birth_date=record.birth_date,
        phones=tuple(record.phones),
        accounts=tuple(record.accounts),
        community=record.community,
        source=record.source,
    )


def _org_unit(record: OrgUnitRecord) -> OrgUnitRow:
    return OrgUnitRow(
        code=record.code,
        name=record.name,
        level=record.level,
        parent_code=record.parent_code,
        name_en=record.name_en,
    )
