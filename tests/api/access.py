"""The access matrix: every API endpoint × every role, and jurisdiction by guessed id.

Routers added later add their rows HERE (one ``Endpoint`` per route and method, and a
``Scoped`` row for every route that reads or acts on one object held by a unit), so that
``test_access_matrix.py`` checks them for every role. A route that requires a permission
and has no row fails ``test_every_route_is_in_the_matrix``.

Placeholders in paths and bodies (``{own}``, ``{other}``…) are filled from ``World.ids``,
which ``test_access_matrix.py`` builds: add the objects your rows need in ``build_world``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from factories import calls, ndjson_bytes

from fanzha.auth.roles import Permission


@dataclass(frozen=True)
class Endpoint:
    """One route and method, the permission it needs, and a request that exercises it."""

    method: str
    path: str  # the route's path template, as FastAPI knows it
    permission: Permission
    url: str | None = None  # the concrete URL (placeholders allowed); default: ``path``
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def request(self, ids: Mapping[str, str]) -> dict[str, Any]:
        """Keyword arguments for ``TestClient.request``."""
        out: dict[str, Any] = {
            "method": self.method,
            "url": (self.url or self.path).format(**ids),
            "headers": dict(self.headers),
        }
        if self.json is not None:
            out["json"] = _fill(self.json, ids)
        if self.content is not None:
            out["content"] = self.content
        return out


def _fill(value: Any, ids: Mapping[str, str]) -> Any:
    """``value`` with placeholders in its strings filled from ``ids``."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@dataclass(frozen=True)
class Scoped:
    """A request on one object held by a unit: ``{object}`` in the URL or body is replaced by
    the id of an object of ``kind`` at the unit under test (see ``World.objects``)."""

    name: str
    kind: str
    endpoint: Endpoint


#: Routes anyone may call, logged in or not.
PUBLIC = {
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/auth/csrf"),
    ("POST", "/api/v1/auth/login"),
}

#: Routes for any logged-in caller (about themselves), whatever their role.
ANY_PRINCIPAL = {
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/unit/{index}"),
    ("POST", "/api/v1/auth/password"),
}

NDJSON = {"content-type": "application/x-ndjson"}

ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/v1/ingest/{event_type}",
        Permission.INGEST,
        url="/api/v1/ingest/call",
        content=ndjson_bytes(calls(1)),
        headers=NDJSON,
    ),
    Endpoint("GET", "/api/v1/deadletters", Permission.DEADLETTERS_READ),
    Endpoint(
        "POST",
        "/api/v1/reveal",
        Permission.PII_REVEAL,
        json={
            "object_type": "instruction",
            "object_id": "{own}",
            "field": "phone",
            "reason": "核实",
        },
    ),
    Endpoint("GET", "/api/v1/audit", Permission.AUDIT_READ),
    Endpoint("GET", "/api/v1/audit/verify", Permission.AUDIT_READ),
    # Instructions (fanzha/api/instructions.py). Actions work on ``{act}``, an instruction
    # of its own, so that they leave the scoped objects below as they were.
    Endpoint("GET", "/api/v1/instructions", Permission.INSTRUCTIONS_READ),
    Endpoint("GET", "/api/v1/kpi", Permission.INSTRUCTIONS_READ),
    Endpoint(
        "GET",
        "/api/v1/instructions/{instruction_id}",
        Permission.INSTRUCTIONS_READ,
        url="/api/v1/instructions/{own}",
    ),
    Endpoint(
        "POST",
        "/api/v1/instructions/{instruction_id}/sign",
        Permission.INSTRUCTIONS_ACT,
        url="/api/v1/instructions/{act}/sign",
    ),
    Endpoint(
        "POST",
        "/api/v1/instructions/{instruction_id}/attempts",
        Permission.INSTRUCTIONS_ACT,
        url="/api/v1/instructions/{act}/attempts",
        json={"channel": "phone", "reached": True},
    ),
    Endpoint(
        "POST",
        "/api/v1/instructions/{instruction_id}/outcome",
        Permission.INSTRUCTIONS_ACT,
        url="/api/v1/instructions/{act}/outcome",
        json={"reached": True, "contacted": "person", "judgement": "unclear"},
    ),
    Endpoint(
        "POST",
        "/api/v1/instructions/{instruction_id}/close",
        Permission.INSTRUCTIONS_ACT,
        url="/api/v1/instructions/{act}/close",
    ),
    Endpoint(
        "POST",
        "/api/v1/instructions/{instruction_id}/transfer",
        Permission.INSTRUCTIONS_DISPATCH,
        url="/api/v1/instructions/{spare}/transfer",
        json={"unit": "{sibling}", "reason": "辖区调整"},
    ),
    Endpoint(
        "POST",
        "/api/v1/instructions/{instruction_id}/escalate",
        Permission.INSTRUCTIONS_DISPATCH,
        url="/api/v1/instructions/{spare}/escalate",
        json={"reason": "需分局协调"},
    ),
    Endpoint(
        "GET",
        "/api/v1/units/{code}/events",
        Permission.INSTRUCTIONS_READ,
        url="/api/v1/units/{home}/events?max_seconds=0",
    ),
    # funds: the bank liaison interface and the stop-payment desk
    Endpoint("GET", "/api/v1/bank/orders", Permission.ORDERS_READ),
    Endpoint(
        "POST",
        "/api/v1/bank/orders/{order_id}/result",
        Permission.ORDERS_RESPOND,
        url="/api/v1/bank/orders/{own_order}/result",
        json={"answer_id": "BANK-REF-1", "held_fen": 100},
    ),
    Endpoint(
        "POST",
        "/api/v1/reports/extract",
        Permission.CASES_WRITE,
        json={"narrative": "其于5月1日9时27分向账户6217000000000000001转账三万五千元"},
    ),
    Endpoint(
        "POST",
        "/api/v1/cases",
        Permission.CASES_WRITE,
        json={
            "report_id": "R-MATRIX",
            "unit": "50010101",
            "received_at": "2024-05-01T08:00:00+08:00",
            "payments": [{"account": "6217000000000000009", "amount_fen": 100}],
        },
    ),
    Endpoint("GET", "/api/v1/cases", Permission.CASES_READ),
    Endpoint(
        "GET", "/api/v1/cases/{case_id}", Permission.CASES_READ, url="/api/v1/cases/{own_case}"
    ),
    Endpoint(
        "GET",
        "/api/v1/cases/{case_id}/trace",
        Permission.TRACE_READ,
        url="/api/v1/cases/{own_case}/trace",
    ),
    Endpoint(
        "POST",
        "/api/v1/cases/{case_id}/extend",
        Permission.CASES_WRITE,
        url="/api/v1/cases/{own_case}/extend",
    ),
    Endpoint(
        "POST",
        "/api/v1/orders/{order_id}/release",
        Permission.CASES_WRITE,
        url="/api/v1/orders/{own_order}/release",
        json={"reason": "申诉成立"},
    ),
]

