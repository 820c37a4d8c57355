"""The pages in a real browser: Playwright (Python) driving Debian's chromium, headless,
against uvicorn on a loopback port in this process (so the test reaches the Dispatcher).

A station officer sees a 特危 instruction appear live, signs it and records an outcome;
another station's officer gets the 404 page for it; the dashboard draws its charts. The
screenshots are taken on every run; they replace those in docs/screenshots/ when
``FANZHA_SCREENSHOTS=1`` (``FANZHA_SCREENSHOTS=1 .venv/bin/pytest tests/e2e``), so that an
ordinary test run leaves the checked-in pictures alone.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from webworld import PASSWORD, issue, populate, serve

from fanzha.api.app import create_app
from fanzha.funds.ledger import Ledger
from fanzha.funds.orders import BankAnswer
from fanzha.service import App

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and os.environ.get("CI") == "true":
    raise RuntimeError("Debian's chromium is missing under CI: make sysdeps")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is missing: make sysdeps"
)

SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("FANZHA_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="fanzha-shots-"))
)
NANPING_ID, XINHUA_ID, SHENGLI_ID = "500101198610030001", "500101198610030002", "500103199001010003"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, App]]:
    from api.helpers import settings_for

    api = create_app(settings_for(tmp_path_factory.mktemp("e2e")))
    with serve(api) as url:
        fz: App = api.state.fz
        populate(fz)
        yield url, fz


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def log_in(browser: object, url: str, username: str) -> object:
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page.set_default_timeout(10_000)
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def test_officer_sees_a_critical_instruction_live_signs_it_and_records_the_outcome(
    site: tuple[str, App], browser: object
) -> None:
    url, fz = site
    errors: list[str] = []
    page = log_in(browser, url, "nanping")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.goto(f"{url}/queue")  # type: ignore[attr-defined]
    page.wait_for_selector("body[data-live='1']")  # type: ignore[attr-defined]
    issue(fz, "E2E-1", 3, XINHUA_ID)  # another station's: not in this queue
    made = issue(fz, "E2E-2", 4, NANPING_ID)
    row = page.locator(f"#row-{made.instruction_id}")  # type: ignore[attr-defined]
    row.wait_for()
    assert "特危" in row.inner_text()
    assert page.locator("#toast.show").count() == 1  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "queue.png"))  # type: ignore[attr-defined]

    row.locator("button.sign").click()
    page.locator(f"#row-{made.instruction_id} .state", has_text="已签收").wait_for()  # type: ignore[attr-defined]
    row.locator("a.open").click()
    page.wait_for_selector("#attempt-form")  # type: ignore[attr-defined]
    page.select_option("#attempt-form select[name=channel]", "phone")  # type: ignore[attr-defined]
    page.click("#save-attempt")  # type: ignore[attr-defined]
    page.wait_for_selector("#outcome-form")  # type: ignore[attr-defined]
    form = "#outcome-form"
    page.select_option(f"{form} select[name=contacted]", "person")  # type: ignore[attr-defined]
    page.select_option(f"{form} select[name=judgement]", "confirmed")  # type: ignore[attr-defined]
    page.check(f"{form} input[name=dissuaded]")  # type: ignore[attr-defined]
    page.fill(f"{form} input[name=amount_at_risk]", "50000")  # type: ignore[attr-defined]
    page.fill(f"{form} input[name=amount_saved]", "50000")  # type: ignore[attr-defined]
    page.check(f"{form} input[name=notice_signed]")  # type: ignore[attr-defined]
    page.fill(f"{form} textarea[name=note]", "本人接听,已劝阻,未转账")  # type: ignore[attr-defined]
    page.click("#save-outcome")  # type: ignore[attr-defined]
    page.wait_for_selector("#outcome")  # type: ignore[attr-defined]
    assert "50,000.00" in page.inner_text("#outcome")  # type: ignore[attr-defined]
    history = page.inner_text("#history")  # type: ignore[attr-defined]
    assert "签收" in history and "反馈结果" in history and "nanping" in history
    stored = fz.instructions.get(made.instruction_id)
    assert stored is not None and stored.outcome is not None and stored.outcome.dissuaded
    assert not errors, errors
    page.close()  # type: ignore[attr-defined]


def test_another_station_cannot_open_it(site: tuple[str, App], browser: object) -> None:
    url, fz = site
    made = issue(fz, "E2E-3", 4, NANPING_ID)
    page = log_in(browser, url, "shengli")
    answer = page.goto(f"{url}/instructions/{made.instruction_id}")  # type: ignore[attr-defined]
    assert answer.status == 404
    assert "不在您的辖区内" in page.inner_text("main")  # type: ignore[attr-defined]
    page.close()  # type: ignore[attr-defined]


def test_the_dashboard_draws_its_charts(site: tuple[str, App], browser: object) -> None:
    url, fz = site
    issue(fz, "E2E-4", 3, SHENGLI_ID, fraud_type="fake_investment")
    issue(fz, "E2E-5", 2, XINHUA_ID, fraud_type="order_brushing")
    page = log_in(browser, url, "admin1")
    page.goto(f"{url}/dashboard")  # type: ignore[attr-defined]
    page.wait_for_selector("#chart-history[data-drawn='1'] canvas")  # type: ignore[attr-defined]
    page.wait_for_selector("#chart-fraud[data-drawn='1'] canvas")  # type: ignore[attr-defined]
    page.wait_for_selector("body[data-live='1']")  # type: ignore[attr-defined]
    before = page.inner_text("#tile-level4 .tile-value")  # type: ignore[attr-defined]
    issue(fz, "E2E-6", 4, SHENGLI_ID)
    page.wait_for_function(  # type: ignore[attr-defined]
        "b => document.querySelector('#tile-level4 .tile-value').textContent.trim() !== b",
        arg=before,
    )
    page.wait_for_timeout(300)  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)  # type: ignore[attr-defined]
    page.close()  # type: ignore[attr-defined]


MULE, LAYER2 = "6222021234567890128", "6217000000000000001"
NARRATIVE = "受害人称接到自称客服电话13809402934,按对方要求向账户6222021234567890128转账5000元。"


def _ledger_for(paid_at: dt.datetime) -> Ledger:
    """The victim paid MULE, which passed 3,000 on to LAYER2 two minutes later."""
    rows = [
        ("VICTIM", MULE, paid_at, 500_000),
        (MULE, LAYER2, paid_at + dt.timedelta(minutes=2), 300_000),
    ]
    return Ledger.build(
        pa.table(
            {
                "payer_account": [r[0] for r in rows],
                "payee_account": [r[1] for r in rows],
                "ts": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
                "amount_fen": pa.array([r[3] for r in rows], pa.int64()),
            }
        )
    )


def test_the_desk_with_its_mirror_window_and_the_trace_view(
    site: tuple[str, App], browser: object
) -> None:
    url, fz = site
    paid_at = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    fz.funds._ledger = _ledger_for(paid_at)  # the lake holds no transfers in this world
    errors: list[str] = []
    page = log_in(browser, url, "nanping")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.goto(f"{url}/desk")  # type: ignore[attr-defined]
    with page.expect_popup() as opened:  # type: ignore[attr-defined]
        page.click("#open-mirror")  # type: ignore[attr-defined]
    mirror = opened.value
    mirror.wait_for_selector("#mirror-note")

    page.fill("#narrative", NARRATIVE)  # type: ignore[attr-defined]
    page.click("#extract")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "a => document.querySelector('input[name=pay_account]').value === a", arg=MULE
    )
    mirror.locator(".mirror-row", has_text="6222 0212 3456 7890 128").wait_for(timeout=1500)
    local = paid_at.astimezone(ZoneInfo(str(fz.settings.timezone)))
    page.fill("input[name=pay_time]", local.strftime("%Y-%m-%dT%H:%M"))  # type: ignore[attr-defined]
    page.fill("input[name=pay_amount]", "5200")  # type: ignore[attr-defined]
    mirror.locator(".mirror-row", has_text="5,200.00").wait_for(timeout=1500)  # live: < 1.5 s
    page.fill("input[name=pay_amount]", "5000")  # type: ignore[attr-defined]
    mirror.locator(".mirror-row", has_text="5,000.00").wait_for(timeout=1500)
    assert local.strftime("%Y-%m-%d %H:%M") in mirror.inner_text("#mirror")
    assert "13809402934" not in mirror.inner_text("body")
    page.screenshot(path=str(SHOTS / "desk.png"), full_page=True)  # type: ignore[attr-defined]
    mirror.screenshot(path=str(SHOTS / "mirror.png"))

    page.click("#confirm-report")  # type: ignore[attr-defined]
    page.wait_for_selector("#order-table .order-state[data-state='sent']")  # type: ignore[attr-defined]
    mirror.locator("#mirror-note", has_text="已提交").wait_for(timeout=1500)
    case_id = page.url.rsplit("/", 1)[-1]  # type: ignore[attr-defined]
    order = fz.funds.orders(case_id=case_id)[0]
    answer = BankAnswer(answer_id="B1", held_fen=200_000, at=fz.funds.clock.now())
    fz.funds.answer(order.order_id, answer, "bank")  # the bank answers: the page follows
    page.wait_for_selector("#order-table .order-state[data-state='partially_executed']")  # type: ignore[attr-defined]

    page.click("#open-trace")  # type: ignore[attr-defined]
    page.wait_for_selector("#chart-trace[data-drawn='1'] canvas")  # type: ignore[attr-defined]
    table = page.inner_text("#trace-table")  # type: ignore[attr-defined]
    assert "6222***********0128" in table and "6217***********0001" in table
    assert "部分执行" in table and MULE not in table
    page.screenshot(path=str(SHOTS / "trace.png"), full_page=True)  # type: ignore[attr-defined]
    assert not errors, errors
    mirror.close()
    page.close()  # type: ignore[attr-defined]
