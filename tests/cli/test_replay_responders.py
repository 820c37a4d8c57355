"""``fanzha replay --responders simulated`` and ``fanzha kpi`` on a real tiny simulation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.dispatch.orgfile import tree_from_registry
from fanzha.intel.model import IndicatorKind
from fanzha.model.enums import OrgLevel
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.sim.engine import simulate
from fanzha.sim.params import preset
from fanzha.sim.truth import read_truth
from fanzha.store.instructions import SqlInstructions

HEADLINE = (
    "victims",
    "protected_before_loss",
    "instructions",
    "on_time_rate",
    "reach_rate",
    "dissuasion_success_rate",
    "money_lost_fen",
    "money_saved_fen",
    "seconds",
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate(preset("tiny", seed=3), tmp_path_factory.mktemp("sim") / "tiny").out_dir


@pytest.fixture(scope="module")
def replayed(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One replay of the tiny city (data folder, scorecard), shared by the tests that read it."""
    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FANZHA_DATA_DIR", str(data))
        out = fanzha("replay", str(tiny), "--responders", "simulated", "--json").stdout
    return data, json.loads(out)


def fanzha(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_the_scorecard_adds_up_against_the_truth(tiny: Path, replayed: tuple[Path, Any]) -> None:
    _, card = replayed
    assert set(HEADLINE) <= set(card)
    payments = read_truth(tiny, "payments")
    victims = read_truth(tiny, "victims")
    assert (
        card["money_lost_fen"] + card["money_saved_fen"] == pc.sum(payments["amount_fen"]).as_py()
    )
    assert card["victims"] == pc.sum(pc.greater(victims["loss_fen"], 0)).as_py()
    assert 0 < card["protected_before_loss"] <= card["victims"]
    assert card["money_saved_fen"] > 0 and card["dissuaded"] > 0
    assert card["instructions"] == card["warnings"] > 0
    for key in ("on_time_rate", "reach_rate", "refusal_rate", "dissuasion_success_rate"):
        assert 0 <= card[key] <= 1
    assert abs(card["reach_rate"] - 0.6) < 0.1  # the simulation's responder parameters
    assert card["kpi"]["total"]["instructions"] >= card["instructions"]
    assert not card["problems"]


def test_the_same_simulation_and_seed_give_the_same_scorecard(
    tiny: Path, replayed: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path / "again"))
    again = json.loads(fanzha("replay", str(tiny), "--responders", "simulated", "--json").stdout)
    first = dict(replayed[1])
    for card in (first, again):
        for timing in ("seconds", "cpu_seconds", "cpu_by_stage"):
            card.pop(timing)
    assert again == first
    other = fanzha("replay", str(tiny), "--responders", "simulated", "--json", "--seed", "99")
    assert json.loads(other.stdout)["kpi"] != first["kpi"]


