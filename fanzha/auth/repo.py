"""What security needs from storage — small Protocols — and in-memory implementations.

The SQL implementations live in :mod:`fanzha.store.security`; one contract test runs both.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Protocol

from fanzha.auth.accounts import LoginAttempt, SessionRecord, UserAccount
from fanzha.auth.tokens import TokenRecord


class DuplicateError(ValueError):
    """A username or token id that already exists."""


class UserRepo(Protocol):
    """User accounts."""

    def add(self, user: UserAccount) -> None:
        """Store a new user (DuplicateError when the username is taken)."""
        ...

    def get(self, username: str) -> UserAccount | None:
        """One user."""
        ...

    def save(self, user: UserAccount) -> None:
        """Replace an existing user's record (KeyError when unknown)."""
        ...

    def list(self) -> builtins.list[UserAccount]:
        """Every user, by username."""
        ...

    def count(self) -> int:
        """How many users there are (first start: none)."""
        ...


class TokenRepo(Protocol):
    """API tokens (hashes only)."""

    def add(self, token: TokenRecord) -> None:
        """Store a new token."""
        ...

    def get(self, token_id: str) -> TokenRecord | None:
        """One token by its public id."""
        ...

    def revoke(self, token_id: str, at: dt.datetime) -> bool:
        """Revoke a token; False when unknown or already revoked."""
        ...

    def touch(self, token_id: str, at: dt.datetime) -> None:
        """Note that the token was used at ``at``."""
        ...

    def list(self) -> builtins.list[TokenRecord]:
        """Every token, newest first."""
        ...


class SessionRepo(Protocol):
    """Server-side sessions, keyed by the hash of the cookie value."""

    def add(self, session: SessionRecord) -> None:
        """Store a new session."""
        ...

    def get(self, session_hash: str) -> SessionRecord | None:
        """One session."""
        ...

    def touch(self, session_hash: str, at: dt.datetime, active_grant: int | None = None) -> None:
        """Note activity (and maybe a switch of unit)."""
        ...

    def delete(self, session_hash: str) -> None:
        """End one session (logout)."""
        ...

    def delete_user(self, username: str) -> int:
        """End every session of a user (disable, password change); how many ended."""
        ...

    def purge(self, before: dt.datetime) -> int:
        """Drop sessions that expired before ``before``."""
        ...


class LoginAttemptRepo(Protocol):
    """Login attempts, counted for rate limiting."""

    def record(self, attempt: LoginAttempt) -> None:
        """Keep one attempt."""
        ...

    def failures(
        self, *, since: dt.datetime, username: str | None = None, ip: str | None = None
    ) -> int:
        """Failed attempts after ``since`` for the username, or from the address."""
        ...

    def last_success(self, username: str) -> dt.datetime | None:
        """When the user last logged in."""
        ...

    def purge(self, before: dt.datetime) -> int:
        """Drop attempts older than ``before``."""
        ...


class MemoryUsers:
    """Users in a dict."""

    def __init__(self) -> None:
        self._users: dict[str, UserAccount] = {}

    def add(self, user: UserAccount) -> None:
        """Store a new user."""
        if user.username in self._users:
            raise DuplicateError(f"user {user.username!r} exists")
        self._users[user.username] = user

    def get(self, username: str) -> UserAccount | None:
        """One user."""
        return self._users.get(username)

    def save(self, user: UserAccount) -> None:
        """Replace."""
        if user.username not in self._users:
            raise KeyError(f"unknown user {user.username!r}")
        self._users[user.username] = user

    def list(self) -> builtins.list[UserAccount]:
        """By username."""
        return [self._users[k] for k in sorted(self._users)]

    def count(self) -> int:
        """How many."""
        return len(self._users)


class MemoryTokens:
    """Tokens in a dict."""

    def __init__(self) -> None:
        self._tokens: dict[str, TokenRecord] = {}

    def add(self, token: TokenRecord) -> None:
        """Store a new token."""
        if token.token_id in self._tokens:
            raise DuplicateError(f"token {token.token_id} exists")
        self._tokens[token.token_id] = token

    def get(self, token_id: str) -> TokenRecord | None:
        """One token."""
        return self._tokens.get(token_id)

    def revoke(self, token_id: str, at: dt.datetime) -> bool:
        """Revoke once."""
        token = self._tokens.get(token_id)
        if token is None or token.revoked_at is not None:
            return False
        self._tokens[token_id] = token.model_copy(update={"revoked_at": at})
        return True

    def touch(self, token_id: str, at: dt.datetime) -> None:
        """Last use."""
        token = self._tokens.get(token_id)
        if token is not None:
            self._tokens[token_id] = token.model_copy(update={"last_used_at": at})

    def list(self) -> builtins.list[TokenRecord]:
        """Newest first."""
        return sorted(self._tokens.values(), key=lambda t: (t.created_at, t.token_id), reverse=True)


class MemorySessions:
    """Sessions in a dict."""

    def __init__(self) -> None:
        self._sessions: dict[str, SessionRecord] = {}

    def add(self, session: SessionRecord) -> None:
        """Store."""
        self._sessions[session.session_hash] = session

    def get(self, session_hash: str) -> SessionRecord | None:
        """One session."""
        return self._sessions.get(session_hash)

    def touch(self, session_hash: str, at: dt.datetime, active_grant: int | None = None) -> None:
        """Note activity."""
        found = self._sessions.get(session_hash)
        if found is None:
            return
        update: dict[str, object] = {"last_seen_at": at}
        if active_grant is not None:
            update["active_grant"] = active_grant
        self._sessions[session_hash] = found.model_copy(update=update)

    def delete(self, session_hash: str) -> None:
        """Logout."""
        self._sessions.pop(session_hash, None)

    def delete_user(self, username: str) -> int:
        """Every session of a user."""
        gone = [k for k, s in self._sessions.items() if s.username == username]
        for key in gone:
            del self._sessions[key]
        return len(gone)

    def purge(self, before: dt.datetime) -> int:
        """Expired ones."""
        gone = [k for k, s in self._sessions.items() if s.expires_at < before]
        for key in gone:
            del self._sessions[key]
        return len(gone)


class MemoryLoginAttempts:
    """Attempts in a list."""

    def __init__(self) -> None:
        self._attempts: list[LoginAttempt] = []

    def record(self, attempt: LoginAttempt) -> None:
        """Keep."""
        self._attempts.append(attempt)

    def failures(
        self, *, since: dt.datetime, username: str | None = None, ip: str | None = None
    ) -> int:
        """Count."""
        return sum(
            1
            for a in self._attempts
            if not a.success
            and a.at > since
            and (username is None or a.username == username)
            and (ip is None or a.ip == ip)
        )

    def last_success(self, username: str) -> dt.datetime | None:
        """Latest success."""
        times = [a.at for a in self._attempts if a.success and a.username == username]
        return max(times, default=None)

    def purge(self, before: dt.datetime) -> int:
        """Old ones."""
        kept = [a for a in self._attempts if a.at >= before]
        gone = len(self._attempts) - len(kept)
        self._attempts = kept
        return gone
