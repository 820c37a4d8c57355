"""The stop-payment desk, the mirror screen, the trace view and the funds tiles over a real
SQLite store through the HTTP layer: narrative pre-fill, the pad the mirror reads (the same
officer only), confirmation into a case with its stop-payments sent, masked accounts,
one-click extended stop-payment, the money tree, and 404 for another station."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from api.helpers import settings_for
from fastapi.testclient import TestClient
from webworld import NANPING, SHENGLI, populate

from fanzha.api.app import create_app
from fanzha.funds.ledger import Ledger
from fanzha.funds.orders import BankAnswer
from fanzha.funds.report import parse_report
from fanzha.service import App

from .test_pages import fz_of, log_in

MULE = "6222021234567890128"  # 工商银行 by its BIN
LAYER2, ATM_MULE = "6217000000000000001", "6228480000000000002"
NARRATIVE = (
    "受害人称5月1日9时27分接到自称客服电话13809402934,"
    "按对方要求向账户6222021234567890128转账5000元。"
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path)), follow_redirects=False) as c:
        populate(fz_of(c))
        yield c


def pad_of(html: str) -> str:
    found = re.search(r'href="/desk/mirror/([A-Za-z0-9_\-]+)"', html)
    assert found, html[:300]
    return found.group(1)


def form(pad: str, csrf: str, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": csrf,
        "pad": pad,
        "narrative": NARRATIVE,
        "fraud_type": "fake_customer_service",
        "victim_name": "王小明",
        "victim_phone": "13912345678",
        "loss": "",
        "pay_account": [MULE, ""],
        "pay_bank": ["", ""],
        "pay_amount": ["5000", ""],
        "pay_time": ["2026-05-01T09:27", ""],
        "phone": ["13809402934"],
        "url": [""],
        "app": [""],
    }
    data.update(changes)
    return data


def test_the_narrative_prefills_the_form_and_the_mirror_shows_what_was_typed(
    client: TestClient,
) -> None:
    csrf = log_in(client, "nanping")
    pad = pad_of(client.get("/desk").text)
    headers = {"x-csrf-token": csrf, "hx-request": "true"}
    rows = client.post("/desk/extract", data={"narrative": NARRATIVE}, headers=headers)
    assert rows.status_code == 200 and rows.headers["hx-trigger-after-settle"] == "fz:pad"
    assert f'value="{MULE}"' in rows.text and 'value="5000"' in rows.text
    assert 'value="+8613809402934"' in rows.text or 'value="13809402934"' in rows.text
    assert "工商银行" in rows.text  # the bank from the card BIN

    assert client.post(f"/desk/pad/{pad}", data=form(pad, csrf), headers=headers).status_code == 204
    view = client.get(f"/desk/mirror/{pad}/view")
    assert "6222 0212 3456 7890 128" in view.text and "5,000.00" in view.text
    assert "2026-05-01 09:27" in view.text
    for private in ("王小明", "13912345678", "13809402934", "客服"):
        assert private not in view.text  # nothing but the payments
    version = re.search(r'name="v" value="(\d+)"', view.text)
    assert version is not None
    assert client.get(f"/desk/mirror/{pad}/view?v={version.group(1)}").status_code == 204
    page = client.get(f"/desk/mirror/{pad}")
    assert (
        page.status_code == 200 and "请核对您的转账信息" in page.text and "<nav>" not in page.text
    )


def test_the_mirror_needs_the_desk_officers_own_session(client: TestClient) -> None:
    log_in(client, "nanping")
    pad = pad_of(client.get("/desk").text)
    client.cookies.clear()
    assert client.get(f"/desk/mirror/{pad}").headers["location"].startswith("/login")
    log_in(client, "shengli")
    assert client.get(f"/desk/mirror/{pad}").status_code == 404
    assert client.get(f"/desk/mirror/{pad}/view").status_code == 404


def test_confirming_opens_the_case_and_sends_a_stop_payment_per_payee(client: TestClient) -> None:
    csrf = log_in(client, "nanping")
    pad = pad_of(client.get("/desk").text)
    done = client.post("/desk/cases", data=form(pad, csrf))
    assert done.status_code == 303, done.text
    case_id = f"C-D-{pad}"
    assert done.headers["location"] == f"/desk/cases/{case_id}"
    html = client.get(done.headers["location"]).text
    assert "6222***********0128" in html and MULE not in html  # masked
    assert "已发送" in html and "王*" in html and "139****5678" in html
    assert "已提交" in client.get(f"/desk/mirror/{pad}/view").text
    # the same form again finds the same case (one case per form)
    assert client.post("/desk/cases", data=form(pad, csrf)).headers["location"].endswith(case_id)
    orders = fz_of(client).funds.orders(case_id=case_id)
    assert [(o.account, o.amount_fen, o.state.value) for o in orders] == [(MULE, 500_000, "sent")]
    log_in(client, "shengli")
    assert client.get(f"/desk/cases/{case_id}").status_code == 404
    assert client.get(f"/desk/cases/{case_id}/trace").status_code == 404
    assert client.get(f"/desk/cases/{case_id}/orders").status_code == 404


def test_a_bad_report_is_shown_again_with_every_problem(client: TestClient) -> None:
    csrf = log_in(client, "nanping")
    pad = pad_of(client.get("/desk").text)
    bad = client.post(
        "/desk/cases", data=form(pad, csrf, pay_account=["12", ""], pay_amount=["lots", ""])
    )
    assert bad.status_code == 422
    assert 'id="problems"' in bad.text and "payments.0" in bad.text
    assert 'value="lots"' in bad.text  # what was typed is kept


# ---------------------------------------------------------------------- orders and the trace


def transfers(t0: dt.datetime) -> pa.Table:
    """Victim → MULE 5,000; MULE → LAYER2 3,000 (which had 1,000 of its own) and
    MULE → ATM_MULE 1,500, then cash at an ATM."""
    rows = [
        ("OTHER", LAYER2, t0 - dt.timedelta(hours=1), 100_000, "mobile"),
        ("VICTIM", MULE, t0, 500_000, "mobile"),
        (MULE, LAYER2, t0 + dt.timedelta(minutes=2), 300_000, "mobile"),
        (MULE, ATM_MULE, t0 + dt.timedelta(minutes=3), 150_000, "mobile"),
        (ATM_MULE, "ATM-1", t0 + dt.timedelta(minutes=9), 150_000, "ATM"),
    ]
    return pa.table(
        {
            "event_id": [f"T{i}" for i in range(len(rows))],
            "payer_account": [r[0] for r in rows],
            "payee_account": [r[1] for r in rows],
            "ts": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
            "amount_fen": pa.array([r[3] for r in rows], pa.int64()),
            "channel": [r[4] for r in rows],
        }
    )


def open_traced_case(fz: App, unit: str = NANPING) -> str:
    """A case whose money went on two layers, with proposals (not automatic orders)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = now - dt.timedelta(hours=2)
    fz.funds._ledger = Ledger.build(transfers(t0))  # the lake has no transfers here
    fz.funds.config = dataclasses.replace(fz.funds.config, auto_extend=False)
    report = parse_report(
        {
            "report_id": f"R-{unit}",
            "unit": unit,
            "received_at": now - dt.timedelta(minutes=5),
            "taken_by": "user:nanping",
            "fraud_type": "fake_investment",
            "payments": [{"account": MULE, "amount_fen": 500_000, "paid_at": t0}],
        }
    )
    return fz.funds.intake(report, "user:nanping").case.case_id


