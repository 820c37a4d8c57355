"""Feed readers and exports: every format with worked examples, and bad input of every sort."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanzha.intel.feeds import (
    MAX_LINE_BYTES,
    FeedError,
    FeedOptions,
    FeedReader,
    FeedResult,
    Problem,
    detect_encoding,
    export_lines,
    fast_normalise,
    guess_format,
    guess_kind,
    iter_lines,
    parse_bytes,
    parse_confidence,
    stix_bundle,
)
from fanzha.intel.model import Indicator, IndicatorKind, Verdict, normalise_value
from fanzha.model.values import InvalidValue

K = IndicatorKind
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
STIX_SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "data" / "stix2_schemas"


def read(text: str | bytes, fmt: str, **options: Any) -> FeedResult:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_bytes(data, FeedOptions(format=fmt, **options))


def values(result: FeedResult) -> list[str]:
    return [i.value for i in result.indicators]


def where(result: FeedResult) -> list[tuple[int, str | None]]:
    return [(p.line, p.field) for p in result.problems]


# --------------------------------------------------------------------------- plain


def test_plain_list_with_comments_blanks_and_bad_values() -> None:
    result = read(
        "# scam domains, 2026-05\n"
        "\n"
        "Example.COM\n"
        "  shop.example.org.   # trailing dot, comment\n"
        "bad host\n"
        "例子.中国\n"
        "https://evil.example/path\n",
        "plain",
        kind=K.DOMAIN,
        source="list-a",
        verdict=Verdict.SUSPICIOUS,
        confidence=0.6,
    )
    assert values(result) == [
        "example.com",
        "shop.example.org",
        "xn--fsqu00a.xn--fiqs8s",
        "evil.example",
    ]
    first = result.indicators[0]
    assert (first.kind, first.verdict, first.confidence, first.source) == (
        K.DOMAIN,
        Verdict.SUSPICIOUS,
        0.6,
        "list-a",
    )
    assert where(result) == [(5, "value")]
    assert "invalid character ' '" in result.problems[0].reason
    assert result.problems[0].text == "bad host"
    assert (result.stats.lines, result.stats.records, result.stats.problems) == (7, 5, 1)


def test_plain_phones_and_accounts_are_normalised() -> None:
    phones = read("138 0013 8000\n+86 139-0000-0000\n12345\nabc\n", "plain", kind=K.PHONE)
    assert values(phones)[:2] == ["+8613800138000", "+8613900000000"]
    assert values(phones)[2] == "12345"  # a five-digit service number
    assert [p.line for p in phones.problems] == [4]
    accounts = read("6222 0210 0112 3456 789\n", "plain", kind=K.ACCOUNT)
    assert values(accounts) == ["6222021001123456789"]


def test_a_plain_list_needs_a_kind() -> None:
    with pytest.raises(FeedError, match="--kind"):
        FeedOptions(format="plain")
    with pytest.raises(FeedError, match="unknown feed format"):
        FeedOptions(format="xml", kind=K.DOMAIN)
    with pytest.raises(FeedError, match="lists domains"):
        FeedOptions(format="hosts", kind=K.PHONE)
    with pytest.raises(FeedError, match="unknown fields"):
        FeedOptions(format="csv", mapping={"valeur": "x"})


# --------------------------------------------------------------------------- hosts


def test_hosts_file() -> None:
    result = read(
        "# Title: scam list\n"
        "127.0.0.1 localhost localhost.localdomain\n"
        "::1 localhost ip6-localhost ip6-loopback\n"
        "255.255.255.255 broadcasthost\n"
        "0.0.0.0 0.0.0.0\n"
        "0.0.0.0 a.example\n"
        "127.0.0.1 b.example c.example   # two hosts on one line\n"
        "0.0.0.0\tTabbed.Example\n"
        "d.example\n"
        "0.0.0.0 bad_host!\n",
        "hosts",
    )
    assert values(result) == ["a.example", "b.example", "c.example", "tabbed.example", "d.example"]
    assert all(i.kind is K.DOMAIN and i.verdict is Verdict.FRAUD for i in result.indicators)
    assert where(result) == [(10, "value")]
    assert result.stats.skipped == 7


# --------------------------------------------------------------------------- adblock


def test_adblock_list() -> None:
    result = read(
        "[Adblock Plus 2.0]\n"
        "! Title: fraud sites\n"
        "||fraud.example^\n"
        "||tracker.example^$third-party,important\n"
        "@@||bank.example^\n"
        "@@||pay.bank.example^$document\n"
        "##.advert\n"
        "example.org##.banner\n"
        "||cdn.example/ads/*\n"
        "/banner[0-9]+/\n"
        "||*.wild.example^\n"
        "|https://exact.example/\n"
        "||ex ample.com^\n"
        "||noend.example\n",
        "adblock",
    )
    assert [(i.value, i.verdict) for i in result.indicators] == [
        ("fraud.example", Verdict.FRAUD),
        ("tracker.example", Verdict.FRAUD),
        ("bank.example", Verdict.ALLOW),
        ("pay.bank.example", Verdict.ALLOW),
        ("noend.example", Verdict.FRAUD),
    ]
    assert result.stats.unsupported == 7
    assert result.problems == []


# --------------------------------------------------------------------------- csv


def test_csv_with_a_mapping_of_chinese_columns() -> None:
    text = (
        "域名\t结论\t置信度\t来源\t首次发现\t有效期\t备注\n"
        "fraud.example\t涉诈\t95\t上级通报\t2026-05-01 10:00:00\t2026-06-30\t冒充客服\n"
        "grey.example\t可疑\t0.4\t\t\t\t\n"
        "good.example\t白名单\t高\t\t\t\t\n"
        "\n"
        "bad..example\t涉诈\t\t\t\t\t\n"
        "x.example\t不知道\t\t\t\t\t\n"
        "y.example\t涉诈\t101\t\t\t\t\n"
        "z.example\t涉诈\t\t\t2026-13-01\t\t\n"
    )
    result = read(
        text,
        "csv",
        kind=K.DOMAIN,
        source="feed-x",
        mapping={
            "value": "域名",
            "verdict": "结论",
            "confidence": "置信度",
            "source": "来源",
            "first_seen": "首次发现",
            "expires": "有效期",
            "note": "备注",
        },
    )
    fraud, grey, good = result.indicators
    assert fraud == Indicator(
        kind=K.DOMAIN,
        value="fraud.example",
        verdict=Verdict.FRAUD,
        confidence=0.95,
        source="上级通报",
        first_seen=dt.datetime(2026, 5, 1, 10, tzinfo=SHANGHAI),
        expires=dt.datetime(2026, 7, 1, tzinfo=SHANGHAI),  # a bare date: to the end of that day
        note="冒充客服",
    )
    assert (grey.verdict, grey.confidence, grey.source) == (Verdict.SUSPICIOUS, 0.4, "feed-x")
    assert (good.verdict, good.confidence) == (Verdict.ALLOW, 0.9)
    assert where(result) == [(6, "value"), (7, "verdict"), (8, "confidence"), (9, "first_seen")]


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_csv_delimiters_are_sniffed(delimiter: str) -> None:
    text = delimiter.join(["value", "verdict", "note"]) + "\n"
    text += delimiter.join(["a.example", "suspicious", "n"]) + "\n"
    result = read(text, "csv", kind=K.DOMAIN)
    assert [(i.value, i.verdict, i.note) for i in result.indicators] == [
        ("a.example", Verdict.SUSPICIOUS, "n")
    ]


def test_csv_header_problems_are_reported_once() -> None:
    missing = read("name,why\na.example,x\n", "csv", kind=K.DOMAIN)
    assert missing.indicators == [] and where(missing) == [(1, "value")]
    mapped = read("name,why\na.example,x\n", "csv", kind=K.DOMAIN, mapping={"value": "域名"})
    assert where(mapped) == [(1, "value")] and "域名" in mapped.problems[0].reason
    no_kind = read("value\na.example\n", "csv")
    assert where(no_kind) == [(1, "kind")]


URLHAUS = """\
################################################################
# URL list dump (CSV)                                          #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"31","2026-03-01 10:11:05","http://123.45.67.89:4353/i","online","None","malware_download","elf,mirai","https://x.example/url/31/","r"
"30","2026-03-01 10:10:07","https://Pay.Example-Shop.cn/login.php","offline","None","phishing","None","https://x.example/url/30/","r"
"""
THREATFOX = """\
# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","confidence_level","reporter"
"2026-03-01 10:00:02", "1", "evil-pay.example.top", "domain", "botnet_cc", "75", "a"
"2026-03-01 10:00:03", "2", "185.1.2.3:443", "ip:port", "botnet_cc", "100", "a"
"2026-03-01 10:00:04", "3", "http://evil-pay.example.top/gate.php", "url", "payload", "50", "a"
"""


def test_csv_whose_header_is_its_last_comment_line() -> None:
    """Feeds that write their header as a comment: the value column names the kind
    (``url``), ``threat`` is the note; the lines keep their numbers."""
    assert guess_format(URLHAUS.encode()) == "csv"
    result = read(URLHAUS, "csv")
    assert [(i.kind, i.value, i.note) for i in result.indicators] == [
        (K.URL, "http://123.45.67.89:4353/i", "malware_download"),
        (K.URL, "https://pay.example-shop.cn/login.php", "phishing"),
    ]
    assert result.problems == [] and result.stats.records == 2
    bad = read(URLHAUS.replace("http://123", "http://[123"), "csv")
    assert where(bad) == [(6, "value")]


def test_csv_of_generic_iocs_with_a_type_column_and_spaces_after_commas() -> None:
    assert guess_format(THREATFOX.encode()) == "csv"
    result = read(THREATFOX, "csv")
    assert [(i.kind, i.value, i.confidence) for i in result.indicators] == [
        (K.DOMAIN, "evil-pay.example.top", 0.75),
        (K.URL, "http://evil-pay.example.top/gate.php", 0.5),
    ]
    assert where(result) == [(3, "kind")] and "'ip:port'" in result.problems[0].reason


def test_a_commented_line_is_the_header_only_when_it_reads_better() -> None:
    """A header line equal to the comment above it is the header (no row lost); a comment
    with another number of names is only a comment."""
    same = read("# value,verdict\nvalue,verdict\na.example,fraud\n", "csv", kind=K.DOMAIN)
    assert values(same) == ["a.example"] and same.problems == []
    other = read("# url, added, why\nurl,why\nhttp://a.example/,x\n", "csv")
    assert [(i.kind, i.value, i.note) for i in other.indicators] == [
        (K.URL, "http://a.example/", None)
    ]
    assert other.problems == []


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("url", K.URL),
        ("Domain", K.DOMAIN),
        ("host", K.DOMAIN),
        ("phone_number", K.PHONE),
        ("card_number", K.ACCOUNT),
        ("package_name", K.APP),
        ("IMEI", K.DEVICE),
    ],
)
def test_csv_value_column_named_by_its_kind(header: str, kind: K) -> None:
    values_of = {
        K.URL: "http://a.example/x",
        K.DOMAIN: "a.example",
        K.PHONE: "+8613800138000",
        K.ACCOUNT: "6222021001123456789",
        K.APP: "com.example.app",
        K.DEVICE: "490154203237518",
    }
    text = f"id,{header}\n1,{values_of[kind]}\n"
    assert guess_format(text.encode()) == "csv"
    result = read(text, "csv")
    assert [(i.kind, i.value) for i in result.indicators] == [(kind, values_of[kind])]


def test_csv_kind_column_quoted_multiline_fields_and_line_numbers() -> None:
    text = (
        "\n"
        "kind,value,note\n"
        'phone,13800138000,"two\nlines"\n'
        "domain,a.example,\n"
        "planet,mars,\n"
        ",,\n"
        "url,,\n"
        'app,"com.fake.bank",""\n'
    )
    result = read(text, "csv")
    assert [(i.kind, i.value, i.note) for i in result.indicators] == [
        (K.PHONE, "+8613800138000", "two\nlines"),
        (K.DOMAIN, "a.example", None),
        (K.APP, "com.fake.bank", None),
    ]
    assert where(result) == [(6, "kind"), (8, "value")]


# --------------------------------------------------------------------------- police

POLICE = (
    "类型,值,研判结论,置信度,来源,发现时间,有效期至,备注\n"
    "号码,13800138000,涉诈,高,市局反诈中心,2026-05-01 09:30,2026-12-31,冒充公检法\n"
    "域名,例子.中国,可疑,85%,,,,\n"
    "网址,hxxp://pay[.]fake-bank.example/login,涉诈,0.9,,,,\n"
    "银行卡,6222 0210 0112 3456 789,涉诈,,,,,\n"
    "APP,com.Fake.Loan,涉诈,,,,,\n"
    "IMEI,860000000000001,可疑,低,,,,\n"
    "账户,6217000000000000000,白名单,,,,,误报\n"
    "卫星,x,涉诈,,,,,\n"
    "号码,abc,涉诈,,,,,\n"
    "号码,13900000000,已核实,,,,,\n"
)


def test_police_feed_in_utf8() -> None:
    result = read(POLICE, "police", source="feed")
    got = [(i.kind, i.value, i.verdict, i.confidence) for i in result.indicators]
    assert got == [
        (K.PHONE, "+8613800138000", Verdict.FRAUD, 0.9),
        (K.DOMAIN, "xn--fsqu00a.xn--fiqs8s", Verdict.SUSPICIOUS, 0.85),
        (K.URL, "http://pay.fake-bank.example/login", Verdict.FRAUD, 0.9),
        (K.ACCOUNT, "6222021001123456789", Verdict.FRAUD, 0.8),
        (K.APP, "com.fake.loan", Verdict.FRAUD, 0.8),
        (K.DEVICE, "860000000000001", Verdict.SUSPICIOUS, 0.3),
        (K.ACCOUNT, "6217000000000000000", Verdict.ALLOW, 0.8),
    ]
    phone = result.indicators[0]
    assert phone.source == "市局反诈中心" and phone.note == "冒充公检法"
    assert phone.first_seen == dt.datetime(2026, 5, 1, 9, 30, tzinfo=SHANGHAI)
    assert phone.expires == dt.datetime(2027, 1, 1, tzinfo=SHANGHAI)
    assert where(result) == [(9, "kind"), (10, "value"), (11, "verdict")]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-16"])
def test_police_feed_in_other_encodings(encoding: str) -> None:
    data = POLICE.encode(encoding)
    result = parse_bytes(data, FeedOptions(format="police"))
    assert len(result.indicators) == 7 and len(result.problems) == 3
    assert result.indicators[0].note == "冒充公检法"
    expected = {"gb18030": "gb18030", "utf-8-sig": "utf-8-sig", "utf-16": "utf-16"}[encoding]
    assert result.stats.encoding == expected


def test_police_value_columns_name_the_kind() -> None:
    text = (
        "涉诈号码,涉诈域名,研判结论\n"
        "13800138000,,涉诈\n"
        ",scam.example,可疑\n"
        "13900000000,x.example,涉诈\n"
    )
    result = read(text, "police")
    assert [(i.kind, i.value) for i in result.indicators] == [
        (K.PHONE, "+8613800138000"),
        (K.DOMAIN, "scam.example"),
        (K.PHONE, "+8613900000000"),  # the first value column that is not empty
    ]
    plain_value = read("值,研判结论\n13800138000,涉诈\n", "police")
    assert where(plain_value) == [(1, "kind")]
    with_kind = read("值,研判结论\n13800138000,涉诈\n", "police", kind=K.PHONE)
    assert values(with_kind) == ["+8613800138000"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.85", 0.85),
        ("85", 0.85),
        ("85%", 0.85),
        ("1", 1.0),
        ("0", 0.0),
        ("高", 0.9),
        ("中", 0.6),
        ("低", 0.3),
        ("High", 0.9),
    ],
)
def test_confidence_forms(text: str, expected: float) -> None:
    assert parse_confidence(text) == pytest.approx(expected)


# --------------------------------------------------------------------------- bad input


def test_empty_and_bom_only_files() -> None:
    kinds: dict[str, IndicatorKind | None] = {
        "plain": K.DOMAIN,
        "hosts": None,
        "csv": K.DOMAIN,
        "police": None,
        "adblock": None,
        "json": None,
    }
    for data in (b"", codecs.BOM_UTF8, b"\n\n\n", b"# nothing\n"):
        for fmt, kind in kinds.items():
            if fmt == "json" and data.startswith(b"#"):
                continue  # JSON lines have no comments: that line is a problem
            result = parse_bytes(data, FeedOptions(format=fmt, kind=kind))
            assert result.indicators == [] and result.problems == [], (data, fmt)


def test_a_gb18030_plain_file() -> None:
    data = "# 涉诈应用\n假冒银行\n贷款APP\n".encode("gb18030")
    assert detect_encoding(data) == "gb18030"
    result = parse_bytes(data, FeedOptions(format="plain", kind=K.APP))
    assert values(result) == ["假冒银行", "贷款app"]


def test_truncated_last_line_and_a_broken_character() -> None:
    data = "a.example\nb.example\n例子".encode() + "中国".encode()[:-1]  # cut mid-character
    result = parse_bytes(data, FeedOptions(format="plain", kind=K.DOMAIN))
    assert values(result) == ["a.example", "b.example"]
    assert [p.line for p in result.problems] == [3]
    no_newline = read("a.example\nb.example", "plain", kind=K.DOMAIN)
    assert values(no_newline) == ["a.example", "b.example"]


def test_a_csv_cut_inside_a_quoted_field_is_a_located_problem() -> None:
    text = '涉诈号码,类型,研判结论\n13800138000,手机,涉诈\n"1380013,手机'
    result = read(text, "police")
    assert values(result) == ["+8613800138000"]
    [problem] = result.problems
    assert problem.line == 3 and "still open at the end" in problem.reason


def test_police_number_types_in_the_kind_column() -> None:
    text = (
        "涉诈号码,类型,研判结论\n"
        "+85261234567,境外,涉诈\n02087654321,固话,涉诈\n17012345678,虚拟号,可疑\n"
    )
    result = read(text, "police")
    assert [i.kind for i in result.indicators] == [K.PHONE] * 3 and not result.problems


def test_huge_lines_are_problems_and_the_rest_still_lands() -> None:
    huge = "x" * (MAX_LINE_BYTES + 10)
    result = read(f"a.example\n{huge}\nb.example\n", "plain", kind=K.DOMAIN)
    assert values(result) == ["a.example", "b.example"]
    assert [(p.line, p.field) for p in result.problems] == [(2, None)]
    assert "64 KiB" in result.problems[0].reason
    police = read(f"类型,值\n号码,13800138000\n号码,{huge}\n号码,13900000000\n", "police")
    assert len(police.indicators) == 2 and [p.line for p in police.problems] == [3]


def test_iter_lines_never_holds_a_whole_huge_line() -> None:
    big = b"y" * (5 * 1024 * 1024)
    stream = io.BytesIO(b"a\n" + big + b"\nb\n")
    lines = list(iter_lines(stream.readline))
    assert lines[0] == b"a\n" and lines[2] == b"b\n"
    assert len(lines[1]) == MAX_LINE_BYTES + 1


def test_duplicates_are_all_given_and_normalise_to_one_value() -> None:
    result = read("A.example\na.example\na.example.\n", "plain", kind=K.DOMAIN)
    assert values(result) == ["a.example"] * 3
    assert len({i.key for i in result.indicators}) == 1


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "'; DROP TABLE indicators; --",
        "a\x00b.example",
        "\u202eexample.com",
    ],
)
def test_hostile_strings_never_become_domains(hostile: str) -> None:
    for fmt, opts in (("plain", {"kind": K.DOMAIN}), ("hosts", {}), ("police", {"kind": K.DOMAIN})):
        text = ("值\n" if fmt == "police" else "") + hostile + "\n"
        result = read(text, fmt, **opts)
        assert result.indicators == [], (fmt, hostile)
        assert len(result.problems) == 1


def test_hostile_text_values_are_kept_verbatim_but_control_characters_refused() -> None:
    result = read(
        "<script>alert(1)</script>\n'; DROP TABLE x; --\nnul\x00app\n", "plain", kind=K.APP
    )
    assert values(result) == ["<script>alert(1)</script>", "'; drop table x; --"]
    assert [(p.line, p.field) for p in result.problems] == [(3, "value")]
    assert "U+0000" in result.problems[0].reason and "\\x00" in result.problems[0].text


# --------------------------------------------------------------------------- guessing


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("0.0.0.0 a.example\n", "hosts"),
        ("# hosts\n127.0.0.1 localhost\n0.0.0.0 a.example\n", "hosts"),
        ("[Adblock Plus 2.0]\n||a.example^\n", "adblock"),
        ("! comment\n||a.example^\n", "adblock"),
        ("类型,值,研判结论\n号码,1,涉诈\n", "police"),
        ("涉诈号码\n13800138000\n", "police"),
        ("value,verdict\na.example,fraud\n", "csv"),
        ('{"kind": "domain", "value": "a.example"}\n', "json"),
        ('[\n  {"kind": "domain", "value": "a.example"}\n]\n', "json"),
        ('["a.example"]', "json"),
        ('{"type": "bundle", "id": "bundle--x", "objects": []}', "stix"),
        ("a.example\nb.example\n", "plain"),
        ("http://a.example/x?a=1,2\n", "plain"),
        ("", "plain"),
    ],
)
def test_guess_format(text: str, fmt: str) -> None:
    assert guess_format(text.encode()) == fmt


def test_guess_format_of_gb18030_police_feed_and_a_mapped_csv() -> None:
    assert guess_format(POLICE.encode("gb18030")) == "police"
    assert guess_format("域名,结论\na.example,涉诈\n".encode(), has_mapping=True) == "csv"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("13800138000", K.PHONE),
        ("+86 138 0013 8000", K.PHONE),
        ("010-12345678", K.PHONE),
        ("95588", K.PHONE),
        ("6222021001123456789", K.ACCOUNT),
        ("622202100112", K.ACCOUNT),
        ("https://a.example/x", K.URL),
        ("a.example/login", K.URL),
        ("hxxp://a[.]example", K.URL),
        ("a.example", K.DOMAIN),
        ("例子.中国", K.DOMAIN),
    ],
)
def test_guess_kind(value: str, kind: IndicatorKind) -> None:
    assert guess_kind(value) is kind


# --------------------------------------------------------------------------- export


def sample() -> list[Indicator]:
    t = dt.datetime(2026, 5, 1, 8, 30, 15, 250000, tzinfo=dt.UTC)
    return [
        Indicator(
            kind=K.DOMAIN,
            value="a.example",
            first_seen=t,
            last_seen=t,
            expires=t + dt.timedelta(days=30),
            note='引号 "x", 逗号\n换行',
        ),
        Indicator(
            kind=K.DOMAIN,
            value="good.example",
            verdict=Verdict.ALLOW,
            confidence=1.0,
            source="manual",
        ),
        Indicator(
            kind=K.PHONE,
            value="+8613800138000",
            verdict=Verdict.SUSPICIOUS,
            confidence=0.55,
            source="市局",
        ),
        Indicator(kind=K.URL, value="http://a.example/it's?q=1", source="s"),
        Indicator(kind=K.APP, value="<script>", source="s"),
    ]


@pytest.mark.parametrize("fmt", ["csv", "json", "stix"])
def test_export_then_read_gives_the_same_indicators(fmt: str) -> None:
    text = "".join(export_lines(sample(), fmt))
    back = parse_bytes(text.encode(), FeedOptions(format=fmt))
    assert back.problems == []
    if fmt == "stix":  # STIX keeps confidence in whole percent
        assert back.indicators == [
            i.model_copy(update={"confidence": round(i.confidence, 2)}) for i in sample()
        ]
    else:
        assert back.indicators == sample()
    assert guess_format(text.encode()) == fmt


def test_a_json_array_reads_like_its_json_lines() -> None:
    """An export as one JSON array (pretty-printed or not) gives what the same objects one a
    line give; elements are located at the line they start on."""
    lines = "".join(export_lines(sample(), "json")).splitlines()
    for text in ("[" + ",".join(lines) + "]", "[\n  " + ",\n  ".join(lines) + "\n]\n"):
        assert guess_format(text.encode()) == "json"
        assert read(text, "json").indicators == sample()
    values_only = read('[\n "a.example",\n "b.example"\n]', "json", kind=K.DOMAIN)
    assert values(values_only) == ["a.example", "b.example"]
    mixed = read('[\n {"VALUE": "a.example"},\n 5.5,\n "c.example",\n {"value": ', "json")
    assert values(mixed) == []
    assert [(p.line, p.field) for p in mixed.problems] == [
        (2, "kind"),
        (3, None),
        (4, "kind"),
        (5, None),
    ]
    assert mixed.problems[3].reason.startswith("not JSON: ")
    unclosed = read('[{"kind": "domain", "value": "a.example"}', "json")
    assert values(unclosed) == ["a.example"]
    assert "not closed" in unclosed.problems[0].reason


def test_json_objects_with_english_field_names() -> None:
    text = (
        '{"url": "http://a.example/x", "threat": "phishing"}\n'
        '{"ioc_value": "b.example", "ioc_type": "domain", "confidence_level": 75}\n'
        '{"phone_number": 13800138000}\n'
        '{"ioc_value": "c.example"}\n'
    )
    result = read(text, "json")
    assert [(i.kind, i.value, i.note, i.confidence) for i in result.indicators] == [
        (K.URL, "http://a.example/x", "phishing", 0.8),
        (K.DOMAIN, "b.example", None, 0.75),
        (K.PHONE, "+8613800138000", None, 0.8),
    ]
    assert where(result) == [(4, "kind")]


def test_numbers_as_police_notices_write_them() -> None:
    """A remark in brackets after a number is its note; masked numbers and several numbers
    in one value are problems that say so."""
    text = (
        "13800138000（已停机）\n"
        "+86 (0571) 8888-8888\n"
        "138****8000\n"
        "1380013XXXX\n"
        "13800138001、13900139000\n"
        "13800138002 (1)\n"
    )
    result = read(text, "plain", kind=K.PHONE)
    assert [(i.value, i.note) for i in result.indicators] == [
        ("+8613800138000", "已停机"),
        ("+8657188888888", None),  # an area code in brackets is part of the number
    ]
    reasons = [(p.line, p.reason) for p in result.problems]
    assert reasons[0] == (3, "phone: '138****8000' is masked: only a whole number can match")
    assert reasons[1][0] == 4 and "is masked" in reasons[1][1]
    several = "phone: '13800138001、13900139000' holds several numbers: give one a row"
    assert reasons[2] == (5, several)
    assert reasons[3][0] == 6 and "holds" not in reasons[3][1]  # digits in brackets: no remark
    noted = read("value,note\n6222021001123456789（工商银行）,卡\n", "csv", kind=K.ACCOUNT)
    assert [(i.value, i.note) for i in noted.indicators] == [
        ("6222021001123456789", "卡 · 工商银行")
    ]


def test_plain_and_hosts_exports() -> None:
    assert "".join(export_lines(sample(), "plain")).splitlines()[0] == "a.example"
    # hosts: domains only, and never the allow-listed ones
    assert "".join(export_lines(sample(), "hosts")) == "0.0.0.0 a.example\n"
    with pytest.raises(FeedError):
        list(export_lines(sample(), "xml"))


def test_stix_bundle_is_deterministic_and_valid() -> None:
    bundle = stix_bundle(sample())
    assert bundle == stix_bundle(sample())
    [first] = [o for o in bundle["objects"] if o["name"] == "domain a.example"]
    assert first["pattern"] == "[domain-name:value = 'a.example']"
    assert first["indicator_types"] == ["malicious-activity"] and first["confidence"] == 80
    url = next(o for o in bundle["objects"] if o["pattern"].startswith("[url:"))
    assert url["pattern"] == "[url:value = 'http://a.example/it\\'s?q=1']"


@pytest.mark.skipif(not STIX_SCHEMAS.is_dir(), reason=f"STIX 2.1 schemas not at {STIX_SCHEMAS}")
def test_exported_stix_validates_against_the_oasis_schemas() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    schemas = STIX_SCHEMAS / "schemas"
    resources = []
    for path in schemas.rglob("*.json"):
        contents = json.loads(path.read_text("utf-8"))
        resources.append((contents["$id"], referencing.Resource.from_contents(contents)))
    registry = referencing.Registry().with_resources(resources)
    indicator = json.loads((schemas / "sdos" / "indicator.json").read_text("utf-8"))
    bundle_schema = json.loads((schemas / "common" / "bundle.json").read_text("utf-8"))
    bundle = stix_bundle(sample())
    for schema, doc in [(bundle_schema, bundle), *((indicator, o) for o in bundle["objects"])]:
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == [], (doc.get("id"), errors)


def test_stix_import_reports_unsupported_patterns() -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--1",
        "objects": [
            {"type": "identity", "id": "identity--1"},
            {"type": "indicator", "pattern": "[ipv4-addr:value = '1.2.3.4']"},
            {
                "type": "indicator",
                "pattern": "[domain-name:value = 'ok.example']",
                "labels": ["suspicious"],
                "confidence": 40,
            },
        ],
    }
    result = read(json.dumps(bundle), "stix")
    assert [(i.value, i.verdict, i.confidence) for i in result.indicators] == [
        ("ok.example", Verdict.SUSPICIOUS, 0.4)
    ]
    assert where(result) == [(2, "pattern")]
    broken = read("{not json", "stix")
    assert where(broken) == [(0, None)]


# --------------------------------------------------------------------------- properties

LINE = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n\r"), max_size=80)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(LINE, max_size=20), st.sampled_from(["plain", "hosts", "adblock"]))
def test_any_text_gives_items_not_crashes(lines: list[str], fmt: str) -> None:
    options = FeedOptions(format=fmt, kind=K.DOMAIN)
    reader = FeedReader(options)
    items = list(reader.read(line.encode("utf-8") + b"\n" for line in lines))
    assert all(isinstance(i, Indicator | Problem) for i in items)
    assert reader.stats.lines == len(lines)
    if fmt == "plain":  # one item per data line, never more, never fewer
        data = [ln for ln in lines if ln.strip() and not ln.strip().startswith("#")]
        assert len(items) == len(data)
    for item in items:
        if isinstance(item, Problem):
            assert 1 <= item.line <= len(lines)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(LINE, min_size=1, max_size=5), max_size=10))
def test_any_csv_rows_never_crash(rows: list[list[str]]) -> None:
    text = "kind,value,verdict,confidence,note\n" + "\n".join(",".join(r) for r in rows)
    result = read(text, "csv")
    for problem in result.problems:
        assert problem.line >= 2


@settings(max_examples=100, deadline=None)
@given(
    st.text(max_size=40).filter(lambda s: "\x00" not in s),
    st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s),
    st.floats(min_value=0, max_value=1),
)
def test_csv_export_round_trips_any_note_and_source(
    note: str, source: str, confidence: float
) -> None:
    item = Indicator(
        kind=K.DEVICE,
        value="imei-1",
        note=note or None,
        source=source.strip() or "s",
        confidence=confidence,
    )
    back = read("".join(export_lines([item], "csv")), "csv").indicators
    # cells are read trimmed: a note of blanks only is no note
    assert back == [item.model_copy(update={"note": note.strip() or None})]


def _outcome(fn: Any, kind: IndicatorKind, raw: str) -> str:
    try:
        return str(fn(kind, raw))
    except InvalidValue:
        return "invalid"


HOSTISH = st.text(
    st.sampled_from([*"abcXYZ019-_.", ".", ".", "。", "ü", " ", "[", ":", "/"]), max_size=70
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        HOSTISH, st.text(max_size=30), st.from_regex(r"[a-z0-9]{1,70}(\.[a-z0-9-]{1,5}){1,60}\.?")
    )
)
def test_the_fast_host_path_agrees_with_normalise_value(raw: str) -> None:
    for kind in (K.DOMAIN, K.PHONE):
        assert _outcome(fast_normalise, kind, raw) == _outcome(normalise_value, kind, raw)
