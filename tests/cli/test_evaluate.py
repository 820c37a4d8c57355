"""``fanzha evaluate``, run in-process with Typer's CliRunner on a hand-made simulation."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from evaluation_world import LIVE, story_warnings, warnings_table, write_world
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.service import App


@pytest.fixture(autouse=True)
def english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FANZHA_LANG", "en")


@pytest.fixture
def sim(tmp_path: Path) -> Path:
    return write_world(tmp_path / "sim")


def write_warnings(path: Path, table: pa.Table | None = None) -> Path:
    pq.write_table(story_warnings() if table is None else table, path)
    return path


def fanzha(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def text(result: Result) -> str:
    return " ".join(result.output.split())


def test_json_prints_the_scorecard(sim: Path, tmp_path: Path) -> None:
    path = write_warnings(tmp_path / "w.parquet")
    result = fanzha("evaluate", "--truth", str(sim / "truth"), "--warnings", str(path), "--json")
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert card["victims"] == 4 and card["recall_before_loss"] == 0.5
    assert card["precision_level3plus"] == 0.8 and card["false_per_10k_day"] == 0.5
    assert card["median_lead_minutes"] == 20.0
    assert card["precision_by_level"]["1"] == 0.5
    assert card["by_type"]["fake_customer_service"]["median_lead_minutes"] == 10.0
    assert card["shadow"]["recall_before_loss"] == 0.25


def test_tables_in_english(sim: Path, tmp_path: Path) -> None:
    path = write_warnings(tmp_path / "w.parquet")
    result = fanzha("evaluate", "--truth", str(sim / "truth"), "--warnings", str(path))
    assert result.exit_code == 0, result.output
    out = text(result)
    for title in ("Warning scorecard", "By warning level", "By fraud type", "Shadow-rule"):
        assert title in out, title
    assert "50.0%" in out and "80.0%" in out  # recall before loss, precision at level ≥ 3
    assert "fake_customer_service" in out and "4 critical" in out


def test_tables_in_chinese_by_default(
    sim: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FANZHA_LANG")
    path = write_warnings(tmp_path / "w.parquet", warnings_table(LIVE))
    result = fanzha("evaluate", "--truth", str(sim / "truth"), "--warnings", str(path))
    assert result.exit_code == 0, result.output
    out = text(result)
    for label in ("预警评估", "按预警等级", "按诈骗类型", "冒充电商物流客服", "4 特危"):
        assert label in out, label
    assert "影子规则" not in out  # no shadow warnings, no shadow scorecard


def test_the_simulation_folder_itself_is_accepted(sim: Path, tmp_path: Path) -> None:
    path = write_warnings(tmp_path / "w.parquet")
    result = fanzha("evaluate", "--truth", str(sim), "--warnings", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["victims"] == 4


def test_without_warnings_reads_the_platforms(sim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(App, "warnings_table", lambda self: warnings_table(LIVE), raising=False)
    result = fanzha("evaluate", "--truth", str(sim / "truth"), "--json")
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert card["warnings"] == 9 and card["shadow"] is None


def test_missing_truth_folder(tmp_path: Path) -> None:
    path = write_warnings(tmp_path / "w.parquet")
    result = fanzha(
        "evaluate", "--truth", str(tmp_path / "nowhere" / "truth"), "--warnings", str(path)
    )
    assert result.exit_code == 2
    assert "no such folder" in text(result)


def test_missing_manifest(sim: Path, tmp_path: Path) -> None:
    (sim / "manifest.json").unlink()
    path = write_warnings(tmp_path / "w.parquet")
    result = fanzha("evaluate", "--truth", str(sim / "truth"), "--warnings", str(path))
    assert result.exit_code == 2
    assert "no manifest.json" in text(result)


def test_warnings_with_a_missing_column(sim: Path, tmp_path: Path) -> None:
    path = write_warnings(tmp_path / "w.parquet", story_warnings().drop_columns(["first_at"]))
    result = fanzha("evaluate", "--truth", str(sim / "truth"), "--warnings", str(path))
    assert result.exit_code == 2
    assert "no column first_at" in text(result)


def test_missing_or_unreadable_warnings_file(sim: Path, tmp_path: Path) -> None:
    result = fanzha("evaluate", "--truth", str(sim / "truth"), "--warnings", str(tmp_path / "x"))
    assert result.exit_code == 2 and "no such file" in text(result)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    result = fanzha("evaluate", "--truth", str(sim / "truth"), "--warnings", str(junk))
    assert result.exit_code == 2 and "not a Parquet file" in text(result)
