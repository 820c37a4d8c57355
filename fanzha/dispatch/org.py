"""The organisation: city centre → district centres → police stations → community grids, with
their users and roles, and each unit's overrides of the level policies.

A tree is built once (from the registry's org units, a YAML file, or both) and checked whole:
every problem is reported with where it is (row or line, unit, field), and a bad tree is
refused rather than half-used.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from fanzha.dispatch.levels import (
    DEFAULT_POLICIES,
    DEFAULT_VISIT_POLICY,
    LevelPolicy,
    PolicyOverride,
    RiskLevel,
)
from fanzha.model.enums import OrgLevel

#: Depth of each tier; a child is always strictly deeper than its parent.
TIER_DEPTH = {OrgLevel.CITY: 0, OrgLevel.DISTRICT: 1, OrgLevel.STATION: 2, OrgLevel.COMMUNITY: 3}
# Suffixes stripped from a unit's name to get the place name it covers (城关区反诈中心 → 城关区),
# so that the county a call record names finds its district.
_PLACE_SUFFIXES = ("公安局反诈中心", "反诈骗中心", "反诈中心", "公安分局", "公安局", "分局")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with input: where it is, which field, and why."""

    location: str
    field: str
    reason: str

    def __str__(self) -> str:
        field = f" {self.field}" if self.field else ""
        return f"{self.location}{field}: {self.reason}"


class OrgError(ValueError):
    """An org tree (or its file) that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        shown = "; ".join(str(p) for p in self.problems[:20])
        more = f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} problem(s) in the org tree: {shown}{more}")


class Role(enum.StrEnum):
    """What a user may do in their unit."""

    ADMIN = "admin"
    COMMANDER = "commander"
    DUTY_OFFICER = "duty_officer"
    ANALYST = "analyst"
    OFFICER = "officer"
    GRID_WORKER = "grid_worker"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _ROLE_ZH[self]


_ROLE_ZH = {
    Role.ADMIN: "系统管理员",
    Role.COMMANDER: "指挥长",
    Role.DUTY_OFFICER: "值班员",
    Role.ANALYST: "研判员",
    Role.OFFICER: "民警",
    Role.GRID_WORKER: "网格员",
}


class User(BaseModel):
    """A person who works on instructions, in one unit, with roles."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    unit: str = Field(min_length=1, max_length=32, description="Code of the user's unit.")
    roles: tuple[Role, ...] = Field(default=(Role.OFFICER,), min_length=1)
    phone: str | None = None


class OrgUnit(BaseModel):
    """A unit of the hierarchy, with the place names it covers and its policy overrides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=128)
    level: OrgLevel
    parent: str | None = None
    name_en: str | None = None
    places: tuple[str, ...] = Field(
        default=(), description="Place names (county, city) whose calls this unit covers."
    )
    duty_unit: str | None = Field(
        default=None, description="Where instructions for people of unknown home go (值班台)."
    )
    policies: dict[RiskLevel, PolicyOverride] = Field(
        default_factory=dict, description="Overrides of the level policies here and below."
    )

    def place_names(self) -> tuple[str, ...]:
        """The configured places, and the unit's own name without its police suffix."""
        bare = self.name
        for suffix in _PLACE_SUFFIXES:
            if bare.endswith(suffix) and len(bare) > len(suffix):
                bare = bare.removesuffix(suffix)
                break
        return (*self.places, bare) if bare not in self.places else self.places


