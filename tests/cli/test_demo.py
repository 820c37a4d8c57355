"""``fanzha demo --preset tiny --no-serve --json``: the whole platform on a real tiny city, its
scorecard checked against the truth and against ``fanzha evaluate`` / ``fanzha kpi``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.demoing import case_reports
from fanzha.dispatch.effects import CaseRequest
from fanzha.dispatch.outcome import Payee
from fanzha.funds.report import Report, parse_report
from fanzha.model.enums import FraudType
from fanzha.model.events import EVENT_TYPES
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.sim.truth import read_truth

HEADLINE = (
    "victims",
    "protected_before_loss",
    "money_lost_fen",
    "money_saved_fen",
    "money_frozen_fen",
    "stop_payment_60min_rate",
    "warnings_by_level",
    "precision_level3plus",
    "seconds",
)
ARGS = ("demo", "--preset", "tiny", "--seed", "3", "--no-serve")


def fanzha(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One demo run in a fresh data folder (the folder, the JSON scorecard)."""
    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FANZHA_DATA_DIR", str(data))
        out = fanzha(*ARGS, "--json").stdout
    return data, json.loads(out)


def test_the_json_scorecard_adds_up_against_the_truth(demo: tuple[Path, Any]) -> None:
    data, card = demo
    assert set(HEADLINE) <= set(card)
    sim = data / "sim" / "tiny-3"
    payments, victims = read_truth(sim, "payments"), read_truth(sim, "victims")
    lost, saved = card["money_lost_fen"], card["money_saved_fen"]
    assert lost + saved == pc.sum(payments["amount_fen"]).as_py()
    assert card["victims"] == pc.sum(pc.greater(victims["loss_fen"], 0)).as_py()
    assert 0 < card["protected_before_loss"] <= card["victims"]
    assert 0 < card["money_frozen_fen"] <= lost  # only money that was lost can be frozen
    assert 0 <= card["stop_payment_60min_rate"] <= 1 and 0 < card["precision_level3plus"] <= 1
    assert sum(card["warnings_by_level"].values()) == card["replay"]["warnings"] > 0
    assert card["funds"]["cases"] > 0 and not card["replay"]["problems"]


def test_the_figures_match_evaluate_kpi_and_the_lake(
    demo: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, card = demo
    monkeypatch.setenv("FANZHA_DATA_DIR", str(data))
    truth = data / "sim" / "tiny-3" / "truth"
    evaluated = json.loads(fanzha("evaluate", "--truth", str(truth), "--json").stdout)
    assert evaluated["precision_level3plus"] == card["precision_level3plus"]
    assert evaluated["victims"] == card["victims"]
    assert evaluated["warnings"] == sum(card["warnings_by_level"].values())
    kpi = json.loads(fanzha("kpi", "--json").stdout)
    assert kpi["total"] == card["replay"]["kpi"]["total"]
    query = " UNION ALL ".join(f"SELECT count(*) AS n FROM {name}" for name in EVENT_TYPES)
    rows = json.loads(fanzha("sql", query, "--json").stdout)
    assert sum(r["n"] for r in rows) == card["replay"]["events"]  # every replayed event landed
    with App(Settings()) as fz:
        assert len(fz.funds.cases()) == card["funds"]["cases"]


def test_the_demo_users_can_log_in(demo: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    data, card = demo
    monkeypatch.setenv("FANZHA_DATA_DIR", str(data))
    users = {u["username"]: u for u in card["users"]}
    assert {u["role"] for u in users.values()} == {
        "city_admin",
        "district_dispatcher",
        "station_officer",
        "bank_liaison",
    }
    with App(Settings()) as fz:
        for name, user in users.items():
            if user["role"] == "bank_liaison":  # a role for machines: an API token
                assert fz.security.token(user["secret"]) is not None
            else:
                assert fz.security.login(name, user["secret"]).principal.name == name


def test_a_second_run_reuses_the_simulation_and_prints_chinese_tables(
    demo: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, card = demo
    monkeypatch.setenv("FANZHA_DATA_DIR", str(data))
    monkeypatch.delenv("FANZHA_LANG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    out = fanzha(*ARGS).output  # the progress and the reuse note go to stderr
    assert "沿用已有模拟" in out and "演示评分" in out and "60分钟止付率" in out
    assert f"{card['victims']:,}" in out and "station1.officer" in out


def test_a_victim_reached_before_the_police_has_one_case_per_lost_payment() -> None:
    t0 = dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC)
    a, b = "6217000000000000001", "6217000000000000002"

    def paid(account: str, minutes: int) -> dict[str, Any]:
        return {
            "account": account,
            "amount_fen": 1_000_00,
            "paid_at": t0 + dt.timedelta(minutes=minutes),
        }

    def police(report_id: str, phone: str, minutes: int, *payments: dict[str, Any]) -> Report:
        return parse_report({
            "report_id": report_id, "unit": "S1", "taken_by": "desk", "victim_phone": phone,
            "received_at": t0 + dt.timedelta(minutes=minutes), "payments": list(payments),
            "loss_fen": sum(p["amount_fen"] for p in payments),
        })  # fmt: skip

    request = CaseRequest(
        instruction_id="W1", warning_id="W1", subject="id", id_number=None, phone="13800000001",
        unit="S1", fraud_type=FraudType.OTHER, amount_lost_fen=1_000_00,
        payees=(Payee(**paid(a, 0)),), reported_at=t0 + dt.timedelta(minutes=30),
        reported_by="officer",
    )  # fmt: skip
    reports = [
        police("R1", "13800000001", 90, paid(a, 0), paid(b, 60)),  # paid b after the officer
        police("R2", "13800000002", 10, paid(b, 5)),  # another victim
        police("R3", "13800000001", 120, paid(a, 0)),  # nothing new: no second case
    ]
    opened = case_reports(reports, [request])
    assert [r.report_id for r in opened] == ["R2", "I-W1", "R1"]
    late = opened[-1]
    assert [p.account for p in late.payments] == [b] and late.loss_fen == 1_000_00
