"""Who is asking (a :class:`Principal`) and what they may see (a :class:`Scope`).

A principal holds one or more :class:`Grant` s — a role at an org unit, or for a bank — and
acts through one of them at a time (the unit switcher). Its role gives the permissions
(:mod:`fanzha.auth.roles`), its unit the jurisdiction: a station sees its own residents and
instructions, a district its stations, the city everything; a bank liaison only its bank's
orders; a data provider nothing but the ingest endpoint.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fanzha.auth.roles import ROLE_TIERS, Permission, Role, needs_unit, permissions_of
from fanzha.dispatch.org import OrgTree


class Forbidden(PermissionError):
    """The principal's role does not allow this action at all (HTTP 403)."""


class OutOfScope(LookupError):
    """The object is outside the principal's jurisdiction; reported as absent (HTTP 404)."""


class Grant(BaseModel):
    """A role held at one org unit, or for one bank (bank liaisons)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    unit: str | None = Field(default=None, max_length=32, description="Org unit code.")
    bank: str | None = Field(default=None, max_length=64, description="Bank code or name.")

    @model_validator(mode="after")
    def _where(self) -> Self:
        if needs_unit(self.role) and not self.unit:
            raise ValueError(f"role {self.role.value} needs a unit")
        if not needs_unit(self.role) and self.unit:
            raise ValueError(f"role {self.role.value} takes no unit")
        if (self.role is Role.BANK_LIAISON) != bool(self.bank):
            raise ValueError("a bank is needed by, and only by, the bank_liaison role")
        return self

    def __str__(self) -> str:
        where = self.unit or self.bank
        return f"{self.role.value}@{where}" if where else self.role.value

    @classmethod
    def parse(cls, text: str) -> Grant:
        """``role@unit`` (``station_officer@50010101``), ``bank_liaison@ICBC`` or a bare role."""
        role, _, where = text.strip().partition("@")
        try:
            parsed = Role(role.strip())
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {role!r}; use one of {known}") from None
        if parsed is Role.BANK_LIAISON:
            return cls(role=parsed, bank=where.strip() or None)
        return cls(role=parsed, unit=where.strip() or None)


class PrincipalKind(enum.StrEnum):
    """A person logged in, or an API token."""

    USER = "user"
    TOKEN = "token"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller acting through one of its grants."""

    kind: PrincipalKind
    name: str  # username, or the token's id
    grants: tuple[Grant, ...]
    active: int = 0
    display_name: str = ""
    session_id: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.grants:
            raise ValueError("a principal needs at least one grant")
        if not 0 <= self.active < len(self.grants):
            raise ValueError(f"no grant number {self.active}")

    @property
    def id(self) -> str:
        """Stable id for logs and the audit chain: ``user:li.wei`` or ``token:3f9a…``."""
        return f"{self.kind.value}:{self.name}"

    @property
    def grant(self) -> Grant:
        """The grant the principal acts through now."""
        return self.grants[self.active]

    @property
    def role(self) -> Role:
        """The active role."""
        return self.grant.role

    @property
    def unit(self) -> str | None:
        """The active unit (None for banks and data providers)."""
        return self.grant.unit

    @property
    def permissions(self) -> frozenset[Permission]:
        """What the active role may do."""
        return permissions_of(self.role)

    def can(self, permission: Permission) -> bool:
        """Whether the active role allows ``permission``."""
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise :class:`Forbidden` unless the active role allows ``permission``."""
        if not self.can(permission):
            raise Forbidden(f"{self.role.value} may not {permission.value}")

    def acting_as(self, index: int) -> Principal:
        """The same principal acting through grant ``index`` (the unit switcher)."""
        return replace(self, active=index)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a principal may see: a set of org units (None: all of them) and maybe one bank."""

    units: frozenset[str] | None
    bank: str | None = None

    @classmethod
    def everything(cls) -> Scope:
        """The whole city."""
        return cls(None)

    @classmethod
    def nothing(cls) -> Scope:
        """No unit at all (data providers)."""
        return cls(frozenset())

    @property
    def is_city(self) -> bool:
        """Whether every unit is in scope."""
        return self.units is None

    def sees_unit(self, code: str | None) -> bool:
        """Whether objects held by unit ``code`` are in scope (unknown units: city only)."""
        if self.units is None:
            return True
        return code is not None and code in self.units

    def sees_instruction(self, unit: str, copy_to: Iterable[str] = ()) -> bool:
        """An instruction is seen by its unit's jurisdiction and by units it is copied to."""
        return self.sees_unit(unit) or any(self.sees_unit(c) for c in copy_to)

    def sees_resident(self, community: str | None) -> bool:
        """A resident is seen by the jurisdiction of their home community."""
        return self.sees_unit(community)

    def sees_order(self, bank: str, unit: str | None) -> bool:
        """A bank order: a liaison sees its bank's, police the orders of their units' cases."""
        if self.bank is not None:
            return bank == self.bank
        return self.sees_unit(unit)

    def narrow(self, requested: Iterable[str] | None) -> frozenset[str] | None:
        """Units to filter a query by: the requested ones within scope (None: no filter)."""
        if requested is None:
            return self.units
        wanted = frozenset(requested)
        return wanted if self.units is None else wanted & self.units

    def check(self, visible: bool, what: str) -> None:
        """Raise :class:`OutOfScope` (reported as 404) when ``visible`` is false."""
        if not visible:
            raise OutOfScope(what)


def scope_of(principal: Principal, tree: OrgTree | None) -> Scope:
    """The jurisdiction of the principal's active grant over the org tree."""
    grant = principal.grant
    if grant.role in (Role.CITY_ADMIN, Role.CITY_ANALYST):
        return Scope.everything()
    if grant.role is Role.BANK_LIAISON:
        return Scope(frozenset(), bank=grant.bank)
    if ROLE_TIERS[grant.role] is None or grant.unit is None:
        return Scope.nothing()
    if tree is None or grant.unit not in tree:
        return Scope(frozenset({grant.unit}))  # an unknown unit sees only itself
    if tree.get(grant.unit) in tree.roots():
        return Scope.everything()
    return Scope(frozenset(subtree(tree, grant.unit)))


def subtree(tree: OrgTree, code: str) -> set[str]:
    """``code`` and every unit below it."""
    seen = {code}
    todo = [code]
    while todo:
        for child in tree.children(todo.pop()):
            if child.code not in seen:
                seen.add(child.code)
                todo.append(child.code)
    return seen


def grant_problems(grant: Grant, tree: OrgTree | None) -> list[str]:
    """Why ``grant`` does not fit the org tree (unknown unit, wrong tier); empty when it fits."""
    tiers = ROLE_TIERS[grant.role]
    if tiers is None or tree is None or grant.unit is None:
        return []
    unit = tree.get(grant.unit)
    if unit is None:
        return [f"unknown org unit {grant.unit!r}"]
    if unit.level not in tiers:
        allowed = ", ".join(sorted(t.value for t in tiers))
        return [f"{grant.role.value} is held at a {allowed}, not a {unit.level.value}"]
    return []
