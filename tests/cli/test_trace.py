"""``fanzha trace`` over a small lake ingested through the CLI, in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from factories import transfer_row, write_ndjson
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.cli.trace import parse_duration, yuan

M1, M2, M3, M4 = (f"62220210011234{i:05d}" for i in range(1, 5))
#: the hand-computed graph of tests/funds/test_trace_examples.py, in yuan and local time
ROWS = [
    ("6212000000000000001", M1, "10:00:50", "4.00", "mobile"),
    ("6212000000000000002", M1, "10:01:40", "10.00", "mobile"),  # the victim's payment
    (M1, M2, "10:01:50", "6.00", "mobile"),
    ("6212000000000000003", M1, "10:02:00", "3.00", "mobile"),
    (M1, M3, "10:02:10", "7.00", "mobile"),
    (M2, "ATM0100001", "10:02:20", "5.00", "ATM"),
    (M3, M4, "10:02:30", "2.00", "mobile"),
]
SINCE = "2024-05-01 10:01:40"


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder whose lake holds the graph's transfers; English labels."""
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FANZHA_LANG", "en")
    rows = [
        transfer_row(
            payer_account=payer,
            payee_account=payee,
            ts=f"2024-05-01 {clock}",
            amount=amount,
            channel=channel,
        )
        for payer, payee, clock, amount, channel in ROWS
    ]
    path = write_ndjson(tmp_path / "transfers.ndjson", rows)
    fanzha("ingest", str(path), "--type", "transfer")
    return tmp_path / "data"


def fanzha(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


def traced(*extra: str) -> dict[str, Any]:
    out = fanzha("trace", "--account", M1, "--since", SINCE, "--amount", "1000", "--json", *extra)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def test_json_is_the_issues_shape_with_the_hand_computed_libr_answer(lake: Path) -> None:
    data = traced()
    assert set(data) == {"policy", "traced_fen", "nodes", "edges"}
    assert (data["policy"], data["traced_fen"]) == ("libr", 1000)
    nodes = {
        n["account"]: (n["hop"], n["attributed_fen"], n["holdable_fen"], n["cash_out_fen"])
        for n in data["nodes"]
    }
    assert nodes == {M1: (0, 1000, 400, 0), M2: (1, 200, 100, 100), M3: (1, 400, 400, 0)}
    assert data["edges"] == [
        {"from": M1, "to": M2, "ts": "2024-05-01T10:01:50+08:00", "fen": 200},
        {"from": M1, "to": M3, "ts": "2024-05-01T10:02:10+08:00", "fen": 400},
    ]


def test_policy_depth_and_horizon_options(lake: Path) -> None:
    fifo = traced("--policy", "fifo")
    assert [e["fen"] for e in fifo["edges"]] == [200, 700, 200]
    shallow = traced("--policy", "FIFO", "--depth", "1")
    m3 = next(n for n in shallow["nodes"] if n["account"] == M3)
    assert m3["untraced_fen"] == 200
    soon = traced("--policy", "fifo", "--horizon", "20s")
    assert [e["to"] for e in soon["edges"]] == [M2]
    assert traced("--policy", "poison", "--until", "2024-05-01 10:02:00")["edges"] == [
        {"from": M1, "to": M2, "ts": "2024-05-01T10:01:50+08:00", "fen": 600}
    ]


def test_the_tree_in_english_and_in_chinese(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("trace", "--account", M1, "--since", SINCE, "--amount", "1000")
    out = fanzha(*args).stdout
    assert "Funds trace" in out and "holdable ¥4.00" in out and "cashed out ¥1.00" in out
    assert M3 in out and "Stop-payment list" in out
    monkeypatch.delenv("FANZHA_LANG")
    out = fanzha(*args).stdout
    assert "资金追踪" in out and "最低中间余额法" in out and "可冻结 ¥4.00" in out
    assert "止付/冻结建议" in out


def test_unknown_accounts_and_unmatched_amounts_are_said(lake: Path) -> None:
    out = fanzha("trace", "--account", "6200000000000000000", "--since", SINCE, "--amount", "5")
    assert "not in the ledger" in out.output
    out = fanzha("trace", "--account", M1, "--since", SINCE, "--amount", "999", "--json")
    assert "no transfer of 9.99 yuan" in out.output


def test_bad_options_are_refused_with_a_reason(lake: Path) -> None:
    base = ("trace", "--account", M1, "--since", SINCE, "--amount", "1000")
    assert "unknown policy" in fanzha(*base, "--policy", "newest", code=2).output
    assert "duration" in fanzha(*base, "--horizon", "soon", code=2).output
    bad_time = ("trace", "--account", M1, "--since", "yesterday", "--amount", "1")
    assert "timestamp" in fanzha(*bad_time, code=2).output
    assert fanzha("trace", "--account", M1, "--since", SINCE, "--amount", "0", code=2)


def test_an_empty_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("FANZHA_LANG", "en")
    out = fanzha("trace", "--account", M1, "--since", SINCE, "--amount", "1", code=1)
    assert "no transfers" in out.output


def test_durations_and_yuan() -> None:
    assert parse_duration("72h") == parse_duration("PT72H") == parse_duration("3d") == 259_200
    assert parse_duration("1d12h") == 129_600 and parse_duration("90m") == 5400
    assert parse_duration("3600") == 3600 and parse_duration("2小时") == 7200
    for bad in ("", "h", "P", "72x", "soon 3h"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)
    assert (yuan(123456), yuan(5), yuan(-250)) == ("¥1,234.56", "¥0.05", "-¥2.50")
