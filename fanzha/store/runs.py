"""Ingestion runs: when each run started and ended, what it read and how many records went where."""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from fanzha.store._sql import safe_text
from fanzha.store.tables import RUN_STATUSES, IngestRunRow, utcnow

FINAL_STATUSES = tuple(s for s in RUN_STATUSES if s != "running")


@dataclass(frozen=True, slots=True)
class IngestRun:
    """One ingestion run as recorded by the store."""

    id: str
    started_at: dt.datetime
    files: tuple[str, ...]
    event_type: str | None = None
    strict: bool = False
    finished_at: dt.datetime | None = None
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    status: str = "running"  # running / done / failed / rolled_back
    error: str | None = None

    @classmethod
    def new(
        cls, files: Sequence[str], *, event_type: str | None = None, strict: bool = False
    ) -> IngestRun:
        """A run starting now, with a fresh uuid."""
        return cls(
            id=str(uuid.uuid4()),
            started_at=utcnow(),
            files=tuple(files),
            event_type=event_type,
            strict=strict,
        )


class UnknownRunError(KeyError):
    """No run with this id."""


class SqlIngestRuns:
    """Ingestion runs kept in the operational store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def start(self, run: IngestRun) -> None:
        """Record a run that has started."""
        if run.status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {run.status!r}; use {RUN_STATUSES}")
        with self._sessions.begin() as session:
            session.add(
                IngestRunRow(
                    id=run.id,
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    files=[safe_text(f) for f in run.files],
                    event_type=run.event_type,
                    strict=run.strict,
                    accepted=run.accepted,
                    rejected=run.rejected,
                    duplicates=run.duplicates,
                    status=run.status,
                    error=None if run.error is None else safe_text(run.error),
                )
            )

    def finish(
        self,
        run_id: str,
        accepted: int,
        rejected: int,
        duplicates: int,
        status: str = "done",
        error: str | None = None,
    ) -> IngestRun:
        """Record how a run ended (now) and return it; raises :class:`UnknownRunError`."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"a run ends as one of {FINAL_STATUSES}, not {status!r}")
        # The write comes first: on SQLite a transaction that has read cannot start writing
        # once another connection (the live loop) has committed ("database is locked").
        stmt = (
            update(IngestRunRow)
            .where(IngestRunRow.id == run_id)
            .values(
                finished_at=utcnow(),
                accepted=accepted,
                rejected=rejected,
                duplicates=duplicates,
                status=status,
                error=None if error is None else safe_text(error),
            )
        )
        with self._sessions.begin() as session:
            if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
                raise UnknownRunError(run_id)
            row = session.get(IngestRunRow, run_id, populate_existing=True)
            assert row is not None  # updated just now, in this transaction
            return _run(row)

    def get(self, run_id: str) -> IngestRun | None:
        """One run by id."""
        with self._sessions() as session:
            row = session.get(IngestRunRow, run_id)
            return None if row is None else _run(row)

    def list(self, limit: int = 50) -> builtins.list[IngestRun]:
        """The latest runs, newest first."""
        if limit <= 0:
            return []
        query = (
            select(IngestRunRow)
            .order_by(IngestRunRow.started_at.desc(), IngestRunRow.id.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [_run(row) for row in session.scalars(query)]


def _run(row: IngestRunRow) -> IngestRun:
    return IngestRun(
        id=row.id,
        started_at=row.started_at,
        files=tuple(row.files),
        event_type=row.event_type,
        strict=row.strict,
        finished_at=row.finished_at,
        accepted=row.accepted,
        rejected=row.rejected,
        duplicates=row.duplicates,
        status=row.status,
        error=row.error,
    )
