"""Routing: which unit gets a warning's instruction, and which others are told.

The unit with jurisdiction is the station of the person's home community (from the registry).
When the person is elsewhere (their latest call was handled in another county), the local
district's duty desk is copied in, or takes over, as configured. When nobody knows where the
person lives, the instruction goes to the duty desk of the district they are in, else the city.
The level's policy then decides which tier acts (a 中危 instruction is phoned by the district
centre, a 低危 one texted by the city).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from fanzha.dispatch.levels import RiskLevel
from fanzha.dispatch.org import OrgTree, OrgUnit
from fanzha.model.enums import OrgLevel


class AwayMode(enum.StrEnum):
    """What to do when the person is found outside their home district."""

    COPY = "copy"  # the home unit acts; the local duty desk is copied in (协办)
    ROUTE = "route"  # the local duty desk acts; the home unit is copied in
    IGNORE = "ignore"  # only the home unit


class RouteReason(enum.StrEnum):
    """Why an instruction went where it went."""

    HOME = "home"
    AWAY = "away"
    UNKNOWN_LOCAL = "unknown_local"
    UNKNOWN_CITY = "unknown_city"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _REASON_ZH[self]


_REASON_ZH = {
    RouteReason.HOME: "户籍/居住地社区所属派出所",
    RouteReason.AWAY: "人在外地:当地值班台",
    RouteReason.UNKNOWN_LOCAL: "住址不明:所在区县值班台",
    RouteReason.UNKNOWN_CITY: "住址不明:市反诈中心值班台",
}


class RoutingConfig(BaseModel):
    """Routing rules (configuration, not code)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    away: AwayMode = AwayMode.COPY
    unknown: OrgLevel = OrgLevel.DISTRICT  # district: the local district's desk when known


class Location(BaseModel):
    """Where a person was last seen, as call records name it (city, county)."""

    model_config = ConfigDict(frozen=True)

    city: str | None = None
    county: str | None = None
    at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """The unit that acts, the units copied in, and why."""

    unit: str
    copy_to: tuple[str, ...]
    reason: RouteReason


class RoutingError(ValueError):
    """The tree cannot route anything (it has no city centre)."""


class Router:
    """Routes warnings through one org tree under one configuration."""

    def __init__(self, tree: OrgTree, config: RoutingConfig | None = None) -> None:
        roots = tree.roots()
        if not roots:
            raise RoutingError("the org tree has no city centre: nothing can be routed")
        self.tree = tree
        self.config = config or RoutingConfig()
        self._city = roots[0]

    def route(
        self, level: RiskLevel, community: str | None, location: Location | None = None
    ) -> Route:
        """Where the instruction for a person of ``community`` (may be unknown) goes."""
        local = self._local_district(location)
        home = self.tree.get(community)
        if home is None:
            return self._unknown(level, local)
        station = self.tree.at_tier(home.code, OrgLevel.STATION) or home
        acting = self._acting(station, level)
        home_district = self.tree.at_tier(home.code, OrgLevel.DISTRICT)
        away = local is not None and home_district is not None and local.code != home_district.code
        # The city's automated SMS needs no local help; a phone call or a visit may.
        city_acts = acting.level is OrgLevel.CITY
        if not away or local is None or city_acts or self.config.away is AwayMode.IGNORE:
            return Route(acting.code, (), RouteReason.HOME)
        desk = self.tree.duty_desk(local.code)
        if self.config.away is AwayMode.ROUTE:
            return Route(desk.code, _others(acting.code, desk.code), RouteReason.AWAY)
        return Route(acting.code, _others(desk.code, acting.code), RouteReason.HOME)

    def _acting(self, station: OrgUnit, level: RiskLevel) -> OrgUnit:
        """The unit of the tier the level's policy names, above (or at) the home station."""
        tier = self.tree.policy(station.code, level).handled_by
        if tier is OrgLevel.COMMUNITY:
            return station  # grids help with visits; instructions go to the station
        return self.tree.at_tier(station.code, tier) or station

    def _unknown(self, level: RiskLevel, local: OrgUnit | None) -> Route:
        if local is not None and self.config.unknown is not OrgLevel.CITY:
            desk = self.tree.duty_desk(local.code)
            return Route(desk.code, (), RouteReason.UNKNOWN_LOCAL)
        return Route(self.tree.duty_desk(self._city.code).code, (), RouteReason.UNKNOWN_CITY)

    def _local_district(self, location: Location | None) -> OrgUnit | None:
        """The district covering the county a call record names (within its city if named)."""
        if location is None or not location.county:
            return None
        found = [u for u in self.tree.by_place(location.county) if u.level is OrgLevel.DISTRICT]
        if location.city and len(found) > 1:
            cities = {u.code for u in self.tree.by_place(location.city)}
            found = [u for u in found if u.parent in cities] or found
        return found[0] if len(found) == 1 else None


def _others(code: str, acting: str) -> tuple[str, ...]:
    return () if code == acting else (code,)
