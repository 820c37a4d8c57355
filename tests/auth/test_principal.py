"""Grants, principals and jurisdiction over the tiny city."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fanzha.auth.principal import (
    Forbidden,
    Grant,
    OutOfScope,
    Principal,
    PrincipalKind,
    Scope,
    grant_problems,
    scope_of,
    subtree,
)
from fanzha.auth.roles import Permission, Role

from .builders import (
    CHENGGUAN,
    CITY,
    JIANGBEI,
    NANPING,
    NANPING_GRID,
    SHENGLI,
    XINHUA,
    city_tree,
    principal,
)


def test_grants_name_a_unit_or_a_bank_as_their_role_needs() -> None:
    assert str(Grant.parse(f"station_officer@{NANPING}")) == f"station_officer@{NANPING}"
    assert Grant.parse("bank_liaison@ICBC").bank == "ICBC"
    assert Grant.parse("data_provider").unit is None
    for bad in ("station_officer", "data_provider@500100", "bank_liaison", "pilot@1"):
        with pytest.raises((ValueError, ValidationError)):
            Grant.parse(bad)
    with pytest.raises(ValidationError):
        Grant(role=Role.CITY_ADMIN, unit=CITY, bank="ICBC")


def test_a_principal_acts_through_one_grant_at_a_time() -> None:
    grants = (
        Grant(role=Role.STATION_OFFICER, unit=NANPING),
        Grant(role=Role.DISTRICT_DISPATCHER, unit=JIANGBEI),
    )
    p = Principal(PrincipalKind.USER, "li", grants)
    assert p.id == "user:li" and p.role is Role.STATION_OFFICER and p.unit == NANPING
    assert not p.can(Permission.INSTRUCTIONS_DISPATCH)
    with pytest.raises(Forbidden):
        p.require(Permission.INSTRUCTIONS_DISPATCH)
    switched = p.acting_as(1)
    assert switched.can(Permission.INSTRUCTIONS_DISPATCH) and switched.unit == JIANGBEI
    with pytest.raises(ValueError, match="no grant number 2"):
        p.acting_as(2)
    with pytest.raises(ValueError, match="at least one grant"):
        Principal(PrincipalKind.USER, "nobody", ())


def test_a_station_sees_itself_and_its_communities() -> None:
    scope = scope_of(principal(Role.STATION_OFFICER, NANPING), city_tree())
    assert scope.units == frozenset({NANPING, NANPING_GRID})
    assert scope.sees_instruction(NANPING) and scope.sees_resident(NANPING_GRID)
    assert not scope.sees_instruction(XINHUA) and not scope.sees_resident(None)
    assert scope.sees_instruction(SHENGLI, copy_to=(NANPING,))  # copied to the local station


def test_a_district_sees_its_stations_and_the_city_everything() -> None:
    tree = city_tree()
    district = scope_of(principal(Role.DISTRICT_DISPATCHER, JIANGBEI), tree)
    assert district.units == frozenset({JIANGBEI, NANPING, XINHUA, NANPING_GRID})
    assert not district.sees_unit(SHENGLI) and not district.sees_unit(CHENGGUAN)
    for city_role in (Role.CITY_ADMIN, Role.CITY_ANALYST, Role.DISTRICT_DISPATCHER):
        city = scope_of(principal(city_role, CITY), tree)
        assert city.is_city and city.sees_unit(SHENGLI) and city.sees_resident(None)
    assert subtree(tree, CHENGGUAN) == {CHENGGUAN, SHENGLI, "50010301001"}


def test_banks_and_providers_see_no_unit() -> None:
    tree = city_tree()
    bank = scope_of(principal(Role.BANK_LIAISON, bank="ICBC"), tree)
    assert bank.units == frozenset() and bank.bank == "ICBC"
    assert bank.sees_order("ICBC", None) and not bank.sees_order("CCB", None)
    assert not bank.sees_instruction(NANPING)
    provider = scope_of(principal(Role.DATA_PROVIDER), tree)
    assert provider == Scope.nothing() and not provider.sees_unit(NANPING)
    station = scope_of(principal(Role.STATION_OFFICER, NANPING), tree)
    assert station.sees_order("ICBC", NANPING) and not station.sees_order("ICBC", SHENGLI)


def test_an_unknown_unit_sees_only_itself() -> None:
    assert scope_of(principal(Role.STATION_OFFICER, "999"), city_tree()).units == frozenset({"999"})
    assert scope_of(principal(Role.STATION_OFFICER, NANPING), None).units == frozenset({NANPING})


def test_narrow_keeps_requested_units_within_scope() -> None:
    station = Scope(frozenset({NANPING}))
    assert station.narrow(None) == frozenset({NANPING})
    assert station.narrow([NANPING, SHENGLI]) == frozenset({NANPING})
    assert Scope.everything().narrow(None) is None
    assert Scope.everything().narrow([SHENGLI]) == frozenset({SHENGLI})
    with pytest.raises(OutOfScope):
        station.check(station.sees_unit(SHENGLI), "instruction x")


def test_grants_are_checked_against_the_tree() -> None:
    tree = city_tree()
    assert grant_problems(Grant(role=Role.STATION_OFFICER, unit=NANPING_GRID), tree) == []
    assert grant_problems(Grant(role=Role.DISTRICT_DISPATCHER, unit=CITY), tree) == []
    assert grant_problems(Grant(role=Role.STATION_OFFICER, unit="42"), tree) == [
        "unknown org unit '42'"
    ]
    wrong = grant_problems(Grant(role=Role.CITY_ADMIN, unit=NANPING), tree)
    assert wrong == ["city_admin is held at a city, not a station"]
    assert grant_problems(Grant(role=Role.BANK_LIAISON, bank="ICBC"), tree) == []
