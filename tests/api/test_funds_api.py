"""The funds API over HTTP: a desk opens a case from a report, the bank's liaison (a token
scoped to one bank) reads its pending orders and posts results — duplicates and late answers
change nothing, another bank's orders are 404 — and every step is in the audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fanzha.api.app import create_app
from fanzha.auth.principal import Grant

from .helpers import add_user, login, security, settings_for

UNIT = "50010101"
ICBC_CARD = "6222021234567890128"  # 工商银行 by its BIN
CCB_CARD = "6217000000000000001"  # 建设银行


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path))) as made:
        yield made


def liaison(client: TestClient, bank: str) -> dict[str, str]:
    _, text = security(client).create_token(
        "bank_liaison", Grant.parse(f"bank_liaison@{bank}"), "user:test"
    )
    return {"authorization": f"Bearer {text}"}


def officer(client: TestClient) -> dict[str, str]:
    add_user(client, "li", [f"station_officer@{UNIT}"])
    csrf = login(client, "li")
    return {"x-csrf-token": csrf}


def open_case(client: TestClient, headers: dict[str, str]) -> dict[str, object]:
    report = {
        "report_id": "R1",
        "unit": UNIT,
        "received_at": "2024-05-01T10:00:00+08:00",
        "fraud_type": "刷单返利",
        "narrative": "其向账户6222021234567890128转账五千元",
        "victim_phone": "13812341234",
        "payments": [
            {"account": ICBC_CARD, "amount_fen": 500_000},
            {"account": CCB_CARD, "amount_fen": 100_000},
        ],
        "suspect_phones": ["+8613809402934"],
    }
    response = client.post("/api/v1/cases", json=report, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_desk_to_bank_and_back(client: TestClient) -> None:
    desk = officer(client)
    opened = open_case(client, desk)
    assert opened["created"] and opened["indicators"] == 3
    assert opened["case"]["report"]["victim_phone"] == "***"  # type: ignore[index]
    icbc = liaison(client, "ICBC")
    pending = client.get("/api/v1/bank/orders", headers=icbc).json()
    assert [o["account"] for o in pending] == [ICBC_CARD]  # not the 建设银行 one
    order_id = pending[0]["order_id"]
    result = {"answer_id": "ICBC-001", "held_fen": 300_000, "at": "2024-05-01T10:04:00+08:00"}
    first = client.post(f"/api/v1/bank/orders/{order_id}/result", json=result, headers=icbc)
    assert first.status_code == 200 and first.json()["changed"]
    assert first.json()["order"]["state"] == "partially_executed"
    again = client.post(f"/api/v1/bank/orders/{order_id}/result", json=result, headers=icbc)
    assert again.status_code == 200 and not again.json()["changed"]
    late = {**result, "answer_id": "ICBC-002", "held_fen": 0}
    assert not client.post(
        f"/api/v1/bank/orders/{order_id}/result", json=late, headers=icbc
    ).json()["changed"]
    assert client.get("/api/v1/bank/orders", headers=icbc).json() == []  # nothing pending
    shown = client.get("/api/v1/cases/C-R1", headers=desk).json()
    held = {o["account"]: (o["state"], o["held_fen"]) for o in shown["orders"]}
    assert held[ICBC_CARD] == ("partially_executed", 300_000)
    actions = {e.action for e in security(client).audit.entries()}
    assert {"case.open", "order.draft", "order.send", "order.answer"} <= actions


def test_another_banks_order_is_404_and_bad_results_are_422(client: TestClient) -> None:
    open_case(client, officer(client))
    ccb_orders = client.get("/api/v1/bank/orders", headers=liaison(client, "建设银行")).json()
    order_id = ccb_orders[0]["order_id"]
    icbc = liaison(client, "ICBC")
    ok = {"answer_id": "X", "held_fen": 1}
    assert (
        client.post(f"/api/v1/bank/orders/{order_id}/result", json=ok, headers=icbc).status_code
        == 404
    )
    assert (
        client.post("/api/v1/bank/orders/NOSUCH/result", json=ok, headers=icbc).status_code == 404
    )
    bad = {"answer_id": "X", "held_fen": -1}
    ccb = liaison(client, "CCB")
    assert (
        client.post(f"/api/v1/bank/orders/{order_id}/result", json=bad, headers=ccb).status_code
        == 422
    )


def test_a_bad_report_names_its_fields(client: TestClient) -> None:
    desk = officer(client)
    body = {"report_id": "R2", "unit": UNIT, "received_at": "2024-05-01T10:00:00",
            "payments": [{"account": "??", "amount_fen": 0}]}  # fmt: skip
    response = client.post("/api/v1/cases", json=body, headers=desk)
    assert response.status_code == 422
    where = {p["loc"] for p in response.json()["detail"]}
    assert {"received_at", "payments.0.account", "payments.0.amount_fen"} <= where


def test_extract_prefills_the_form(client: TestClient) -> None:
    body = {
        "narrative": "其于5月1日9時27分向賬戶6222021234567890128匯款三萬五千元",
        "at": "2024-05-02T00:00:00Z",
    }
    found = client.post("/api/v1/reports/extract", json=body, headers=officer(client)).json()
    assert found["accounts"] == [ICBC_CARD]
    assert found["payments"][0]["amount_fen"] == 3_500_000
