"""Readers: encodings, broken and hostile files, CSV quoting, chunking, Parquet, formats."""

from __future__ import annotations

import codecs
import json
import os
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import (
    call_row,
    calls,
    count,
    csv_text,
    ingestor,
    letters_of,
    ndjson_bytes,
    rows,
    sms_row,
    write_csv,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.ingest.deadletter import DeadLetter
from fanzha.ingest.pipeline import Request
from fanzha.ingest.readers import (
    FileRejected,
    RawBatch,
    ReadOptions,
    detect_encoding,
    guess_format,
    read_csv,
    read_ndjson,
    read_parquet,
    sniff_binary,
    sniff_delimiter,
)

Reader = Callable[[Path, ReadOptions, str], Iterator[RawBatch]]


@dataclass
class Read:
    """Everything a reader gave for one file, flattened over its batches."""

    records: list[dict[str, object]] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    batches: int = 0


def read_all(reader: Reader, path: Path, opts: ReadOptions | None = None) -> Read:
    out = Read()
    for batch in reader(path, opts or ReadOptions(), str(path)):
        out.batches += 1
        out.letters += batch.early
        names = [n for n in batch.table.column_names if n != "__empty__"]
        for i, rec in enumerate(batch.table.select(names).to_pylist()):
            out.records.append(rec)
            out.locations.append(batch.location(i))
            out.raw.append(batch.raw_of(i))
    return out


SMS_HEADER = "sender,recipient,ts,text"
SMS_LINE = "13800138000,13900139000,2024-05-01 10:00:00,{text}"


def sms_csv(*texts: str) -> str:
    return "\n".join([SMS_HEADER, *(SMS_LINE.format(text=t) for t in texts)]) + "\n"


# --------------------------------------------------------------------------- encodings


def test_utf8_csv_with_chinese_text(tmp_path: Path) -> None:
    path = tmp_path / "sms.csv"
    path.write_text(sms_csv("您的快递已到", "验证码 123456"), encoding="utf-8")
    got = read_all(read_csv, path)
    assert [r["text"] for r in got.records] == ["您的快递已到", "验证码 123456"]
    assert got.locations == ["line 2", "line 3"]
    assert got.letters == []


def test_utf8_bom_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    csv_path = tmp_path / "sms.csv"
    csv_path.write_bytes(codecs.BOM_UTF8 + sms_csv("你好").encode("utf-8"))
    got = read_all(read_csv, csv_path)
    assert list(got.records[0]) == ["sender", "recipient", "ts", "text"]
    assert got.records[0]["sender"] == "13800138000"

    nd_path = tmp_path / "sms.ndjson"
    nd_path.write_bytes(codecs.BOM_UTF8 + ndjson_bytes([sms_row(), sms_row(text="二")]))
    got = read_all(read_ndjson, nd_path)
    assert [r["text"] for r in got.records] == ["您的快递已到", "二"]
    assert got.letters == []


def test_gb18030_text_is_decoded_and_raw_bytes_stay_gb18030(tmp_path: Path) -> None:
    path = tmp_path / "sms.csv"
    data = sms_csv("您的快递已到，请点击链接", "㐀𠀀 rare characters").encode("gb18030")
    path.write_bytes(data)
    assert detect_encoding(data) == "gb18030"
    got = read_all(read_csv, path)
    assert [r["text"] for r in got.records] == ["您的快递已到，请点击链接", "㐀𠀀 rare characters"]
    assert got.raw[0] == SMS_LINE.format(text="您的快递已到，请点击链接").encode("gb18030")


@pytest.mark.parametrize("bom_encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path: Path, bom_encoding: str) -> None:
    text = sms_csv("你好", "再见")
    if bom_encoding == "utf-16-le":
        data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    elif bom_encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        data = text.encode("utf-16")
    path = tmp_path / "sms.csv"
    path.write_bytes(data)
    got = read_all(read_csv, path)
    assert [r["text"] for r in got.records] == ["你好", "再见"]
    assert got.locations == ["line 2", "line 3"]

    nd = tmp_path / "sms.ndjson"
    nd.write_bytes(codecs.BOM_UTF16_LE + ndjson_bytes([sms_row()]).decode().encode("utf-16-le"))
    assert [r["text"] for r in read_all(read_ndjson, nd).records] == ["您的快递已到"]


@pytest.mark.parametrize("gbk_first", [True, False], ids=["gbk-in-head", "gbk-after-64k"])
def test_a_gbk_line_inside_a_utf8_file(tmp_path: Path, gbk_first: bool) -> None:
    """Each line is decoded on its own: the UTF-8 lines must not turn into mojibake."""
    padding = [SMS_LINE.format(text=f"填充{i}").encode() for i in range(0 if gbk_first else 2000)]
    gbk = SMS_LINE.format(text="国标编码的短信").encode("gbk")
    utf8 = SMS_LINE.format(text="统一码的短信").encode("utf-8")
    path = tmp_path / "sms.csv"
    path.write_bytes(b"\n".join([SMS_HEADER.encode(), *padding, gbk, utf8]) + b"\n")
    got = read_all(read_csv, path)
    assert [r["text"] for r in got.records[-2:]] == ["国标编码的短信", "统一码的短信"]
    assert got.raw[-2] == gbk
    assert got.letters == []


def test_undecodable_line_is_dead_lettered_alone(tmp_path: Path) -> None:
    path = tmp_path / "sms.csv"
    bad = b"13800138000,13900139000,2024-05-01 10:00:00,\xff\xfe\xff\x00\xff"
    path.write_bytes(
        sms_csv("第一").encode() + bad + b"\n" + SMS_LINE.format(text="第三").encode() + b"\n"
    )
    got = read_all(read_csv, path)
    assert [r["text"] for r in got.records] == ["第一", "第三"]
    assert got.locations == ["line 2", "line 4"]
    [letter] = got.letters
    assert letter.location == "line 3"
    assert "not valid UTF-8 or GB18030" in letter.reason
    assert letter.raw == bad


# --------------------------------------------------------------------------- hostile files


def test_empty_file_is_rejected_by_the_pipeline(tmp_path: Path) -> None:
    ing, _, dead = ingestor(tmp_path)
    path = tmp_path / "calls.csv"
    path.write_bytes(b"")
    report = ing.run(Request([path]))
    assert report.files[0].error == "file is empty"
    assert report.rejected == 1
    [letter] = letters_of(dead)
    assert (letter.location, letter.reason, letter.raw) == ("file", "file is empty", b"")
    # The readers themselves: nothing to read, and a CSV without a header is refused.
    assert read_all(read_ndjson, path).records == []
    with pytest.raises(FileRejected, match="no header"):
        read_all(read_csv, path)


@pytest.mark.parametrize(
    ("head", "why"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"PK\x03\x04\x14\x00\x06\x00", "ZIP archive"),
        (b"%PDF-1.7\n", "PDF document"),
        ((b"\x00" * 4 + bytes(range(1, 256))) * 100, "many NUL bytes"),
    ],
)
def test_binary_files_are_rejected_whole(tmp_path: Path, head: bytes, why: str) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes(head + os.urandom(4096))
    assert sniff_binary(path.read_bytes()) is not None
    for reader in (read_csv, read_ndjson):
        with pytest.raises(FileRejected, match=why):
            read_all(reader, path)
    ing, _, dead = ingestor(tmp_path)
    report = ing.run(Request([path]))
    assert report.accepted == 0 and report.rejected == 1
    assert why in (report.files[0].error or "")
    [letter] = letters_of(dead)
    assert letter.location == "file"
    assert letter.raw == path.read_bytes()  # the head of the file, here all of it


def test_random_bytes_with_nuls_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "calls.ndjson"
    noise = bytearray(os.urandom(20_000))
    noise[::50] = b"\x00" * len(noise[::50])
    path.write_bytes(bytes(noise))
    with pytest.raises(FileRejected, match="binary"):
        read_all(read_ndjson, path)


def test_truncated_last_line(tmp_path: Path) -> None:
    nd = tmp_path / "calls.ndjson"
    good = ndjson_bytes(calls(2))
    nd.write_bytes(good + b'{"caller": "13800138000", "callee": "139')
    got = read_all(read_ndjson, nd)
    assert len(got.records) == 2
    [letter] = got.letters
    assert letter.location == "line 3"
    assert letter.reason.startswith("not valid JSON")
    assert letter.raw == b'{"caller": "13800138000", "callee": "139'

    path = tmp_path / "calls.csv"
    path.write_text(csv_text(calls(2)) + "13800000009,13900", encoding="utf-8")
    got = read_all(read_csv, path)
    assert len(got.records) == 2
    [letter] = got.letters
    assert (letter.location, letter.reason) == ("line 4", "row has 2 fields, the header has 5")


def test_blank_lines_are_skipped_and_line_numbers_stay_right(tmp_path: Path) -> None:
    lines = ndjson_bytes(calls(3)).split(b"\n")
    nd = tmp_path / "calls.ndjson"
    nd.write_bytes(b"\n" + lines[0] + b"\n\n   \n" + lines[1] + b"\n\t\n" + lines[2] + b"\n\n")
    got = read_all(read_ndjson, nd)
    assert got.locations == ["line 2", "line 5", "line 7"]
    assert got.raw == lines[:3]
    assert got.letters == []

    path = tmp_path / "calls.csv"
    text = csv_text(calls(2)).replace("\n", "\n\n", 1)
    path.write_text("\n" + text + "\n\n", encoding="utf-8")
    got = read_all(read_csv, path)
    assert got.locations == ["line 4", "line 5"]
    assert got.letters == []


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes(csv_text(calls(2)).replace("\n", "\r\n").encode())
    got = read_all(read_csv, path)
    assert [r["source"] for r in got.records] == ["operator-a", "operator-a"]
    assert got.locations == ["line 2", "line 3"]
    assert not got.raw[0].endswith(b"\r")

    nd = tmp_path / "calls.ndjson"
    nd.write_bytes(ndjson_bytes(calls(2)).replace(b"\n", b"\r\n"))
    got = read_all(read_ndjson, nd)
    assert got.locations == ["line 1", "line 2"]
    assert got.raw[1] == ndjson_bytes(calls(2)).split(b"\n")[1]


def test_quoted_fields_with_newlines_and_commas(tmp_path: Path) -> None:
    path = tmp_path / "sms.csv"
    path.write_text(
        SMS_HEADER + "\n"
        '13800138000,13900139000,2024-05-01 10:00:00,"第一行\n第二行, 还有逗号"\n'
        '13800138001,13900139000,2024-05-01 10:00:00,"He said ""hi"",\n\nbye"\n'
        "13800138002,13900139000,2024-05-01 10:00:00,plain\n",
        encoding="utf-8",
    )
    got = read_all(read_csv, path)
    assert [r["text"] for r in got.records] == [
        "第一行\n第二行, 还有逗号",
        'He said "hi",\n\nbye',
        "plain",
    ]
    assert got.locations == ["line 2", "line 4", "line 7"]
    assert got.raw[0] == (
        '13800138000,13900139000,2024-05-01 10:00:00,"第一行\n第二行, 还有逗号"'.encode()
    )


def test_rows_with_too_few_or_too_many_fields(tmp_path: Path) -> None:
    path = tmp_path / "sms.csv"
    path.write_text(
        SMS_HEADER + "\n"
        "13800138000,13900139000\n"
        "13800138000,13900139000,2024-05-01 10:00:00,text,extra,more\n"
        + SMS_LINE.format(text="ok")
        + "\n",
        encoding="utf-8",
    )
    got = read_all(read_csv, path)
    assert got.locations == ["line 4"]
    assert [(x.location, x.reason) for x in got.letters] == [
        ("line 2", "row has 2 fields, the header has 4"),
        ("line 3", "row has 6 fields, the header has 4"),
    ]


def test_duplicate_and_missing_header_names(tmp_path: Path) -> None:
    path = tmp_path / "sms.csv"
    path.write_text("sender,recipient,sender,ts\n1,2,3,4\n", encoding="utf-8")
    with pytest.raises(FileRejected, match="duplicate columns: sender"):
        read_all(read_csv, path)
    path.write_text("sender,,ts\n1,2,3\n", encoding="utf-8")
    with pytest.raises(FileRejected, match="header column 2 has no name"):
        read_all(read_csv, path)
    path.write_text("\n\n \n", encoding="utf-8")
    with pytest.raises(FileRejected, match="no header line"):
        read_all(read_csv, path)


def test_csv_without_a_header_line_rejects_every_row_with_a_reason(tmp_path: Path) -> None:
    """The first data row is taken as the header; every record then lacks its fields."""
    ing, lake, dead = ingestor(tmp_path)
    path = tmp_path / "calls.csv"
    body = csv_text(calls(3)).split("\n", 1)[1]  # drop the header line
    path.write_text(body, encoding="utf-8")
    report = ing.run(Request([path]))
    assert (report.accepted, report.rejected) == (0, 2)
    assert all("required field" in x.reason for x in letters_of(dead))
    assert count(lake, "call") == 0


def _big_line_file(path: Path, size: int, csv_format: bool) -> None:
    """Good record, one record with a ``size``-byte field, good record; written in pieces."""
    good = [sms_row(sender="13800138001"), sms_row(sender="13800138003")]
    with path.open("wb") as fh:
        if csv_format:
            fh.write(csv_text(good[:1]).encode())
            fh.write(b'13800138002,13900139000,2024-05-01 10:00:00,"')
        else:
            fh.write(ndjson_bytes(good[:1]))
            fh.write(b'{"sender": "13800138002", "recipient": "13900139000", "text": "')
        piece = ("诈" * 1000).encode() * 100
        for _ in range(-(-size // len(piece))):
            fh.write(piece)
        fh.write(b'"\n' if csv_format else b'"}\n')
        if csv_format:
            fh.write(csv_text(good[1:]).split("\n", 1)[1].encode())
        else:
            fh.write(ndjson_bytes(good[1:]))


@pytest.mark.parametrize("csv_format", [False, True], ids=["ndjson", "csv"])
def test_a_50mb_record_is_dead_lettered_in_bounded_memory(tmp_path: Path, csv_format: bool) -> None:
    ing, lake, dead = ingestor(tmp_path)
    path = tmp_path / ("sms.csv" if csv_format else "sms.ndjson")
    _big_line_file(path, 50 * 1024 * 1024, csv_format)
    assert path.stat().st_size > 50 * 1024 * 1024
    tracemalloc.start()
    try:
        report = ing.run(Request([path]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Bounded by the read chunk (8 MiB) and the record limit (1 MiB), not by the 50 MB line.
    assert peak < 48 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    assert (report.accepted, report.rejected) == (2, 1)
    [letter] = letters_of(dead)
    assert "FANZHA_MAX_RECORD_BYTES" in letter.reason
    assert letter.location == ("line 3" if csv_format else "line 2")
    assert letter.truncated
    assert len(letter.raw) == ing.settings.dead_letter_keep_bytes
    assert letter.raw.startswith(b"13800138002," if csv_format else b'{"sender": "13800138002"')
    senders = [r["sender"] for r in rows(lake, "SELECT sender FROM sms ORDER BY sender")]
    assert senders == ["+8613800138001", "+8613800138003"]


def test_a_long_line_inside_one_chunk_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "sms.ndjson"
    long = sms_row(text="长" * 2000)
    path.write_bytes(ndjson_bytes([sms_row(), long, sms_row(text="after")]))
    got = read_all(read_ndjson, path, ReadOptions(max_record_bytes=1000))
    assert [r["text"] for r in got.records] == ["您的快递已到", "after"]
    assert got.locations == ["line 1", "line 3"]
    [letter] = got.letters
    assert letter.location == "line 2"
    assert "FANZHA_MAX_RECORD_BYTES" in letter.reason


# --------------------------------------------------------------------------- chunking


def test_records_spanning_read_chunks(tmp_path: Path) -> None:
    nd = tmp_path / "calls.ndjson"
    nd.write_bytes(ndjson_bytes(calls(20)))
    small = ReadOptions(chunk_bytes=64)
    got, whole = read_all(read_ndjson, nd, small), read_all(read_ndjson, nd)
    assert got.records == whole.records and len(got.records) == 20
    assert got.locations == [f"line {i}" for i in range(1, 21)]
    assert got.raw == ndjson_bytes(calls(20)).split(b"\n")[:20]
    assert got.batches > 10

    path = tmp_path / "sms.csv"
    texts = [f"第{i}条\n跨行, 内容" for i in range(10)]
    path.write_text(
        SMS_HEADER + "\n" + "".join(SMS_LINE.format(text=f'"{t}"') + "\n" for t in texts)
    )
    got = read_all(read_csv, path, small)
    assert [r["text"] for r in got.records] == texts
    assert got.locations == [f"line {2 + 2 * i}" for i in range(10)]


@settings(max_examples=40, deadline=None)
@given(chunk=st.integers(min_value=1, max_value=400), quoted=st.booleans())
def test_any_chunk_size_reads_the_same_rows(
    tmp_path_factory: pytest.TempPathFactory, chunk: int, quoted: bool
) -> None:
    path = tmp_path_factory.mktemp("chunks") / "sms.csv"
    texts = ["短", "a, b", "x" * 150, "多\n行", "", "末"]
    cells = [f'"{t}"' if quoted or "\n" in t or "," in t else t for t in texts]
    path.write_text(SMS_HEADER + "\n" + "".join(SMS_LINE.format(text=c) + "\n" for c in cells))
    whole = read_all(read_csv, path)
    got = read_all(read_csv, path, ReadOptions(chunk_bytes=chunk, max_record_bytes=1024))
    assert got.records == whole.records
    assert (
        got.locations
        == whole.locations
        == ["line 2", "line 3", "line 4", "line 5", "line 7", "line 8"]
    )
    assert got.raw == whole.raw
    assert got.letters == []


# --------------------------------------------------------------------------- Parquet


def _parquet(path: Path, n: int) -> Path:
    table = pa.Table.from_pylist(calls(n))
    pq.write_table(table, path, row_group_size=4)
    return path


def test_parquet_is_read_in_batches(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "calls.parquet", 10)
    got = read_all(read_parquet, path, ReadOptions(batch_rows=3))
    assert got.batches >= 4
    assert got.locations == [f"row {i}" for i in range(1, 11)]
    assert [r["caller"] for r in got.records] == [c["caller"] for c in calls(10)]
    assert json.loads(got.raw[6]) == calls(10)[6]

    columns = read_all(read_parquet, path, ReadOptions(columns=frozenset({"caller", "x"})))
    assert list(columns.records[0]) == ["caller"]


def test_parquet_through_the_pipeline_with_small_batches(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path, batch_size=3)
    rows_ = calls(10)
    rows_[6]["callee"] = "not a phone"
    path = tmp_path / "calls.parquet"
    pq.write_table(pa.Table.from_pylist(rows_), path)
    report = ing.run(Request([path]))
    assert (report.accepted, report.rejected) == (9, 1)
    [letter] = letters_of(dead)
    assert (letter.location, letter.field) == ("row 7", "callee")
    assert json.loads(letter.raw)["callee"] == "not a phone"
    assert count(lake, "call") == 9


def test_corrupt_parquet_files_are_rejected(tmp_path: Path) -> None:
    good = _parquet(tmp_path / "good.parquet", 50).read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(FileRejected, match="not a readable Parquet file"):
        read_all(read_parquet, cut)
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(b"PAR1" + b"garbage" * 100)
    with pytest.raises(FileRejected, match="not a readable Parquet file"):
        read_all(read_parquet, fake)
    ing, _, _ = ingestor(tmp_path)
    report = ing.run(Request([cut, fake], event_type="call"))
    assert report.rejected == 2 and report.accepted == 0
    assert all(f.error and "Parquet" in f.error for f in report.files)


def test_parquet_with_damaged_pages_never_crashes(tmp_path: Path) -> None:
    good = bytearray(_parquet(tmp_path / "good.parquet", 200).read_bytes())
    for i in range(8, len(good) - 200, 97):
        good[i] ^= 0x5A
    path = tmp_path / "damaged.parquet"
    path.write_bytes(bytes(good))
    ing, _, _ = ingestor(tmp_path)
    report = ing.run(Request([path], event_type="call"))  # must not raise
    assert report.accepted + report.rejected >= 1


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("calls.ndjson", "ndjson"),
        ("calls.jsonl", "ndjson"),
        ("calls.JSON", "ndjson"),
        ("calls.csv", "csv"),
        ("calls.2024-05.CSV", "csv"),
        ("calls.parquet", "parquet"),
        ("pacs.008.xml", "iso20022"),
    ],
)
def test_guess_format_by_name(tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    assert guess_format(path) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"PAR1\x15\x04", "parquet"),
        (b"  <?xml version='1.0'?><Document/>", "iso20022"),
        (codecs.BOM_UTF8 + b'{"caller": "1"}', "ndjson"),
        (b"\n{}", "ndjson"),
        (b"caller,callee\n", "csv"),
    ],
)
def test_guess_format_by_content(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "upload"
    path.write_bytes(content)
    assert guess_format(path) == expected


def test_unknown_and_wrong_columns_are_harmless(tmp_path: Path) -> None:
    """A column the type does not have is ignored; a record that is not an object is refused."""
    path = tmp_path / "calls.ndjson"
    path.write_bytes(
        ndjson_bytes([call_row(extra="x", nested_ok=[1, 2])])
        + b'["not", "an", "object"]\n{"caller": {"nested": 1}}\n'
    )
    got = read_all(read_ndjson, path)
    assert len(got.records) == 1
    reasons = sorted(x.reason for x in got.letters)
    assert reasons == [
        "field 'caller' is a JSON object, expected a value",
        "line is JSON list, expected an object {...}",
    ]


def test_csv_written_with_our_factory_round_trips(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "calls.csv", calls(3), encoding="gb18030")
    got = read_all(read_csv, path)
    assert [r["caller"] for r in got.records] == [c["caller"] for c in calls(3)]


def test_a_first_record_of_null_does_not_crash_the_process(tmp_path: Path) -> None:
    """pyarrow's JSON reader dies with SIGSEGV on this input; the reader must not call it."""
    path = tmp_path / "calls.ndjson"
    path.write_bytes(b"null\n" + ndjson_bytes(calls(1)) + b" null\n\r\n")
    got = read_all(read_ndjson, path)
    assert got.locations == ["line 2"]
    assert [(x.location, x.reason) for x in got.letters] == [
        ("line 1", "line is JSON NoneType, expected an object {...}"),
        ("line 3", "line is JSON NoneType, expected an object {...}"),
    ]


def test_a_carriage_return_inside_the_header_is_a_file_rejection(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes(b"caller,\rcallee\n1,2\n")
    with pytest.raises(FileRejected, match="header line is not valid CSV"):
        read_all(read_csv, path)


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_csv_delimiter_is_taken_from_the_header(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "calls.tsv"
    lines = [
        delimiter.join(["caller", "callee", "ts", "duration_s"]),
        delimiter.join(["13800138000", "13900139000", "2024-05-01 10:00:00", "30"]),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batches = list(read_csv(path, ReadOptions(), str(path)))
    table = batches[0].table
    assert table.column_names == ["caller", "callee", "ts", "duration_s"]
    assert table.to_pylist() == [
        {
            "caller": "13800138000",
            "callee": "13900139000",
            "ts": "2024-05-01 10:00:00",
            "duration_s": "30",
        }
    ]


def test_sniff_delimiter_prefers_comma_and_defaults_to_it() -> None:
    assert sniff_delimiter("a,b;c") == ","
    assert sniff_delimiter("a\tb\tc,d") == "\t"
    assert sniff_delimiter("single") == ","
