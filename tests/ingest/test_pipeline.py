"""The ingestion pipeline: partial landing, dead letters, idempotency, strict runs, profiles,
reference data and ISO 20022 messages, on real files, a real lake and a real store."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from factories import (
    call_row,
    calls,
    count,
    csv_text,
    ingestor,
    letters_of,
    phone,
    rows,
    sms_row,
    transfer_row,
    workbook,
    write_csv,
    write_ndjson,
)

from fanzha.ingest.pipeline import IngestError, Request, layout_of, type_from_name
from fanzha.service import App, retry_payload
from fanzha.settings import Settings

from .iso20022_samples import PACS_TXS, Party, pacs008

HEX_A, HEX_B = "a1" * 64, "b2" * 64  # 128-hex pseudonymous numbers (Sichuan 2020 export)
IMEI = "c3" * 32


# --------------------------------------------------------------------------- partial landing


def test_good_records_land_and_bad_ones_are_dead_lettered(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    path = write_ndjson(
        tmp_path / "calls.ndjson",
        [
            call_row(caller=phone(1)),
            call_row(caller="not-a-phone"),
            call_row(caller=phone(3), duration_s="thirty"),
            call_row(caller=phone(4), ts="2024-02-30 10:00:00"),
            call_row(caller=phone(5)),
        ],
    )
    report = ing.run(Request([path]))
    assert (report.accepted, report.rejected, report.duplicates) == (2, 3, 0)
    assert report.committed and report.by_type == {"call": 2}
    landed = rows(lake, "SELECT caller FROM call ORDER BY caller")
    assert [r["caller"] for r in landed] == ["+8613800000001", "+8613800000005"]
    got = {x.location: x for x in letters_of(dead)}
    assert sorted(got) == ["line 2", "line 3", "line 4"]
    assert {x.field for x in got.values()} == {"caller", "duration_s", "ts"}
    for letter in got.values():
        assert letter.source == str(path)
        assert letter.event_type == "call"
        assert letter.run_id == report.run_id
        assert letter.reason.startswith(f"{letter.field}: ")
    assert "phone number 'not-a-phone'" in got["line 2"].reason
    # The original bytes, exactly as in the file.
    assert got["line 3"].raw == path.read_bytes().split(b"\n")[2]


def test_dead_letters_keep_gb18030_bytes_exactly(tmp_path: Path) -> None:
    ing, _, dead = ingestor(tmp_path)
    path = write_csv(
        tmp_path / "sms.csv",
        [sms_row(text="您好，这是第一条"), sms_row(sender="伪造号码", text="点击领取补贴")],
        encoding="gb18030",
    )
    report = ing.run(Request([path]))
    assert (report.accepted, report.rejected) == (1, 1)
    [letter] = letters_of(dead)
    assert (letter.location, letter.field) == ("line 3", "sender")
    assert letter.raw == path.read_bytes().split(b"\n")[2]
    assert letter.raw.decode("gb18030").startswith("伪造号码,")


def test_reingesting_the_same_file_adds_nothing(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    path = write_csv(
        tmp_path / "calls.csv",
        [dict(c, event_id=f"op-{i}") for i, c in enumerate(calls(5))],
    )
    first = ing.run(Request([path]))
    second = ing.run(Request([path]))
    assert (first.accepted, first.duplicates) == (5, 0)
    assert (second.accepted, second.duplicates) == (0, 5)
    assert count(lake, "call") == 5


def test_reingesting_a_file_without_event_ids_adds_nothing(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    path = write_ndjson(tmp_path / "calls.ndjson", calls(4))
    ing.run(Request([path]))
    # The same facts written differently (another layout, E.164, an offset) are the same events.
    other = write_csv(
        tmp_path / "calls-again.csv",
        [
            dict(c, caller="+86" + c["caller"], ts="2024-05-01T02:00:00Z", source="elsewhere")
            for c in calls(4)
        ],
    )
    again = ing.run(Request([path, other]))
    assert (again.accepted, again.duplicates) == (0, 8)
    ids = rows(lake, "SELECT event_id FROM call")
    assert len({r["event_id"] for r in ids}) == 4
    assert all(r["event_id"].startswith("call:") for r in ids)


def test_duplicates_within_one_file_are_counted(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    path = write_ndjson(
        tmp_path / "calls.ndjson",
        [call_row(event_id="op-1"), call_row(event_id="op-1"), call_row(event_id="op-2")],
    )
    report = ing.run(Request([path]))
    assert (report.accepted, report.duplicates) == (2, 1)
    assert count(lake, "call") == 2


# --------------------------------------------------------------------------- strict


def test_strict_lands_nothing_when_one_record_is_bad(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    good = write_csv(tmp_path / "calls-1.csv", calls(3))
    bad = write_csv(tmp_path / "calls-2.csv", [*calls(3, start=10), call_row(callee="??")])
    report = ing.run(Request([good, bad], strict=True))
    assert not report.committed
    assert report.as_dict()["accepted"] == 0
    assert report.rejected == 1
    assert count(lake, "call") == 0
    assert not list(lake.root.rglob("*.parquet"))  # nothing staged is left behind
    assert [x.location for x in letters_of(dead)] == ["line 5"]


def test_strict_with_a_clean_batch_lands_everything(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    paths = [
        write_csv(tmp_path / "calls-1.csv", calls(3)),
        write_ndjson(tmp_path / "calls-2.ndjson", [*calls(3, start=10), *calls(1)]),
    ]
    report = ing.run(Request(paths, strict=True))
    assert report.committed
    assert (report.accepted, report.duplicates) == (6, 1)  # a duplicate is not an error
    assert count(lake, "call") == 6


def test_strict_rolls_back_a_file_rejected_whole(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    good = write_csv(tmp_path / "calls.csv", calls(2))
    png = tmp_path / "calls.png.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    report = ing.run(Request([good, png], strict=True))
    assert not report.committed
    assert count(lake, "call") == 0


# --------------------------------------------------------------------------- types


def test_mixed_types_in_one_ndjson_file(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    path = write_ndjson(
        tmp_path / "feed.ndjson",
        [
            dict(call_row(), event_type="call"),
            dict(sms_row(), event_type=" SMS "),
            dict(transfer_row(), type="transfer"),
            dict(call_row(caller=phone(7)), event_type="fax"),
            call_row(caller=phone(8)),
        ],
    )
    report = ing.run(Request([path]))
    assert report.by_type == {"call": 1, "sms": 1}
    # "type" is only looked at when there is no event_type column: that row lacks a type.
    assert (report.accepted, report.rejected) == (2, 3)
    reasons = {x.location: x.reason for x in letters_of(dead)}
    assert "'fax' is not a known type" in reasons["line 4"]
    assert count(lake, "sms") == 1 and count(lake, "transfer") == 0


def test_type_column_without_event_type(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    path = write_csv(
        tmp_path / "feed.csv",
        [dict(call_row(), type="call"), dict(call_row(caller=phone(2)), type="call")],
    )
    assert ing.run(Request([path])).accepted == 2
    assert count(lake, "call") == 2


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("calls.csv", "call"),
        ("call.ndjson", "call"),
        ("calls-2024-05.csv", "call"),
        ("SMS_export.csv", "sms"),
        ("web_visits.parquet", "web_visit"),
        ("persons.ndjson", "person"),
        ("org_units.csv", "org_unit"),
        ("transfers-pacs008.xml", "transfer"),
        ("police_reports.csv", "police_report"),
        ("export.csv", None),
    ],
)
def test_type_from_file_name(name: str, expected: str | None) -> None:
    assert type_from_name(Path(name)) == expected


def test_type_inferred_from_the_file_name(tmp_path: Path) -> None:
    ing, _, _ = ingestor(tmp_path)
    path = write_csv(tmp_path / "calls.csv", calls(2))
    assert ing.run(Request([path])).by_type == {"call": 2}
    unnamed = write_csv(tmp_path / "export.csv", calls(2))
    with pytest.raises(IngestError, match="cannot tell the record type; pass --type"):
        ing.run(Request([unnamed]))
    assert ing.run(Request([unnamed], event_type="call")).duplicates == 2


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request([], event_type="fax"), "unknown type 'fax'; known types: call, sms"),
        (Request([], format="xlsx"), "unknown format 'xlsx'; known formats: ndjson, csv"),
        (Request([], profile="nope"), "unknown profile 'nope'; known profiles: sichuan-voc"),
        (Request([], profile="sichuan-voc", event_type="sms"), "reads call records, not sms"),
        (Request([], mapping={"payer": "from"}), "--map names unknown transfer fields: payer"),
        (
            Request([], profile="sichuan-sms", mapping={"ts": "x"}),
            "has a fixed layout; --map is not accepted",
        ),
        (Request([Path("/nonexistent/calls.csv")]), "no such file or folder"),
    ],
)
def test_request_errors_are_clear(tmp_path: Path, request_: Request, message: str) -> None:
    ing, _, _ = ingestor(tmp_path)
    with pytest.raises(IngestError, match="^.*" + message.replace("(", r"\(")):
        ing.run(request_)


def test_folders_are_expanded_and_hidden_files_skipped(tmp_path: Path) -> None:
    ing, _, _ = ingestor(tmp_path)
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    write_csv(folder / "calls-1.csv", calls(2))
    write_ndjson(folder / "sub" / "sms.ndjson", [sms_row()])
    (folder / ".calls-partial.csv").write_text("garbage")
    report = ing.run(Request([folder]))
    assert [Path(f.path).name for f in report.files] == ["calls-1.csv", "sms.ndjson"]
    assert report.by_type == {"call": 2, "sms": 1}


# --------------------------------------------------------------------------- profiles

VOC_HEADER = (
    "phone_no_m,opposite_no_m,calltype_id,start_datetime,call_dur,city_name,county_name,imei_m"
)


def test_sichuan_voc_profile(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    path = tmp_path / "voc.csv"
    lines = [
        f"{HEX_A},{HEX_B},1,2020-01-01 10:00:00,30,成都,武侯区,{IMEI}",
        f"{HEX_A},{HEX_B.upper()},2,2020-01-01 11:00:00,0,成都,武侯区,{IMEI}",
        f"{HEX_A},{HEX_B},3,2020-01-01 12:00:00,5,成都,锦江区,{IMEI}",
        f"{HEX_A},{HEX_B},4,2020-01-01 13:00:00,5,成都,锦江区,{IMEI}",
        f"{HEX_A},{HEX_B},,2020-01-01 14:00:00,5,成都,锦江区,{IMEI}",
    ]
    path.write_text(VOC_HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    report = ing.run(Request([path], profile="sichuan-voc"))
    assert (report.accepted, report.rejected) == (3, 2)
    got = rows(lake, "SELECT * FROM call ORDER BY ts")
    a, b = HEX_A, HEX_B
    assert [(r["caller"], r["callee"], r["direction"]) for r in got] == [
        (a, b, "originated"),
        (b, a, "received"),  # calltype 2: the subscriber was called
        (b, a, "forwarded"),
    ]
    assert [(r["caller_imei"], r["callee_imei"]) for r in got] == [
        (IMEI, None),
        (None, IMEI),
        (None, IMEI),
    ]
    assert {r["source"] for r in got} == {"sichuan-voc"}
    assert [r["county"] for r in got] == ["武侯区", "武侯区", "锦江区"]
    assert got[0]["ts"] == dt.datetime(2020, 1, 1, 2, tzinfo=dt.UTC)
    letters = {x.location: x for x in letters_of(dead)}
    assert letters["line 5"].reason == "calltype_id must be one of 1, 2, 3, got '4'"
    assert letters["line 5"].field == "calltype_id"
    assert letters["line 6"].reason == "calltype_id must be one of 1, 2, 3, got ''"
    assert letters["line 5"].raw == lines[3].encode()


def test_sichuan_voc_needs_its_columns(tmp_path: Path) -> None:
    ing, _, dead = ingestor(tmp_path)
    path = write_csv(tmp_path / "calls.csv", calls(2))
    report = ing.run(Request([path], profile="sichuan-voc"))
    assert report.accepted == 0 and report.rejected == 1
    error = report.files[0].error or ""
    assert "needs columns phone_no_m, opposite_no_m, calltype_id" in error
    assert [x.location for x in letters_of(dead)] == ["file"]


def test_sichuan_sms_profile(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    path = tmp_path / "sms.csv"
    path.write_text(
        "phone_no_m,opposite_no_m,calltype_id,request_datetime\n"
        f"{HEX_A},{HEX_B},1,2020-01-01 10:00:00\n"
        f"{HEX_A},10086,2,2020-01-01 10:05:00\n"
        f"{HEX_A},{HEX_B},3,2020-01-01 10:06:00\n",
        encoding="utf-8",
    )
    report = ing.run(Request([path], profile="sichuan-sms"))
    assert (report.accepted, report.rejected) == (2, 1)
    got = rows(lake, "SELECT sender, recipient, source FROM sms ORDER BY ts")
    assert got == [
        {"sender": HEX_A, "recipient": HEX_B, "source": "sichuan-sms"},
        {"sender": "10086", "recipient": HEX_A, "source": "sichuan-sms"},
    ]
    [letter] = letters_of(dead)
    assert letter.reason == "calltype_id must be one of 1, 2, got '3'"


def test_transfers_profile_with_a_column_mapping(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    path = tmp_path / "bank-export.csv"
    path.write_text(
        "from,to,yuan,when,note\n"
        "6222021001123456789,6217000010012345678,0.10,2024-05-01 10:00:00,first\n"
        '6222021001123456789,6217000010012345678,"1,234.56",2024-05-01 11:00:00,second\n'
        "6222021001123456789,6217000010012345678,0.001,2024-05-01 12:00:00,third\n",
        encoding="utf-8",
    )
    mapping = {"payer_account": "from", "payee_account": "to", "amount": "yuan", "ts": "when"}
    report = ing.run(Request([path], mapping=mapping, source="bank-x"))
    assert (report.accepted, report.rejected) == (2, 1)
    got = rows(lake, "SELECT amount_fen, currency, source FROM transfer ORDER BY ts")
    assert got == [
        {"amount_fen": 10, "currency": "CNY", "source": "bank-x"},
        {"amount_fen": 123456, "currency": "CNY", "source": "bank-x"},
    ]
    [letter] = letters_of(dead)
    assert letter.field == "amount_fen" and "decimal digit" in letter.reason
    # The same mapping through the named profile.
    again = ing.run(Request([path], profile="transfers", mapping=mapping))
    assert again.duplicates == 2


def test_transfers_profile_with_chinese_headers(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    path = tmp_path / "流水.csv"
    path.write_text(
        "交易流水号,付款账号,收款账号,交易金额,交易时间,付款户名,摘要\n"
        "T0001,6222021001123456789,6217000010012345678,5000.00,2024-05-01 10:00:00,张伟,货款\n"
        "T0002,6222 0210 0112 3456 789,DE89370400440532013000,¥12.5,2024/05/01 11:00,张伟,\n",
        encoding="gb18030",
    )
    report = ing.run(Request([path], profile="transfers"))
    assert (report.accepted, report.rejected) == (2, 0)
    got = rows(lake, "SELECT * FROM transfer ORDER BY event_id")
    assert [r["event_id"] for r in got] == ["T0001", "T0002"]
    assert [r["amount_fen"] for r in got] == [500000, 1250]
    assert got[1]["payer_account"] == "6222021001123456789"
    assert got[1]["payee_account"] == "DE89370400440532013000"
    assert [r["payer_name"] for r in got] == ["张伟", "张伟"]
    assert got[0]["remittance"] == "货款"


def test_transfers_profile_reads_units_and_english_headers(tmp_path: Path) -> None:
    """A bank export's money column headed with its unit (元 or 分), and the English headers
    of third-party transfer data, land without --map."""
    ing, lake, dead = ingestor(tmp_path)
    yuan = tmp_path / "export.csv"
    yuan.write_text(
        "交易时间,付款账号,收款账号,交易金额（元）,交易渠道\n"
        '2024-05-01 10:00:00,6222021001123456789,6217000010012345678,"12,000.00",网银\n'
        "2024-05-01 10:07,6217000010012345678,6228481234567890002,-,ATM\n",
        encoding="gb18030",
    )
    fen = tmp_path / "fen.csv"
    fen.write_text(
        "tran_id,orig_acct,bene_acct,tx_type,金额(分),tran_timestamp\n"
        "7,6456,9069,TRANSFER,46505,2017-01-01T00:00:00Z\n",
        encoding="utf-8",
    )
    report = ing.run(Request([yuan, fen], profile="transfers"))
    assert (report.accepted, report.rejected) == (2, 1)
    got = rows(
        lake, "SELECT event_id, payer_account, amount_fen, channel FROM transfer ORDER BY ts"
    )
    assert [(r["payer_account"], r["amount_fen"]) for r in got] == [
        ("6456", 46505),
        ("6222021001123456789", 1_200_000),
    ]
    assert got[0]["event_id"] == "7" and got[1]["channel"] == "网银"
    [letter] = letters_of(dead)
    assert (letter.location, letter.field) == ("line 3", "amount_fen")


def test_a_bank_statement_of_one_account_gives_payer_and_payee_by_direction(
    tmp_path: Path,
) -> None:
    """银行流水 name the account's own side and the counterparty: money out makes the
    account the payer, money in the payee, whether the direction is a column (借贷标志),
    separate debit and credit amounts, or the amount's sign; a row that says neither is a
    dead letter with the reason."""
    ing, lake, dead = ingestor(tmp_path)
    own, a, b = "6222021001123456789", "6217001234000011112", "6230521234567890001"
    flagged = tmp_path / "flag.csv"
    flagged.write_text(
        "交易日期时间,本方账号,对方账号,对方户名,借贷标志,交易金额,摘要\n"
        f"2026-03-01 10:00:00,{own},{a},李四,借,500.00,转出\n"
        f"2026-03-01 11:00:00,{own},{b},王五,贷,-1200.00,转入\n"
        f"2026-03-01 12:00:00,{own},{b},王五,X,1.00,?\n",
        encoding="gb18030",
    )
    split = tmp_path / "split.csv"
    split.write_text(
        "交易时间,交易卡号,对手账号,借方发生额(元),贷方发生额(元)\n"
        f"2026-03-02 09:00,{own},{a},300.00,0.00\n"
        f"2026-03-02 10:00,{own},{b},,50\n"
        f"2026-03-02 11:00,{own},{b},1,2\n",
        encoding="utf-8",
    )
    signed = tmp_path / "signed.csv"
    signed.write_text(
        f"交易时间,本方账号,对方账号,交易金额\n2026-03-03 09:00,{own},{a},-88\n"
        f"2026-03-03 10:00,{own},{a},66\n",
        encoding="utf-8",
    )
    unsigned = tmp_path / "unsigned.csv"
    unsigned.write_text(f"交易时间,本方账号,对方账号,交易金额\n2026-03-04 09:00,{own},{a},5\n")
    report = ing.run(Request([flagged, split, signed, unsigned], profile="transfers"))
    assert (report.accepted, report.rejected) == (6, 3)
    got = rows(
        lake,
        "SELECT payer_account, payee_account, amount_fen, payer_name, payee_name"
        " FROM transfer ORDER BY ts",
    )
    assert [(r["payer_account"], r["payee_account"], r["amount_fen"]) for r in got] == [
        (own, a, 50000),
        (b, own, 120000),  # money in; the sign of a flagged amount does not count
        (own, a, 30000),
        (b, own, 5000),
        (own, a, 8800),
        (a, own, 6600),
    ]
    assert [(r["payer_name"], r["payee_name"]) for r in got[:2]] == [(None, "李四"), ("王五", None)]
    letters = {(Path(x.source).name, x.location): x for x in letters_of(dead)}
    assert letters[("flag.csv", "line 4")].field == "direction"
    assert "借贷标志 'X' is neither money out" in letters[("flag.csv", "line 4")].reason
    unknown = letters[("unsigned.csv", "line 2")]
    assert unknown.field == "direction" and "which of 本方账号 and 对方账号 paid is unknown" in (
        unknown.reason
    )
    assert letters[("split.csv", "line 4")].reason == (
        "amount: both of 借方发生额(元) / 贷方发生额(元) hold an amount"
    )


def test_a_statement_with_its_day_and_time_in_two_columns(tmp_path: Path) -> None:
    """交易日期 + 交易时间: the time completed with its day (``100102``, ``9:05``, a time cell
    of a workbook); a time column that already holds the day is taken as it is; a day
    alone stands for the time when there is no time column."""
    ing, lake, dead = ingestor(tmp_path)
    split = tmp_path / "split.csv"
    split.write_text(
        "交易日期,交易时间,付款账号,收款账号,交易金额\n"
        "20260301,100102,A1,B1,1\n"
        "2026-03-01,9:05,A1,B1,2\n"
        "20260302,93005,A1,B1,3\n"
        "20260303,2026-03-03 11:00:00,A1,B1,4\n"
        ",10:00,A1,B1,5\n",
        encoding="utf-8",
    )
    day_only = tmp_path / "day.csv"
    day_only.write_text("记账日期,付款账号,收款账号,金额\n2026-03-04,A1,B1,6\n", encoding="utf-8")
    book = workbook(
        tmp_path / "cells.xlsx",
        {"s": [["交易日期", "交易时间", "付款账号", "收款账号", "交易金额"],
               [dt.datetime(2026, 3, 5), dt.time(8, 15), "A1", "B1", 7]]},
    )  # fmt: skip
    report = ing.run(Request([split, day_only, book], profile="transfers"))
    assert (report.accepted, report.rejected) == (6, 1)
    got = rows(lake, "SELECT ts, amount_fen FROM transfer ORDER BY amount_fen")
    local = [r["ts"].astimezone(dt.timezone(dt.timedelta(hours=8))) for r in got]
    assert [t.strftime("%m-%d %H:%M:%S") for t in local] == [
        "03-01 10:01:02",
        "03-01 09:05:00",
        "03-02 09:30:05",
        "03-03 11:00:00",
        "03-04 00:00:00",
        "03-05 08:15:00",
    ]
    [letter] = letters_of(dead)
    assert (letter.location, letter.field) == ("line 6", "ts")  # a time without its day


def test_dead_letters_remember_the_layout_they_were_read_with(tmp_path: Path) -> None:
    ing, _, dead = ingestor(tmp_path)
    path = tmp_path / "t.csv"
    path.write_text("from,to,yuan,when\nA,B,x,2024-05-01 10:00:00\n", encoding="utf-8")
    mapping = {"payer_account": "from", "payee_account": "to", "amount": "yuan", "ts": "when"}
    ing.run(Request([path], mapping=mapping))
    ing.run(Request([tmp_path / "t.csv"], event_type="transfer"))  # canonical: no layout
    first, second = letters_of(dead)
    assert layout_of(first.layout) == ("transfers", mapping)
    assert second.layout is None and layout_of(second.layout) == (None, {})
    for broken in ("not json", '{"profile": 3}', "[1]", '{"profile": "p", "map": [1]}'):
        assert layout_of(broken) == (None, {})


def test_transfers_profile_refuses_a_header_it_cannot_read(tmp_path: Path) -> None:
    """No column for the accounts or the time: one located file error naming what is
    missing and what the header has, never rows that silently vanish."""
    ing, lake, dead = ingestor(tmp_path)
    path = tmp_path / "paysim.csv"
    path.write_text(
        "step,type,amount,nameOrig,nameDest\n1,TRANSFER,181.0,C1305486145,C553264065\n",
        encoding="utf-8",
    )
    report = ing.run(Request([path], profile="transfers"))
    assert (report.accepted, report.rejected) == (0, 1)
    error = report.files[0].error or ""
    assert error.startswith("no column gives payer_account, payee_account, ts; the input has")
    assert "nameOrig" in error and "--map payer_account=" in error
    assert [x.location for x in letters_of(dead)] == ["file"]
    assert rows(lake, "SELECT count(*) AS n FROM transfer") == [{"n": 0}]
    # the columns named with --map land (a bare number is read as epoch seconds)
    mapping = {"payer_account": "nameOrig", "payee_account": "nameDest", "ts": "step"}
    again = ing.run(Request([path], profile="transfers", mapping=mapping))
    assert (again.accepted, again.rejected, again.files[0].error) == (1, 0, None)


def test_transfers_profile_with_a_repeated_header_name(tmp_path: Path) -> None:
    """Two columns headed ``Account`` read as ``Account`` and ``Account.1``: neither is
    picked by itself (which is the payer is the user's call), both can be mapped."""
    ing, lake, _ = ingestor(tmp_path)
    path = tmp_path / "aml.csv"
    path.write_text(
        "Timestamp,From Bank,Account,To Bank,Account,Amount Paid,Payment Currency\n"
        "2022/09/01 00:20,03208,8000F4580,001,8000F5340,0.01,US Dollar\n",
        encoding="utf-8",
    )
    refused = ing.run(Request([path], profile="transfers"))
    assert "no column gives payer_account, payee_account;" in (refused.files[0].error or "")
    assert "Account, To Bank, Account.1" in (refused.files[0].error or "")
    mapping = {"payer_account": "Account", "payee_account": "Account.1"}
    report = ing.run(Request([path], profile="transfers", mapping=mapping))
    assert (report.accepted, report.rejected) == (1, 0)
    got = rows(lake, "SELECT payer_account, payee_account, amount_fen, ts FROM transfer")
    assert [(r["payer_account"], r["payee_account"], r["amount_fen"]) for r in got] == [
        ("8000F4580", "8000F5340", 1)
    ]
    assert got[0]["ts"] == dt.datetime(2022, 8, 31, 16, 20, tzinfo=dt.UTC)
    # without a profile a repeated name stays an error (which column is meant is unknown)
    plain = ing.run(Request([path], event_type="transfer"))
    assert plain.files[0].error == "header has duplicate columns: Account"


def test_a_bank_statement_workbook_lands_under_its_title_rows(tmp_path: Path) -> None:
    """An Excel statement (title rows above the table, a money column in 元, a card number
    typed as a number, a totals row) through the transfers profile: good rows land, the
    others are dead letters located by sheet and row, with their reasons."""
    ing, lake, dead = ingestor(tmp_path)
    path = workbook(
        tmp_path / "流水.xlsx",
        {
            "交易明细": [
                ["查询账号：6222021001123456789", None, "币种：人民币"],
                ["交易时间", "付款账号", "收款账号", "交易金额(元)", "摘要"],
                [
                    dt.datetime(2026, 3, 1, 10, 1, 2),
                    "6222021001123456789",
                    "6217001234000011112",
                    12000.0,
                    "转账\n备注",
                ],
                [dt.datetime(2026, 3, 1, 10, 5), "6217001234000011112", 6.2305e18, 50.5, None],
                ["合计", None, None, 12050.5, None],
            ]
        },
        title="某银行个人客户交易明细",
    )
    report = ing.run(Request([path], profile="transfers"))
    assert report.files[0].format == "sheet"
    assert (report.accepted, report.rejected) == (1, 2)
    got = rows(lake, "SELECT payer_account, amount_fen, remittance, ts FROM transfer")
    assert [(r["payer_account"], r["amount_fen"], r["remittance"]) for r in got] == [
        ("6222021001123456789", 1_200_000, "转账\n备注")
    ]
    assert got[0]["ts"] == dt.datetime(2026, 3, 1, 2, 1, 2, tzinfo=dt.UTC)
    letters = {x.location: x for x in letters_of(dead)}
    assert set(letters) == {"sheet 交易明细 row 5", "sheet 交易明细 row 6"}
    assert letters["sheet 交易明细 row 5"].reason.startswith("cell C5: the number 6.2305")
    assert letters["sheet 交易明细 row 6"].field == "ts"
    assert letters["sheet 交易明细 row 6"].raw == "合计,,,12050.5,".encode()
    # a retried row is read again under its sheet's header
    payload = retry_payload(str(path), "sheet 交易明细 row 6", b"x,y,z,1,")
    assert payload == ("交易时间,付款账号,收款账号,交易金额(元),摘要\nx,y,z,1,".encode(), "csv")
    assert "is gone" in str(retry_payload(str(tmp_path / "no.xlsx"), "sheet s row 2", b""))


def test_a_workbook_with_canonical_columns_and_no_suffix(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    book = workbook(
        tmp_path / "x.xlsx",
        {
            "calls": [
                ["caller", "callee", "ts", "duration_s"],
                ["+8613800138000", "+8613900139000", "2026-03-01 10:00:00", 65],
            ]
        },
    )
    path = tmp_path / "export-calls.bin"
    path.write_bytes(book.read_bytes())
    report = ing.run(Request([path], event_type="call"))
    assert (report.files[0].format, report.accepted, report.rejected) == ("sheet", 1, 0)
    assert rows(lake, "SELECT duration_s FROM call") == [{"duration_s": 65}]


def test_a_workbook_header_with_a_repeated_name(tmp_path: Path) -> None:
    """As in CSV: refused without a profile; with the transfers profile ``X.1`` can be mapped."""
    ing, lake, _ = ingestor(tmp_path)
    header = ["Timestamp", "Account", "Account", "Amount Paid"]
    path = workbook(tmp_path / "aml.xlsx", {"s": [header, ["2022-09-01 00:20", "A", "B", 1.5]]})
    plain = ing.run(Request([path], event_type="transfer"))
    assert plain.files[0].error == "sheet s row 1: header has duplicate columns: Account"
    mapping = {"payer_account": "Account", "payee_account": "Account.1"}
    report = ing.run(Request([path], profile="transfers", mapping=mapping))
    assert (report.accepted, report.rejected) == (1, 0)
    got = rows(lake, "SELECT payer_account, payee_account, amount_fen FROM transfer")
    assert got == [{"payer_account": "A", "payee_account": "B", "amount_fen": 150}]


def test_a_damaged_or_empty_workbook_is_refused_whole(tmp_path: Path) -> None:
    ing, _, dead = ingestor(tmp_path)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 broken")
    empty = workbook(tmp_path / "empty.xlsx", {"s": []})
    report = ing.run(Request([bad, empty], profile="transfers"))
    assert report.accepted == 0 and report.rejected == 2
    errors = [f.error or "" for f in report.files]
    assert errors[0].startswith("cannot read the workbook: ")
    assert errors[1] == "the workbook has no sheet with data"
    assert [x.location for x in letters_of(dead)] == ["file", "file"]


# --------------------------------------------------------------------------- reference data


def test_persons_and_org_units_go_to_the_store(tmp_path: Path) -> None:
    with App(Settings(data_dir=tmp_path / "data")) as fz:
        units = tmp_path / "org_units.csv"
        units.write_text(
            "code,name,level,parent_code,name_en\n"
            "500000,重庆市反诈中心,city,,Chongqing centre\n"
            "500108,南岸区反诈中心,district,500000,\n"
            "500109,火星分局,planet,500000,\n",
            encoding="utf-8",
        )
        report = fz.ingest(Request([units]))
        assert (report.accepted, report.rejected) == (2, 1)
        assert [u.code for u in fz.store.reference.org_units()] == ["500000", "500108"]
        assert fz.store.reference.get_org_unit("500108") is not None

        persons = write_ndjson(
            tmp_path / "persons.ndjson",
            [
                {
                    "id_number": "11010519491231002X",
                    "name": "張三",
                    "phones": ["13800138000", "+86 139 0013 9000"],
                    "accounts": "6222021001123456789;6217000010012345678",
                    "community": "500108",
                },
                {"id_number": "110105194912310021", "name": "李四"},
            ],
        )
        report = fz.ingest(Request([persons]))
        assert (report.accepted, report.rejected) == (1, 1)
        person = fz.store.reference.get_person("11010519491231002X")
        assert person is not None
        assert person.name == "张三"  # Traditional → Simplified
        assert person.birth_date == dt.date(1949, 12, 31)  # from the ID number
        assert person.phones == ("+8613800138000", "+8613900139000")
        assert person.accounts == ("6222021001123456789", "6217000010012345678")
        letter = fz.store.dead_letters.list()[0].letter
        assert letter.field == "id_number" and "checksum" in letter.reason
        assert count(fz.lake, "call") == 0  # reference data is not an event


def test_strict_reference_rows_are_written_only_on_commit(tmp_path: Path) -> None:
    with App(Settings(data_dir=tmp_path / "data")) as fz:
        units = write_csv(
            tmp_path / "org_units.csv",
            [{"code": "500000", "name": "重庆市反诈中心", "level": "city"}],
        )
        bad_calls = write_csv(tmp_path / "calls.csv", [call_row(caller="x")])
        report = fz.ingest(Request([units, bad_calls], strict=True))
        assert not report.committed
        assert fz.store.reference.org_units() == []
        [run] = fz.store.runs.list(1)
        assert (run.status, run.accepted, run.rejected) == ("rolled_back", 0, 1)
        assert fz.ingest(Request([units], strict=True)).committed
        assert [u.code for u in fz.store.reference.org_units()] == ["500000"]


# --------------------------------------------------------------------------- ISO 20022


def test_pacs008_message_lands_every_transaction(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    path = tmp_path / "incoming.xml"
    path.write_bytes(pacs008("08", PACS_TXS))
    report = ing.run(Request([path]))  # no --type needed: a bank message holds transfers
    assert (report.accepted, report.rejected) == (4, 0)
    got = rows(lake, "SELECT * FROM transfer ORDER BY amount_fen")
    assert [(r["amount_fen"], r["currency"]) for r in got] == [
        (9999, "USD"),
        (123456, "EUR"),
        (5000000, "CNY"),
        (15000000, "JPY"),
    ]
    first = next(r for r in got if r["currency"] == "CNY")
    assert first["payer_account"] == "6222021001123456789"
    assert first["payee_name"] == "深圳市鑫达贸易有限公司"
    assert first["uetr"] == "e8b1a5d2-3c4f-4a6b-9d8e-7f6a5b4c3d21"
    assert first["ts"] == dt.datetime(2024, 5, 6, 1, 12, 45, tzinfo=dt.UTC)  # AccptncDtTm
    assert {r["source"] for r in got} == {"iso20022:pacs.008.001.08"}
    assert ing.run(Request([path])).duplicates == 4
    assert letters_of(dead) == []


def test_an_invalid_message_is_rejected_whole(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    path = tmp_path / "bad.xml"
    path.write_bytes(
        pacs008("08", PACS_TXS).replace(
            b'<IntrBkSttlmAmt Ccy="USD">99.99<', b'<IntrBkSttlmAmt Ccy="USD">-99.99<'
        )
    )
    report = ing.run(Request([path], event_type="transfer"))
    assert (report.accepted, report.rejected) == (0, 1)
    assert count(lake, "transfer") == 0
    [letter] = letters_of(dead)
    assert letter.location == "file"
    assert "IntrBkSttlmAmt" in letter.reason and "-99.99" in letter.reason
    assert letter.raw == path.read_bytes()


def test_a_message_with_one_unusable_transaction_never_half_imports(tmp_path: Path) -> None:
    """The XML is fine, but our account rules refuse the third creditor: nothing lands."""
    ing, lake, dead = ingestor(tmp_path)
    txs = list(PACS_TXS)
    txs[2] = dataclasses.replace(txs[2], creditor=Party(name="X", other_id="AC#1", bic="ABOCCNBJ"))
    path = tmp_path / "pacs.xml"
    path.write_bytes(pacs008("08", txs))
    report = ing.run(Request([path]))
    assert (report.accepted, report.rejected) == (0, 1)
    assert count(lake, "transfer") == 0
    [letter] = letters_of(dead)
    assert letter.field == "payee_account"
    assert "message rejected whole: transaction 3" in letter.reason
    assert letter.raw == path.read_bytes()


def test_broken_xml_is_rejected_with_its_line(tmp_path: Path) -> None:
    ing, _, dead = ingestor(tmp_path)
    path = tmp_path / "cut.xml"
    path.write_bytes(pacs008("08", PACS_TXS)[:700])
    report = ing.run(Request([path]))
    assert report.rejected == 1 and report.accepted == 0
    assert (report.files[0].error or "").startswith("ISO 20022 message rejected")
    assert letters_of(dead)[0].location == "file"


def test_csv_text_helper_quotes_like_the_reader_expects() -> None:
    text = csv_text([{"a": "x,y", "b": 'say "hi"'}])
    assert text == 'a,b\n"x,y","say ""hi"""\n'


def test_a_list_where_one_value_belongs(tmp_path: Path) -> None:
    """A wrong-type column never crashes: one-element lists give their value, others fail."""
    ing, lake, dead = ingestor(tmp_path)
    path = write_ndjson(
        tmp_path / "calls.ndjson",
        [
            call_row(caller=[phone(1)]),
            call_row(caller=[phone(2), phone(3)]),
            call_row(caller=phone(4), duration_s={"seconds": 3}),
            call_row(caller=phone(5)),
        ],
    )
    report = ing.run(Request([path]))
    assert (report.accepted, report.rejected) == (2, 2)
    assert count(lake, "call") == 2
    reasons = {x.location: x.reason for x in letters_of(dead)}
    assert reasons["line 2"].startswith("caller: expected one value, got list")
    assert reasons["line 3"] == "field 'duration_s' is a JSON object, expected a value"
