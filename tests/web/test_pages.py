"""The pages over a real SQLite store, through the HTTP layer: login with CSRF, the
dashboard, the queue with its filters and signing, the detail page with its forms, 404 for
another station, reveal with a reason, intel and rules, vendor assets, no inline scripts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api.helpers import settings_for
from fastapi.testclient import TestClient
from webworld import NANPING, PASSWORD, issue, populate

from fanzha.api.app import create_app
from fanzha.funds.report import parse_report
from fanzha.service import App
from fanzha.web.cache import cache_of

NANPING_ID, SHENGLI_ID = "500101198610030001", "500103199001010003"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path)), follow_redirects=False) as c:
        populate(fz_of(c))
        yield c


def fz_of(client: TestClient) -> App:
    fz: App = client.app.state.fz  # type: ignore[attr-defined]
    return fz


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def log_in(client: TestClient, username: str) -> str:
    """Log in through the form; returns the session's CSRF token (from a page)."""
    form = client.get("/login")
    assert form.status_code == 200
    done = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": csrf_in(form.text),
            "next": "/queue",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/queue"
    return csrf_in(client.get("/queue").text)


def test_pages_need_a_login_and_the_login_needs_csrf(client: TestClient) -> None:
    assert client.get("/queue").headers["location"].startswith("/login?next=")
    client.get("/login")
    refused = client.post("/login", data={"username": "nanping", "password": PASSWORD})
    assert refused.status_code == 403
    wrong = client.post(
        "/login",
        data={
            "username": "nanping",
            "password": "nope",
            "csrf_token": csrf_in(client.get("/login").text),
        },
    )
    assert wrong.headers["location"] == "/login?error=login_failed"
    assert "用户名或密码错误" in client.get(wrong.headers["location"]).text


def test_the_queue_lists_filters_and_signs(client: TestClient) -> None:
    critical = issue(fz_of(client), "W1", 4, NANPING_ID)
    issue(fz_of(client), "W2", 3, SHENGLI_ID)
    csrf = log_in(client, "nanping")
    html = client.get("/queue").text
    assert critical.instruction_id in html and "特危" in html and "138****1234" in html
    assert "13812341234" not in html
    assert f'data-sse-unit="{NANPING}"' in html
    assert "0 " not in client.get("/queue/rows?level=4").text.split("共")[1][:3]
    assert critical.instruction_id not in client.get("/queue/rows?state=closed").text
    no_csrf = client.post(f"/instructions/{critical.instruction_id}/sign")
    assert no_csrf.status_code == 403
    row = client.post(
        f"/instructions/{critical.instruction_id}/sign",
        headers={
            "x-csrf-token": csrf,
            "hx-request": "true",
            "hx-target": f"row-{critical.instruction_id}",
        },
    )
    assert row.status_code == 200 and row.text.lstrip().startswith("<tr") and "已签收" in row.text


def test_detail_forms_and_the_whole_workflow(client: TestClient) -> None:
    ins = issue(fz_of(client), "W1", 4, NANPING_ID)
    csrf = log_in(client, "nanping")
    url = f"/instructions/{ins.instruction_id}"
    html = client.get(url).text
    assert "与涉诈号码通话后安装屏幕共享软件" in html and "fraud · 12381 feed" in html
    assert 'id="sign"' in html
    assert client.post(f"{url}/sign", data={"csrf_token": csrf}).status_code == 303
    attempt = {"csrf_token": csrf, "channel": "phone", "reached": "1", "note": "本人接听"}
    assert client.post(f"{url}/attempt", data=attempt).status_code == 303
    bad = client.post(f"{url}/outcome", data={"csrf_token": csrf, "reached": "1", "defrauded": "1"})
    assert bad.status_code == 422 and "contacted" in bad.text and "payees" in bad.text
    good = {
        "csrf_token": csrf,
        "reached": "1",
        "contacted": "person",
        "judgement": "confirmed",
        "dissuaded": "1",
        "amount_at_risk": "20000",
        "amount_saved": "20000",
        "notice_signed": "1",
        "note": "已劝阻",
    }
    assert client.post(f"{url}/outcome", data=good).status_code == 303
    html = client.get(url).text
    assert "20,000.00" in html and 'id="close"' in html
    stored = fz_of(client).instructions.get(ins.instruction_id)
    assert stored is not None and stored.outcome is not None
    assert stored.outcome.amount_saved_fen == 2_000_000


