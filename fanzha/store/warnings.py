"""Warnings in the operational store: upserted by id (replays never duplicate), read back as the
warnings table (``fanzha.detect.schema.WARNINGS_SCHEMA``) or one by one with their evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from fanzha.detect.schema import WARNINGS_SCHEMA
from fanzha.store._sql import chunks, dialect_insert
from fanzha.store.tables import WarningRecord

_TABLE: Table = WarningRecord.__table__  # type: ignore[assignment]


class SqlWarnings:
    """The ``warnings`` table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def upsert_many(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or replace warnings by ``warning_id``; returns how many rows were written."""
        if not rows:
            return 0
        written = 0
        with self._sessions.begin() as session:
            insert = dialect_insert(session, _TABLE)
            cols = [c for c in rows[0] if c != "warning_id"]
            stmt = insert.on_conflict_do_update(
                index_elements=["warning_id"], set_={c: insert.excluded[c] for c in cols}
            )
            for group in chunks(rows):
                session.execute(stmt, list(group))
                written += len(group)
        return written

    def count(self) -> int:
        """Number of stored warnings."""
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(_TABLE)) or 0)

    def get(self, warning_id: str) -> dict[str, Any] | None:
        """One warning with its evidence, or None."""
        with self._sessions() as session:
            row = session.execute(select(_TABLE).where(_TABLE.c.warning_id == warning_id)).first()
            return dict(row._mapping) if row else None

    def table(self) -> pa.Table:
        """All warnings as the warnings table."""
        names = WARNINGS_SCHEMA.names
        with self._sessions() as session:
            rows = session.execute(select(*(_TABLE.c[n] for n in names))).all()
        cols: dict[str, list[Any]] = {n: [] for n in names}
        for row in rows:
            for n, v in zip(names, row, strict=True):
                if isinstance(v, dt.datetime) and v.tzinfo is None:
                    v = v.replace(tzinfo=dt.UTC)
                cols[n].append(v)
        return pa.table(
            {n: pa.array(cols[n], WARNINGS_SCHEMA.field(n).type) for n in names},
            schema=WARNINGS_SCHEMA,
        )

    def clear(self, *, shadow: bool | None = None) -> int:
        """Delete warnings (all, or only live / only shadow ones); returns how many."""
        stmt = _TABLE.delete()
        if shadow is not None:
            stmt = stmt.where(_TABLE.c.shadow == shadow)
        with self._sessions.begin() as session:
            result = session.execute(stmt)
            return int(getattr(result, "rowcount", 0) or 0)
