"""``fanzha detect`` and the live state: a run over the whole lake leaves its engine as the
live loop's snapshot; a run over a window of it makes the live loop start over."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from liveworld import first_half, persons, second_half
from typer.testing import CliRunner

from fanzha.cli.main import app
from fanzha.detection import lake_files
from fanzha.live import LiveSnapshots
from fanzha.model.clock import ManualClock
from fanzha.service import App
from fanzha.settings import Settings

START = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path / "data"))
    with App(Settings(data_dir=tmp_path / "data")) as fz:
        for event_type, rows in ({"person": persons()} | first_half(START)).items():
            fz.ingest_table(pa.Table.from_pylist(rows), event_type, source="test")
    return tmp_path / "data"


def test_a_whole_lake_run_is_where_the_live_loop_continues(data: Path) -> None:
    result = CliRunner().invoke(app, ["detect", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["warnings"] == 1
    saved = LiveSnapshots(data / "live").load()
    assert saved is not None
    with App(Settings(data_dir=data)) as fz:
        lake = fz.lake.root
        assert saved.files == {p.relative_to(lake).as_posix() for p in lake_files(fz.lake)}
        fz.clock = ManualClock(START + dt.timedelta(hours=3))
        fz.live.attach()
        assert fz.live.detection.step().events == 0  # the batch read all of it
        for event_type, rows in second_half(START).items():
            fz.ingest_table(pa.Table.from_pylist(rows), event_type, source="test")
        assert fz.live.detection.step().events == 4


def test_a_window_run_resets_the_live_state(data: Path) -> None:
    assert CliRunner().invoke(app, ["detect", "--json"]).exit_code == 0
    since = (START + dt.timedelta(minutes=20)).isoformat()
    assert CliRunner().invoke(app, ["detect", "--json", "--since", since]).exit_code == 0
    assert LiveSnapshots(data / "live").load() is None
