"""User accounts, server-side sessions and login attempts (the records the stores keep)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from fanzha.auth.principal import Grant, Principal, PrincipalKind
from fanzha.auth.roles import TOKEN_ROLES
from fanzha.auth.tokens import hash_secret

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class UserAccount(BaseModel):
    """A person who logs in: argon2 hash, grants (role at unit), and whether they may."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN)
    name: str = Field(min_length=1, max_length=128)
    password_hash: str = Field(repr=False)
    grants: tuple[Grant, ...] = Field(min_length=1)
    disabled: bool = False
    created_at: AwareDatetime
    password_changed_at: AwareDatetime

    @field_validator("grants")
    @classmethod
    def _person_roles(cls, grants: tuple[Grant, ...]) -> tuple[Grant, ...]:
        for grant in grants:
            if grant.role in TOKEN_ROLES:
                raise ValueError(f"{grant.role.value} is a role for API tokens, not for logins")
        if len(set(grants)) != len(grants):
            raise ValueError("a grant appears twice")
        return grants

    def principal(self, active: int = 0, session_id: str | None = None) -> Principal:
        """The user as a caller acting through grant ``active``."""
        return Principal(
            PrincipalKind.USER,
            self.username,
            self.grants,
            active=active if 0 <= active < len(self.grants) else 0,
            display_name=self.name,
            session_id=session_id,
        )


class SessionRecord(BaseModel):
    """A server-side login session. Only the hash of the cookie's value is stored, so a copy
    of the database gives no live sessions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_hash: str = Field(min_length=64, max_length=64)
    username: str
    active_grant: int = 0
    csrf_token: str = Field(repr=False)
    created_at: AwareDatetime
    last_seen_at: AwareDatetime
    expires_at: AwareDatetime
    ip: str = ""

    def live_at(self, at: dt.datetime, idle: dt.timedelta) -> bool:
        """Neither past its absolute expiry nor idle for longer than ``idle``."""
        return at < self.expires_at and at - self.last_seen_at < idle


def new_session(
    username: str, *, now: dt.datetime, lifetime: dt.timedelta, ip: str = ""
) -> tuple[SessionRecord, str]:
    """A new session record and the cookie value (shown to the browser only)."""
    secret = secrets.token_urlsafe(32)
    record = SessionRecord(
        session_hash=hash_secret(secret),
        username=username,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=ip,
    )
    return record, secret


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One try at logging in (kept for rate limiting and for the record)."""

    username: str
    ip: str
    at: dt.datetime
    success: bool


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many failed logins are allowed in a window, per username and per client address."""

    per_user: int = 5
    per_ip: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)

    def blocked(self, user_failures: int, ip_failures: int) -> bool:
        """Whether another try must be refused now."""
        return user_failures >= self.per_user or ip_failures >= self.per_ip
