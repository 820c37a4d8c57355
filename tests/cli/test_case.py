"""``fanzha case open|show|list``, ``fanzha orders list`` and ``fanzha trace --case`` over a
small lake, in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from factories import transfer_row, write_ndjson
from typer.testing import CliRunner, Result

from fanzha.cli.main import app

VICTIM, M1, M2 = "6212000000000000002", "6222021001123400001", "6222021001123400002"
REPORT: dict[str, Any] = {
    "report_id": "R1",
    "unit": "50010101",
    "received_at": "2024-05-01T10:30:00+08:00",
    "fraud_type": "刷单返利",
    "narrative": "其于5月1日10时01分40秒向账户6222021001123400001转账10元。对方号码13809402934。",
}


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FANZHA_LANG", "en")
    rows = [
        transfer_row(
            payer_account=VICTIM, payee_account=M1, ts="2024-05-01 10:01:40", amount="10.00"
        ),
        transfer_row(payer_account=M1, payee_account=M2, ts="2024-05-01 10:01:50", amount="6.00"),
        transfer_row(
            payer_account=M2,
            payee_account="ATM01",
            ts="2024-05-01 10:02:20",
            amount="5.00",
            channel="ATM",
        ),
    ]
    fanzha("ingest", str(write_ndjson(tmp_path / "t.ndjson", rows)), "--type", "transfer")
    return tmp_path


def fanzha(*args: str, code: int = 0, stdin: bytes | None = None) -> Result:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_open_from_a_gb18030_report_with_extraction(data: Path) -> None:
    path = data / "report.json"
    path.write_bytes(json.dumps(REPORT, ensure_ascii=False).encode("gb18030"))
    out = json.loads(fanzha("case", "open", str(path), "--extract", "--json").stdout)
    assert out["case"] == "C-R1" and out["created"] and len(out["orders"]) == 1
    assert out["indicators"] == 2  # the account and the phone
    again = json.loads(fanzha("case", "open", str(path), "--extract", "--json").stdout)
    assert not again["created"] and again["orders"] == out["orders"]
    listed = json.loads(fanzha("case", "list", "--json").stdout)
    assert [c["case"] for c in listed] == ["C-R1"]
    shown = json.loads(fanzha("case", "show", "C-R1", "--json").stdout)
    assert shown["orders"][0]["account"] == M1 and shown["orders"][0]["state"] == "sent"
    orders = json.loads(fanzha("orders", "list", "--bank", "ICBC", "--json").stdout)
    assert [o["account"] for o in orders] == [M1]
    assert "C-R1" in fanzha("case", "show", "C-R1").stdout


def test_trace_a_case(data: Path) -> None:
    path = data / "report.json"
    path.write_text(json.dumps(REPORT, ensure_ascii=False), encoding="utf-8")
    fanzha("case", "open", str(path), "--extract")
    traced = json.loads(fanzha("trace", "--case", "C-R1", "--json").stdout)
    assert traced["case"] == "C-R1" and traced["traced_fen"] == 1000
    nodes = {n["account"]: (n["holdable_fen"], n["cash_out_fen"]) for n in traced["nodes"]}
    assert nodes == {M1: (400, 0), M2: (100, 500)}
    assert "M" not in fanzha("trace", "--case", "C-R1").stderr


def test_bad_reports_and_unknown_cases(data: Path) -> None:
    path = data / "bad.json"
    path.write_text(
        json.dumps({**REPORT, "received_at": "yesterday", "payments": [{"account": "!!"}]})
    )
    result = fanzha("case", "open", str(path), code=2)
    assert "received_at" in result.output and "payments.0.account" in result.output
    (data / "junk.json").write_text("{not json")
    assert "line 1" in fanzha("case", "open", str(data / "junk.json"), code=2).output
    (data / "empty.json").write_bytes(b"\n ")
    assert "empty" in fanzha("case", "open", str(data / "empty.json"), code=2).output
    fanzha("case", "show", "C-nope", code=1)
    fanzha("trace", code=2)
