"""Builders for the security tests: the dispatch tests' tiny city, cheap hashes, a manual clock."""

from __future__ import annotations

import datetime as dt

from dispatch.builders import CHENGGUAN, CITY, JIANGBEI, NANPING, NANPING_GRID, SHENGLI, XINHUA
from dispatch.builders import tree as city_tree

from fanzha.auth.accounts import LoginLimits
from fanzha.auth.audit import MemoryAuditLog
from fanzha.auth.passwords import Passwords
from fanzha.auth.principal import Grant, Principal, PrincipalKind
from fanzha.auth.repo import MemoryLoginAttempts, MemorySessions, MemoryTokens, MemoryUsers
from fanzha.auth.roles import Role
from fanzha.auth.service import Security, SecurityConfig
from fanzha.model.clock import ManualClock

__all__ = [
    "CHENGGUAN",
    "CITY",
    "JIANGBEI",
    "NANPING",
    "NANPING_GRID",
    "PASSWORD",
    "SHENGLI",
    "START",
    "XINHUA",
    "cheap_passwords",
    "city_tree",
    "principal",
    "security",
]

START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
PASSWORD = "Correct-Horse-9"


def cheap_passwords() -> Passwords:
    """argon2id at the lowest cost: the tests check behaviour, not the work factor."""
    return Passwords(time_cost=1, memory_kib=8, parallelism=1)


def principal(role: Role, unit: str | None = None, bank: str | None = None) -> Principal:
    """A user principal with one grant."""
    grant = Grant(role=role, unit=unit, bank=bank)
    return Principal(PrincipalKind.USER, f"{role.value}-{unit or bank or 'x'}", (grant,))


def security(
    clock: ManualClock | None = None,
    limits: LoginLimits | None = None,
    bootstrap: str | None = None,
) -> Security:
    """A security service over memory stores and the tiny city."""
    config = SecurityConfig(limits=limits or LoginLimits(), bootstrap_ingest_token=bootstrap)
    return Security(
        users=MemoryUsers(),
        tokens=MemoryTokens(),
        sessions=MemorySessions(),
        attempts=MemoryLoginAttempts(),
        audit=MemoryAuditLog(),
        passwords=cheap_passwords(),
        config=config,
        clock=clock or ManualClock(START),
        tree=city_tree(),
    )
