"""Security records in SQL: the stores behind :mod:`fanzha.auth.repo` and the audit chain.

The audit log is append-only by construction: :class:`SqlAuditLog` has no update or delete,
and the migration adds triggers that refuse both (PostgreSQL, and SQLite against accidents).
Appends are serialised — an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite — so
that two writers never seal entries onto the same head; the primary key on ``seq`` would
refuse such a fork anyway.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fanzha.auth.accounts import LoginAttempt, SessionRecord, UserAccount
from fanzha.auth.audit import AuditEntry, AuditEvent, seal
from fanzha.auth.principal import Grant
from fanzha.auth.repo import DuplicateError
from fanzha.auth.roles import Role
from fanzha.auth.tokens import TokenRecord
from fanzha.store.db import SQLITE_BEGIN_OPTION
from fanzha.store.tables import ApiTokenRow, AuditRow, LoginAttemptRow, SessionRow, UserRow

_USERS: Table = UserRow.__table__  # type: ignore[assignment]
_TOKENS: Table = ApiTokenRow.__table__  # type: ignore[assignment]
_SESSIONS: Table = SessionRow.__table__  # type: ignore[assignment]
_ATTEMPTS: Table = LoginAttemptRow.__table__  # type: ignore[assignment]
_AUDIT: Table = AuditRow.__table__  # type: ignore[assignment]
_PG_AUDIT_LOCK = 0x61756474  # "audt"
# Entries read per round trip when walking the whole chain (memory stays bounded).
_PAGE = 1000


class SqlUsers:
    """The ``users`` table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, user: UserAccount) -> None:
        """Store a new user (DuplicateError when the username is taken)."""
        try:
            with self._sessions.begin() as session:
                session.execute(_USERS.insert().values(**_user_params(user)))
        except IntegrityError:
            raise DuplicateError(f"user {user.username!r} exists") from None

    def get(self, username: str) -> UserAccount | None:
        """One user."""
        with self._sessions() as session:
            row = session.execute(select(_USERS).where(_USERS.c.username == username)).first()
        return None if row is None else _user(row._mapping)

    def save(self, user: UserAccount) -> None:
        """Replace an existing user's record."""
        params = _user_params(user)
        params.pop("username")
        stmt = update(_USERS).where(_USERS.c.username == user.username).values(**params)
        with self._sessions.begin() as session:
            if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
                raise KeyError(f"unknown user {user.username!r}")

    def list(self) -> builtins.list[UserAccount]:
        """Every user, by username."""
        with self._sessions() as session:
            rows = session.execute(select(_USERS).order_by(_USERS.c.username)).all()
        return [_user(r._mapping) for r in rows]

    def count(self) -> int:
        """How many users."""
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(_USERS)) or 0)


def _user_params(user: UserAccount) -> dict[str, Any]:
    data = user.model_dump(mode="python")
    data["grants"] = [g.model_dump(mode="json", exclude_none=True) for g in user.grants]
    return data


def _user(row: Any) -> UserAccount:
    data = dict(row)
    data["grants"] = tuple(Grant.model_validate(g) for g in data["grants"])
    return UserAccount.model_validate(data)


class SqlTokens:
    """The ``api_tokens`` table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, token: TokenRecord) -> None:
        """Store a new token."""
        params = token.model_dump(mode="python", exclude={"grant"})
        params.update(role=token.grant.role.value, bank=token.grant.bank)
        try:
            with self._sessions.begin() as session:
                session.execute(_TOKENS.insert().values(**params))
        except IntegrityError:
            raise DuplicateError(f"token {token.token_id} exists") from None

    def get(self, token_id: str) -> TokenRecord | None:
        """One token by its public id."""
        with self._sessions() as session:
            row = session.execute(select(_TOKENS).where(_TOKENS.c.token_id == token_id)).first()
        return None if row is None else _token(row._mapping)

    def revoke(self, token_id: str, at: dt.datetime) -> bool:
        """Revoke a token once."""
        stmt = (
            update(_TOKENS)
            .where(_TOKENS.c.token_id == token_id, _TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        with self._sessions.begin() as session:
            return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]

    def touch(self, token_id: str, at: dt.datetime) -> None:
        """Note the last use."""
        stmt = update(_TOKENS).where(_TOKENS.c.token_id == token_id).values(last_used_at=at)
        with self._sessions.begin() as session:
            session.execute(stmt)

    def list(self) -> builtins.list[TokenRecord]:
        """Every token, newest first."""
        query = select(_TOKENS).order_by(_TOKENS.c.created_at.desc(), _TOKENS.c.token_id.desc())
        with self._sessions() as session:
            return [_token(r._mapping) for r in session.execute(query)]


def _token(row: Any) -> TokenRecord:
    data = dict(row)
    grant = Grant(role=Role(data.pop("role")), bank=data.pop("bank"))
    return TokenRecord.model_validate({**data, "grant": grant})


class SqlSessions:
    """The ``sessions`` table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, session: SessionRecord) -> None:
        """Store a new session."""
        with self._sessions.begin() as db:
            db.execute(_SESSIONS.insert().values(**session.model_dump(mode="python")))

    def get(self, session_hash: str) -> SessionRecord | None:
        """One session."""
        query = select(_SESSIONS).where(_SESSIONS.c.session_hash == session_hash)
        with self._sessions() as db:
            row = db.execute(query).first()
        return None if row is None else SessionRecord.model_validate(dict(row._mapping))

    def touch(self, session_hash: str, at: dt.datetime, active_grant: int | None = None) -> None:
        """Note activity (and maybe a switch of unit)."""
        values: dict[str, Any] = {"last_seen_at": at}
        if active_grant is not None:
            values["active_grant"] = active_grant
        stmt = update(_SESSIONS).where(_SESSIONS.c.session_hash == session_hash).values(**values)
        with self._sessions.begin() as db:
            db.execute(stmt)

    def delete(self, session_hash: str) -> None:
        """End one session."""
        with self._sessions.begin() as db:
            db.execute(delete(_SESSIONS).where(_SESSIONS.c.session_hash == session_hash))

    def delete_user(self, username: str) -> int:
        """End every session of a user."""
        with self._sessions.begin() as db:
            result = db.execute(delete(_SESSIONS).where(_SESSIONS.c.username == username))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def purge(self, before: dt.datetime) -> int:
        """Drop sessions that expired before ``before``."""
        with self._sessions.begin() as db:
            result = db.execute(delete(_SESSIONS).where(_SESSIONS.c.expires_at < before))
            return int(result.rowcount)  # type: ignore[attr-defined]


