"""Dead letters: rejected records kept with their original bytes, location and reason.

The ingestion code declares what it needs from persistence as a small Protocol; the store
implements it with SQL and tests may use :class:`MemoryDeadLetters`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One rejected record: where it was, what it was, and why it was refused."""

    source: str  # file path, "api:<type>" or similar
    location: str  # "line 17", "record 3", "row 12", "message" ...
    event_type: str | None  # the event type it was meant to be, where known
    field: str | None  # the offending field, where known
    reason: str  # a reason a person can act on
    raw: bytes  # the original bytes (possibly cut to a bound; see ``truncated``)
    truncated: bool = False
    run_id: str | None = None
    created_at: dt.datetime = dataclasses.field(default_factory=lambda: dt.datetime.now(dt.UTC))
    #: how the input was read when it was not by canonical names: JSON ``{"profile": …,
    #: "map": {field: column}}`` (what ``deadletters retry`` reads it with again)
    layout: str | None = None

    @property
    def key(self) -> str:
        """Stable identity: the same bad record from the same place is stored once."""
        h = hashlib.sha256()
        for part in (self.source, self.location, self.event_type or "", self.reason):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x1f")
        h.update(self.raw)
        return h.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter as kept by a store, with its id and status."""

    id: int
    letter: DeadLetter
    status: str  # "open", "retried" (accepted on retry), "discarded"
    attempts: int


class DeadLetterStore(Protocol):
    """Where rejected records go; adding the same letter twice keeps one."""

    def add_many(self, letters: Sequence[DeadLetter]) -> int:
        """Store letters not already stored (by ``key``); return how many were new."""
        ...

    def list(
        self, *, status: str | None = "open", source: str | None = None, limit: int = 100
    ) -> list[StoredDeadLetter]:
        """Letters, newest first, optionally filtered by status and source."""
        ...

    def get(self, letter_id: int) -> StoredDeadLetter | None:
        """One letter by id."""
        ...

    def mark(self, letter_ids: Iterable[int], status: str) -> None:
        """Set the status of letters and count one more attempt on each."""
        ...


class MemoryDeadLetters:
    """An in-memory DeadLetterStore for tests and dry runs."""

    def __init__(self) -> None:
        self._rows: dict[str, StoredDeadLetter] = {}

    def add_many(self, letters: Sequence[DeadLetter]) -> int:
        """Store letters not already stored; return how many were new."""
        new = 0
        for letter in letters:
            if letter.key not in self._rows:
                self._rows[letter.key] = StoredDeadLetter(len(self._rows) + 1, letter, "open", 0)
                new += 1
        return new

    def list(
        self, *, status: str | None = "open", source: str | None = None, limit: int = 100
    ) -> list[StoredDeadLetter]:
        """Letters, newest first."""
        rows = [
            r
            for r in reversed(self._rows.values())
            if (status is None or r.status == status)
            and (source is None or r.letter.source == source)
        ]
        return rows[:limit]

    def get(self, letter_id: int) -> StoredDeadLetter | None:
        """One letter by id."""
        return next((r for r in self._rows.values() if r.id == letter_id), None)

    def mark(self, letter_ids: Iterable[int], status: str) -> None:
        """Set status and count an attempt."""
        wanted = set(letter_ids)
        for key, row in self._rows.items():
            if row.id in wanted:
                self._rows[key] = StoredDeadLetter(row.id, row.letter, status, row.attempts + 1)
