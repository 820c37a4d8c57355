"""Routing as a table: home, away, unknown, per level and per configuration."""

from __future__ import annotations

import pytest

from fanzha.dispatch.levels import PolicyOverride, RiskLevel
from fanzha.dispatch.org import OrgTree, OrgUnit
from fanzha.dispatch.routing import (
    AwayMode,
    Location,
    Route,
    Router,
    RouteReason,
    RoutingConfig,
    RoutingError,
)
from fanzha.model.enums import OrgLevel

from .builders import CHENGGUAN, CITY, JIANGBEI, NANPING, NANPING_GRID, SHENGLI, tree, units

HOME = RouteReason.HOME
AT_HOME = Location(city="江州市", county="江北区")
IN_CHENGGUAN = Location(city="江州市", county="城关区")
ELSEWHERE = Location(city="兰州市", county="七里河区")

CASES = [
    # level, community, location, config.away, expected route
    (RiskLevel.CRITICAL, NANPING_GRID, None, AwayMode.COPY, Route(NANPING, (), HOME)),
    (RiskLevel.HIGH, NANPING_GRID, AT_HOME, AwayMode.COPY, Route(NANPING, (), HOME)),
    (RiskLevel.MEDIUM, NANPING_GRID, None, AwayMode.COPY, Route(JIANGBEI, (), HOME)),
    (RiskLevel.LOW, NANPING_GRID, None, AwayMode.COPY, Route(CITY, (), HOME)),
    (RiskLevel.HIGH, NANPING_GRID, IN_CHENGGUAN, AwayMode.COPY, Route(NANPING, (CHENGGUAN,), HOME)),
    (
        RiskLevel.HIGH,
        NANPING_GRID,
        IN_CHENGGUAN,
        AwayMode.ROUTE,
        Route(CHENGGUAN, (NANPING,), RouteReason.AWAY),
    ),
    (RiskLevel.HIGH, NANPING_GRID, IN_CHENGGUAN, AwayMode.IGNORE, Route(NANPING, (), HOME)),
    (
        RiskLevel.MEDIUM,
        NANPING_GRID,
        IN_CHENGGUAN,
        AwayMode.COPY,
        Route(JIANGBEI, (CHENGGUAN,), HOME),
    ),
    (RiskLevel.LOW, NANPING_GRID, IN_CHENGGUAN, AwayMode.COPY, Route(CITY, (), HOME)),
    (RiskLevel.HIGH, NANPING_GRID, ELSEWHERE, AwayMode.COPY, Route(NANPING, (), HOME)),
    (RiskLevel.HIGH, NANPING, None, AwayMode.COPY, Route(NANPING, (), HOME)),
    (
        RiskLevel.HIGH,
        None,
        IN_CHENGGUAN,
        AwayMode.COPY,
        Route(CHENGGUAN, (), RouteReason.UNKNOWN_LOCAL),
    ),
    (RiskLevel.HIGH, "no-such", None, AwayMode.COPY, Route(CITY, (), RouteReason.UNKNOWN_CITY)),
    (RiskLevel.HIGH, None, ELSEWHERE, AwayMode.COPY, Route(CITY, (), RouteReason.UNKNOWN_CITY)),
    (
        RiskLevel.CRITICAL,
        None,
        Location(county="城关区"),
        AwayMode.COPY,
        Route(CHENGGUAN, (), RouteReason.UNKNOWN_LOCAL),
    ),
]


@pytest.mark.parametrize(("level", "community", "location", "away", "expected"), CASES)
def test_routing_table(
    level: RiskLevel,
    community: str | None,
    location: Location | None,
    away: AwayMode,
    expected: Route,
) -> None:
    router = Router(tree(), RoutingConfig(away=away))
    assert router.route(level, community, location) == expected


def test_unknown_people_go_to_the_city_when_so_configured() -> None:
    router = Router(tree(), RoutingConfig(unknown=OrgLevel.CITY))
    assert router.route(RiskLevel.HIGH, None, IN_CHENGGUAN) == Route(
        CITY, (), RouteReason.UNKNOWN_CITY
    )


def test_duty_desks_take_the_unknown_and_the_copies() -> None:
    desks = {CHENGGUAN: SHENGLI, CITY: JIANGBEI}
    org = OrgTree(u.model_copy(update={"duty_unit": desks.get(u.code)}) for u in units())
    router = Router(org)
    assert router.route(RiskLevel.HIGH, None, IN_CHENGGUAN).unit == SHENGLI
    assert router.route(RiskLevel.HIGH, None, None).unit == JIANGBEI
    assert router.route(RiskLevel.HIGH, NANPING_GRID, IN_CHENGGUAN).copy_to == (SHENGLI,)


def test_a_unit_override_changes_which_tier_acts() -> None:
    override = {RiskLevel.MEDIUM: PolicyOverride(handled_by=OrgLevel.STATION)}
    org = OrgTree(
        u.model_copy(update={"policies": override}) if u.code == JIANGBEI else u for u in units()
    )
    router = Router(org)
    assert router.route(RiskLevel.MEDIUM, NANPING_GRID).unit == NANPING
    assert router.route(RiskLevel.MEDIUM, "50010301001").unit == CHENGGUAN


def test_an_ambiguous_county_is_resolved_by_city_or_left_unknown() -> None:
    lanzhou = OrgUnit(code="620100", name="兰州市公安局反诈中心", level=OrgLevel.CITY)
    chengguan = OrgUnit(
        code="620102", name="城关区反诈中心", level=OrgLevel.DISTRICT, parent="620100"
    )
    router = Router(OrgTree([*units(), lanzhou, chengguan]))
    there = Location(city="兰州市", county="城关区")
    assert router.route(RiskLevel.HIGH, None, there).unit == "620102"
    assert router.route(RiskLevel.HIGH, None, IN_CHENGGUAN).unit == CHENGGUAN
    unsure = router.route(RiskLevel.HIGH, None, Location(county="城关区"))
    assert unsure.reason is RouteReason.UNKNOWN_CITY


def test_a_tree_without_a_city_cannot_route() -> None:
    with pytest.raises(RoutingError, match="no city centre"):
        Router(OrgTree([]))
