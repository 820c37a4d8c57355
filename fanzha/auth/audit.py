"""The audit chain: every reveal, export and change, each entry sealing the one before it.

Entry ``n`` stores the hash of entry ``n - 1`` and its own hash, SHA-256 over a canonical JSON
of its fields (sorted keys, UTF-8, no spaces, UTC timestamps to the microsecond). Editing,
reordering or deleting an entry breaks the chain at that entry; :func:`verify` finds the first
break. Cutting entries off the *end* leaves a shorter valid chain: to catch that, keep the head
hash somewhere else (``fanzha audit verify`` prints it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

GENESIS = "0" * 64


class AuditEvent(BaseModel):
    """What happened, before the log numbers and seals it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    actor: str = Field(min_length=1, max_length=128, description="Principal id (user:…).")
    action: str = Field(min_length=1, max_length=64, description="e.g. pii.reveal, user.add.")
    object_type: str = Field(default="", max_length=64)
    object_id: str = Field(default="", max_length=128)
    reason: str = Field(default="", max_length=1000)
    details: dict[str, Any] = Field(default_factory=dict)


class AuditEntry(AuditEvent):
    """A sealed entry of the chain."""

    seq: int = Field(ge=1)
    prev_hash: str = Field(min_length=64, max_length=64)
    hash: str = Field(min_length=64, max_length=64)


def _timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(event: AuditEvent, seq: int, prev_hash: str) -> bytes:
    """The bytes that are hashed: every field but the hash itself."""
    body = {
        "seq": seq,
        "at": _timestamp(event.at),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "reason": event.reason,
        "details": event.details,
        "prev_hash": prev_hash,
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def entry_hash(event: AuditEvent, seq: int, prev_hash: str) -> str:
    """SHA-256 hex of the canonical form."""
    return hashlib.sha256(canonical(event, seq, prev_hash)).hexdigest()


def seal(event: AuditEvent, previous: AuditEntry | None) -> AuditEntry:
    """``event`` as the entry after ``previous`` (the first one when None).

    The timestamp is cut to microseconds (what every store keeps), so that a stored entry
    hashes the same as the one sealed here; details must be plain JSON.
    """
    at = event.at.astimezone(dt.UTC)
    details = json.loads(json.dumps(event.details, ensure_ascii=False))
    fixed = event.model_copy(update={"at": at, "details": details})
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS if previous is None else previous.hash
    return AuditEntry(
        **fixed.model_dump(), seq=seq, prev_hash=prev_hash, hash=entry_hash(fixed, seq, prev_hash)
    )


@dataclass(frozen=True, slots=True)
class Break:
    """The first entry where the chain does not hold, and why."""

    seq: int
    reason: str
    entry: AuditEntry | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description."""
        out: dict[str, Any] = {"seq": self.seq, "reason": self.reason}
        if self.entry is not None:
            out["entry"] = self.entry.model_dump(mode="json")
        return out


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of :func:`verify`: how many entries held, the head hash, the first break."""

    checked: int
    head: str
    broken: Break | None

    @property
    def ok(self) -> bool:
        """Whether the whole chain holds."""
        return self.broken is None


def verify(entries: Iterable[AuditEntry]) -> Verification:
    """Walk the chain in order and report the first entry that does not hold."""
    expected_seq, prev, checked = 1, GENESIS, 0
    for entry in entries:
        problem = _problem(entry, expected_seq, prev)
        if problem is not None:
            return Verification(checked, prev, Break(entry.seq, problem, entry))
        expected_seq, prev, checked = entry.seq + 1, entry.hash, checked + 1
    return Verification(checked, prev, None)


def _problem(entry: AuditEntry, seq: int, prev: str) -> str | None:
    if entry.seq != seq:
        return f"entry {seq} is missing (next found: {entry.seq})"
    if entry.prev_hash != prev:
        return "prev_hash does not match the previous entry's hash (an entry was removed or edited)"
    if entry_hash(entry, entry.seq, entry.prev_hash) != entry.hash:
        return "the entry's content does not match its hash (the entry was edited)"
    return None


class AuditLog(Protocol):
    """An append-only audit chain: there is no way to change or remove an entry."""

    def append(self, event: AuditEvent) -> AuditEntry:
        """Seal ``event`` after the current head and store it (atomically: no forks)."""
        ...

    def head(self) -> AuditEntry | None:
        """The latest entry."""
        ...

    def entries(self, after: int = 0) -> Iterator[AuditEntry]:
        """Every entry with ``seq > after``, in order (streamed: the log can be long)."""
        ...

    def latest(
        self, limit: int = 50, *, actor: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """The newest entries first, optionally of one actor or one action."""
        ...


class MemoryAuditLog:
    """An audit chain in a list (tests, and stores that need no persistence)."""

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []

    def append(self, event: AuditEvent) -> AuditEntry:
        """Seal and keep."""
        entry = seal(event, self._entries[-1] if self._entries else None)
        self._entries.append(entry)
        return entry

    def head(self) -> AuditEntry | None:
        """The latest entry."""
        return self._entries[-1] if self._entries else None

    def entries(self, after: int = 0) -> Iterator[AuditEntry]:
        """In order."""
        return iter([e for e in self._entries if e.seq > after])

    def latest(
        self, limit: int = 50, *, actor: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """Newest first."""
        found = [
            e
            for e in reversed(self._entries)
            if (actor is None or e.actor == actor) and (action is None or e.action == action)
        ]
        return found[:limit]