def test_the_platform_keeps_warnings_instructions_and_the_sms_outbox(
    tiny: Path, replayed: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, card = replayed
    monkeypatch.setenv("FANZHA_DATA_DIR", str(data))
    monkeypatch.setenv("FANZHA_LANG", "en")
    kpi = json.loads(fanzha("kpi", "--json").stdout)
    assert kpi["total"]["instructions"] == card["kpi"]["total"]["instructions"]
    assert kpi["total"]["calls"] == card["calls"]
    monkeypatch.setenv("COLUMNS", "200")
    table = fanzha("kpi").stdout
    assert "Dispatch KPIs: timeliness" in table and "Dispatch KPIs: dissuasion" in table
    assert "all units" in table and "critical" in table
    district = "500101"  # 江北区 of the tiny city; its stations' codes start with it
    only = json.loads(fanzha("kpi", "--unit", district, "--json").stdout)
    assert {r["unit"][:6] for r in only["rows"] if r["unit"] != "*"} == {district}
    assert 0 < only["total"]["instructions"] < kpi["total"]["instructions"]
    assert "no such unit" in fanzha("kpi", "--unit", "999999", code=2).output
    evaluated = json.loads(fanzha("evaluate", "--truth", str(tiny / "truth"), "--json").stdout)
    assert evaluated["victims"] == card["victims"] and evaluated["warnings"] == card["warnings"]
    lines = (data / "outbox" / "sms-replay.jsonl").read_text("utf-8").splitlines()
    queued = [json.loads(x)["message"] for x in lines if x.startswith('{"message"')]
    assert len(queued) == card["sms_sent"] > 0
    assert all(m["text"].startswith("【12381") for m in queued)


def test_the_scorecard_table_is_chinese_by_default(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FANZHA_LANG", raising=False)
    out = fanzha("replay", str(tiny), "--responders", "simulated", "--window", "3600").stdout
    assert "全流程回放评分" in out and "避免损失(元)" in out and "劝阻成功率" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--responders", "human"], 2, "only 'simulated'"),
        (["--responders", "simulated", "--speed", "10"], 2, "--speed"),
        (["--responders", "simulated", "--window", "0"], 2, "--window"),
        (["--json"], 2, "need --responders"),
    ],
)
def test_bad_options(tiny: Path, tmp_path: Path, args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(
        app, ["replay", str(tiny), *args], env={"FANZHA_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == code and message in result.output


def test_a_folder_that_is_not_a_simulation(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    result = CliRunner().invoke(
        app,
        ["replay", str(tmp_path), "--responders", "simulated"],
        env={"FANZHA_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.exit_code == 1 and "manifest.json" in result.output


def test_with_ingest_the_lake_holds_only_the_payments_that_happened(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path))
    # Hour-long windows: each lands as one ingestion run per type (slow by design), and a
    # person stopped inside a window still pays what the window already carried.
    args = ["replay", str(tiny), "--responders", "simulated", "--ingest", "--window", "3600"]
    card = json.loads(fanzha(*args, "--json").stdout)
    assert card["ingested"] and card["payments_removed"] > 0
    paid = read_truth(tiny, "payments").column("event_id").to_pylist()
    ids = ", ".join(f"'{p}'" for p in paid)
    query = f"SELECT count(*) AS n FROM transfer WHERE event_id IN ({ids})"
    landed = json.loads(fanzha("sql", query, "--json").stdout)
    assert landed == [{"n": len(paid) - card["payments_removed"]}]
    # The replay's engine read exactly the lake: `fanzha serve` continues from it, reading
    # nothing again and finding the same warnings.
    with App(Settings(data_dir=tmp_path)) as fz:
        stored = fz.warnings.table().num_rows
        step = fz.live.detection.step()
        assert step.events == 0 and step.files == 0
        assert fz.warnings.table().num_rows == stored == card["warnings"]


def test_people_away_from_home_bring_in_the_local_duty_desk(replayed: tuple[Path, Any]) -> None:
    data, _ = replayed
    with App(Settings(data_dir=data)) as fz:
        instructions = SqlInstructions(fz.store.sessions).between()
        tree = tree_from_registry(fz.store.reference.org_units())
    # The tiny city places 3 % of calls in another county: a warned person whose latest call
    # was there gets that district's duty desk copied in (协办), the home unit still acts.
    copied = [i for i in instructions if i.copy_to]
    assert copied and len(copied) < len(instructions) / 4
    for ins in copied:
        home = tree.at_tier(ins.unit, OrgLevel.DISTRICT)
        (desk,) = ins.copy_to
        assert tree.get(desk) is not None and tree.at_tier(desk, OrgLevel.DISTRICT) != home


def test_outcomes_move_the_confidence_of_stored_indicators(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path))
    entities = read_truth(tiny, "entities").to_pylist()
    callers = sorted({e["value"] for e in entities if e["kind"] == "phone"})
    feed = tmp_path / "feed.txt"
    feed.write_text("\n".join(callers) + "\n", "utf-8")
    fanzha("intel", "import", str(feed), "--kind", "phone", "--confidence", "0.5")
    with App(Settings(data_dir=tmp_path)) as fz:
        before = {i.value: i.confidence for i in fz.intel.get_many(_phones(callers))}
    card = json.loads(fanzha("replay", str(tiny), "--responders", "simulated", "--json").stdout)
    assert card["indicator_feedback"]["raise"] > 0 and card["indicators_adjusted"] > 0
    with App(Settings(data_dir=tmp_path)) as fz:
        after = {i.value: i.confidence for i in fz.intel.get_many(_phones(callers))}
        raised = [v for v in callers if after[v] > before[v]]
        assert raised and all(after[v] >= before[v] for v in callers)  # all of them are fraud
        trail = fz.intel.history(IndicatorKind.PHONE, raised[0])
        assert any(c.actor == "replay" for c in trail)


def _phones(values: list[str]) -> list[tuple[IndicatorKind, str]]:
    return [(IndicatorKind.PHONE, v) for v in values]
