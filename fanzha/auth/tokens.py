"""API tokens for machines: data providers (ingest only) and bank liaisons (one bank).

A token reads ``fz_<id>_<secret>``. The id is public (it names the token in lists and in the
audit log); the secret is 256 random bits and only its SHA-256 is stored — a fast hash is
right here, unlike for passwords, because the secret cannot be guessed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from fanzha.auth.principal import Grant, Principal, PrincipalKind
from fanzha.auth.roles import TOKEN_ROLES

PREFIX = "fz_"
_TOKEN = re.compile(r"^fz_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class TokenRecord(BaseModel):
    """A stored token: what it may do, who made it, and the hash of its secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    name: str = Field(min_length=1, max_length=128)
    grant: Grant
    secret_hash: str = Field(repr=False)
    created_by: str
    created_at: AwareDatetime
    expires_at: AwareDatetime | None = None
    revoked_at: AwareDatetime | None = None
    last_used_at: AwareDatetime | None = None

    @field_validator("grant")
    @classmethod
    def _machine_role(cls, grant: Grant) -> Grant:
        if grant.role not in TOKEN_ROLES:
            roles = ", ".join(sorted(r.value for r in TOKEN_ROLES))
            raise ValueError(f"tokens carry only the roles {roles}, not {grant.role.value}")
        return grant

    def usable_at(self, at: dt.datetime) -> bool:
        """Not revoked and not expired at ``at``."""
        if self.revoked_at is not None and self.revoked_at <= at:
            return False
        return self.expires_at is None or at < self.expires_at

    def principal(self) -> Principal:
        """The caller this token stands for."""
        return Principal(PrincipalKind.TOKEN, self.token_id, (self.grant,), display_name=self.name)


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a token (or session) secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(
    name: str,
    grant: Grant,
    *,
    created_by: str,
    now: dt.datetime,
    expires_at: dt.datetime | None = None,
) -> tuple[TokenRecord, str]:
    """A new token record and the token text, to be shown once and never stored."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = TokenRecord(
        token_id=token_id,
        name=name,
        grant=grant,
        secret_hash=hash_secret(secret),
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    return record, f"{PREFIX}{token_id}_{secret}"


def parse_token(text: str) -> tuple[str, str] | None:
    """``(token id, secret)`` of a well-formed token, else None."""
    found = _TOKEN.match(text.strip())
    return (found.group(1), found.group(2)) if found else None


def secret_matches(record: TokenRecord, secret: str) -> bool:
    """Constant-time comparison of the secret's hash with the stored one."""
    return hmac.compare_digest(record.secret_hash, hash_secret(secret))
