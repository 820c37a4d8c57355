"""The operational store: SQLite (embedded) or PostgreSQL (scaled), migrated with Alembic.

``Store.open(settings)`` gives the repositories; everything else in Fanzha sees them only
through the small Protocols its own code declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fanzha.settings import Settings
from fanzha.store.db import make_engine, session_factory, upgrade
from fanzha.store.deadletters import SqlDeadLetters
from fanzha.store.reference import OrgUnitRow, PersonRow, SqlReference
from fanzha.store.runs import IngestRun, SqlIngestRuns

__all__ = [
    "IngestRun",
    "OrgUnitRow",
    "PersonRow",
    "SqlDeadLetters",
    "SqlIngestRuns",
    "SqlReference",
    "Store",
]


@dataclass(frozen=True, slots=True)
class Store:
    """An open, migrated store and its repositories; close it when done."""

    engine: Engine
    sessions: sessionmaker[Session]
    dead_letters: SqlDeadLetters
    runs: SqlIngestRuns
    reference: SqlReference

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Open the store named by the settings, migrating it to the latest schema."""
        return cls.open_url(settings.effective_database_url)

    @classmethod
    def open_url(cls, url: str, *, migrate: bool = True) -> Store:
        """Open the store at a SQLAlchemy URL (``sqlite:///...`` or ``postgresql://...``)."""
        engine = make_engine(url)
        try:
            if migrate:
                upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        sessions = session_factory(engine)
        return cls(
            engine=engine,
            sessions=sessions,
            dead_letters=SqlDeadLetters(sessions),
            runs=SqlIngestRuns(sessions),
            reference=SqlReference(sessions),
        )

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
