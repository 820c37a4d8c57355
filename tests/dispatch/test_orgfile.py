"""The org file: YAML over the registry's units, every problem located by line and field."""

from __future__ import annotations

import datetime as dt

import pytest

from fanzha.dispatch.levels import DEFAULT_POLICIES, Channel, RiskLevel
from fanzha.dispatch.org import OrgError, Role
from fanzha.dispatch.orgfile import load_org, tree_from_registry
from fanzha.dispatch.routing import AwayMode
from fanzha.model.enums import OrgLevel

from .builders import CHENGGUAN, CITY, JIANGBEI, NANPING, NANPING_GRID, ROWS, SHENGLI, Row

FULL = """\
defaults:
  高危: {contact_within: 10m}
visit: {contact_within: 45m}
routing: {away: route, unknown: city}
units:
  - {code: 500100, name: 江州市公安局反诈中心, level: city, places: [江州]}
  - code: 500101
    name: 江北区反诈中心
    level: district
    parent: 500100
    duty_unit: "50010101"
    policies:
      特危: {contact_within: 3m, channels: [phone, visit]}
      2: {handled_by: station}
  - {code: "50010101", name: 南坪派出所, level: station, parent: "500101"}
users:
  - {username: li.wei, name: 李伟, unit: "50010101", roles: [officer, duty_officer]}
"""


def test_a_complete_file_without_registry() -> None:
    setup = load_org(FULL)
    org = setup.tree
    assert len(org) == 3
    assert setup.routing.away is AwayMode.ROUTE
    assert setup.routing.unknown is OrgLevel.CITY
    assert org.by_place("江州") == [org.unit(CITY)]
    assert org.duty_desk(JIANGBEI).code == NANPING
    critical = org.policy(NANPING, RiskLevel.CRITICAL)
    assert critical.contact_within == dt.timedelta(minutes=3)
    assert critical.channels == (Channel.PHONE, Channel.VISIT)
    assert org.policy(NANPING, RiskLevel.MEDIUM).handled_by is OrgLevel.STATION
    assert org.policy(CITY, RiskLevel.HIGH).contact_within == dt.timedelta(minutes=10)
    assert org.visit_policy.contact_within == dt.timedelta(minutes=45)
    user = org.user("li.wei")
    assert user is not None and user.roles == (Role.OFFICER, Role.DUTY_OFFICER)


def test_the_file_changes_only_what_it_names_on_registry_units() -> None:
    text = f"""\
units:
  - code: "{SHENGLI}"
    places: [胜利街道]
    policies: {{低危: {{sms_template: sms-elderly}}}}
"""
    org = load_org(text, registry=ROWS).tree
    shengli = org.unit(SHENGLI)
    assert (shengli.name, shengli.level, shengli.parent) == (
        "胜利派出所",
        OrgLevel.STATION,
        CHENGGUAN,
    )
    assert org.policy(SHENGLI, RiskLevel.LOW).sms_template == "sms-elderly"
    assert org.policy(NANPING, RiskLevel.LOW) == DEFAULT_POLICIES[RiskLevel.LOW]
    assert len(org) == len(ROWS)


def test_problems_are_located_by_line_unit_and_field() -> None:
    text = """\
units:
  - {code: 500100, name: x, level: town}
  - {code: 9, name: y, level: station, parent: 77}
  - code: "50010101"
    policies: {特危: {contact_within: -3}, purple2: {}}
users:
  - {username: a, name: A, unit: "nope"}
  - {username: b, name: B, unit: "50010101", roles: [king]}
"""
    with pytest.raises(OrgError) as caught:
        load_org(text, registry=ROWS)
    found = {(p.location, p.field) for p in caught.value.problems}
    assert ("org.yaml line 2 unit '500100'", "level") in found
    assert ("org.yaml line 4 unit '50010101'", "policies.purple2") in found
    assert ("org.yaml line 4 unit '50010101'", "policies.4.contact_within") in found
    assert ("org.yaml line 8 user 'b'", "roles.0") in found
    assert ("unit '9'", "parent") in found  # tree checks still run over what could be read
    assert ("org.yaml line 7", "unit") in found
    message = str(caught.value)
    assert "a duration must be positive" in message and "unknown risk level 'purple2'" in message


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("units: [\n  {code: 1\n", "org.yaml line 3", "expected ',' or '}'"),
        ("units:\n  - {code: a, code: b}\n", "org.yaml line 2", "appears twice"),
        ("- 1\n- 2\n", "org.yaml", "must be a mapping"),
        ("unit: []\n", "org.yaml", "unknown section"),
        ("units: {a: 1}\n", "org.yaml line 1", "must be a list"),
        ("units: [3]\n", "org.yaml units[1]", "must be a mapping"),
        ("routing: {away: sometimes}\n", "org.yaml line 1", "'copy', 'route' or 'ignore'"),
        (
            "defaults: {高危: {contact_within: soon}}\n",
            "org.yaml line 1 defaults.3",
            "not a duration",
        ),
        ("visit: {channels: []}\n", "org.yaml line 1", "at least 1 item"),
    ],
)
def test_malformed_files_say_where_and_why(text: str, where: str, reason: str) -> None:
    with pytest.raises(OrgError) as caught:
        load_org(text)
    assert any(p.location == where and reason in p.reason for p in caught.value.problems), str(
        caught.value
    )


def test_an_empty_file_gives_an_empty_tree() -> None:
    assert len(load_org("").tree) == 0


def test_a_duplicate_unit_in_the_file_is_refused() -> None:
    entry = f'{{code: "{CITY}", name: a, level: city}}'
    text = f"units:\n  - {entry}\n  - {entry}\n"
    with pytest.raises(OrgError, match="appears twice"):
        load_org(text)


def test_registry_alone_and_its_bad_rows() -> None:
    assert tree_from_registry(ROWS).unit(NANPING_GRID).parent == NANPING
    with pytest.raises(OrgError, match="org unit row 1"):
        tree_from_registry([Row("X", "x", "kingdom")])


def test_the_simulated_citys_units_make_a_routable_tree() -> None:
    from fanzha.dispatch.routing import Location, Router
    from fanzha.sim.params import preset
    from fanzha.sim.world import build_geography
    from fanzha.store.reference import OrgUnitRow

    geo = build_geography(preset("tiny"))
    rows = [OrgUnitRow(**r) for r in geo.org_units().to_pylist()]
    org = tree_from_registry(rows)
    assert len(org) == len(rows)
    community = str(geo.community_code[0])
    station = str(geo.station_code[geo.community_station[0]])
    router = Router(org)
    assert router.route(RiskLevel.CRITICAL, community).unit == station
    county = str(geo.district_name[-1])
    away = router.route(RiskLevel.HIGH, community, Location(city=geo.city_name, county=county))
    assert away.copy_to == (str(geo.district_code[-1]),)
