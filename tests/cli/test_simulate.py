"""``fanzha simulate``, run in-process with Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.model.events import EVENT_TYPES


@pytest.fixture(autouse=True)
def english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FANZHA_LANG", "en")


def fanzha(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_writes_the_layout_and_summarises_the_fraud(tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    result = fanzha("simulate", "--preset", "tiny", "--seed", "5", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Fraud ground truth by typology" in result.output
    assert "order_brushing" in result.output and "total" in result.output
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["seed"] == 5 and manifest["preset"] == "tiny"
    assert manifest["content_sha256"] in result.output
    for type_name in EVENT_TYPES:
        files = list((out / "events" / type_name).glob(f"{type_name}-*.parquet"))
        assert files and manifest["counts"][type_name] > 0, type_name
    assert (out / "registry" / "person.parquet").exists()
    assert (out / "truth" / "victims.parquet").exists()


def test_json_prints_the_manifest_and_overrides_apply(tmp_path: Path) -> None:
    out = tmp_path / "nd"
    result = fanzha(
        "simulate",
        "--preset",
        "tiny",
        "--residents",
        "500",
        "--days",
        "1",
        "--format",
        "ndjson",
        "--out",
        str(out),
        "--json",
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout[result.stdout.index("{") :])
    assert manifest["parameters"]["residents"] == 500 and manifest["parameters"]["days"] == 1
    assert manifest["format"] == "ndjson"
    assert list((out / "events" / "call").glob("call-*.ndjson"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "town"], "unknown preset"),
        (["--format", "csv"], "unknown format"),
        (["--days", "0"], "--days"),
        (["--residents", "5"], "--residents"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = fanzha("simulate", "--out", str(tmp_path / "x"), *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "x").exists()


def test_refuses_a_folder_with_files_in_it(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine", "utf-8")
    result = fanzha("simulate", "--preset", "tiny", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "not an empty folder" in " ".join(result.output.split())  # Rich wraps lines
    assert (tmp_path / "keep.txt").read_text("utf-8") == "mine"