class OrgUnitLike(Protocol):
    """A unit as stored by ingestion (``fanzha.store.reference.OrgUnitRow``) or the simulator."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def parent_code(self) -> str | None: ...
    @property
    def name_en(self) -> str | None: ...


def units_from_rows(rows: Iterable[OrgUnitLike]) -> tuple[list[OrgUnit], list[Problem]]:
    """Org units from registry rows; rows that cannot be read are reported, not raised."""
    units: list[OrgUnit] = []
    problems: list[Problem] = []
    for index, row in enumerate(rows, start=1):
        where = f"org unit row {index} ({row.code!r})"
        try:
            level = OrgLevel(row.level)
        except ValueError:
            levels = ", ".join(lv.value for lv in OrgLevel)
            problems.append(Problem(where, "level", f"{row.level!r} is not one of {levels}"))
            continue
        if not row.code or not row.name:
            problems.append(Problem(where, "code" if not row.code else "name", "is empty"))
            continue
        units.append(
            OrgUnit(
                code=row.code,
                name=row.name,
                level=level,
                parent=row.parent_code,
                name_en=row.name_en,
            )
        )
    return units, problems


class OrgTree:
    """A checked tree of units and their users; read-only once built."""

    def __init__(
        self,
        units: Iterable[OrgUnit],
        users: Iterable[User] = (),
        *,
        where: Mapping[str, str] | None = None,
        defaults: Mapping[RiskLevel, LevelPolicy] | None = None,
        visit: LevelPolicy = DEFAULT_VISIT_POLICY,
    ) -> None:
        """Build and check; ``where`` names the source line of a unit or user for errors,
        ``defaults`` replaces the default level policies, ``visit`` the home-visit policy."""
        self._defaults = {**DEFAULT_POLICIES, **(defaults or {})}
        self.visit_policy = visit
        self._units: dict[str, OrgUnit] = {}
        self._children: dict[str, list[str]] = {}
        self._users: dict[str, User] = {}
        problems = self._add_units(units, where or {})
        problems += self._check_links()
        problems += self._add_users(users, where or {})
        if not problems:
            problems += self._check_policies(where or {})
        if problems:
            raise OrgError(problems)
        self._places = self._index_places()

    def with_users(self, users: Iterable[User]) -> OrgTree:
        """The same units and policies with ``users`` added (a replay's simulated officers)."""
        return OrgTree(
            self._units.values(),
            [*self._users.values(), *users],
            defaults=self._defaults,
            visit=self.visit_policy,
        )

    # ------------------------------------------------------------------ building

    def _add_units(self, units: Iterable[OrgUnit], where: Mapping[str, str]) -> list[Problem]:
        problems = []
        for unit in units:
            if unit.code in self._units:
                loc = where.get(f"unit:{unit.code}", f"unit {unit.code!r}")
                problems.append(Problem(loc, "code", "appears twice"))
                continue
            self._units[unit.code] = unit
        for unit in sorted(self._units.values(), key=lambda u: u.code):
            if unit.parent is not None:
                self._children.setdefault(unit.parent, []).append(unit.code)
        return problems

    def _check_links(self) -> list[Problem]:
        problems = []
        for unit in self._units.values():
            loc = f"unit {unit.code!r}"
            parent = self._units.get(unit.parent) if unit.parent is not None else None
            if unit.parent is not None and parent is None:
                problems.append(Problem(loc, "parent", f"unknown unit {unit.parent!r}"))
            elif parent is None and unit.level is not OrgLevel.CITY:
                problems.append(Problem(loc, "parent", f"a {unit.level.value} needs a parent"))
            elif parent is not None and TIER_DEPTH[parent.level] >= TIER_DEPTH[unit.level]:
                reason = f"a {unit.level.value} cannot sit under a {parent.level.value}"
                problems.append(Problem(loc, "parent", f"{reason} ({parent.code!r})"))
            if unit.duty_unit is not None and unit.duty_unit not in self._units:
                problems.append(Problem(loc, "duty_unit", f"unknown unit {unit.duty_unit!r}"))
        return problems

    def _add_users(self, users: Iterable[User], where: Mapping[str, str]) -> list[Problem]:
        problems = []
        for user in users:
            loc = where.get(f"user:{user.username}", f"user {user.username!r}")
            if user.username in self._users:
                problems.append(Problem(loc, "username", "appears twice"))
            elif user.unit not in self._units:
                problems.append(Problem(loc, "unit", f"unknown unit {user.unit!r}"))
            else:
                self._users[user.username] = user
        return problems

    def _check_policies(self, where: Mapping[str, str]) -> list[Problem]:
        """Every unit's overrides must give a valid policy once merged with what it inherits."""
        problems = []
        for unit in self._units.values():
            for level in unit.policies:
                try:
                    self.policy(unit.code, level)
                except ValueError as exc:
                    loc = where.get(f"unit:{unit.code}", f"unit {unit.code!r}")
                    reason = str(exc).splitlines()[-1].strip()
                    problems.append(Problem(loc, f"policies.{int(level)}", reason))
        return problems

    def _index_places(self) -> dict[str, list[str]]:
        places: dict[str, list[str]] = {}
        for unit in self._units.values():
            if unit.level in (OrgLevel.CITY, OrgLevel.DISTRICT):
                for place in unit.place_names():
                    places.setdefault(place, []).append(unit.code)
        return places

    # ------------------------------------------------------------------ reading

    def __contains__(self, code: object) -> bool:
        return code in self._units

    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[OrgUnit]:
        return iter(self._units.values())

    def unit(self, code: str) -> OrgUnit:
        """The unit with ``code`` (KeyError naming it when unknown)."""
        try:
            return self._units[code]
        except KeyError:
            raise KeyError(f"unknown org unit {code!r}") from None

    def get(self, code: str | None) -> OrgUnit | None:
        """The unit with ``code``, or None."""
        return None if code is None else self._units.get(code)

    def parent(self, code: str) -> OrgUnit | None:
        """The unit above ``code`` (None for the city)."""
        return self.get(self.unit(code).parent)

    def children(self, code: str) -> list[OrgUnit]:
        """The units directly under ``code``, by code."""
        return [self._units[c] for c in self._children.get(code, [])]

    def lineage(self, code: str) -> list[OrgUnit]:
        """``code`` and its ancestors, nearest first, the city last."""
        out = [self.unit(code)]
        while (up := self.get(out[-1].parent)) is not None:
            out.append(up)
        return out

    def at_tier(self, code: str, level: OrgLevel) -> OrgUnit | None:
        """The unit of tier ``level`` that ``code`` belongs to (itself, or an ancestor)."""
        return next((u for u in self.lineage(code) if u.level is level), None)

    def is_within(self, code: str, ancestor: str) -> bool:
        """Whether ``code`` is ``ancestor`` or lies under it (jurisdiction)."""
        return any(u.code == ancestor for u in self.lineage(code))

    def roots(self) -> list[OrgUnit]:
        """The city centres (usually one)."""
        return sorted((u for u in self if u.parent is None), key=lambda u: u.code)

    def by_place(self, place: str) -> list[OrgUnit]:
        """Districts and cities covering a place name (as call records write it)."""
        return [self._units[c] for c in self._places.get(place.strip(), [])]

    def escalation_target(self, code: str) -> OrgUnit | None:
        """Where an overdue instruction goes: the district above a station, then the city."""
        for up in self.lineage(code)[1:]:
            if up.level in (OrgLevel.DISTRICT, OrgLevel.CITY):
                return up
        return None

    def duty_desk(self, code: str) -> OrgUnit:
        """The unit that takes instructions addressed to ``code`` without a better target."""
        unit = self.unit(code)
        return self.unit(unit.duty_unit) if unit.duty_unit else unit

    def policy(self, code: str, level: RiskLevel) -> LevelPolicy:
        """The policy for ``level`` at unit ``code``: the default, changed by the overrides of
        the city, the district … down to the unit itself (the nearest one wins)."""
        policy = self._defaults[level]
        for unit in reversed(self.lineage(code)):
            override = unit.policies.get(level)
            if override is not None:
                policy = override.apply(policy)
        return policy

    def user(self, username: str) -> User | None:
        """A user by username."""
        return self._users.get(username)

    def users(self, code: str | None = None) -> list[User]:
        """Users of one unit (or all), by username."""
        found = (u for u in self._users.values() if code is None or u.unit == code)
        return sorted(found, key=lambda u: u.username)
