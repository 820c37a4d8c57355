"""Hosts: the vectorised paths agree with the scalar parsers and a plain Python walk."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.intel.hosts import (
    hosts_of_urls,
    is_public_suffix,
    normalise_hosts,
    suffix_match,
)
from fanzha.intel.keyset import KeySet
from fanzha.model import values

LABEL = st.sampled_from(
    [
        "a",
        "b",
        "ex-ample",
        "Example",
        "WWW",
        "com",
        "cn",
        "co",
        "uk",
        "xn--p1ai",
        "例子",
        "中国",
        "bücher",
        "0",
        "12",
        "255",
        "_dmarc",
        "-x",
        "a" * 63,
        "b" * 64,
        "",
    ]
)
HOSTISH = st.builds(
    lambda labels, trail, port, user, pad: pad + user + ".".join(labels) + trail + port + pad[::-1],
    st.lists(LABEL, min_size=1, max_size=5),
    st.sampled_from(["", ".", ".."]),
    st.sampled_from(["", ":8080", ":0", ":", ":99999", ":443"]),
    st.sampled_from(["", "user@", "user:pw@", "@"]),
    st.sampled_from(["", " ", "\t", "\u3000"]),
)
ODD = st.sampled_from(
    [
        "",
        " ",
        ".",
        "..",
        "1.2.3.4",
        "01.2.3.4",
        "1.2.3.256",
        "1.2.3",
        "[::1]",
        "::1",
        "[2001:DB8::1]",
        "[fe80::1%eth0]",
        "a/b",
        "a?b",
        "a#b",
        "http://a.b/c",
        "a b",
        "ｅｘａｍｐｌｅ.com",
        "例子。中国",
        "a\x00b",
        "x" * 300,
        "hxxp://evil[.]com",
        "a..b",
        ".a",
        "a.",
        "A.B.",
        "1.2.3.4.",
    ]
)


def scalar_host(raw: str) -> str | None:
    try:
        return values.parse_domain(raw)
    except values.InvalidValue:
        return None


def scalar_url_host(raw: str) -> str | None:
    try:
        return values.parse_url(raw).host
    except values.InvalidValue:
        return None


@settings(max_examples=200, deadline=None)
@given(st.lists(HOSTISH | ODD | st.text(max_size=20), max_size=30))
def test_normalise_hosts_agrees_with_parse_domain(raws: list[str]) -> None:
    got = normalise_hosts(raws).to_pylist()
    for raw, host in zip(raws, got, strict=True):
        want = scalar_host(raw)
        if want is not None:
            assert host == want, raw
        else:  # beyond parse_domain, only "user:pass@host" is read (as the host)
            assert host is None or "@" in raw, raw


def test_normalise_hosts_examples() -> None:
    raws = [
        "WWW.EXAMPLE.COM.",
        "a.b",
        "",
        None,
        "例え.jp",
        "user:pass@a.com",
        "a..b",
        "1.2.3.4",
        "1.2.3.400",
        "a.com:8080",
        " a.com ",
        "[::1]",
        "x" * 64 + ".com",
        "a.123",
    ]
    assert normalise_hosts(raws).to_pylist() == [
        "www.example.com", "a.b", None, None, "xn--r8jz45g.jp", "a.com", None, "1.2.3.4",
        None, "a.com", "a.com", "::1", None, None,
    ]  # fmt: skip


def test_normalise_hosts_keeps_clean_arrays() -> None:
    clean = pa.array(["a.com", "b.example.cn", None])
    assert normalise_hosts(clean) is clean
    sliced = pa.array(["X.COM", "a.com", "B.COM."]).slice(1, 2)
    assert normalise_hosts(sliced).to_pylist() == ["a.com", "b.com"]
    assert normalise_hosts(pa.array(["A.com"], pa.large_string())).to_pylist() == ["a.com"]
    assert normalise_hosts([]).to_pylist() == []


URLISH = st.builds(
    lambda scheme, user, host, port, path: scheme + user + host + port + path,
    st.sampled_from(
        [
            "",
            "http://",
            "https://",
            "HTTP://",
            "hxxp://",
            "hxxps://",
            "//",
            "ftp://",
            "http:",
            "mailto:",
            "javascript:",
            " http://",
        ]
    ),
    st.sampled_from(["", "user@", "user:pw@", "u:1@", "a@b@", "[x]@"]),
    HOSTISH | st.sampled_from(["evil[.]com", "[::1]", "[2001:db8::1]", "例子.中国", "a_b.c"]),
    st.sampled_from(["", ":80", ":8080", ":0", ":", ":65535", ":65536", ":x"]),
    st.sampled_from(
        ["", "/", "/x?y#z", "?q", "#f", "\\@evil.com", "/a b", "/\x01", "/路径", " \t"]
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(URLISH | ODD | st.text(max_size=20), max_size=30))
def test_hosts_of_urls_agrees_with_parse_url(raws: list[str]) -> None:
    got = hosts_of_urls(raws).to_pylist()
    assert got == [scalar_url_host(raw) for raw in raws]


def test_hosts_of_urls_examples() -> None:
    urls = [
        "http://user:pw@a.example.com:8080/x?y",
        "hxxps://evil[.]com/a",
        "ftp://a.com",
        "a.com/x",
        "http://[::1]:80/",
        "//A.COM",
        "http://例え.jp/x",
        None,
        "",
        "http://a.com:0/",
        "evil.com\\@bank.com",
    ]
    assert hosts_of_urls(urls).to_pylist() == [
        "a.example.com", "evil.com", None, "a.com", "::1", "a.com", "xn--r8jz45g.jp", None,
        None, None, "evil.com",
    ]  # fmt: skip


# ------------------------------------------------------------------------- domain walk


def reference_walk(keys: list[str], host: str | None) -> int:
    """The first key (index) equal to the host or a parent domain, most specific first."""
    if host is None:
        return -1
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    if ":" in host or host.rsplit(".", 1)[-1].isdigit():
        return first.get(host, -1)  # IP addresses only match exactly
    labels = host.split(".")
    for i in range(len(labels)):
        found = first.get(".".join(labels[i:]))
        if found is not None:
            return found
    return -1


WALK_LABEL = st.sampled_from(["a", "b", "ab", "ba", "x-y", "com", "cn", "1", "2"])
DOMAIN = st.lists(WALK_LABEL, min_size=1, max_size=4).map(".".join)


@settings(max_examples=150, deadline=None)
@given(
    keys=st.lists(DOMAIN, max_size=15),
    hosts=st.lists(
        st.none() | DOMAIN | st.sampled_from(["1.2.3.4", "::1", "a.1", ""]), max_size=25
    ),
)
def test_suffix_match_agrees_with_a_label_walk(keys: list[str], hosts: list[str | None]) -> None:
    ks = KeySet.build(keys)
    got = suffix_match(ks, hosts).tolist()
    assert got == [reference_walk(keys, h) for h in hosts]


def test_suffix_match_examples() -> None:
    ks = KeySet.build(["example.com", "b.example.com", "1.2.3.4", "3.4"])
    hosts = normalise_hosts(
        ["a.b.example.com", "EXAMPLE.COM.", "notexample.com", "example.com.cn", "ample.com",
         "1.2.3.4", "5.1.2.3.4", None, "x.example.com", "a.ample.com"]
    )  # fmt: skip
    assert suffix_match(ks, hosts).tolist() == [1, 0, -1, -1, -1, 2, -1, -1, 0, -1]


# ---------------------------------------------------------------------- public suffixes


@pytest.fixture(scope="module")
def extractor() -> object:
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def psl_hosts() -> list[str]:
    import tldextract

    rules = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)._get_tld_extractor()
    hosts = []
    for rule in rules.tlds(include_psl_private_domains=False):
        name = rule.lstrip("!").removeprefix("*.")
        puny = ".".join(
            label if label.isascii() else label.encode("idna").decode() for label in name.split(".")
        )
        hosts += [puny, "x." + puny, "www." + puny, "a.b." + puny]
    return hosts


def test_is_public_suffix_agrees_with_tldextract(extractor: object) -> None:
    hosts = [*psl_hosts(), "example.com", "internal", "foo.internal", "localhost", "1.2.3.4"]
    got = is_public_suffix(hosts).tolist()
    for host, suffix in zip(hosts, got, strict=True):
        parts = extractor(host)  # type: ignore[operator]
        assert suffix == (parts.suffix == host and not parts.domain), host


def test_is_public_suffix_examples() -> None:
    hosts = [
        "com",
        "co.uk",
        "example.com",
        "x.ck",
        "www.ck",
        "kawasaki.jp",
        "a.kawasaki.jp",
        "city.kawasaki.jp",
        "xn--p1ai",
        None,
        "",
        "com.cn",
        "github.io",
    ]
    assert is_public_suffix(hosts).tolist() == [
        True, True, False, True, False, False, True, False, True, False, False, True, False
    ]  # fmt: skip
