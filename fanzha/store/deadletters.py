"""Dead letters in SQL: the store behind :class:`fanzha.ingest.deadletter.DeadLetterStore`."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from fanzha.ingest.deadletter import DeadLetter, StoredDeadLetter
from fanzha.store._sql import chunks, chunks_by_weight, dialect_insert, safe_text
from fanzha.store.tables import DEAD_LETTER_STATUSES, DeadLetterRow, utcnow

_TABLE: Table = DeadLetterRow.__table__  # type: ignore[assignment]
# Bytes of raw records per INSERT statement: bounds memory when letters carry 1 MB each.
_MAX_BATCH_BYTES = 8 * 1024 * 1024


class SqlDeadLetters:
    """Dead letters kept in the operational store; adding the same letter twice keeps one.

    Free-text fields are made storable (NUL and lone surrogates escaped, over-long source,
    location, type and field names cut); the raw bytes are kept exactly. Identity is the
    ``key`` of the letter as given, so a letter whose text had to be escaped is still stored
    once, although the ``key`` of the copy read back differs.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add_many(self, letters: Sequence[DeadLetter]) -> int:
        """Store letters not already stored (by ``key``); return how many were new."""
        unique: dict[str, DeadLetter] = {}
        for letter in letters:
            unique.setdefault(letter.key, letter)
        if not unique:
            return 0
        items = list(unique.items())
        added = 0
        now = utcnow()
        with self._sessions.begin() as session:
            stmt = (
                dialect_insert(session, _TABLE)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(_TABLE.c.id)
            )
            weights = (len(letter.raw) + len(letter.reason) for _, letter in items)
            for group in chunks_by_weight(
                items, weights, max_rows=500, max_weight=_MAX_BATCH_BYTES
            ):
                params = [_params(key, letter, now) for key, letter in group]
                added += len(session.execute(stmt, params).all())
        return added

    def list(
        self, *, status: str | None = "open", source: str | None = None, limit: int = 100
    ) -> builtins.list[StoredDeadLetter]:
        """Letters, newest first, optionally filtered by status and source."""
        if limit <= 0:
            return []
        query = select(DeadLetterRow)
        if status is not None:
            query = query.where(DeadLetterRow.status == status)
        if source is not None:
            query = query.where(DeadLetterRow.source == source)
        query = query.order_by(DeadLetterRow.created_at.desc(), DeadLetterRow.id.desc())
        with self._sessions() as session:
            rows = session.scalars(query.limit(limit)).all()
            return [_stored(row) for row in rows]

    def count(self, *, status: str | None = "open", source: str | None = None) -> int:
        """How many letters match the filters (for pages and progress)."""
        query = select(func.count()).select_from(DeadLetterRow)
        if status is not None:
            query = query.where(DeadLetterRow.status == status)
        if source is not None:
            query = query.where(DeadLetterRow.source == source)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def get(self, letter_id: int) -> StoredDeadLetter | None:
        """One letter by id."""
        with self._sessions() as session:
            row = session.get(DeadLetterRow, letter_id)
            return None if row is None else _stored(row)

    def mark(self, letter_ids: Iterable[int], status: str) -> None:
        """Set the status of letters and count one more attempt on each."""
        if status not in DEAD_LETTER_STATUSES:
            raise ValueError(f"unknown dead-letter status {status!r}; use {DEAD_LETTER_STATUSES}")
        ids = sorted(set(letter_ids))
        now = utcnow()
        with self._sessions.begin() as session:
            for group in chunks(ids):
                session.execute(
                    update(DeadLetterRow)
                    .where(DeadLetterRow.id.in_(group))
                    .values(status=status, attempts=DeadLetterRow.attempts + 1, updated_at=now),
                    execution_options={"synchronize_session": False},
                )


def _params(key: str, letter: DeadLetter, now: Any) -> dict[str, Any]:
    return {
        "key": key,
        "run_id": None if letter.run_id is None else safe_text(letter.run_id, 36),
        "source": safe_text(letter.source, 1024),
        "location": safe_text(letter.location, 256),
        "event_type": None if letter.event_type is None else safe_text(letter.event_type, 256),
        "field": None if letter.field is None else safe_text(letter.field, 256),
        "reason": safe_text(letter.reason),
        "raw": bytes(letter.raw),
        "truncated": letter.truncated,
        "status": "open",
        "attempts": 0,
        "created_at": letter.created_at,
        "updated_at": now,
        "layout": None if letter.layout is None else safe_text(letter.layout),
    }


def _stored(row: DeadLetterRow) -> StoredDeadLetter:
    letter = DeadLetter(
        source=row.source,
        location=row.location,
        event_type=row.event_type,
        field=row.field,
        reason=row.reason,
        raw=bytes(row.raw),
        truncated=row.truncated,
        run_id=row.run_id,
        created_at=row.created_at,
        layout=row.layout,
    )
    return StoredDeadLetter(id=row.id, letter=letter, status=row.status, attempts=row.attempts)
