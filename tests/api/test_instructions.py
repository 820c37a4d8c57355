"""The instruction API over a real SQLite store and the real Dispatcher: filters, masking,
the evidence timeline, the whole workflow, refusals with reasons, handovers, OpenAPI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from webworld import (
    CITY,
    JIANGBEI,
    SHENGLI,
    XINHUA,
    issue,
    populate,
)

from fanzha.api.app import create_app
from fanzha.intel.model import Indicator, IndicatorKind
from fanzha.model.clock import ManualClock
from fanzha.service import App

from .helpers import login, settings_for

NANPING_ID, XINHUA_ID, SHENGLI_ID = "500101198610030001", "500101198610030002", "500103199001010003"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path))) as c:
        populate(fz_of(c))
        yield c


def fz_of(client: TestClient) -> App:
    fz: App = client.app.state.fz  # type: ignore[attr-defined]
    return fz


def as_user(client: TestClient, username: str) -> dict[str, str]:
    """Log in and return the headers of that session (cookie and CSRF)."""
    csrf = login(client, username)
    session = client.cookies["fanzha_session"]
    client.cookies.clear()
    return {"cookie": f"fanzha_session={session}", "x-csrf-token": csrf}


def ids(page: dict[str, Any]) -> set[str]:
    return {item["instruction_id"] for item in page["items"]}


def test_lists_are_narrowed_to_the_jurisdiction_and_filtered(client: TestClient) -> None:
    fz = fz_of(client)
    critical = issue(fz, "W1", 4, NANPING_ID)
    high = issue(fz, "W2", 3, XINHUA_ID)
    other = issue(fz, "W3", 3, SHENGLI_ID)
    nanping, jiangbei, admin = (as_user(client, u) for u in ("nanping", "jiangbei", "admin1"))

    page = client.get("/api/v1/instructions", headers=nanping).json()
    assert ids(page) == {critical.instruction_id} and page["total"] == 1
    page = client.get("/api/v1/instructions", headers=jiangbei).json()
    assert ids(page) == {critical.instruction_id, high.instruction_id}
    page = client.get("/api/v1/instructions", headers=admin).json()
    assert ids(page) == {critical.instruction_id, high.instruction_id, other.instruction_id}
    assert [i["level"] for i in page["items"]] == [4, 3, 3]  # most urgent first

    url = f"/api/v1/instructions?unit={XINHUA}"
    assert ids(client.get(url, headers=jiangbei).json()) == {high.instruction_id}
    assert client.get(f"/api/v1/instructions?unit={SHENGLI}", headers=jiangbei).status_code == 404
    assert client.get("/api/v1/instructions?unit=nosuch", headers=admin).status_code == 404
    page = client.get("/api/v1/instructions?level=4", headers=admin).json()
    assert ids(page) == {critical.instruction_id}
    page = client.get(f"/api/v1/instructions?unit={CITY}&state=signed", headers=admin).json()
    assert page["total"] == 0
    assert client.get("/api/v1/instructions?overdue=true", headers=admin).json()["total"] == 0
    assert client.get("/api/v1/instructions?level=9", headers=admin).status_code == 422


def test_overdue_filter_reads_the_deadlines(client: TestClient) -> None:
    fz = fz_of(client)
    now = dt.datetime.now(dt.UTC)
    clock = ManualClock(now - dt.timedelta(hours=1))
    fz.clock = clock  # the platform clock: issued an hour ago, 特危 contact due in 5 min
    late = issue(fz, "W1", 4)
    clock.set(now)
    issue(fz, "W2", 3, XINHUA_ID)
    admin = as_user(client, "admin1")
    page = client.get("/api/v1/instructions?overdue=true", headers=admin).json()
    assert ids(page) == {late.instruction_id}
    assert page["items"][0]["overdue"] is True


def test_detail_is_masked_with_explanation_timeline_and_history(client: TestClient) -> None:
    ins = issue(fz_of(client), "W1", 4, NANPING_ID)
    body = client.get(
        f"/api/v1/instructions/{ins.instruction_id}", headers=as_user(client, "nanping")
    )
    assert body.status_code == 200
    got = body.json()
    assert got["phone"] == "138****1234" and got["id_number"] == "500***********0001"
    assert "13812341234" not in body.text and NANPING_ID not in body.text
    assert got["level_label"] == "特危" and got["state_label"] == "已下发"
    assert got["explanation"] == "与涉诈号码通话后安装屏幕共享软件"
    rules = [t["rule"] for t in got["timeline"]]
    assert rules == ["call_flagged_number", "install_screen_share_after_contact"]
    assert got["timeline"][0]["indicator"] == "fraud · 12381 feed"
    assert got["timeline"][0]["why"]  # the rule's docstring
    assert [h["action"] for h in got["history"]] == ["issue"]


def test_the_whole_workflow_with_refusals(client: TestClient) -> None:
    ins = issue(fz_of(client), "W1", 4, NANPING_ID)
    me = as_user(client, "nanping")
    base = f"/api/v1/instructions/{ins.instruction_id}"

    early = client.post(f"{base}/attempts", json={"channel": "phone", "reached": True}, headers=me)
    assert early.status_code == 409 and early.json()["detail"] == "须先签收"
    assert client.post(f"{base}/sign", headers=me).json()["state"] == "signed"
    assert client.post(f"{base}/sign", headers=me).status_code == 409
    missing = client.post(
        f"{base}/attempts", json={"channel": "phone", "reached": False}, headers=me
    )
    assert missing.status_code == 422
    attempt = {"channel": "phone", "reached": False, "reason": "no_answer"}
    assert client.post(f"{base}/attempts", json=attempt, headers=me).json()["state"] == "contacting"
    bad = {"reached": True, "defrauded": True, "judgement": "unclear"}
    refused = client.post(f"{base}/outcome", json=bad, headers=me)
    assert refused.status_code == 422
    fields = {p["field"] for p in refused.json()["detail"]}
    assert {"contacted", "judgement", "amount_lost_fen", "payees"} <= fields
    good = {
        "reached": True,
        "contacted": "person",
        "judgement": "confirmed",
        "dissuaded": True,
        "amount_at_risk_fen": 5_000_000,
        "amount_saved_fen": 5_000_000,
        "fraud_type": "冒充公检法及政府机关",
        "notice_signed": True,
        "note": "已劝阻",
    }
    done = client.post(f"{base}/outcome", json=good, headers=me).json()
    assert done["instruction"]["state"] == "outcome_recorded"
    assert done["instruction"]["outcome"]["amount_saved_fen"] == 5_000_000
    assert done["case_requested"] is False and done["indicator_feedback"] >= 1
    closed = client.post(f"{base}/close", headers=me).json()
    assert closed["state"] == "closed"
    assert [(h["action"], h["actor"]) for h in closed["history"]] == [
        ("issue", "system"),
        ("sign", "nanping"),
        ("contact", "nanping"),
        ("outcome", "nanping"),
        ("close", "nanping"),
    ]


def test_another_station_gets_404_and_no_action(client: TestClient) -> None:
    ins = issue(fz_of(client), "W1", 4, NANPING_ID)
    other = as_user(client, "shengli")
    base = f"/api/v1/instructions/{ins.instruction_id}"
    assert client.get(base, headers=other).status_code == 404
    assert client.post(f"{base}/sign", headers=other).status_code == 404
    assert fz_of(client).instructions.get(ins.instruction_id).state.value == "issued"  # type: ignore[union-attr]


def test_transfer_and_escalate_stay_in_the_jurisdiction(client: TestClient) -> None:
    ins = issue(fz_of(client), "W1", 3, NANPING_ID)
    jiangbei = as_user(client, "jiangbei")
    base = f"/api/v1/instructions/{ins.instruction_id}"
    outside = client.post(f"{base}/transfer", json={"unit": SHENGLI}, headers=jiangbei)
    assert outside.status_code == 422
    moved = client.post(
        f"{base}/transfer", json={"unit": XINHUA, "reason": "人在新华"}, headers=jiangbei
    )
    assert moved.status_code == 200 and moved.json()["unit"] == XINHUA
    assert moved.json()["history"][-1]["detail"]["reason"] == "人在新华"
    up = client.post(f"{base}/escalate", json={"reason": "需协调"}, headers=jiangbei).json()
    assert up["unit"] == JIANGBEI and up["escalations"] == 1
    assert up["history"][-1]["action"] == "escalate"
    again = client.post(f"{base}/escalate", json={}, headers=as_user(client, "admin1")).json()
    assert again["unit"] == CITY
    top = client.post(f"{base}/escalate", json={}, headers=as_user(client, "admin1"))
    assert top.status_code == 409  # nowhere above the city
    station = client.post(f"{base}/escalate", json={}, headers=as_user(client, "nanping"))
    assert station.status_code == 403


def test_english_labels_follow_the_setting(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path, lang="en"))) as c:
        populate(fz_of(c))
        ins = issue(fz_of(c), "W1", 4, NANPING_ID)
        got = c.get(f"/api/v1/instructions/{ins.instruction_id}", headers=as_user(c, "nanping"))
        body = got.json()
        assert body["level_label"] == "critical" and body["unit_name"] == "Nanping station"
        assert body["explanation"].startswith("installed a screen-sharing app")


def test_openapi_describes_every_action(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for action in ("sign", "attempts", "outcome", "close", "transfer", "escalate"):
        assert f"/api/v1/instructions/{{instruction_id}}/{action}" in paths
    assert "/api/v1/units/{code}/events" in paths
    outcome = paths["/api/v1/instructions/{instruction_id}/outcome"]["post"]
    schema = outcome["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Outcome"}
    assert "amount_saved_fen" in doc["components"]["schemas"]["Outcome"]["properties"]
    params = {p["name"] for p in paths["/api/v1/instructions"]["get"]["parameters"]}
    assert {"unit", "level", "state", "overdue"} <= params


def _to_outcome(client: TestClient, warning: str, payload: dict[str, Any]) -> dict[str, Any]:
    ins = issue(fz_of(client), warning, 4, NANPING_ID)
    me = as_user(client, "nanping")
    base = f"/api/v1/instructions/{ins.instruction_id}"
    client.post(f"{base}/sign", headers=me)
    reached = {"channel": "phone", "reached": True}
    assert client.post(f"{base}/attempts", json=reached, headers=me).status_code == 200
    done = client.post(f"{base}/outcome", json=payload, headers=me)
    assert done.status_code == 200, done.text
    return dict(done.json())


def test_not_fraud_lowers_the_indicators_behind_the_warning(client: TestClient) -> None:
    fz = fz_of(client)
    flagged = Indicator(
        kind=IndicatorKind.PHONE, value="+8617000000001", confidence=0.8, source="12381 feed"
    )
    fz.intel.upsert_many([flagged], actor="feed:12381", reason="feed")
    payload = {"reached": True, "contacted": "person", "judgement": "not_fraud"}
    done = _to_outcome(client, "W-NF", payload)
    assert done["indicator_feedback"] == 1
    stored = fz.intel.get(IndicatorKind.PHONE, "+8617000000001")
    assert stored is not None and stored.confidence == pytest.approx(0.6)
    (change,) = fz.intel.history(IndicatorKind.PHONE, "+8617000000001")[1:]
    assert change.actor == "nanping" and "not_fraud" in change.reason


def test_already_defrauded_opens_a_case_for_the_desk(client: TestClient) -> None:
    fz = fz_of(client)
    payload = {
        "reached": True,
        "contacted": "person",
        "judgement": "confirmed",
        "defrauded": True,
        "amount_lost_fen": 3_000_000,
        "fraud_type": "冒充公检法及政府机关",
        "payees": [{"account": "6217000000000000017", "amount_fen": 3_000_000}],
    }
    done = _to_outcome(client, "W-DF", payload)
    assert done["case_requested"] is True
    (case,) = fz.funds.cases()
    assert case.unit == "50010101"
    assert sum(p.amount_fen for p in case.report.payments) == 3_000_000


def test_kpis_over_the_api_are_the_callers_units_only(client: TestClient) -> None:
    fz = fz_of(client)
    mine = issue(fz, "W-K1", 4, NANPING_ID)
    issue(fz, "W-K2", 3, XINHUA_ID)
    me = as_user(client, "nanping")
    client.post(f"/api/v1/instructions/{mine.instruction_id}/sign", headers=me)
    got = client.get("/api/v1/kpi", headers=me)
    assert got.status_code == 200
    body = got.json()
    assert body["total"]["instructions"] == 1  # the other station's is not counted
    units = {r["unit"] for r in body["rows"]} - {"*"}
    assert units and all(u == "50010101" for u in units)
    assert client.get(f"/api/v1/kpi?unit={XINHUA}", headers=me).status_code == 404
    bad = client.get(
        "/api/v1/kpi?since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z", headers=me
    )
    assert bad.status_code == 422
