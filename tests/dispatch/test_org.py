"""The org tree: structure checks with located problems, lineage, policies per unit."""

from __future__ import annotations

import datetime as dt

import pytest

from fanzha.dispatch.levels import DEFAULT_POLICIES, PolicyOverride, RiskLevel
from fanzha.dispatch.org import OrgError, OrgTree, OrgUnit, User, units_from_rows
from fanzha.model.enums import OrgLevel

from .builders import (
    CHENGGUAN,
    CITY,
    JIANGBEI,
    NANPING,
    NANPING_GRID,
    ROWS,
    SHENGLI,
    Row,
    tree,
    units,
)


def unit(code: str, level: OrgLevel, parent: str | None, **kw: object) -> OrgUnit:
    return OrgUnit.model_validate(
        {"code": code, "name": code, "level": level, "parent": parent, **kw}
    )


def test_lineage_tiers_and_children() -> None:
    org = tree()
    assert [u.code for u in org.lineage(NANPING_GRID)] == [NANPING_GRID, NANPING, JIANGBEI, CITY]
    assert org.at_tier(NANPING_GRID, OrgLevel.DISTRICT) == org.unit(JIANGBEI)
    assert org.at_tier(JIANGBEI, OrgLevel.STATION) is None
    assert [u.code for u in org.children(JIANGBEI)] == [NANPING, "50010102"]
    assert org.is_within(NANPING_GRID, JIANGBEI)
    assert not org.is_within(NANPING_GRID, CHENGGUAN)
    assert [u.code for u in org.roots()] == [CITY]
    assert [u.username for u in org.users(NANPING)] == ["li", "wang"]


def test_escalation_goes_station_district_city_and_stops() -> None:
    org = tree()
    assert org.escalation_target(NANPING) == org.unit(JIANGBEI)
    assert org.escalation_target(NANPING_GRID) == org.unit(JIANGBEI)
    assert org.escalation_target(JIANGBEI) == org.unit(CITY)
    assert org.escalation_target(CITY) is None


def test_places_come_from_names_without_the_police_suffix() -> None:
    org = tree()
    assert org.by_place("城关区") == [org.unit(CHENGGUAN)]
    assert org.by_place("江州市") == [org.unit(CITY)]
    assert org.by_place("南坪") == []  # stations are not looked up by place


def test_every_structural_problem_is_reported_at_once() -> None:
    bad = [
        unit(CITY, OrgLevel.CITY, None),
        unit("D", OrgLevel.DISTRICT, "missing"),
        unit("S", OrgLevel.STATION, None),
        unit("C", OrgLevel.COMMUNITY, CITY),
        unit("X", OrgLevel.DISTRICT, "C"),
        unit(CITY, OrgLevel.CITY, None),
        unit("Y", OrgLevel.DISTRICT, CITY, duty_unit="nowhere"),
    ]
    with pytest.raises(OrgError) as caught:
        OrgTree(bad, [User(username="u", name="U", unit="gone")])
    found = {(p.location, p.field) for p in caught.value.problems}
    assert found == {
        ("unit '500100'", "code"),
        ("unit 'D'", "parent"),
        ("unit 'S'", "parent"),
        ("unit 'X'", "parent"),
        ("unit 'Y'", "duty_unit"),
        ("user 'u'", "unit"),
    }
    assert "a district cannot sit under a community" in str(caught.value)


def test_registry_rows_with_a_bad_level_are_reported_by_row() -> None:
    rows = [*ROWS, Row("Z", "Z所", "precinct", CITY)]
    good, problems = units_from_rows(rows)
    assert len(good) == len(ROWS)
    assert [(p.location, p.field) for p in problems] == [
        (f"org unit row {len(rows)} ('Z')", "level")
    ]


def test_policy_overrides_inherit_down_the_tree_and_the_nearest_wins() -> None:
    five = dt.timedelta(minutes=5)
    three = dt.timedelta(minutes=3)
    changed = []
    for u in units():
        if u.code == JIANGBEI:
            u = u.model_copy(
                update={"policies": {RiskLevel.HIGH: PolicyOverride(contact_within=five)}}
            )
        if u.code == NANPING:
            u = u.model_copy(
                update={"policies": {RiskLevel.HIGH: PolicyOverride(sign_within=three)}}
            )
        changed.append(u)
    org = OrgTree(changed)
    at_grid = org.policy(NANPING_GRID, RiskLevel.HIGH)
    assert (at_grid.contact_within, at_grid.sign_within) == (five, three)
    assert (
        org.policy("50010102", RiskLevel.HIGH).sign_within
        == DEFAULT_POLICIES[RiskLevel.HIGH].sign_within
    )
    assert org.policy(SHENGLI, RiskLevel.HIGH) == DEFAULT_POLICIES[RiskLevel.HIGH]
    assert org.policy(NANPING, RiskLevel.LOW) == DEFAULT_POLICIES[RiskLevel.LOW]


def test_an_override_that_breaks_a_policy_is_refused() -> None:
    broken = [
        u.model_copy(
            update={"policies": {RiskLevel.LOW: PolicyOverride.model_construct(channels=())}}
        )
        if u.code == JIANGBEI
        else u
        for u in units()
    ]
    with pytest.raises(OrgError) as caught:
        OrgTree(broken)
    [problem] = caught.value.problems
    assert (problem.location, problem.field) == (f"unit '{JIANGBEI}'", "policies.1")


def test_unknown_unit_is_a_named_key_error() -> None:
    with pytest.raises(KeyError, match="unknown org unit 'nope'"):
        tree().unit("nope")
