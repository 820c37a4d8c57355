"""The small index of ``fanzha intel check``: the keys it fetches, and that for random stores
and random values it answers exactly as the index of the whole store."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.intel.candidates import candidate_keys, index_for
from fanzha.intel.feeds import guess_kind
from fanzha.intel.index import IntelIndex
from fanzha.intel.model import Indicator, IndicatorKind, Verdict, normalise_value
from fanzha.intel.repo import MemoryIndicatorRepo
from fanzha.model.clock import ManualClock
from fanzha.model.values import InvalidValue

K = IndicatorKind
NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)


def test_hosts_fetch_the_host_and_every_parent() -> None:
    got = candidate_keys([(K.DOMAIN, "WWW.Shop.Example.CO.UK.")])
    assert got.keys == {(K.DOMAIN, h) for h in
                        ("www.shop.example.co.uk", "shop.example.co.uk", "example.co.uk",
                         "co.uk", "uk")}  # fmt: skip
    assert not got.phone_prefixes


def test_urls_fetch_the_url_and_the_walk_of_its_host() -> None:
    got = candidate_keys([(K.URL, "http://user:pw@WWW.例子.中国:8080/login?x=1")])
    url = "http://user:pw@www.xn--fsqu00a.xn--fiqs8s:8080/login?x=1"
    assert got.keys == {
        (K.URL, url),
        (K.DOMAIN, "www.xn--fsqu00a.xn--fiqs8s"),
        (K.DOMAIN, "xn--fsqu00a.xn--fiqs8s"),
        (K.DOMAIN, "xn--fiqs8s"),
    }
    assert (K.DOMAIN, "1.2.3.4") in candidate_keys([(K.URL, "http://1.2.3.4:81/x")]).keys


def test_phones_fetch_the_number_and_ask_for_the_prefixes() -> None:
    got = candidate_keys([(K.PHONE, "+86 138-0013-8000"), (K.ACCOUNT, "6222 0210 0112 3456 789")])
    assert got.keys == {(K.PHONE, "+8613800138000"), (K.ACCOUNT, "6222021001123456789")}
    assert got.phone_prefixes


def test_other_kinds_and_invalid_values() -> None:
    got = candidate_keys([(K.APP, " Com.Fake.Bank "), (K.DEVICE, "861234567890123"),
                          (K.DOMAIN, "not a host"), (K.PHONE, "call me")])  # fmt: skip
    assert got.keys == {(K.APP, "com.fake.bank"), (K.DEVICE, "861234567890123")}
    assert not got.phone_prefixes


def test_the_small_index_holds_only_what_could_match() -> None:
    repo = MemoryIndicatorRepo(ManualClock(NOW))
    many = [Indicator(kind=K.DOMAIN, value=f"h{i}.example.com") for i in range(500)]
    repo.upsert_many(
        [*many, Indicator(kind=K.DOMAIN, value="example.com", verdict=Verdict.ALLOW),
         Indicator(kind=K.PHONE, value="+86170*", verdict=Verdict.SUSPICIOUS)],
        actor="import:x", reason="r",
    )  # fmt: skip
    small = index_for(repo, [(K.DOMAIN, "a.h7.example.com")], at=NOW)
    assert sorted(i.value for i in small.indicators) == ["example.com", "h7.example.com"]
    [answer] = small.check(K.DOMAIN, ["a.h7.example.com"])
    assert (answer.verdict, answer.matched) == ("allow", "example.com")
    [phone] = index_for(repo, [(K.PHONE, "17012345678")], at=NOW).check(K.PHONE, ["17012345678"])
    assert (phone.verdict, phone.matched) == ("suspicious", "+86170*")


# --------------------------------------------------------- equivalence with the full index

LABEL = st.sampled_from(["a", "www", "Evil", "例子", "xn--fsqu00a", "1", "b-c"])
# listed domains, public suffixes (refused by the index) and single labels among them
BASE = st.sampled_from(["example.com", "evil.example.com", "shop.co.uk", "例子.中国", "github.io",
                        "a.github.io", "corp", "com", "co.uk", "中国", "example"])  # fmt: skip
IP = st.sampled_from(["1.2.3.4", "10.0.0.1", "[::1]", "2001:db8::1"])
LISTED = BASE | st.builds(lambda label, base: f"{label}.{base}", LABEL, BASE) | IP
HOST = st.builds(lambda labels, base: ".".join([*labels, base]), st.lists(LABEL, max_size=3), BASE)
HOST |= IP
# what a value in a message or a feed looks like around its host
URL = st.builds(
    lambda scheme, cred, host, port, path: f"{scheme}{cred}{host}{port}{path}",
    st.sampled_from(["http://", "https://", "HTTPS://", "hxxp://", ""]),
    st.sampled_from(["", "user:pw@", "u@"]),
    HOST,
    st.sampled_from(["", ":8080", ":443"]),
    st.sampled_from(["/", "/login", "/a?b=1#c", "/Pay/Now"]),
)
HOST_AS_GIVEN = st.builds(
    lambda host, upper, tail: (host.upper() if upper else host) + tail,
    HOST,
    st.booleans(),
    st.sampled_from(["", ".", " "]),
)
NATIONAL = st.sampled_from(["13800138000", "13800138001", "17012345678", "17112345678",
                            "13912345678", "16512345678"])  # fmt: skip
PHONE = st.builds(
    lambda n, style: style.format(n=n, a=n[:3], b=n[3:7], c=n[7:]),
    NATIONAL,
    st.sampled_from(["{n}", "+86{n}", "0086{n}", "+86 {a} {b} {c}", "{a}-{b}-{c}", "(+86){n}"]),
)
PREFIX = st.builds(
    lambda n, cut, style: style.format(p=n[:cut]),
    NATIONAL,
    st.integers(2, 8),
    st.sampled_from(["+86{p}*", "0086{p}*", "+86 {p}*", "+86{p}* ", "{p}*"]),
)
ACCOUNT = st.sampled_from(["6222021001123456789", "6217 0000 0000 0000 000", "622202100112"])
APP = st.sampled_from(["com.fake.bank", "Com.Fake.Bank", " com.zoom.videomeetings", "远程协助"])
DEVICE = st.sampled_from(["861234567890123", "861234567890124"])
VALUE = st.one_of(
    st.tuples(st.just(K.DOMAIN), HOST_AS_GIVEN),
    st.tuples(st.just(K.URL), URL),
    st.tuples(st.just(K.PHONE), PHONE),
    st.tuples(st.just(K.ACCOUNT), ACCOUNT),
    st.tuples(st.just(K.APP), APP),
    st.tuples(st.just(K.DEVICE), DEVICE),
)
EXPIRES = st.sampled_from([None, NOW - dt.timedelta(hours=1), NOW, NOW + dt.timedelta(days=1)])
ENTRY = st.tuples(
    st.one_of(VALUE, st.tuples(st.just(K.DOMAIN), LISTED), st.tuples(st.just(K.PHONE), PREFIX)),
    st.sampled_from(list(Verdict)),
    st.sampled_from([0.5, 0.9]),
    EXPIRES,
    st.sampled_from(["import:feed-a", "manual:officer"]),
)


def stored(entry: tuple[tuple[K, str], Verdict, float, dt.datetime | None, str]) -> Indicator:
    """An indicator as a writer stores it: the value normalised, prefixes as written (no
    writer normalises them; the index does)."""
    (kind, raw), verdict, confidence, expires, source = entry
    value = raw if raw.strip().endswith("*") else normalise_value(kind, raw)
    return Indicator(kind=kind, value=value, verdict=verdict, confidence=confidence,
                     expires=expires, source=source)  # fmt: skip


def answers(index: IntelIndex, checks: list[tuple[K, str]]) -> list[object]:
    return [index.check(kind, [raw])[0] for kind, raw in checks]


def near(domain: str) -> st.SearchStrategy[tuple[K, str]]:
    """Values below a listed domain: a subdomain, a URL on one, the domain in upper case."""
    return st.builds(
        lambda label, form: form.format(label=label, d=domain, D=domain.upper()),
        LABEL,
        st.sampled_from(["{label}.{d}", "{D}.", "https://u:p@{label}.{D}:8443/x?y=1"]),
    ).map(lambda raw: (guess_kind(raw), raw))


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(ENTRY, min_size=1, max_size=30), guessed=st.booleans(), data=st.data())
def test_the_small_index_answers_as_the_full_one(
    entries: list[tuple[tuple[K, str], Verdict, float, dt.datetime | None, str]],
    guessed: bool,
    data: st.DataObject,
) -> None:
    repo = MemoryIndicatorRepo(ManualClock(NOW))
    for entry in entries:
        try:
            indicator = stored(entry)
        except InvalidValue:
            continue
        # one at a time, by the actor the entry names: a person's allow stays
        repo.upsert_many([indicator], actor=indicator.source, reason="r")
    checks = data.draw(st.lists(VALUE, min_size=1, max_size=8), label="checks")
    listed = [
        i.value for i in repo.all(K.DOMAIN) if not i.value[-1].isdigit() and ":" not in i.value
    ]
    if listed:
        below = st.lists(st.sampled_from(listed).flatmap(near), min_size=1, max_size=6)
        checks += data.draw(below, label="below listed domains")
    # as the CLI reads them: each value's kind guessed, or given
    if guessed:
        checks = [(guess_kind(raw), raw) for _, raw in checks]
    full = IntelIndex.build(repo.all(active_at=NOW), at=NOW)
    small = index_for(repo, checks, at=NOW)
    assert len(small) <= len(full)
    assert answers(small, checks) == answers(full, checks)
