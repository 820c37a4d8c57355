"""The file outbox: warning SMS as JSON lines, one per message or status change.

The file is an append-only log that an SMS gateway process (or a webhook relay) tails: a
``{"message": {...}}`` line queues a message, a ``{"status": {...}}`` line records a delivery
report. Each line goes out in one ``write`` on a descriptor opened with ``O_APPEND`` under an
exclusive ``flock``, so concurrent writers (the dispatcher, a gateway reporting back) never
interleave half lines. Reading folds the log into each message's latest status, taking up where
the last read stopped; a torn last line (a crash mid-write) is reported and left for later, any
other bad line is reported with its line number and reason and never stops the good ones.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from pydantic import ValidationError

from fanzha.dispatch.sms import SmsMessage, SmsStatus, moved


@dataclass(frozen=True, slots=True)
class OutboxProblem:
    """A line of the outbox that could not be read."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class OutboxContents:
    """Messages in their latest status, and the lines that could not be read."""

    messages: dict[str, SmsMessage] = field(default_factory=dict)
    problems: list[OutboxProblem] = field(default_factory=list)


class FileOutbox:
    """An :class:`~fanzha.dispatch.sms.SmsGateway` writing to one JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # What has been folded so far: the log is only appended to, so each read takes up
        # where the last one stopped (sending thousands of messages stays linear).
        self._folded = OutboxContents()
        self._offset = 0
        self._lines = 0

    def send(self, message: SmsMessage) -> SmsMessage:
        """Queue a message (one line); a message already in the outbox is not written again."""
        known = self._refresh().get(message.message_id)
        if known is not None:
            return known
        self._append({"message": message.model_dump(mode="json")})
        return message

    def update(
        self, message_id: str, status: SmsStatus, at: dt.datetime, detail: str = ""
    ) -> SmsMessage:
        """Record a delivery report (KeyError: unknown message; SmsStatusError: final)."""
        current = self._refresh().get(message_id)
        if current is None:
            raise KeyError(f"no message {message_id!r} in {self.path}")
        new = moved(current, status, at, detail)
        self._append(
            {
                "status": {
                    "message_id": message_id,
                    "status": status.value,
                    "at": at.isoformat(),
                    "detail": detail,
                }
            }
        )
        return new

    def messages(self) -> list[SmsMessage]:
        """Every readable message in its latest status, oldest first."""
        found = self._refresh().values()
        return sorted(found, key=lambda m: (m.created_at, m.message_id))

    def read(self) -> OutboxContents:
        """Fold the log; bad lines are listed in ``problems`` with their line numbers (a last
        line without its newline is reported as torn until the rest of it arrives)."""
        tail = self._tail()
        out = OutboxContents(dict(self._folded.messages), list(self._folded.problems))
        if tail.strip():
            out.problems.append(OutboxProblem(self._lines + 1, "torn last line (incomplete write)"))
        return out

    def _refresh(self) -> dict[str, SmsMessage]:
        self._tail()
        return self._folded.messages

    def _tail(self) -> bytes:
        """Fold the complete lines written since the last read; returns the incomplete rest."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return b""
        complete, newline, tail = data.rpartition(b"\n")
        if newline:
            for raw in complete.split(b"\n"):
                self._lines += 1
                problem = _fold(self._folded.messages, raw) if raw.strip() else None
                if problem is not None:
                    self._folded.problems.append(OutboxProblem(self._lines, problem))
            self._offset += len(complete) + 1
        return tail

    def _append(self, record: dict[str, object]) -> None:
        line = orjson.dumps(record) + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(line)
            while view:  # a regular file takes it in one write; loop for the rare short one
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)  # closing releases the lock


def _fold(messages: dict[str, SmsMessage], raw: bytes) -> str | None:
    """Apply one line; the reason it cannot be applied, or None."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    if not isinstance(record, dict) or len(record) != 1:
        return 'expected {"message": …} or {"status": …}'
    if "message" in record:
        try:
            message = SmsMessage.model_validate(record["message"])
        except ValidationError as exc:
            return f"message: {_first_error(exc)}"
        messages.setdefault(message.message_id, message)
        return None
    if "status" in record and isinstance(record["status"], dict):
        return _status(messages, record["status"])
    return 'expected {"message": …} or {"status": …}'


def _status(messages: dict[str, SmsMessage], body: dict[str, object]) -> str | None:
    message_id = body.get("message_id")
    if not isinstance(message_id, str) or message_id not in messages:
        return f"status: message_id {message_id!r} is not an earlier message"
    try:
        status = SmsStatus(str(body.get("status")))
        at = dt.datetime.fromisoformat(str(body.get("at")))
    except ValueError as exc:
        return f"status: {exc}"
    if at.tzinfo is None:
        return "status.at: time must carry an offset"
    try:
        messages[message_id] = moved(messages[message_id], status, at, str(body.get("detail", "")))
    except ValueError as exc:
        return f"status: {exc}"
    return None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "message"
    return f"{where}: {err['msg']}"
