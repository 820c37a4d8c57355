"""The security service: logins and sessions, tokens, users, reveals, and the audit chain.

Pure: it sees storage only through the Protocols of :mod:`fanzha.auth.repo` and
:mod:`fanzha.auth.audit`, and time through a :class:`~fanzha.model.clock.Clock` (the wall
clock in production: sessions and audit entries live in real time, even in an accelerated
demo). Routers and commands call it; nothing here knows about HTTP.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fanzha.auth.accounts import LoginAttempt, LoginLimits, SessionRecord, UserAccount, new_session
from fanzha.auth.audit import AuditEntry, AuditEvent, AuditLog
from fanzha.auth.masking import PiiKind, check_reveal
from fanzha.auth.passwords import PasswordPolicy, Passwords, generate_password
from fanzha.auth.principal import (
    Forbidden,
    Grant,
    OutOfScope,
    Principal,
    PrincipalKind,
    Scope,
    grant_problems,
    scope_of,
)
from fanzha.auth.repo import LoginAttemptRepo, SessionRepo, TokenRepo, UserRepo
from fanzha.auth.roles import Permission, Role
from fanzha.auth.tokens import TokenRecord, hash_secret, new_token, parse_token, secret_matches
from fanzha.dispatch.org import OrgTree
from fanzha.model.clock import Clock, SystemClock

BOOTSTRAP_TOKEN_ID = "bootstrap"
FIRST_ADMIN = "admin"

#: An object's personal identifiers, by field: what the reveal endpoint can show.
PiiFields = Mapping[str, tuple[PiiKind, str | None]]
#: Looks up one object for a principal: its identifiers, or None when absent or out of scope.
Revealer = Callable[[Principal, Scope, str], PiiFields | None]


class LoginFailed(PermissionError):
    """Wrong username or password, or a disabled user (one message for all: no probing)."""


class LoginThrottled(PermissionError):
    """Too many failed logins for this user or from this address; try again later."""


class PolicyError(ValueError):
    """A password or grant that the policy refuses; ``problems`` says why."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """Lifetimes and limits (from Settings)."""

    session_lifetime: dt.timedelta = dt.timedelta(hours=12)  # one shift and a bit
    session_idle: dt.timedelta = dt.timedelta(hours=1)
    limits: LoginLimits = field(default_factory=LoginLimits)
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    bootstrap_ingest_token: str | None = None
    lang: str = "zh-CN"  # of the policy's messages


@dataclass(frozen=True, slots=True)
class Login:
    """A successful login: the session, its cookie value (for the browser only) and who."""

    session: SessionRecord
    cookie: str
    principal: Principal


class Security:
    """Authentication, user and token administration, reveals and audit, over Protocols."""

    def __init__(
        self,
        *,
        users: UserRepo,
        tokens: TokenRepo,
        sessions: SessionRepo,
        attempts: LoginAttemptRepo,
        audit: AuditLog,
        passwords: Passwords | None = None,
        config: SecurityConfig | None = None,
        clock: Clock | None = None,
        tree: OrgTree | None = None,
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.sessions = sessions
        self.attempts = attempts
        self.audit = audit
        self.passwords = passwords or Passwords()
        self.config = config or SecurityConfig()
        self.clock: Clock = clock or SystemClock()
        self.tree = tree
        self._revealers: dict[str, Revealer] = {}

    # ------------------------------------------------------------------ audit

    def record(
        self,
        actor: Principal | str,
        action: str,
        *,
        object_type: str = "",
        object_id: str = "",
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry to the audit chain (changes, exports, reveals, logins)."""
        who = actor.id if isinstance(actor, Principal) else actor
        event = AuditEvent(
            at=self.clock.now(),
            actor=who,
            action=action,
            object_type=object_type,
            object_id=object_id,
            reason=reason,
            details=dict(details or {}),
        )
        return self.audit.append(event)

    # ------------------------------------------------------------------ logins and sessions

    def login(self, username: str, password: str, ip: str = "") -> Login:
        """Check the password under the rate limits and open a session."""
        now = self.clock.now()
        if self.throttled(username, ip, now):
            raise LoginThrottled(username)
        user = self.users.get(username)
        ok = self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled:
            self.attempts.record(LoginAttempt(username, ip, now, success=False))
            raise LoginFailed(username)
        self.attempts.record(LoginAttempt(username, ip, now, success=True))
        if self.passwords.needs_rehash(user.password_hash):
            user = user.model_copy(update={"password_hash": self.passwords.hash(password)})
            self.users.save(user)
        session, cookie = new_session(
            username, now=now, lifetime=self.config.session_lifetime, ip=ip
        )
        self.sessions.add(session)
        principal = user.principal(0, session.session_hash)
        self.record(principal, "auth.login", details={"ip": ip})
        return Login(session, cookie, principal)

    def throttled(self, username: str, ip: str, now: dt.datetime | None = None) -> bool:
        """Whether the limits refuse another try now (failures since the window's start,
        and for the user since their last success)."""
        now = now or self.clock.now()
        limits = self.config.limits
        start = now - limits.window
        last_ok = self.attempts.last_success(username)
        user_since = max(start, last_ok) if last_ok is not None else start
        by_user = self.attempts.failures(since=user_since, username=username)
        by_ip = self.attempts.failures(since=start, ip=ip) if ip else 0
        return limits.blocked(by_user, by_ip)

    def session(self, cookie: str) -> tuple[Principal, SessionRecord] | None:
        """The principal of a live session cookie (and note the activity), else None."""
        key = hash_secret(cookie)
        found = self.sessions.get(key)
        now = self.clock.now()
        if found is None or not found.live_at(now, self.config.session_idle):
            if found is not None:
                self.sessions.delete(key)
            return None
        user = self.users.get(found.username)
        if user is None or user.disabled:
            self.sessions.delete(key)
            return None
        self.sessions.touch(key, now)
        return user.principal(found.active_grant, key), found

    def logout(self, principal: Principal) -> None:
        """End the principal's session."""
        if principal.session_id is not None:
            self.sessions.delete(principal.session_id)
            self.record(principal, "auth.logout")

    def switch_unit(self, principal: Principal, index: int) -> Principal:
        """Act through another of the user's grants from now on (the unit switcher)."""
        if principal.session_id is None or not 0 <= index < len(principal.grants):
            raise Forbidden(f"no grant number {index}")
        self.sessions.touch(principal.session_id, self.clock.now(), active_grant=index)
        switched = principal.acting_as(index)
        self.record(switched, "auth.switch_unit", details={"grant": str(switched.grant)})
        return switched

    # ------------------------------------------------------------------ tokens

    def token(self, text: str) -> Principal | None:
        """The principal of a bearer token (an API token or the bootstrap ingest token)."""
        bootstrap = self.config.bootstrap_ingest_token
        if bootstrap and hmac.compare_digest(text.encode(), bootstrap.encode()):
            grant = Grant(role=Role.DATA_PROVIDER)
            return Principal(PrincipalKind.TOKEN, BOOTSTRAP_TOKEN_ID, (grant,))
        parsed = parse_token(text)
        if parsed is None:
            return None
        record = self.tokens.get(parsed[0])
        now = self.clock.now()
        if record is None or not secret_matches(record, parsed[1]) or not record.usable_at(now):
            return None
        self.tokens.touch(record.token_id, now)
        return record.principal()

    def create_token(
        self,
        name: str,
        grant: Grant,
        actor: Principal | str,
        expires_at: dt.datetime | None = None,
    ) -> tuple[TokenRecord, str]:
        """A new API token; the text is returned once and never stored."""
        who = actor.id if isinstance(actor, Principal) else actor
        record, text = new_token(
            name, grant, created_by=who, now=self.clock.now(), expires_at=expires_at
        )
        self.tokens.add(record)
        self.record(
            actor,
            "token.create",
            object_type="token",
            object_id=record.token_id,
            details={"name": name, "grant": str(grant)},
        )
        return record, text

    def revoke_token(self, token_id: str, actor: Principal | str) -> bool:
        """Revoke a token (False when unknown or already revoked)."""
        done = self.tokens.revoke(token_id, self.clock.now())
        if done:
            self.record(actor, "token.revoke", object_type="token", object_id=token_id)
        return done

    # ------------------------------------------------------------------ users

    def add_user(
        self,
        username: str,
        name: str,
        password: str,
        grants: Sequence[Grant],
        actor: Principal | str,
    ) -> UserAccount:
        """Create a user after checking the password policy and the grants against the tree."""
        self._check_password(password, username)
        problems = [p for g in grants for p in grant_problems(g, self.tree)]
        if problems:
            raise PolicyError(problems)
        now = self.clock.now()
        user = UserAccount(
            username=username,
            name=name,
            password_hash=self.passwords.hash(password),
            grants=tuple(grants),
            created_at=now,
            password_changed_at=now,
        )
        self.users.add(user)
        self.record(
            actor,
            "user.add",
            object_type="user",
            object_id=username,
            details={"grants": [str(g) for g in grants]},
        )
        return user

    def set_password(self, username: str, password: str, actor: Principal | str) -> None:
        """Change a password and end the user's sessions."""
        user = self._user(username)
        self._check_password(password, username)
        changed = user.model_copy(
            update={
                "password_hash": self.passwords.hash(password),
                "password_changed_at": self.clock.now(),
            }
        )
        self.users.save(changed)
        self.sessions.delete_user(username)
        self.record(actor, "user.passwd", object_type="user", object_id=username)

    def set_disabled(self, username: str, disabled: bool, actor: Principal | str) -> None:
        """Disable (ending every session) or enable a user."""
        user = self._user(username)
        self.users.save(user.model_copy(update={"disabled": disabled}))
        if disabled:
            self.sessions.delete_user(username)
        action = "user.disable" if disabled else "user.enable"
        self.record(actor, action, object_type="user", object_id=username)

    def ensure_admin(self, unit: str) -> str | None:
        """On first start (no users at all) create ``admin`` as city admin of ``unit`` with a
        generated password, returned once to be printed; None when users exist."""
        if self.users.count():
            return None
        password = generate_password()
        grant = Grant(role=Role.CITY_ADMIN, unit=unit)
        self.add_user(FIRST_ADMIN, "系统管理员", password, [grant], "system")
        return password

    def _user(self, username: str) -> UserAccount:
        user = self.users.get(username)
        if user is None:
            raise KeyError(f"unknown user {username!r}")
        return user

    def _check_password(self, password: str, username: str) -> None:
        problems = self.config.policy.problems(password, username, self.config.lang)
        if problems:
            raise PolicyError(problems)

    # ------------------------------------------------------------------ jurisdiction, reveals

    def scope(self, principal: Principal) -> Scope:
        """What the principal may see over the current org tree."""
        return scope_of(principal, self.tree)

    def register_revealer(self, object_type: str, revealer: Revealer) -> None:
        """Let :meth:`reveal` show identifiers of ``object_type`` (routers register theirs)."""
        if object_type in self._revealers:
            raise ValueError(f"a revealer for {object_type!r} is registered already")
        self._revealers[object_type] = revealer

    @property
    def revealable(self) -> list[str]:
        """Object types whose identifiers can be revealed."""
        return sorted(self._revealers)

    def reveal(
        self, principal: Principal, object_type: str, object_id: str, field: str, reason: str
    ) -> tuple[PiiKind, str | None]:
        """One identifier of one object in the principal's jurisdiction, with the reveal
        written to the audit chain (the value itself never is)."""
        cleaned = check_reveal(principal, reason)
        revealer = self._revealers.get(object_type)
        if revealer is None:
            raise OutOfScope(f"{object_type} {object_id}")
        found = revealer(principal, self.scope(principal), object_id)
        if found is None or field not in found:
            raise OutOfScope(f"{object_type} {object_id}")
        kind, value = found[field]
        self.record(
            principal,
            "pii.reveal",
            object_type=object_type,
            object_id=object_id,
            reason=cleaned,
            details={"field": field, "kind": kind.value},
        )
        return kind, value

    def require(self, principal: Principal, permission: Permission) -> None:
        """Raise :class:`Forbidden` unless the principal's role allows ``permission``."""
        principal.require(permission)
