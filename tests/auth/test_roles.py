"""The permission table: complete, least privilege for machines, and org roles mapped."""

from __future__ import annotations

import pytest

from fanzha.auth.roles import PERMISSIONS, ROLE_LABELS, ROLE_TIERS, Permission, Role, role_for_org
from fanzha.dispatch.org import Role as OrgRole
from fanzha.model.enums import OrgLevel


def test_every_role_has_permissions_tiers_and_labels() -> None:
    assert set(PERMISSIONS) == set(Role) == set(ROLE_TIERS) == set(ROLE_LABELS)
    assert Role.STATION_OFFICER.label() == "派出所民警"
    assert Role.STATION_OFFICER.label("en") == "station officer"


def test_only_the_admin_manages_users_tokens_and_reads_the_audit_log() -> None:
    admin_only = {Permission.USERS_MANAGE, Permission.TOKENS_MANAGE, Permission.AUDIT_READ}
    for role, allowed in PERMISSIONS.items():
        assert (admin_only <= allowed) == (role is Role.CITY_ADMIN)
        if role is not Role.CITY_ADMIN:
            assert not admin_only & allowed


def test_machines_do_one_thing() -> None:
    assert PERMISSIONS[Role.DATA_PROVIDER] == {Permission.INGEST}
    assert PERMISSIONS[Role.BANK_LIAISON] == {Permission.ORDERS_READ, Permission.ORDERS_RESPOND}


def test_analysts_read_but_do_not_act_on_instructions() -> None:
    analyst = PERMISSIONS[Role.CITY_ANALYST]
    assert Permission.INSTRUCTIONS_READ in analyst
    assert Permission.INSTRUCTIONS_ACT not in analyst
    assert Permission.INSTRUCTIONS_DISPATCH in PERMISSIONS[Role.DISTRICT_DISPATCHER]
    assert Permission.INSTRUCTIONS_DISPATCH not in PERMISSIONS[Role.STATION_OFFICER]


@pytest.mark.parametrize(
    ("org_role", "level", "expected"),
    [
        (OrgRole.ADMIN, OrgLevel.CITY, Role.CITY_ADMIN),
        (OrgRole.ADMIN, OrgLevel.STATION, None),
        (OrgRole.ANALYST, OrgLevel.CITY, Role.CITY_ANALYST),
        (OrgRole.ANALYST, OrgLevel.DISTRICT, None),
        (OrgRole.DUTY_OFFICER, OrgLevel.CITY, Role.DISTRICT_DISPATCHER),
        (OrgRole.COMMANDER, OrgLevel.DISTRICT, Role.DISTRICT_DISPATCHER),
        (OrgRole.OFFICER, OrgLevel.STATION, Role.STATION_OFFICER),
        (OrgRole.GRID_WORKER, OrgLevel.COMMUNITY, Role.STATION_OFFICER),
    ],
)
def test_org_roles_map_to_security_roles(
    org_role: OrgRole, level: OrgLevel, expected: Role | None
) -> None:
    assert role_for_org(org_role, level) is expected