SCOPED: list[Scoped] = [
    Scoped(
        "reveal an instruction's phone",
        "instruction",
        Endpoint(
            "POST",
            "/api/v1/reveal",
            Permission.PII_REVEAL,
            json={
                "object_type": "instruction",
                "object_id": "{object}",
                "field": "phone",
                "reason": "回访核实",
            },
        ),
    ),
    Scoped(
        "read an instruction",
        "instruction",
        Endpoint(
            "GET",
            "/api/v1/instructions/{instruction_id}",
            Permission.INSTRUCTIONS_READ,
            url="/api/v1/instructions/{object}",
        ),
    ),
    Scoped(
        "sign an instruction",
        "signable",
        Endpoint(
            "POST",
            "/api/v1/instructions/{instruction_id}/sign",
            Permission.INSTRUCTIONS_ACT,
            url="/api/v1/instructions/{object}/sign",
        ),
    ),
    Scoped(
        "a unit's event stream",
        "unit",
        Endpoint(
            "GET",
            "/api/v1/units/{code}/events",
            Permission.INSTRUCTIONS_READ,
            url="/api/v1/units/{object}/events?max_seconds=0",
        ),
    ),
    Scoped(
        "a unit's dispatch KPIs",
        "unit",
        Endpoint(
            "GET", "/api/v1/kpi", Permission.INSTRUCTIONS_READ, url="/api/v1/kpi?unit={object}"
        ),
    ),
    Scoped(
        "show a case",
        "case",
        Endpoint(
            "GET", "/api/v1/cases/{case_id}", Permission.CASES_READ, url="/api/v1/cases/{object}"
        ),
    ),
    Scoped(
        "trace a case",
        "case",
        Endpoint(
            "GET",
            "/api/v1/cases/{case_id}/trace",
            Permission.TRACE_READ,
            url="/api/v1/cases/{object}/trace",
        ),
    ),
    Scoped(
        "extend a case",
        "case",
        Endpoint(
            "POST",
            "/api/v1/cases/{case_id}/extend",
            Permission.CASES_WRITE,
            url="/api/v1/cases/{object}/extend",
        ),
    ),
    # the world's orders are at 建设银行: the ICBC liaison gets 404 for every one of them
    Scoped(
        "a bank's result on an order",
        "order",
        Endpoint(
            "POST",
            "/api/v1/bank/orders/{order_id}/result",
            Permission.ORDERS_RESPOND,
            url="/api/v1/bank/orders/{object}/result",
            json={"answer_id": "BANK-REF-2", "held_fen": 50},
        ),
    ),
]