def test_another_station_sees_the_404_page(client: TestClient) -> None:
    ins = issue(fz_of(client), "W1", 4, NANPING_ID)
    csrf = log_in(client, "shengli")
    page = client.get(f"/instructions/{ins.instruction_id}")
    assert page.status_code == 404 and "不在您的辖区内" in page.text
    assert ins.instruction_id not in client.get("/queue").text
    sign = client.post(f"/instructions/{ins.instruction_id}/sign", data={"csrf_token": csrf})
    assert sign.status_code == 404
    assert client.get(f"/queue?unit={NANPING}").status_code == 404


def test_reveal_asks_for_a_reason_and_is_audited(client: TestClient) -> None:
    ins = issue(fz_of(client), "W1", 4, NANPING_ID)
    csrf = log_in(client, "nanping")
    url = f"/instructions/{ins.instruction_id}/reveal"
    assert client.post(url, data={"csrf_token": csrf, "field": "phone"}).status_code == 422
    shown = client.post(url, data={"csrf_token": csrf, "field": "phone", "reason": "回拨核实"})
    assert shown.status_code == 200 and "13812341234" in shown.text
    entries = fz_of(client).security.audit.latest(5, action="pii.reveal")
    assert entries and entries[0].reason == "回拨核实"


def test_the_dashboard_and_its_charts(client: TestClient) -> None:
    issue(fz_of(client), "W1", 4, NANPING_ID)
    issue(fz_of(client), "W2", 3, SHENGLI_ID, fraud_type="fake_investment")
    log_in(client, "admin1")
    html = client.get("/dashboard").text
    assert 'id="tile-level4"' in html and "南坪派出所" in html and "胜利派出所" in html
    assert 'data-chart="/dashboard/charts/history"' in html
    assert re.search(r'id="tile-stop_payments"[^>]*>\s*<div class="tile-value">0<', html)
    assert re.search(r'id="tile-rate60"[^>]*>\s*<div class="tile-value">—', html)  # no case yet
    history = client.get("/dashboard/charts/history").json()
    *levels, reports = history["series"]
    assert sum(sum(s["data"]) for s in levels) == 2 and sum(reports["data"]) == 0
    fz = fz_of(client)
    report = {"report_id": "R1", "unit": NANPING, "received_at": fz.clock.now()}
    report |= {"taken_by": "desk", "fraud_type": "fake_investment", "loss_fen": 10_000}
    report |= {"narrative": "投资被骗", "payments": []}
    fz.funds.intake(parse_report(report), "desk")
    cache_of(fz).invalidate()  # cases publish no instruction event: figures lag ≤ one 10-s slot
    history = client.get("/dashboard/charts/history").json()
    assert history["series"][-1]["name"] == "报案" and sum(history["series"][-1]["data"]) == 1
    fraud = client.get("/dashboard/charts/fraud").json()
    names = {d["name"] for d in fraud["series"][0]["data"]}
    assert names == {"冒充公检法及政府机关", "虚假网络投资理财"}
    assert "tile-level3" in client.get("/dashboard/live").text


def test_a_station_officer_has_no_dashboard(client: TestClient) -> None:
    log_in(client, "nanping")
    assert client.get("/dashboard").status_code == 403
    assert client.get("/").headers["location"] == "/queue"


