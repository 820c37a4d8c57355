"""Vectorised normalisation: every kernel agrees with the scalar parsers, row by row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.ingest.normalise import KERNELS, Options, derive_event_ids, k_yuan, normalise
from fanzha.model import values
from fanzha.model.events import CallRecord, PoliceReport, Transfer, WebVisit
from fanzha.model.fields import SCALAR_CHECKS, Kind

UTC = dt.UTC
SHANGHAI = dt.timezone(dt.timedelta(hours=8))

# Canonical values (the fast paths) and odd ones (the scalar path, or rejected), per kind.
SAMPLES: dict[str, list[str]] = {
    "msisdn": [
        "13800138000",
        "+8613800138000",
        "008613800138000",
        "8613800138000",
        "138 0013 8000",
        "138-0013-8000",
        "１３８００１３８０００",
        "95588",
        "96110",
        "010-12345678",
        "+14155552671",
        "a3f5c0de" * 4,
        "AB" * 64,
        "1" * 20,
        "12",
        "+",
        "abc",
        "10086",
        "170" + "12345678",
        "23800138000",
    ],
    "account": [
        "6222021001123456789",
        "6222 0210 0112 3456 789",
        "123456",
        "12345",
        "1" * 34,
        "1" * 35,
        "DE89370400440532013000",
        "DE89370400440532013001",
        "ABCD1234",
        "acct-001",
        "x",
    ],
    "id_number": ["11010519491231002X", "110105194912310021", "110105491231002", "abc"],
    "url": ["http://example.com/a", "example.com", "hxxp://evil[.]com", "https://中文.com/路径"],
    "domain": ["example.com", "www.example.co.uk", "中文.com", "-bad-.com", "localhost"],
    "currency": ["CNY", "usd", "RMB", "人民币", "元", "US", "1234"],
    "date": ["2024-05-01", "2024/5/1", "20240501", "2024年5月1日", "2024-02-30", "1969-01-01"],
    "int": ["0", "30", "007", "1" * 15, "1" * 16, "9" * 17, "-1", "1.5", "12.0", "٣", "²"],
    "bool": ["true", "1", "是", "否", "no", "FALSE", "maybe"],
    "money_fen": ["0", "100", "9" * 15, "1" * 16, "-5", "1.5", "¥100", "1,000"],
    "id": ["abc", "a b", "x" * 256, "x" * 257, "中文编号", "tab\there", "ev-1"],
    "string": ["abc", "中文", "繁體字", "a" * 512, "a" * 513, "\u200bzero", "ｆｕｌｌ", "a  b"],
    "list": [
        "13800138000;13900139000",
        "13800138000,",
        ";",
        "13800138000、13900139000",
        "13800138000|bad",
        "13800138000 ; 13900139000 ;",
    ],
    "timestamp": [
        "2024-05-01 10:00:00",
        "2024-05-01T10:00:00",
        "2024-05-01T10:00:00+08:00",
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00+0800",
        "2024-05-01 10:00:00-05:30",
        "2024-02-30 10:00:00",
        "2024-01-01 23:59:60",
        "2024-01-01 24:00:00",
        "1986-05-04 02:30:00",
        "1991-09-15 01:30:00",
        "1969-12-31 23:00:00",
        "1970-01-01 07:59:59",
        "2100-12-31 23:59:59",
        "2101-01-01 00:00:00",
        "1714528800",
        "1714528800000",
        "2024/05/01 10:00",
        "20240501100000",
        "2024年5月1日 10:00:00",
        "2024-05-01T10:00:00+25:00",
        "2024-05-01T10:00:00+08:60",
        "2024-5-1 1:2:3",
        "2024-05-01 10:00:00.123",
    ],
    "yuan": [
        "0.10",
        "0.1",
        "1,234.56",
        "¥100",
        "100元",
        "0.001",
        "1e5",
        "-1",
        "nan",
        "123456789012.34",
        "9999999999999.99",
        "10000000000000",
        "12.",
        ".5",
    ],
}
ODD = ["", " ", "  13800138000 ", "\x00", "null", "None", "-", "0", "１", "😀", "a\nb"]

TS_SHAPES = st.from_regex(
    r"(19[0-9]{2}|20[0-9]{2}|21[0-9]{2})-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?",
    fullmatch=True,
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=24)
DIGITISH = st.from_regex(r"[0-9+\-., :/T]{0,22}", fullmatch=True)


def _column(samples: list[str]) -> st.SearchStrategy[list[str | None]]:
    item = st.one_of(st.sampled_from(samples), st.sampled_from(ODD), TEXT, DIGITISH, st.none())
    # Repeats push low-cardinality columns through the dictionary-encoded fast path too.
    return st.tuples(st.lists(item, min_size=1, max_size=20), st.integers(1, 6)).map(
        lambda pair: pair[0] * pair[1]
    )


def _scalar_for(kind: str) -> Callable[[str], object]:
    if kind == "timestamp":
        return lambda v: values.parse_timestamp(v, tz="Asia/Shanghai").astimezone(UTC)
    if kind == "yuan":
        return lambda v: values.parse_money_fen(v, unit="yuan")
    if kind == "list":
        return SCALAR_CHECKS[Kind.MSISDN_LIST]
    return SCALAR_CHECKS[Kind(kind)]


def _kernel_for(kind: str) -> Callable[[pa.Array, Options], Any]:
    if kind == "yuan":
        return k_yuan
    if kind == "list":
        return KERNELS[Kind.MSISDN_LIST]
    return KERNELS[Kind(kind)]


def _expected(check: Callable[[str], object], value: str | None) -> tuple[bool, object]:
    """(rejected, value) as the scalar parser sees it; a null stays null and is not rejected."""
    if value is None:
        return False, None
    try:
        return False, check(value)
    except (ValueError, TypeError, OverflowError):  # InvalidValue is a ValueError
        return True, None


def _agree(kind: str, column: list[str | None]) -> None:
    result = _kernel_for(kind)(pa.array(column, pa.string()), Options())
    got = result.array.to_pylist()
    check = _scalar_for(kind)
    for i, value in enumerate(column):
        rejected, expected = _expected(check, value)
        if kind == "list" and value is None:
            expected = []  # a missing list reads as an empty one
        assert bool(result.bad[i]) == rejected, (value, got[i], result.reasons[i])
        if rejected:
            assert result.reasons[i], value
        else:
            assert got[i] == expected, (value, got[i], expected)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_kernels_agree_with_the_scalar_parsers(kind: str, data: st.DataObject) -> None:
    column = data.draw(_column(SAMPLES[kind]))
    if kind == "timestamp":
        column += data.draw(st.lists(TS_SHAPES, max_size=10))
    _agree(kind, column)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_sample_agrees(kind: str) -> None:
    """All samples at once, and repeated (the dictionary path of low-cardinality columns)."""
    _agree(kind, [*SAMPLES[kind], *ODD, None])
    _agree(kind, [*SAMPLES[kind], None] * 5)


def test_integer_columns_keep_the_scalar_range_checks() -> None:
    durations = KERNELS[Kind.INT](pa.array([5, 2**60], pa.int64()), Options())
    assert durations.array.to_pylist() == [5, None]
    assert "out of range" in (durations.reasons[1] or "")
    fen = KERNELS[Kind.MONEY_FEN](pa.array([10**16, 7], pa.int64()), Options())
    assert fen.bad.tolist() == [True, False]
    big = KERNELS[Kind.INT](pa.array([2**63 + 5], pa.uint64()), Options())
    assert big.bad.tolist() == [True]
    floats = KERNELS[Kind.INT](pa.array([12.0, 12.5], pa.float64()), Options())
    assert floats.array.to_pylist()[0] == 12 and floats.bad.tolist() == [False, True]


# --------------------------------------------------------------------------- timestamps


def _ts(texts: list[str], tz: str = "Asia/Shanghai") -> list[object]:
    result = KERNELS[Kind.TIMESTAMP](pa.array(texts, pa.string()), Options(tz=tz))
    return [None if b else v for b, v in zip(result.bad, result.array.to_pylist(), strict=True)]


def test_timestamps_with_and_without_offsets() -> None:
    expected = dt.datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    forms = [
        "2024-05-01 10:00:00",
        "2024-05-01T10:00:00",
        "2024-05-01T10:00:00+08:00",
        "2024-05-01T10:00:00+0800",
        "2024-05-01T02:00:00Z",
        "2024-04-30T21:00:00-05:00",
        "2024/05/01 10:00",
        "20240501100000",
        "2024年5月1日 10:00:00",
        "1714528800",
        "1714528800000",
    ]
    assert _ts(forms) == [expected] * len(forms)


def test_naive_times_are_read_in_the_configured_zone() -> None:
    assert _ts(["2024-05-01 10:00:00"], tz="UTC") == [dt.datetime(2024, 5, 1, 10, tzinfo=UTC)]
    assert _ts(["2024-05-01 10:00:00"], tz="Europe/Berlin") == [
        dt.datetime(2024, 5, 1, 8, tzinfo=UTC)
    ]
    # An explicit offset wins over the zone.
    assert _ts(["2024-05-01T10:00:00+08:00"], tz="UTC") == [dt.datetime(2024, 5, 1, 2, tzinfo=UTC)]


def test_impossible_and_out_of_range_times_are_rejected() -> None:
    texts = [
        "2024-02-30 10:00:00",
        "2024-01-01 23:59:60",
        "1969-12-31 23:59:59",
        "2101-01-01 00:00:00",
        "0999-01-01 00:00:00",
        "9999999999999999",
    ]
    result = KERNELS[Kind.TIMESTAMP](pa.array(texts), Options())
    assert result.bad.tolist() == [True] * len(texts)
    assert "not a real date" in (result.reasons[0] or "")
    assert "year 1969" in (result.reasons[2] or "")
    assert "year 2101" in (result.reasons[3] or "")


def test_dst_gap_times_follow_the_scalar_parser() -> None:
    """Shanghai skipped 02:00–03:00 on 1986-05-04; the scalar parser keeps +08:00 there."""
    assert _ts(["1986-05-04 02:30:00"]) == [dt.datetime(1986, 5, 3, 18, 30, tzinfo=UTC)]


def test_arrow_timestamp_columns() -> None:
    naive = pa.array([dt.datetime(2024, 5, 1, 10)], pa.timestamp("s"))
    aware = pa.array([dt.datetime(2024, 5, 1, 2, tzinfo=UTC)], pa.timestamp("ms", tz="UTC"))
    early = pa.array([dt.datetime(1960, 1, 1)], pa.timestamp("us"))
    assert KERNELS[Kind.TIMESTAMP](naive, Options()).array.to_pylist() == [
        dt.datetime(2024, 5, 1, 2, tzinfo=UTC)
    ]
    assert KERNELS[Kind.TIMESTAMP](aware, Options()).array.to_pylist() == [
        dt.datetime(2024, 5, 1, 2, tzinfo=UTC)
    ]
    assert KERNELS[Kind.TIMESTAMP](early, Options()).bad.tolist() == [True]


# --------------------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("amount", "fen"),
    [
        ("0.10", 10),
        ("0.1", 10),
        ("1,234.56", 123456),
        ("19.99", 1999),
        ("0.07", 7),
        ("¥1,000", 100000),
        ("88", 8800),
        ("123456789012.34", 12345678901234),
    ],
)
def test_yuan_amounts_become_exact_fen(amount: str, fen: int) -> None:
    raw = pa.table(
        {
            "payer_account": ["6222021001123456789"],
            "payee_account": ["6217000010012345678"],
            "amount": [amount],
            "ts": ["2024-05-01 10:00:00"],
        }
    )
    out = normalise(raw, Transfer, Options())
    assert out.problems.rows == {}
    assert out.table["amount_fen"].to_pylist() == [fen]
    assert out.table["currency"].to_pylist() == ["CNY"]


@pytest.mark.parametrize("amount", ["0.001", "-1", "1e5", "abc", "10000000000000"])
def test_bad_yuan_amounts_are_rejected_with_the_field(amount: str) -> None:
    raw = pa.table(
        {
            "payer_account": ["6222021001123456789"],
            "payee_account": ["6217000010012345678"],
            "amount": [amount],
            "ts": ["2024-05-01 10:00:00"],
        }
    )
    out = normalise(raw, Transfer, Options())
    assert out.table.num_rows == 0
    assert out.problems.rows[0][0] == "amount_fen"


# --------------------------------------------------------------------------- records


def _calls(**cols: list[Any]) -> pa.Table:
    base: dict[str, list[Any]] = {
        "caller": ["13800138000"],
        "callee": ["13900139000"],
        "ts": ["2024-05-01 10:00:00"],
        "duration_s": ["30"],
    }
    base.update(cols)
    return pa.table({k: pa.array(v, pa.string()) for k, v in base.items()})


def test_required_fields_missing_or_blank() -> None:
    raw = _calls(
        caller=["13800138000", "13800138001", "13800138002"],
        callee=["13900139000", None, "   "],
        ts=["2024-05-01 10:00:00"] * 3,
        duration_s=["30"] * 3,
    )
    out = normalise(raw, CallRecord, Options())
    assert out.rows.tolist() == [0]
    assert out.problems.rows == {
        1: ("callee", "required field 'callee' is missing"),
        2: ("callee", "required field 'callee' is missing"),
    }
    no_ts = normalise(raw.drop_columns(["ts"]), CallRecord, Options())
    assert no_ts.table.num_rows == 0
    assert {p[0] for p in no_ts.problems.rows.values()} == {"ts"}


def test_first_problem_of_a_row_is_reported_once() -> None:
    out = normalise(_calls(caller=["bad"], duration_s=["-3"]), CallRecord, Options())
    [(field, reason)] = out.problems.rows.values()
    assert field == "caller" and "phone number" in reason


def test_source_defaults_to_the_option() -> None:
    out = normalise(_calls(), CallRecord, Options(default_source="calls.csv"))
    assert out.table["source"].to_pylist() == ["calls.csv"]


def test_derived_event_ids_are_stable_and_follow_identity_fields() -> None:
    first = normalise(_calls(), CallRecord, Options(default_source="a"))
    again = normalise(
        _calls(ts=["2024-05-01T02:00:00Z"], caller=["+86 138 0013 8000"]),
        CallRecord,
        Options(default_source="another source"),
    )
    other = normalise(_calls(duration_s=["31"]), CallRecord, Options())
    [a] = first.table["event_id"].to_pylist()
    assert a.startswith("call:") and len(a) == len("call:") + 32
    assert again.table["event_id"].to_pylist() == [a]  # same caller, same instant
    assert other.table["event_id"].to_pylist() != [a]
    assert derive_event_ids(CallRecord, first.table).to_pylist() == [a]
    assert a == "call:9c88e9ef227cb2545c5a304e7eb59db7"  # stable across releases


def test_given_event_ids_are_kept_and_missing_ones_derived() -> None:
    raw = _calls(
        event_id=["op-1", None],
        caller=["13800138000", "13800138000"],
        callee=["13900139000", "13900139000"],
        ts=["2024-05-01 10:00:00"] * 2,
        duration_s=["30"] * 2,
    )
    ids = normalise(raw, CallRecord, Options()).table["event_id"].to_pylist()
    assert ids[0] == "op-1"
    assert ids[1] == normalise(_calls(), CallRecord, Options()).table["event_id"][0].as_py()


def test_web_visit_domain_is_derived_from_the_url() -> None:
    raw = pa.table(
        {
            "subscriber": ["13800138000"] * 3,
            "url": ["https://www.example.co.uk/a", "hxxp://evil[.]com/x", "https://中文.com/路径"],
            "ts": ["2024-05-01 10:00:00"] * 3,
            "domain": [None, "given.example.com", None],
        }
    )
    out = normalise(raw, WebVisit, Options())
    assert out.problems.rows == {}
    assert out.table["domain"].to_pylist() == [
        "example.co.uk",
        "given.example.com",
        "xn--fiq228c.com",
    ]
    assert out.table["url"].to_pylist()[1] == "http://evil.com/x"


def test_list_fields_from_json_arrays_and_from_text() -> None:
    as_text = pa.table(
        {
            "ts": ["2024-05-01 10:00:00"] * 3,
            "suspect_phones": ["13800138000;13900139000", "13800138000，", None],
            "suspect_accounts": ["6222021001123456789", "", "123456|654321"],
        }
    )
    out = normalise(as_text, PoliceReport, Options())
    assert out.problems.rows == {}
    assert out.table["suspect_phones"].to_pylist() == [
        ["+8613800138000", "+8613900139000"],
        ["+8613800138000"],
        [],
    ]
    assert out.table["suspect_accounts"].to_pylist() == [
        ["6222021001123456789"],
        [],
        ["123456", "654321"],
    ]
    as_arrays = pa.table(
        {
            "ts": ["2024-05-01 10:00:00"] * 2,
            "suspect_phones": pa.array(
                [["13800138000", " 13900139000 "], ["13800138000", None, ""]],
                pa.list_(pa.string()),
            ),
            "suspect_urls": pa.array([["evil.com"], ["not a url at all"]], pa.list_(pa.string())),
        }
    )
    out = normalise(as_arrays, PoliceReport, Options())
    assert out.table["suspect_phones"].to_pylist() == [["+8613800138000", "+8613900139000"]]
    assert out.table["suspect_urls"].to_pylist() == [["http://evil.com/"]]
    assert out.problems.rows[1][0] == "suspect_urls"


def test_enums_accept_ids_and_chinese_labels() -> None:
    raw = pa.table(
        {
            "ts": ["2024-05-01 10:00:00"] * 3,
            "fraud_type": ["刷单返利", None, "no such type"],
        }
    )
    out = normalise(raw, PoliceReport, Options())
    assert out.rows.tolist() == [0, 1]
    assert out.table["fraud_type"].to_pylist()[1] == "other"  # the default
    assert out.problems.rows[2][0] == "fraud_type"


def test_text_is_cleaned_and_bounded() -> None:
    raw = pa.table(
        {
            "sender": ["13800138000"] * 2,
            "recipient": ["13900139000"] * 2,
            "ts": ["2024-05-01 10:00:00"] * 2,
            "text": ["  您的帳戶\u200b異常 ", "x" * 200],
        }
    )
    from fanzha.model.events import SmsRecord

    out = normalise(raw, SmsRecord, Options(max_field_bytes=100))
    assert out.table["text"].to_pylist() == ["您的帐户异常"]
    assert out.problems.rows[1] == ("text", "text is 200 bytes in UTF-8; the limit is 100 bytes")


def test_odd_arrow_types_are_read_or_rejected_never_crash() -> None:
    """Parquet can hold any type: lists, structs, bytes and decimals where text belongs."""
    from decimal import Decimal

    raw = pa.table(
        {
            "caller": pa.array([["13800138000"], ["13800138001", "x"], ["13800138002"]]),
            "callee": pa.array([{"n": "13900139000"}, None, {"n": "1"}]),
            "ts": pa.array([b"2024-05-01 10:00:00"] * 3, pa.binary()),
            "duration_s": pa.array([Decimal("30"), Decimal("1.5"), Decimal("2.00")]),
        }
    )
    out = normalise(raw, CallRecord, Options())
    assert out.table.num_rows == 0
    assert out.problems.rows[0][0] == "callee"
    assert "expected one value, got dict" in out.problems.rows[0][1]
    assert out.problems.rows[1][0] == "caller"
    assert out.problems.rows[2][0] == "callee"
    fixed = raw.set_column(1, "callee", pa.array(["13900139000"] * 3))
    out = normalise(fixed, CallRecord, Options())
    assert out.rows.tolist() == [0, 2]
    assert out.table["duration_s"].to_pylist() == [30, 2]
    assert out.problems.rows[1][0] == "caller"


def test_decimal_columns_for_whole_numbers_and_money() -> None:
    from decimal import Decimal

    decimals = pa.array([Decimal("30.00"), Decimal("1.50"), Decimal("0.00")])
    ints = KERNELS[Kind.INT](decimals, Options())
    assert ints.array.to_pylist() == [30, None, 0]
    assert ints.bad.tolist() == [False, True, False]
    assert k_yuan(decimals, Options()).array.to_pylist() == [3000, 150, 0]
