"""Logins, cookies, CSRF, rate limits, headers, reveals and the audit log over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from dispatch.builders import NANPING
from dispatch.instructions import issued
from fastapi.testclient import TestClient

from fanzha.api.app import create_app
from fanzha.auth.audit import verify
from fanzha.settings import Settings
from fanzha.store.instructions import SqlInstructions

from .helpers import BEARER, PASSWORD, add_user, login, security, settings_for

OFFICER = f"station_officer@{NANPING}"


def client_for(settings: Settings, base_url: str = "http://testserver") -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=base_url) as client:
        yield client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(settings_for(tmp_path))


def test_login_sets_a_protected_session_cookie_and_logout_ends_it(client: TestClient) -> None:
    add_user(client, "li.wei", [OFFICER])
    csrf = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    response = client.post(
        "/api/v1/auth/login",
        data={"username": "li.wei", "password": PASSWORD, "csrf_token": csrf},
    )
    assert response.status_code == 200
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "fanzha_session" in v
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    me = client.get("/api/v1/auth/me").json()
    assert me["id"] == "user:li.wei" and me["role"] == "station_officer" and me["unit"] == NANPING
    assert me["role_label"] == "派出所民警" and "pii:reveal" in me["permissions"]
    token = me["csrf_token"]
    assert token == response.json()["csrf_token"]
    assert client.post("/api/v1/auth/logout", headers={"x-csrf-token": token}).status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 401
    actions = [e.action for e in security(client).audit.entries()]
    assert actions == ["user.add", "auth.login", "auth.logout"]


@pytest.mark.parametrize(
    ("setting", "base_url", "secure"),
    [
        (None, "https://testserver", True),  # automatic: HTTPS gets Secure
        (None, "http://testserver", False),
        (True, "http://testserver", True),  # forced (behind a TLS proxy without headers)
        (False, "https://testserver", False),
    ],
)
def test_the_secure_flag(tmp_path: Path, setting: bool | None, base_url: str, secure: bool) -> None:
    for client in client_for(settings_for(tmp_path, cookie_secure=setting), base_url):
        add_user(client, "li.wei", [OFFICER])
        first = client.get("/api/v1/auth/csrf")
        assert ("; Secure" in first.headers["set-cookie"]) is secure
        hsts = first.headers.get("strict-transport-security")
        assert (hsts is not None) is base_url.startswith("https")
        if secure and base_url.startswith("http:"):
            return  # the client rightly keeps a Secure cookie off plain HTTP
        response = client.post(
            "/api/v1/auth/login",
            json={"username": "li.wei", "password": PASSWORD},
            headers={"x-csrf-token": first.json()["csrf_token"]},
        )
        assert response.status_code == 200
        cookie = response.headers["set-cookie"]
        assert "fanzha_session=" in cookie and ("; Secure" in cookie) is secure


def test_csrf_is_refused_without_the_token(client: TestClient) -> None:
    add_user(client, "li.wei", [OFFICER])
    creds = {"username": "li.wei", "password": PASSWORD}
    assert client.post("/api/v1/auth/login", json=creds).status_code == 403  # no login token
    client.get("/api/v1/auth/csrf")
    wrong = client.post("/api/v1/auth/login", json=creds, headers={"x-csrf-token": "forged"})
    assert wrong.status_code == 403
    token = login(client, "li.wei")
    assert client.post("/api/v1/auth/logout").status_code == 403
    bad = client.post("/api/v1/auth/logout", headers={"x-csrf-token": token[:-1] + "x"})
    assert bad.status_code == 403
    form = client.post("/api/v1/auth/logout", data={"csrf_token": token})
    assert form.status_code == 200  # the form field works as well as the header
    # a bearer token is no cookie: a browser cannot be made to send it, so no CSRF check
    body = b'{"caller":"13800138000","callee":"13900139000","ts":"2024-05-01 10:00:00"}'
    ingest = {"content-type": "application/x-ndjson", **BEARER}
    assert client.post("/api/v1/ingest/call", content=body, headers=ingest).status_code == 200


def test_logins_are_rate_limited(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, login_max_failures_per_user=3, login_max_failures_per_ip=5)
    for client in client_for(settings):
        add_user(client, "li.wei", [OFFICER])
        csrf = client.get("/api/v1/auth/csrf").json()["csrf_token"]

        def attempt(user: str, password: str, c: TestClient = client, t: str = csrf) -> int:
            creds = {"username": user, "password": password}
            response = c.post("/api/v1/auth/login", json=creds, headers={"x-csrf-token": t})
            return int(response.status_code)

        assert [attempt("li.wei", "wrong") for _ in range(3)] == [401, 401, 401]
        response = client.post(
            "/api/v1/auth/login",
            json={"username": "li.wei", "password": PASSWORD},
            headers={"x-csrf-token": csrf},
        )
        assert response.status_code == 429 and response.headers["retry-after"] == "900"
        assert [attempt("ghost", "x"), attempt("ghost2", "x")] == [401, 401]
        assert attempt("another", "x") == 429  # five failures from this address


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (client.get("/api/v1/health"), client.get("/api/v1/auth/me")):
        h = response.headers
        assert "script-src 'self'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY"
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"
        assert h["cache-control"] == "no-store"
        assert "strict-transport-security" not in h  # plain HTTP
    assert client.get("/docs").status_code == 404  # its page pulls scripts from a CDN
    assert client.get("/openapi.json").status_code == 200


def test_reveal_needs_a_reason_and_is_audited(client: TestClient) -> None:
    repo = SqlInstructions(client.app.state.fz.store.sessions)  # type: ignore[attr-defined]
    instruction, _ = repo.create(issued(unit=NANPING))
    add_user(client, "li.wei", [OFFICER])
    csrf = login(client, "li.wei")
    body = {
        "object_type": "instruction",
        "object_id": instruction.instruction_id,
        "field": "id_number",
        "reason": "",
    }
    headers = {"x-csrf-token": csrf}
    assert client.post("/api/v1/reveal", json=body, headers=headers).status_code == 422
    body["reason"] = "上门核实身份"
    response = client.post("/api/v1/reveal", json=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["value"] == instruction.id_number
    assert response.json()["kind"] == "id_number"
    assert response.headers["cache-control"] == "no-store"
    assert (
        client.post("/api/v1/reveal", json={**body, "field": "x"}, headers=headers).status_code
        == 404
    )
    entries = list(security(client).audit.entries())
    reveal = next(e for e in entries if e.action == "pii.reveal")
    assert reveal.actor == "user:li.wei" and reveal.reason == "上门核实身份"
    assert instruction.id_number and instruction.id_number not in reveal.model_dump_json()
    assert verify(entries).ok


def test_the_unit_switcher(client: TestClient) -> None:
    add_user(client, "li.wei", [OFFICER, "district_dispatcher@500101"])
    csrf = login(client, "li.wei")
    assert client.post("/api/v1/auth/unit/1").status_code == 403  # CSRF
    switched = client.post("/api/v1/auth/unit/1", headers={"x-csrf-token": csrf})
    assert switched.status_code == 200 and switched.json()["role"] == "district_dispatcher"
    assert client.get("/api/v1/auth/me").json()["unit"] == "500101"
    assert client.post("/api/v1/auth/unit/7", headers={"x-csrf-token": csrf}).status_code == 403


def test_changing_ones_password(client: TestClient) -> None:
    add_user(client, "li.wei", [OFFICER])
    csrf = login(client, "li.wei")
    headers = {"x-csrf-token": csrf}
    change = {"current": "wrong", "new": "Another-Good-Pass-7"}
    assert client.post("/api/v1/auth/password", json=change, headers=headers).status_code == 403
    weak = {"current": PASSWORD, "new": "short"}
    assert client.post("/api/v1/auth/password", json=weak, headers=headers).status_code == 422
    good = {"current": PASSWORD, "new": "Another-Good-Pass-7"}
    assert client.post("/api/v1/auth/password", json=good, headers=headers).status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 401  # sessions ended
    login(client, "li.wei", "Another-Good-Pass-7")


def test_audit_endpoints_for_the_admin(client: TestClient) -> None:
    add_user(client, "boss", ["city_admin@500100"])
    login(client, "boss")
    listed = client.get("/api/v1/audit?action=user.add").json()
    assert [e["object_id"] for e in listed] == ["boss"]
    checked = client.get("/api/v1/audit/verify").json()
    assert checked["ok"] and checked["checked"] == 2 and checked["broken"] is None


def test_no_secrets_in_logs(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    add_user(client, "li.wei", [OFFICER])
    csrf = login(client, "li.wei")
    session = client.cookies["fanzha_session"]
    client.get("/api/v1/auth/me")
    client.post("/api/v1/auth/logout", headers={"x-csrf-token": csrf})
    text = caplog.text
    for secret in (PASSWORD, session, csrf):
        assert secret not in text