def test_intel_search_add_and_allow_with_a_reason(client: TestClient) -> None:
    csrf = log_in(client, "analyst")
    found = client.get("/intel?kind=phone&value=17000000001").text
    assert "未被标记" in found
    refused = client.post(
        "/intel",
        data={"csrf_token": csrf, "kind": "phone", "value": "17000000001", "verdict": "fraud"},
    )
    assert refused.status_code == 422
    added = client.post(
        "/intel",
        data={
            "csrf_token": csrf,
            "kind": "phone",
            "value": "17000000001",
            "verdict": "fraud",
            "reason": "受害人报案",
        },
    )
    assert added.status_code == 303
    html = client.get(added.headers["location"]).text
    assert "fraud" in html and "受害人报案" in html and "manual:analyst" in html
    log_in(client, "nanping")  # officers read intel, never write it
    assert (
        client.post("/intel", data={"kind": "phone", "value": "1", "verdict": "allow"}).status_code
        == 403
    )


def test_rules_with_docstrings_and_versions(client: TestClient) -> None:
    issue(fz_of(client), "W1", 4, NANPING_ID)
    log_in(client, "analyst")
    html = client.get("/rules").text
    assert 'id="rule-call_flagged_number"' in html
    row = html.split('id="rule-call_flagged_number"')[1].split("</tr>")[0]
    assert "<td>1</td>" in row  # version 1, and one live warning


def test_vendor_assets_headers_and_no_inline_script(client: TestClient) -> None:
    htmx = client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:2000]
    assert client.get("/static/vendor/echarts.min.js").status_code == 200
    assert client.get("/static/vendor/other.js").status_code == 404
    assert client.get("/static/app/app.js").status_code == 200
    page = client.get("/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for tag in re.findall(r"<script[^>]*>", page.text):
        assert "src=" in tag
    assert "<script>" not in page.text


def test_english_pages(client: TestClient) -> None:
    client.cookies.set("fanzha_lang", "en")
    assert "Log in" in client.get("/login").text


def _tile(html: str, key: str) -> str:
    found = re.search(rf'id="tile-{key}"[^>]*>\s*<div class="tile-value">([^<]*)<', html)
    assert found, key
    return found.group(1)


def test_the_dashboard_cache_is_emptied_when_an_instruction_changes(client: TestClient) -> None:
    ins = issue(fz_of(client), "W1", 4, NANPING_ID)
    csrf = log_in(client, "admin1")
    assert _tile(client.get("/dashboard/live").text, "level4") == "1"
    issue(fz_of(client), "W2", 4, SHENGLI_ID)  # same clock slot: only the bus can tell
    assert _tile(client.get("/dashboard/live").text, "level4") == "2"
    url = f"/instructions/{ins.instruction_id}"
    assert client.post(f"{url}/sign", data={"csrf_token": csrf}).status_code == 303
    attempt = {"csrf_token": csrf, "channel": "phone", "reached": "1"}
    assert client.post(f"{url}/attempt", data=attempt).status_code == 303
    good = {
        "csrf_token": csrf,
        "reached": "1",
        "contacted": "person",
        "judgement": "confirmed",
        "dissuaded": "1",
        "amount_at_risk": "20000",
        "amount_saved": "20000",
        "notice_signed": "1",
    }
    assert _tile(client.get("/dashboard/live").text, "dissuaded") == "0"
    assert client.post(f"{url}/outcome", data=good).status_code == 303
    html = client.get("/dashboard/live").text
    assert _tile(html, "dissuaded") == "1" and _tile(html, "saved") == "20,000"


def test_the_queue_is_paged(client: TestClient) -> None:
    for n in range(3):
        issue(fz_of(client), f"W{n}", 3, NANPING_ID)
    log_in(client, "admin1")
    first = client.get("/queue?size=2").text
    assert first.count('<tr id="row-') == 2
    assert "1/2" in first and "page=2" in first
    second = client.get("/queue/rows?size=2&page=2").text
    assert "2/2" in second and "page=1" in second
