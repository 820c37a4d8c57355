"""IntelIndex: the worked examples of the issue, and lookups against a plain Python model."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.intel.index import Explained, IntelIndex, Matches, normalise_prefix
from fanzha.intel.model import Indicator, IndicatorKind, Verdict
from fanzha.model import values

K = IndicatorKind
NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)


def dom(value: str, verdict: Verdict = Verdict.FRAUD, **kw: object) -> Indicator:
    return Indicator(kind=K.DOMAIN, value=value, verdict=verdict, **kw)


@pytest.fixture(scope="module")
def index() -> IntelIndex:
    return IntelIndex.build(
        [
            dom("example.com", confidence=0.9, source="blocklistproject"),
            dom("good.example.com", Verdict.ALLOW),
            dom("com"),
            dom("co.uk", Verdict.ALLOW),
            dom("expired.org", expires=NOW - dt.timedelta(seconds=1)),
            dom("later.org", expires=NOW + dt.timedelta(days=1)),
            dom("bad..com"),
            Indicator(kind=K.PHONE, value="+86170*", verdict=Verdict.SUSPICIOUS),
            Indicator(kind=K.PHONE, value="13800138000"),
            Indicator(kind=K.URL, value="HTTP://Evil.org/login"),
            Indicator(kind=K.APP, value="Com.Fake.Bank"),
            Indicator(kind=K.ACCOUNT, value="6222 0212 3456 7890 128"),
            Indicator(kind=K.DEVICE, value="861234567890123"),
        ],
        at=NOW,
    )


def verdicts(m: Matches) -> list[int]:
    return [int(v) for v in m.verdict]


def test_domain_block_matches_host_and_subdomains_only(index: IntelIndex) -> None:
    m = index.hosts(["WWW.EXAMPLE.COM.", "example.com", "notexample.com", "example.com.cn",
                     "ample.com", None, ""])  # fmt: skip
    assert verdicts(m) == [2, 2, -1, -1, -1, -1, -1]
    assert index.indicator(int(m.indicator[0])).value == "example.com"
    assert m.confidence[0] == pytest.approx(0.9)
    assert m.confidence[2] == 0
    assert m.verdict.dtype == np.int8 and m.indicator.dtype == np.int64
    assert m.confidence.dtype == np.float32
    assert m.blocked.tolist() == [True, True, False, False, False, False, False]


def test_urls_exact_then_host(index: IntelIndex) -> None:
    m = index.urls(
        [
            "http://user:pw@a.example.com:8080/x?y",
            "http://evil.org/login",
            "http://evil.org/other",
            "http://x.good.example.com/",
            "ftp://example.com",
        ]
    )
    assert verdicts(m) == [2, 2, -1, 0, -1]
    assert index.indicator(int(m.indicator[1])).kind is K.URL


def test_public_suffixes_are_refused(index: IntelIndex) -> None:
    reasons = {ind.value: reason for ind, reason in index.rejected}
    assert "public suffix" in reasons["com"]
    assert "block every domain" in reasons["com"]
    assert "allow every domain" in reasons["co.uk"]
    assert "empty label" in reasons["bad..com"]
    assert all(ind.value not in {"com", "co.uk"} for ind in index.indicators)
    assert verdicts(index.hosts(["a.com", "b.co.uk"])) == [-1, -1]


def test_allow_beats_block_in_the_walk(index: IntelIndex) -> None:
    m = index.hosts(["x.good.example.com", "good.example.com", "bad.example.com"])
    assert verdicts(m) == [0, 0, 2]
    assert index.indicator(int(m.indicator[0])).value == "good.example.com"


def test_expired_indicators_are_ignored(index: IntelIndex) -> None:
    assert verdicts(index.hosts(["expired.org", "later.org"])) == [-1, 2]
    naive = IntelIndex.build([dom("a.org", expires=dt.datetime(2026, 5, 1, 11))], at=NOW)
    assert verdicts(naive.hosts(["a.org"])) == [-1]
    assert verdicts(IntelIndex.build([dom("a.org", expires=NOW)], at=NOW).hosts(["a.org"])) == [-1]


def test_phones_exact_and_prefix(index: IntelIndex) -> None:
    m = index.phones(["+8617012345678", "+8613800138000", "+8613900000000", "+86170", None])
    assert verdicts(m) == [1, 2, -1, 1, -1]
    assert index.indicator(int(m.indicator[0])).value == "+86170*"


def test_longest_prefix_and_allowed_prefix() -> None:
    ix = IntelIndex.build(
        [Indicator(kind=K.PHONE, value="13800138000")],
        phone_prefixes=[
            Indicator(kind=K.PHONE, value="+86 170", verdict=Verdict.SUSPICIOUS),
            Indicator(kind=K.PHONE, value="0086170123*", verdict=Verdict.FRAUD),
            Indicator(kind=K.PHONE, value="+86138*", verdict=Verdict.ALLOW),
            Indicator(kind=K.PHONE, value="170*"),
        ],
    )
    assert [i.value for i in ix.indicators] == ["+8613800138000", "+86170*", "+86170123*",
                                                "+86138*"]  # fmt: skip
    assert next(r for _, r in ix.rejected).startswith("number prefix '170*'")
    m = ix.phones(["+8617012345678", "+8617099999999", "+8613800138000"])
    assert verdicts(m) == [2, 1, 0]  # the longest prefix; allow wins over the exact block


def test_other_kinds(index: IntelIndex) -> None:
    assert verdicts(index.apps(["com.fake.bank", " COM.FAKE.BANK ", "x"])) == [2, 2, -1]
    assert verdicts(index.accounts(["6222021234567890128", "6222021234567890129"])) == [2, -1]
    assert verdicts(index.devices(["861234567890123", "0"])) == [2, -1]
    assert verdicts(IntelIndex.build([]).hosts(["a.com"])) == [-1]


def test_duplicates_keep_the_highest_verdict() -> None:
    ix = IntelIndex.build(
        [
            dom("a.org", Verdict.SUSPICIOUS, source="one"),
            dom("A.ORG", Verdict.FRAUD, source="two"),
            dom("a.org.", Verdict.SUSPICIOUS, source="three"),
            dom("a.org", Verdict.ALLOW, source="four"),
            dom("b.org", Verdict.FRAUD, source="one"),
            dom("b.org", Verdict.FRAUD, source="two"),
        ]
    )
    assert [(i.value, i.verdict.value, i.source) for i in ix.indicators] == [
        ("a.org", "fraud", "two"),
        ("a.org", "allow", "four"),
        ("b.org", "fraud", "one"),
    ]
    assert verdicts(ix.hosts(["a.org", "b.org"])) == [0, 2]


def test_check_explains() -> None:
    ix = IntelIndex.build(
        [
            dom("example.com", confidence=0.9, source="blocklistproject"),
            dom("good.example.com", Verdict.ALLOW, source="analyst"),
        ]
    )
    assert [f.name for f in dataclasses.fields(Explained)] == [
        "value", "normalised", "kind", "verdict", "matched", "reason", "reason_zh", "source",
        "confidence",
    ]  # fmt: skip
    a, b, c, d = ix.check(K.DOMAIN, ["www.Example.com", "x.good.example.com", "a.org", "a b"])
    assert (a.normalised, a.verdict, a.matched) == ("www.example.com", "fraud", "example.com")
    assert a.reason == (
        "parent domain example.com is blocked (fraud, source blocklistproject, confidence 0.9)"
    )
    assert "上级域名 example.com" in a.reason_zh and "涉诈" in a.reason_zh
    assert (a.source, a.confidence) == ("blocklistproject", 0.9)
    assert (b.verdict, b.matched) == ("allow", "good.example.com")
    assert "allow list" in b.reason and "白名单" in b.reason_zh
    assert (c.verdict, c.matched, c.reason) == ("none", None, "no indicator matches")
    assert d.verdict == "invalid" and d.normalised is None and "invalid character" in d.reason
    (e,) = ix.check(K.DOMAIN, ["example.com"])
    assert e.reason.startswith("domain example.com is blocked")
    (u,) = ix.check(K.URL, ["hxxp://a.example[.]com/x"])
    assert u.verdict == "fraud" and u.reason.startswith("the URL's host a.example.com: parent")


def test_prefix_normalisation() -> None:
    assert normalise_prefix("+86 170*") == "+86170"
    assert normalise_prefix("0086-171") == "+86171"
    with pytest.raises(values.InvalidValue):
        normalise_prefix("abc*")


# ------------------------------------------------------------------- from_columns


def test_from_columns() -> None:
    raw = pa.array(
        ["example.com", "WWW.Foo.CN.", "com", "bad..x", None, "example.com", "例子.中国", "A.b.Cn"]
    )
    ix = IntelIndex.from_columns(K.DOMAIN, raw, Verdict.FRAUD, 0.9, "list")
    assert len(ix) == len(raw)  # indicator i is row i; rejected rows never match
    assert {ind.value for ind, _ in ix.rejected} == {"com", "bad..x"}
    m = ix.hosts(["a.example.com", "www.foo.cn", "foo.cn", "x.例子.中国", "a.b.cn", "com"])
    assert verdicts(m) == [2, 2, -1, 2, 2, -1]
    assert m.indicator.tolist() == [0, 1, -1, 6, 7, -1]  # the first of duplicates
    hit = ix.indicator(1)
    assert (hit.value, hit.verdict, hit.confidence, hit.source) == ("www.foo.cn", Verdict.FRAUD,
                                                                     0.9, "list")  # fmt: skip
    assert ix.indicator(6).value == "xn--fsqu00a.xn--fiqs8s"
    assert [i.value for i in ix.indicators[5:]] == ["example.com", "xn--fsqu00a.xn--fiqs8s",
                                                    "a.b.cn"]  # fmt: skip
    assert ix.matched_values(m.indicator).to_pylist() == [
        "example.com", "www.foo.cn", None, "xn--fsqu00a.xn--fiqs8s", "a.b.cn", None
    ]  # fmt: skip
    assert ix.check(K.DOMAIN, ["x.example.com"])[0].matched == "example.com"


def test_from_columns_duplicates_across_fixes() -> None:
    """A value given as is and in a form that needs normalising: the first row wins."""
    ix = IntelIndex.from_columns(K.DOMAIN, ["A.COM", "a.com", "b.com", "B.COM."])
    assert ix.hosts(["a.com", "x.b.com"]).indicator.tolist() == [0, 2]


def test_from_columns_other_kinds() -> None:
    phones = IntelIndex.from_columns(K.PHONE, ["13800138000", "+8613900000000", "xyz", "A" * 20])
    assert verdicts(phones.phones(["+8613800138000", "+8613900000000", "a" * 20])) == [2, 2, 2]
    assert next(r for _, r in phones.rejected).startswith("phone number 'xyz'")
    apps = IntelIndex.from_columns(K.APP, ["Com.X", "com.y"], Verdict.ALLOW)
    assert verdicts(apps.apps(["com.x", "COM.Y", "z"])) == [0, 0, -1]
    with pytest.raises(ValueError, match="confidence"):
        IntelIndex.from_columns(K.APP, ["a"], confidence=2.0)


# --------------------------------------------------------------- against a plain model

LABELS = st.sampled_from(["a", "b", "shop", "pay", "com", "cn", "co", "uk", "1", "2", "例子"])
NAME = st.lists(LABELS, min_size=1, max_size=4).map(".".join)
ENTRY = st.tuples(NAME, st.sampled_from(list(Verdict)))
# hosts as they arrive: upper case, a trailing dot, a port, surrounding space
QUERY = st.builds(
    lambda name, upper, tail: (name.upper() if upper else name) + tail,
    NAME,
    st.booleans(),
    st.sampled_from(["", ".", ":8080", " ", ".."]),
)


def model_lookup(ix: IntelIndex, raw: str | None) -> int:
    """Plain Python: normalise with parse_domain, walk the labels; the most specific allow
    entry wins, else the most specific block entry."""
    if raw is None:
        return -1
    try:
        host = values.parse_domain(raw)
    except values.InvalidValue:
        return -1
    allow: dict[str, int] = {}
    block: dict[str, int] = {}
    for i, ind in enumerate(ix.indicators):
        (allow if ind.verdict is Verdict.ALLOW else block)[ind.value] = i
    if ":" in host or host.rsplit(".", 1)[-1].isdigit():
        levels = [host]
    else:
        labels = host.split(".")
        levels = [".".join(labels[i:]) for i in range(len(labels))]
    for table in (allow, block):
        for level in levels:
            if level in table:
                return table[level]
    return -1


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(ENTRY, max_size=15), hosts=st.lists(st.none() | QUERY, max_size=20))
def test_hosts_agree_with_a_plain_model(
    entries: list[tuple[str, Verdict]], hosts: list[str | None]
) -> None:
    ix = IntelIndex.build([dom(v, verdict) for v, verdict in entries])
    suffixes = {ind.value for ind, _ in ix.rejected}
    assert all(i.value not in suffixes for i in ix.indicators)
    got = ix.hosts(hosts).indicator.tolist()
    assert got == [model_lookup(ix, h) for h in hosts]
    # a block list given as columns answers the same
    blocks = [v for v, verdict in entries if verdict is not Verdict.ALLOW]
    cols = IntelIndex.from_columns(K.DOMAIN, blocks)
    plain = IntelIndex.build([dom(v) for v in blocks])
    want = [-1 if i < 0 else plain.indicator(i).value for i in plain.hosts(hosts).indicator]
    have = [-1 if i < 0 else cols.indicator(i).value for i in cols.hosts(hosts).indicator]
    assert have == want