class SqlLoginAttempts:
    """The ``login_attempts`` table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, attempt: LoginAttempt) -> None:
        """Keep one attempt."""
        values = {
            "username": attempt.username[:64],
            "ip": attempt.ip[:64],
            "at": attempt.at,
            "success": attempt.success,
        }
        with self._sessions.begin() as db:
            db.execute(_ATTEMPTS.insert().values(**values))

    def failures(
        self, *, since: dt.datetime, username: str | None = None, ip: str | None = None
    ) -> int:
        """Failed attempts after ``since`` for the username, or from the address."""
        c = _ATTEMPTS.c
        query = select(func.count()).where(c.success.is_(False), c.at > since)
        if username is not None:
            query = query.where(c.username == username[:64])
        if ip is not None:
            query = query.where(c.ip == ip[:64])
        with self._sessions() as db:
            return int(db.scalar(query) or 0)

    def last_success(self, username: str) -> dt.datetime | None:
        """When the user last logged in."""
        c = _ATTEMPTS.c
        query = select(func.max(c.at)).where(c.success.is_(True), c.username == username[:64])
        with self._sessions() as db:
            found = db.scalar(query)
        return None if found is None else _aware(found)

    def purge(self, before: dt.datetime) -> int:
        """Drop attempts older than ``before``."""
        with self._sessions.begin() as db:
            result = db.execute(delete(_ATTEMPTS).where(_ATTEMPTS.c.at < before))
            return int(result.rowcount)  # type: ignore[attr-defined]


def _aware(value: Any) -> dt.datetime:
    """A stored UTC time, aware (whatever the driver hands back for an aggregate)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class SqlAuditLog:
    """The ``audit_log`` table: append and read, nothing else."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @contextmanager
    def _appending(self) -> Iterator[Session]:
        """A session in a write transaction that holds the audit writers' lock."""
        with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            options = {SQLITE_BEGIN_OPTION: "BEGIN IMMEDIATE"} if dialect == "sqlite" else {}
            session.connection(execution_options=options)
            if dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
            yield session
            session.commit()

    def append(self, event: AuditEvent) -> AuditEntry:
        """Seal ``event`` after the head and store it, under the writers' lock."""
        with self._appending() as session:
            row = session.execute(select(_AUDIT).order_by(_AUDIT.c.seq.desc()).limit(1)).first()
            head = None if row is None else _entry(row._mapping)
            entry = seal(event, head)
            session.execute(_AUDIT.insert().values(**entry.model_dump(mode="python")))
        return entry

    def head(self) -> AuditEntry | None:
        """The latest entry."""
        with self._sessions() as session:
            row = session.execute(select(_AUDIT).order_by(_AUDIT.c.seq.desc()).limit(1)).first()
        return None if row is None else _entry(row._mapping)

    def entries(self, after: int = 0) -> Iterator[AuditEntry]:
        """Every entry after ``after``, in order, read a page at a time."""
        last = after
        while True:
            query = select(_AUDIT).where(_AUDIT.c.seq > last).order_by(_AUDIT.c.seq).limit(_PAGE)
            with self._sessions() as session:
                page = [_entry(r._mapping) for r in session.execute(query)]
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1].seq

    def latest(
        self, limit: int = 50, *, actor: str | None = None, action: str | None = None
    ) -> builtins.list[AuditEntry]:
        """The newest entries first, optionally of one actor or one action."""
        query = select(_AUDIT).order_by(_AUDIT.c.seq.desc()).limit(limit)
        if actor is not None:
            query = query.where(_AUDIT.c.actor == actor)
        if action is not None:
            query = query.where(_AUDIT.c.action == action)
        with self._sessions() as session:
            return [_entry(r._mapping) for r in session.execute(query)]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry.model_validate(dict(row))
