"""``fanzha replay``, run in-process with Typer's CliRunner against a real data folder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.model.events import EVENT_TYPES
from fanzha.model.schema import arrow_schema

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh FANZHA_DATA_DIR, English labels."""
    folder = tmp_path / "data"
    monkeypatch.setenv("FANZHA_DATA_DIR", str(folder))
    monkeypatch.setenv("FANZHA_LANG", "en")
    return folder


def write_day(events_dir: Path, event_type: str, day: str, rows: list[dict[str, Any]]) -> None:
    """One file of the simulator's layout: ``events/<type>/<type>-<day>.parquet``."""
    folder = events_dir / event_type
    folder.mkdir(parents=True, exist_ok=True)
    schema = arrow_schema(EVENT_TYPES[event_type])
    pq.write_table(
        pa.Table.from_pylist(rows, schema=schema), folder / f"{event_type}-{day}.parquet"
    )


def call(n: int, ts: dt.datetime) -> dict[str, Any]:
    return {
        "event_id": f"call-{n}",
        "source": "sim",
        "ts": ts,
        "caller": f"+86138{n:08d}",
        "callee": "+8613800138000",
        "duration_s": 60,
    }


def sms(n: int, ts: dt.datetime) -> dict[str, Any]:
    return {
        "event_id": f"sms-{n}",
        "source": "sim",
        "ts": ts,
        "sender": "+8613800138000",
        "recipient": f"+86139{n:08d}",
        "text": "【某银行】您的账户存在风险",
    }


@pytest.fixture
def simulation(tmp_path: Path) -> Path:
    """Calls on both sides of local midnight and one SMS; the last call's callee is bad."""
    root = tmp_path / "sim"
    may1 = [call(1, dt.datetime(2024, 5, 1, 23, 59, 30, tzinfo=CST))]
    may2 = [call(2, dt.datetime(2024, 5, 2, 0, 0, 30, tzinfo=CST))]
    may2.append(call(3, dt.datetime(2024, 5, 2, 8, 0, tzinfo=CST)) | {"callee": "12"})
    write_day(root / "events", "call", "2024-05-01", may1)
    write_day(root / "events", "call", "2024-05-02", may2)
    write_day(
        root / "events", "sms", "2024-05-02", [sms(1, dt.datetime(2024, 5, 2, 0, 0, 5, tzinfo=CST))]
    )
    return root


def fanzha(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


def sql(query: str) -> Any:
    return json.loads(fanzha("sql", query, "--json").stdout)


def test_replay_lands_every_event_and_prints_a_summary(data_dir: Path, simulation: Path) -> None:
    out = fanzha("replay", str(simulation)).stdout
    assert "Replay summary" in out and "events 4" in out
    assert "some records were rejected" in out
    assert sql("SELECT event_id FROM call ORDER BY ts") == [
        {"event_id": "call-1"},
        {"event_id": "call-2"},
    ]
    assert sql("SELECT event_id FROM sms") == [{"event_id": "sms-1"}]
    letters = json.loads(fanzha("deadletters", "list", "--json").stdout)
    assert [(d["location"], d["field"]) for d in letters] == [("record 1", "callee")]
    assert letters[0]["source"] == str(simulation / "events" / "call")
    again = fanzha("replay", str(simulation)).stdout
    assert sql("SELECT count(*) AS n FROM call") == [{"n": 2}]
    assert "duplicates" in again


def test_speed_window_since_until_and_type(data_dir: Path, simulation: Path) -> None:
    # One simulated minute at ×100000 waits well under a second.
    fanzha(
        "replay",
        str(simulation),
        "--speed",
        "100000",
        "--window",
        "30",
        "--since",
        "2024-05-01 23:59:00",  # no offset: the configured zone (Asia/Shanghai)
        "--until",
        "2024-05-02T00:00:10+08:00",
        "--type",
        "call",
    )
    assert sql("SELECT event_id FROM call") == [{"event_id": "call-1"}]
    assert sql("SELECT count(*) AS n FROM sms") == [{"n": 0}]  # filtered out by --type


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "0"], "--speed"),
        (["--speed", "100001"], "--speed"),
        (["--speed", "-5"], "--speed"),
        (["--window", "0"], "--window"),
        (["--since", "yesterday"], "--since"),
        (["--type", "calls"], "--type"),
    ],
)
def test_bad_options_are_usage_errors(
    data_dir: Path, simulation: Path, args: list[str], message: str
) -> None:
    result = fanzha("replay", str(simulation), *args, code=2)
    assert message in result.output


def test_a_folder_without_events(data_dir: Path, tmp_path: Path) -> None:
    result = fanzha("replay", str(tmp_path), code=1)
    assert "events: no such folder" in " ".join(result.output.split())