def test_extended_stop_payment_is_proposed_by_amount_and_placed_in_one_click(
    client: TestClient,
) -> None:
    case_id = open_traced_case(fz_of(client))
    csrf = log_in(client, "nanping")
    headers = {"x-csrf-token": csrf, "hx-request": "true"}
    listed = client.post(f"/desk/cases/{case_id}/extend", headers=headers)
    assert listed.status_code == 200, listed.text
    proposals = listed.text.split('id="proposals"')[1]
    assert "6217***********0001" in proposals and LAYER2 not in listed.text
    key = re.search(r'"key": "(O[0-9A-F]+)"', proposals)
    assert key is not None
    placed = client.post(
        f"/desk/cases/{case_id}/accept", data={"key": key.group(1)}, headers=headers
    )
    assert placed.status_code == 200
    accounts = {o.account: o.hop for o in fz_of(client).funds.orders(case_id=case_id)}
    assert accounts == {MULE: 0, LAYER2: 1}
    assert 'id="proposals"' not in placed.text  # nothing left to propose
    unknown = client.post(f"/desk/cases/{case_id}/accept", data={"key": "O123"}, headers=headers)
    assert unknown.status_code == 404


def test_the_trace_view_draws_the_money_tree_layer_by_layer(client: TestClient) -> None:
    case_id = open_traced_case(fz_of(client))
    log_in(client, "nanping")
    page = client.get(f"/desk/cases/{case_id}/trace")
    assert page.status_code == 200
    table = page.text.split('id="trace-table"')[1]
    assert table.index("6222***********0128") < table.index("6217***********0001")
    assert "trace-cash_out" in table and "mixed-flag" in table and MULE not in page.text
    chart = client.get(f"/desk/cases/{case_id}/trace/chart").json()
    series = chart["series"][0]
    labels = [n["label"]["formatter"] for n in series["data"]]
    assert labels[0] == "受害人" and any("已取现" in x for x in labels)
    assert any("混有他人资金" in x for x in labels) and any("已发送" in x for x in labels)
    assert {(link["source"], link["target"]) for link in series["links"]} >= {(0, 1)}
    assert len({n["name"] for n in series["data"]}) == len(series["data"])


def test_the_dashboard_shows_the_funds_tiles(client: TestClient) -> None:
    fz = fz_of(client)
    case_id = open_traced_case(fz)
    order = fz.funds.orders(case_id=case_id)[0]
    answer = BankAnswer(answer_id="A1", held_fen=200_000, at=fz.funds.clock.now())
    fz.funds.answer(order.order_id, answer, "bank")
    open_traced_case(fz, SHENGLI)  # another district's: not on Jiangbei's dashboard
    log_in(client, "admin1")
    html = client.get("/dashboard/live").text
    assert re.search(r'id="tile-stop_payments"[^>]*>\s*<div class="tile-value">2<', html)
    assert re.search(r'id="tile-held"[^>]*>\s*<div class="tile-value">2,000<', html)
    assert re.search(r'id="tile-rate60"[^>]*>\s*<div class="tile-value">50%<', html)
    log_in(client, "jiangbei")
    html = client.get("/dashboard/live").text
    assert re.search(r'id="tile-stop_payments"[^>]*>\s*<div class="tile-value">1<', html)
    assert re.search(r'id="tile-rate60"[^>]*>\s*<div class="tile-value">100%<', html)
