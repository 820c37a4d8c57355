"""Roles and what they may do: one explicit table, read by everything that checks access.

A role says *what* a principal may do; its grant's unit (or bank) says *where* — see
:mod:`fanzha.auth.principal` for jurisdiction.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from fanzha.dispatch.org import Role as OrgRole
from fanzha.model.enums import OrgLevel


class Role(enum.StrEnum):
    """A security role (what a login or token may do)."""

    CITY_ADMIN = "city_admin"
    CITY_ANALYST = "city_analyst"
    DISTRICT_DISPATCHER = "district_dispatcher"
    STATION_OFFICER = "station_officer"
    BANK_LIAISON = "bank_liaison"
    DATA_PROVIDER = "data_provider"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return ROLE_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English label."""
        return ROLE_LABELS[self][1]

    def label(self, lang: str = "zh-CN") -> str:
        """The label in ``lang`` (zh-CN unless it starts with 'en')."""
        return self.label_en if lang.lower().startswith("en") else self.label_zh


ROLE_LABELS: Mapping[Role, tuple[str, str]] = {
    Role.CITY_ADMIN: ("市局管理员", "city admin"),
    Role.CITY_ANALYST: ("市局研判员", "city analyst"),
    Role.DISTRICT_DISPATCHER: ("分局调度员", "district dispatcher"),
    Role.STATION_OFFICER: ("派出所民警", "station officer"),
    Role.BANK_LIAISON: ("银行联络员", "bank liaison"),
    Role.DATA_PROVIDER: ("数据提供方", "data provider"),
}


class Permission(enum.StrEnum):
    """One thing a role may do. Object-level access is then narrowed by jurisdiction."""

    INGEST = "ingest"
    DEADLETTERS_READ = "deadletters:read"
    DEADLETTERS_RETRY = "deadletters:retry"
    DASHBOARD_READ = "dashboard:read"
    INSTRUCTIONS_READ = "instructions:read"
    INSTRUCTIONS_ACT = "instructions:act"  # sign, contact attempts, outcomes, close
    INSTRUCTIONS_DISPATCH = "instructions:dispatch"  # transfer, escalate, reassign, visits
    RESIDENTS_READ = "residents:read"
    PII_REVEAL = "pii:reveal"
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"  # the stop-payment desk: reports, payees, orders
    ORDERS_READ = "orders:read"
    ORDERS_RESPOND = "orders:respond"  # a bank answers a stop-payment / freeze order
    TRACE_READ = "trace:read"
    INTEL_READ = "intel:read"
    INTEL_WRITE = "intel:write"
    RULES_READ = "rules:read"
    EXPORT = "export"
    USERS_MANAGE = "users:manage"
    TOKENS_MANAGE = "tokens:manage"
    AUDIT_READ = "audit:read"


P = Permission
_OFFICER = frozenset(
    {
        P.INSTRUCTIONS_READ,
        P.INSTRUCTIONS_ACT,
        P.RESIDENTS_READ,
        P.PII_REVEAL,
        P.CASES_READ,
        P.CASES_WRITE,
        P.ORDERS_READ,
        P.TRACE_READ,
        P.INTEL_READ,
        P.RULES_READ,
    }
)

#: The whole policy. A permission missing here is refused everywhere (403).
PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.CITY_ADMIN: frozenset(Permission),
    Role.CITY_ANALYST: frozenset(
        {
            P.DASHBOARD_READ,
            P.INSTRUCTIONS_READ,
            P.RESIDENTS_READ,
            P.PII_REVEAL,
            P.CASES_READ,
            P.ORDERS_READ,
            P.TRACE_READ,
            P.INTEL_READ,
            P.INTEL_WRITE,
            P.RULES_READ,
            P.DEADLETTERS_READ,
            P.EXPORT,
        }
    ),
    Role.DISTRICT_DISPATCHER: _OFFICER | {P.DASHBOARD_READ, P.INSTRUCTIONS_DISPATCH, P.EXPORT},
    Role.STATION_OFFICER: _OFFICER,
    Role.BANK_LIAISON: frozenset({P.ORDERS_READ, P.ORDERS_RESPOND}),
    Role.DATA_PROVIDER: frozenset({P.INGEST}),
}

#: The tier of unit a role is granted at; None: not a unit role (bank, provider).
ROLE_TIERS: Mapping[Role, frozenset[OrgLevel] | None] = {
    Role.CITY_ADMIN: frozenset({OrgLevel.CITY}),
    Role.CITY_ANALYST: frozenset({OrgLevel.CITY}),
    # The city command centre's own dispatchers hold this role at the city unit.
    Role.DISTRICT_DISPATCHER: frozenset({OrgLevel.DISTRICT, OrgLevel.CITY}),
    # Grid workers of a community act as the station's officers for their own grid.
    Role.STATION_OFFICER: frozenset({OrgLevel.STATION, OrgLevel.COMMUNITY}),
    Role.BANK_LIAISON: None,
    Role.DATA_PROVIDER: None,
}

#: Roles only API tokens carry (no interactive login).
TOKEN_ROLES = frozenset({Role.BANK_LIAISON, Role.DATA_PROVIDER})


def permissions_of(role: Role) -> frozenset[Permission]:
    """What ``role`` may do."""
    return PERMISSIONS[role]


def needs_unit(role: Role) -> bool:
    """Whether a grant of ``role`` must name an org unit."""
    return ROLE_TIERS[role] is not None


def role_for_org(role: OrgRole, level: OrgLevel) -> Role | None:
    """The security role of an org-file user (dispatch roles) at a unit of ``level``.

    Admins and analysts are city roles (None elsewhere); everyone else works instructions:
    at a city or district centre as a dispatcher, at a station or community as an officer.
    """
    if role is OrgRole.ADMIN:
        return Role.CITY_ADMIN if level is OrgLevel.CITY else None
    if role is OrgRole.ANALYST:
        return Role.CITY_ANALYST if level is OrgLevel.CITY else None
    if level in (OrgLevel.CITY, OrgLevel.DISTRICT):
        return Role.DISTRICT_DISPATCHER
    return Role.STATION_OFFICER
