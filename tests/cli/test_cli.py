"""The ``fanzha`` command, run in-process with Typer's CliRunner against a real data folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from factories import call_row, calls, sms_row, write_csv, write_ndjson
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.ingest.profiles import transfers_markdown
from fanzha.model.docs import events_markdown
from fanzha.model.events import EVENT_TYPES
from fanzha.model.values import clean_text

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh FANZHA_DATA_DIR, English labels."""
    folder = tmp_path / "data"
    monkeypatch.setenv("FANZHA_DATA_DIR", str(folder))
    monkeypatch.setenv("FANZHA_LANG", "en")
    return folder


def fanzha(*args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- ingest


def test_ingest_json_report(data_dir: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "calls.csv", [*calls(3), call_row(caller="bad")])
    report = as_json(fanzha("ingest", str(path), "--json"))
    assert {"accepted", "rejected", "duplicates", "files", "seconds"} <= set(report)
    assert (report["accepted"], report["rejected"], report["duplicates"]) == (3, 1, 0)
    assert report["files"][0]["path"] == str(path)
    assert report["files"][0]["format"] == "csv"
    assert isinstance(report["seconds"], float)
    again = as_json(fanzha("ingest", str(path), "--json"))
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert (data_dir / "fanzha.db").exists() and (data_dir / "lake" / "call").is_dir()


def test_ingest_with_options_and_a_table_report(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_text("from,to,yuan,when\n6222021001123456789,123456,0.10,2024-05-01 10:00:00\n")
    result = fanzha(
        "ingest",
        str(path),
        "--map",
        "payer_account=from",
        "--map",
        "payee_account=to",
        "--map",
        "amount=yuan",
        "--map",
        "ts=when",
        "--source",
        "bank-x",
    )
    assert "accepted 1" in result.stdout
    rows = as_json(fanzha("sql", "SELECT amount_fen, source FROM transfer", "--json"))
    assert rows == [{"amount_fen": 10, "source": "bank-x"}]


def test_ingest_strict_with_a_bad_record_exits_2(data_dir: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "calls.csv", [*calls(2), call_row(callee="??")])
    result = fanzha("ingest", str(path), "--strict", "--json", ok=False)
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["committed"] is False and report["accepted"] == 0
    assert as_json(fanzha("sql", "SELECT count(*) AS n FROM call", "--json")) == [{"n": 0}]
    table = fanzha("ingest", str(path), "--strict", ok=False)
    assert table.exit_code == 2 and "rolled back" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "fax"], "unknown type 'fax'"),
        (["--profile", "nope"], "unknown profile 'nope'"),
        (["--format", "xlsx"], "unknown format 'xlsx'"),
    ],
)
def test_ingest_request_errors_exit_1(
    data_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    path = write_csv(tmp_path / "calls.csv", calls(1))
    result = fanzha("ingest", str(path), *args, ok=False)
    assert result.exit_code == 1
    assert message in result.stderr


def test_ingest_missing_file_and_bad_map(data_dir: Path, tmp_path: Path) -> None:
    missing = fanzha("ingest", str(tmp_path / "nope.csv"), ok=False)
    assert missing.exit_code == 1 and "no such file or folder" in missing.stderr
    bad_map = fanzha("ingest", str(tmp_path), "--map", "no-equals-sign", ok=False)
    assert bad_map.exit_code == 2 and "--map expects field=column" in bad_map.output


# --------------------------------------------------------------------------- dead letters


def test_deadletters_list_show_and_raw(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "sms.csv"
    bad_line = "伪造号码,13900139000,2024-05-01 10:00:00,点击领取补贴".encode("gb18030")
    path.write_bytes(
        "sender,recipient,ts,text\n13800138000,13900139000,2024-05-01 10:00:00,你好\n".encode(
            "gb18030"
        )
        + bad_line
        + b"\n"
    )
    fanzha("ingest", str(path), "--json")
    [letter] = as_json(fanzha("deadletters", "list", "--json"))
    assert letter["location"] == "line 3"
    assert letter["field"] == "sender"
    assert letter["event_type"] == "sms"
    assert letter["status"] == "open" and letter["attempts"] == 0
    assert letter["source"] == str(path)
    assert "phone number" in letter["reason"]

    shown = fanzha("deadletters", "show", str(letter["id"]))
    assert "line 3" in shown.stdout and "sender" in shown.stdout
    raw = fanzha("deadletters", "show", str(letter["id"]), "--raw")
    assert raw.stdout_bytes == bad_line  # the original GB18030 bytes, untouched

    table = fanzha("deadletters", "list")
    assert "line 3" in table.stdout
    missing = fanzha("deadletters", "show", "999", ok=False)
    assert missing.exit_code == 1 and "no dead letter 999" in missing.stderr


def test_deadletters_retry_after_raising_a_limit(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_text = "您的账户存在异常，请立即点击链接核实身份，否则将被冻结" * 2  # > 64 bytes
    nd = write_ndjson(tmp_path / "sms.ndjson", [sms_row(), sms_row(text=long_text)])
    csv_path = write_csv(tmp_path / "sms.csv", [sms_row(sender="13800138009", text=long_text)])
    monkeypatch.setenv("FANZHA_MAX_FIELD_BYTES", "64")
    fanzha("ingest", str(nd), str(csv_path), "--json")
    letters = as_json(fanzha("deadletters", "list", "--json"))
    assert len(letters) == 2
    assert all("FANZHA" not in x["reason"] and "limit is 64 bytes" in x["reason"] for x in letters)

    # Retrying with the same limit fails again and keeps the letters open.
    still = fanzha("deadletters", "retry", "--all")
    assert "2 still failing" in still.stdout
    assert [x["attempts"] for x in as_json(fanzha("deadletters", "list", "--json"))] == [1, 1]

    monkeypatch.setenv("FANZHA_MAX_FIELD_BYTES", "65536")
    ids = [str(x["id"]) for x in letters]
    done = fanzha("deadletters", "retry", *ids)
    assert "retried 2: 2 landed, 0 still failing" in done.stdout
    assert as_json(fanzha("deadletters", "list", "--json")) == []
    retried = as_json(fanzha("deadletters", "list", "--status", "retried", "--json"))
    assert sorted(x["id"] for x in retried) == sorted(x["id"] for x in letters)
    texts = as_json(fanzha("sql", "SELECT text FROM sms WHERE length(text) > 20", "--json"))
    assert [t["text"] for t in texts] == [clean_text(long_text)] * 2
    # Retrying again is harmless: the records are already in the lake.
    fanzha("deadletters", "retry", *ids)
    assert as_json(fanzha("sql", "SELECT count(*) AS n FROM sms", "--json")) == [{"n": 3}]


def test_deadletters_retry_reads_a_row_with_its_profile_and_map(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row of a bank statement (own / counterparty columns, a mapped column) retried
    after a fix lands as it would have: the letter remembers the profile and the map."""
    long_note = "网银转账" * 20  # > 64 bytes
    path = tmp_path / "流水.csv"
    path.write_text(
        "交易时间,本方账号,对方账号,借贷标志,交易金额,附注\n"
        f"2026-03-01 10:00:00,6222021001123456789,6217001234000011112,贷,12.00,{long_note}\n",
        encoding="gb18030",
    )
    monkeypatch.setenv("FANZHA_MAX_FIELD_BYTES", "64")
    fanzha("ingest", str(path), "--profile", "transfers", "--map", "remittance=附注", "--json")
    [letter] = as_json(fanzha("deadletters", "list", "--json"))
    assert letter["field"] == "remittance"
    monkeypatch.setenv("FANZHA_MAX_FIELD_BYTES", "65536")
    done = fanzha("deadletters", "retry", str(letter["id"]))
    assert "retried 1: 1 landed, 0 still failing" in done.stdout
    got = as_json(fanzha("sql", "SELECT payer_account, remittance FROM transfer", "--json"))
    assert got == [{"payer_account": "6217001234000011112", "remittance": long_note}]


def test_deadletters_retry_of_a_whole_file(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes(b"")
    fanzha("ingest", str(path), "--json")
    [letter] = as_json(fanzha("deadletters", "list", "--json"))
    assert (letter["location"], letter["reason"], letter["event_type"]) == (
        "file",
        "file is empty",
        None,
    )
    # The provider re-sends the file, with one bad record; the type comes from the name.
    write_csv(path, [*calls(2), call_row(caller="x")])
    done = fanzha("deadletters", "retry", str(letter["id"]))
    assert "1 still failing" in done.stdout
    assert as_json(fanzha("sql", "SELECT count(*) AS n FROM call", "--json")) == [{"n": 2}]
    letters = as_json(fanzha("deadletters", "list", "--json"))
    assert sorted((x["location"], x["attempts"]) for x in letters) == [("file", 1), ("line 4", 0)]


def test_deadletters_retry_needs_ids(data_dir: Path) -> None:
    result = fanzha("deadletters", "retry", ok=False)
    assert result.exit_code == 1 and "name dead-letter ids or pass --all" in result.stderr
    skipped = fanzha("deadletters", "retry", "42")
    assert "42: no such dead letter" in skipped.stdout


# --------------------------------------------------------------------------- sql, runs


def test_sql_json_and_table(data_dir: Path, tmp_path: Path) -> None:
    fanzha("ingest", str(write_csv(tmp_path / "calls.csv", calls(3))), "--json")
    assert as_json(fanzha("sql", "SELECT count(*) AS n FROM call", "--json")) == [{"n": 3}]
    rows = as_json(fanzha("sql", "SELECT caller, ts FROM call ORDER BY caller", "--json"))
    assert rows[0] == {"caller": "+8613800000000", "ts": "2024-05-01T10:00:00+08:00"}
    limited = as_json(fanzha("sql", "SELECT * FROM call", "--json", "--limit", "2"))
    assert len(limited) == 2
    table = fanzha("sql", "SELECT caller FROM call ORDER BY caller")
    assert "+8613800000002" in table.stdout and "3 rows" in table.stdout
    bad = fanzha("sql", "SELECT * FROM nowhere", ok=False)
    assert bad.exit_code == 1 and "SQL error" in bad.stderr


def test_runs_lists_recent_ingestions(data_dir: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "calls.csv", [*calls(2), call_row(caller="x")])
    run_id = as_json(fanzha("ingest", str(path), "--json"))["run_id"]
    fanzha("ingest", str(path), "--strict", "--json", ok=False)
    out = fanzha("runs").stdout
    assert run_id[:8] in out
    assert "done" in out and "rolled" in out  # the narrow test terminal folds it


def test_statuses_are_words_in_chinese(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "calls.csv", [*calls(2), call_row(caller="x")])
    fanzha("ingest", str(path), "--json")
    monkeypatch.setenv("FANZHA_LANG", "zh-CN")
    assert "待处理" in fanzha("deadletters", "list").stdout
    assert "完成" in fanzha("runs").stdout


# --------------------------------------------------------------------------- docs, help


def test_docs_events_check_passes_on_the_committed_file(data_dir: Path) -> None:
    fanzha("docs", "events", "--check", "--output", str(REPO / "docs" / "events.md"))


def test_docs_events_check_fails_on_a_stale_copy(data_dir: Path, tmp_path: Path) -> None:
    stale = tmp_path / "events.md"
    text = events_markdown(transfers_markdown())
    stale.write_text(text.replace("| `caller` |", "| `caller_old` |"))
    result = fanzha("docs", "events", "--check", "--output", str(stale), ok=False)
    assert result.exit_code == 1 and "stale" in result.stderr
    missing = fanzha("docs", "events", "--check", "--output", str(tmp_path / "no.md"), ok=False)
    assert missing.exit_code == 1
    fresh = tmp_path / "docs" / "events.md"
    fanzha("docs", "events", "--output", str(fresh))
    assert fresh.read_text(encoding="utf-8") == events_markdown(transfers_markdown())
    fanzha("docs", "events", "--check", "--output", str(fresh))


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["ingest"],
        ["deadletters"],
        ["deadletters", "list"],
        ["deadletters", "show"],
        ["deadletters", "retry"],
        ["sql"],
        ["runs"],
        ["docs"],
        ["docs", "events"],
        ["demo"],
        ["serve"],
    ],
)
def test_help_of_every_command(command: list[str]) -> None:
    result = fanzha(*command, "--help")
    assert "Usage:" in result.stdout


def lake_counts() -> dict[str, int]:
    """Rows per event type in the lake, asked through ``fanzha sql``."""
    query = " UNION ALL ".join(
        f"SELECT '{name}' AS type, count(*) AS n FROM {name}" for name in EVENT_TYPES
    )
    return {row["type"]: row["n"] for row in as_json(fanzha("sql", query, "--json"))}


def test_demo_refuses_a_folder_holding_something_else(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = fanzha("demo", "--preset", "tiny", "--folder", str(folder), ok=False)
    message = " ".join(result.output.replace("│", " ").split())  # unwrap Rich's error box
    assert result.exit_code == 2 and "holds something other than this simulation" in message
    assert "Fanzha demo" not in message  # refused before anything started
    assert (folder / "notes.txt").read_text() == "keep me"
    assert sum(lake_counts().values()) == 0
