"""Role × endpoint × action, and jurisdiction by guessed id, over the running API.

Every role calls every registered endpoint (``access.py``): a permitted call must not be
refused (401/403), any other must be 403. Objects held by units are then asked for by id
from every role: in jurisdiction 200, outside it **404** — the same answer as for an id that
does not exist, so that ids cannot be probed (a 403 would confirm the object exists).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from dispatch.builders import CHENGGUAN, CITY, JIANGBEI, NANPING, NANPING_GRID, SHENGLI, XINHUA
from dispatch.instructions import T0, warning
from fastapi.testclient import TestClient

from fanzha.api.app import create_app
from fanzha.api.auth import route_permissions
from fanzha.auth.principal import Grant
from fanzha.auth.roles import PERMISSIONS, Role
from fanzha.dispatch.instruction import Instruction
from fanzha.dispatch.levels import DEFAULT_POLICIES, RiskLevel
from fanzha.dispatch.routing import Route, RouteReason
from fanzha.funds.report import parse_report
from fanzha.store.instructions import SqlInstructions

from .access import ANY_PRINCIPAL, ENDPOINTS, PUBLIC, SCOPED, Endpoint, Scoped
from .helpers import BEARER, add_user, login, security, settings_for

ORG_CSV = "\n".join(
    [
        "code,name,level,parent_code",
        f"{CITY},江州市公安局反诈中心,city,",
        f"{JIANGBEI},江北区反诈中心,district,{CITY}",
        f"{CHENGGUAN},城关区反诈中心,district,{CITY}",
        f"{NANPING},南坪派出所,station,{JIANGBEI}",
        f"{XINHUA},新华派出所,station,{JIANGBEI}",
        f"{SHENGLI},胜利派出所,station,{CHENGGUAN}",
        f"{NANPING_GRID},南坪社区,community,{NANPING}",
    ]
).encode()

#: Where each role is granted in the world, and the units whose objects it may see.
GRANTS = {
    Role.CITY_ADMIN: f"city_admin@{CITY}",
    Role.CITY_ANALYST: f"city_analyst@{CITY}",
    Role.DISTRICT_DISPATCHER: f"district_dispatcher@{JIANGBEI}",
    Role.STATION_OFFICER: f"station_officer@{NANPING}",
    Role.BANK_LIAISON: "bank_liaison@ICBC",
    Role.DATA_PROVIDER: "data_provider",
}
SEES = {
    Role.CITY_ADMIN: {NANPING, XINHUA, SHENGLI},
    Role.CITY_ANALYST: {NANPING, XINHUA, SHENGLI},
    Role.DISTRICT_DISPATCHER: {NANPING, XINHUA},
    Role.STATION_OFFICER: {NANPING},
    Role.BANK_LIAISON: set(),
    Role.DATA_PROVIDER: set(),
}
TARGETS = [NANPING, XINHUA, SHENGLI, "missing"]


@dataclass
class World:
    """One running API with a user or token per role and objects at three stations."""

    client: TestClient
    auth: dict[Role, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    objects: dict[tuple[str, str], str] = field(default_factory=dict)


def _instruction(unit: str, n: int) -> Instruction:
    level = RiskLevel.HIGH
    route = Route(unit, (), RouteReason.HOME)
    return Instruction.issue(warning(level, warning_id=f"W{n}"), route, DEFAULT_POLICIES[level], T0)


def build_world(client: TestClient) -> World:
    """Org units, one principal per role, and objects of every scoped kind at each station."""
    world = World(client)
    ingest = {"content-type": "text/csv", **BEARER}
    assert client.post("/api/v1/ingest/org_unit", content=ORG_CSV, headers=ingest).is_success
    for role, grant in GRANTS.items():
        if role in (Role.BANK_LIAISON, Role.DATA_PROVIDER):
            _, text = security(client).create_token(role.value, Grant.parse(grant), "user:test")
            world.auth[role] = {"authorization": f"Bearer {text}"}
            continue
        add_user(client, role.value, [grant])
        csrf = login(client, role.value)
        session = client.cookies["fanzha_session"]
        client.cookies.clear()
        world.auth[role] = {"cookie": f"fanzha_session={session}", "x-csrf-token": csrf}
    repo = SqlInstructions(client.app.state.fz.store.sessions)  # type: ignore[attr-defined]
    for n, unit in enumerate((NANPING, XINHUA, SHENGLI)):
        created, _ = repo.create(_instruction(unit, n))
        world.objects[("instruction", unit)] = created.instruction_id
        world.objects[("unit", unit)] = unit
    world.ids["own"] = world.objects[("instruction", NANPING)]
    # Instructions the action rows change (sign → contact → outcome → close; handovers).
    world.ids["act"] = repo.create(_instruction(NANPING, 10))[0].instruction_id
    world.ids["spare"] = repo.create(_instruction(NANPING, 11))[0].instruction_id
    world.ids["sibling"] = XINHUA
    world.ids["home"] = NANPING
    _cases(client, world)
    return world


def _signable(world: World, role: Role, unit: str) -> str:
    """A fresh issued instruction at ``unit`` for one signing case (signing is once only)."""
    repo = SqlInstructions(world.client.app.state.fz.store.sessions)  # type: ignore[attr-defined]
    n = len(world.objects) + 100
    made = repo.create(_instruction(unit, n))[0].instruction_id
    world.objects[("signable", f"{role.value}:{unit}")] = made
    return made


def _cases(client: TestClient, world: World) -> None:
    """A case with one stop-payment order (at 建设银行, by the card BIN) at each station."""
    funds = client.app.state.fz.funds  # type: ignore[attr-defined]
    for n, unit in enumerate((NANPING, XINHUA, SHENGLI)):
        report = parse_report(
            {
                "report_id": f"R-{unit}",
                "unit": unit,
                "received_at": T0,
                "taken_by": "user:test",
                "payments": [{"account": f"621700000000000{n:04d}", "amount_fen": 10_000}],
            }
        )
        done = funds.intake(report, "user:test")
        world.objects[("case", unit)] = done.case.case_id
        world.objects[("order", unit)] = done.orders[0].order_id
    world.ids["own_case"] = world.objects[("case", NANPING)]
    world.ids["own_order"] = world.objects[("order", NANPING)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = settings_for(tmp_path_factory.mktemp("matrix"))
    with TestClient(create_app(settings)) as client:
        yield build_world(client)


def _call(world: World, role: Role, endpoint: Endpoint, ids: dict[str, str]) -> int:
    kwargs = endpoint.request(ids)
    kwargs["headers"] = {**kwargs["headers"], **world.auth[role]}
    return int(world.client.request(**kwargs).status_code)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_role_endpoint_matrix(world: World, role: Role, endpoint: Endpoint) -> None:
    status = _call(world, role, endpoint, world.ids)
    if endpoint.permission in PERMISSIONS[role]:
        assert status not in (401, 403) and status < 500, status
    else:
        assert status == 403


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_nobody_gets_in_without_credentials(world: World, endpoint: Endpoint) -> None:
    assert world.client.request(**endpoint.request(world.ids)).status_code == 401


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("case", SCOPED, ids=lambda c: c.name)
def test_jurisdiction_by_guessed_id(world: World, case: Scoped, role: Role, target: str) -> None:
    if case.kind == "signable" and target != "missing":
        object_id = _signable(world, role, target)
    else:
        object_id = world.objects.get((case.kind, target), "NOSUCHOBJECT0001")
    status = _call(world, role, case.endpoint, {**world.ids, "object": object_id})
    if case.endpoint.permission not in PERMISSIONS[role]:
        assert status == 403
    elif target in SEES[role]:
        assert status == 200
    else:
        assert status == 404  # not 403: another unit's object looks like no object


def test_every_route_is_in_the_matrix(world: World) -> None:
    registered = {(e.method, e.path): e.permission for e in ENDPOINTS}
    for route, permission in route_permissions(world.client.app):  # type: ignore[arg-type]
        if not route.path.startswith("/api/"):
            continue
        for method in route.methods or ():
            key = (method, route.path)
            if permission is None:
                assert key in PUBLIC | ANY_PRINCIPAL, f"{key} requires no permission"
            else:
                assert registered.get(key) == permission, f"{key} is not in tests/api/access.py"
