"""Per-value attributes of the frame builder: computed once per distinct value, in the order
values first appear, and the same as computing them row by row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fanzha.detect.frame import (
    COLUMNS,
    FrameBuilder,
    PerValue,
    Values,
    phone_flag,
    phone_flags,
)
from fanzha.detect.intel_view import IntelView
from fanzha.detect.kernels import SMALL
from fanzha.detect.registry import Registry
from fanzha.detect.text import classify_texts
from fanzha.intel.index import IntelIndex
from fanzha.intel.model import IndicatorKind

from .factories import flagged

I64 = np.int64
batches_st = st.lists(
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "bb", "c", "dd", "+8613800000000"]))),
    max_size=6,
)


@settings(max_examples=100, deadline=None)
@given(batches_st)
def test_per_value_attributes_are_computed_once_in_order(batches: list[list[str | None]]) -> None:
    seen: list[str] = []

    def length_and_first(values: Values, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen.extend(values.py)
        assert values.arrow.to_pylist() == values.py
        lengths = np.asarray(pc.utf8_length(values.arrow).to_numpy(), I64)
        return lengths, ids.astype(I64) * 10

    cache = PerValue()
    order: list[str] = []
    for batch in batches:
        ids = cache.ids(pa.array(batch, pa.string()))
        lengths, tens = cache.get_all(("len", "ten"), ids, length_and_first, (-1, -2))
        assert lengths.tolist() == [-1 if v is None else len(v) for v in batch]
        assert tens.tolist() == [-2 if i < 0 else 10 * i for i in ids.tolist()]
        for v in batch:
            if v is not None and v not in order:
                order.append(v)
    # Each distinct value was computed exactly once, in the order values first appeared.
    assert seen == order
    assert cache.values.values == order


NUMBER = st.text(alphabet="+8613702459 ", max_size=8).map(
    lambda s: "+86" + s if s[:1] == "1" else s
)


@settings(max_examples=60, deadline=None)
@given(st.lists(NUMBER, max_size=40))
def test_phone_flags_plain_and_arrow_agree(numbers: list[str]) -> None:
    """Few numbers are classed in plain Python, many with Arrow kernels: the same bits."""
    plain = [phone_flag(n) for n in numbers]
    padded = pa.array(["+8613800000000"] * (SMALL + 1) + numbers, pa.string())
    assert phone_flags(padded).tolist()[SMALL + 1 :] == plain
    assert phone_flags(pa.array(numbers, pa.string())).tolist() == plain


URL = st.one_of(
    st.text(alphabet="htps:/@wWxX.-?#:09é", max_size=24),
    st.builds(
        "{}://{}{}{}".format,
        st.sampled_from(["http", "HTTPS", "ftp"]),
        st.sampled_from(["", "user:pw@", "a@b@"]),
        st.sampled_from(["Example.COM", "xn--fiq228c.cn", "10.0.0.1", "ÉCOLE.fr", "a"]),
        st.sampled_from(["", ":8080", "/p?q#f", "/İ"]),
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(URL, max_size=12))
def test_url_hosts_of_few_and_many_urls_agree(urls: list[str]) -> None:
    """A few URLs take Python's regex, many Arrow's: the same host ids, non-ASCII included."""
    one, other = FrameBuilder(Registry(), IntelView()), FrameBuilder(Registry(), IntelView())
    few = one._url_host(Values(py=list(urls)), np.zeros(0, I64)).tolist()
    padded = ["http://pad.example/"] * (SMALL + 1) + urls
    many = other._url_host(Values(py=padded), np.zeros(0, I64))[SMALL + 1 :].tolist()
    assert len(few) == len(many) == len(urls)
    assert [-1 if i < 0 else one.domains.values.value(i) for i in few] == [
        -1 if i < 0 else other.domains.values.value(i) for i in many
    ]


def _calls(callees: list[str]) -> pa.Table:
    n = len(callees)
    return pa.table(
        {
            "event_id": [f"c{i}" for i in range(n)],
            "ts": pa.array(
                [1_700_000_000_000_000 + i for i in range(n)], pa.timestamp("us", "UTC")
            ),
            "callee": callees,
            "caller": ["+8617000000000"] * n,
            "duration_s": [60] * n,
        }
    )


RESIDENT_PHONES = ["+8613800000001", "+8613800000002"]
OUTSIDER = st.integers(0, 10**6).map(lambda i: f"+86139{i:08d}")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(RESIDENT_PHONES), OUTSIDER), min_size=1, max_size=3 * SMALL),
    st.booleans(),
)
@example([f"+86139{i:08d}" for i in range(SMALL + 5)] + RESIDENT_PHONES, False)  # Arrow's path
def test_a_residents_numbers_and_accounts_share_one_subject_key(
    callees: list[str], account_first: bool
) -> None:
    """The resident's ID number whichever of its values comes first, few rows or many; an
    outsider's ``phone:`` key otherwise."""
    persons = pa.table(
        {
            "id_number": ["110101199001011234"],
            "phones": [["+8613800000001", "+8613800000002"]],
            "accounts": [["6222000011112222"]],
        }
    )
    builder = FrameBuilder(Registry(persons), IntelView())
    transfer = pa.table(
        {
            "event_id": ["t0"],
            "ts": pa.array([1_700_000_000_000_000], pa.timestamp("us", "UTC")),
            "payer_account": ["6222000011112222"],
            "payee_account": ["6222999900001111"],
            "amount_fen": [100],
        }
    )
    if account_first:
        assert builder.build("transfer", transfer).subject.tolist() == [0]
    subjects = builder.build("call", _calls(callees)).subject
    keys = [builder.keys.value(k) for k in subjects.tolist()]
    assert keys == ["110101199001011234" if c in RESIDENT_PHONES else f"phone:{c}" for c in callees]
    assert builder.build("transfer", transfer).subject.tolist() == [
        builder.keys.find("110101199001011234")
    ]


# ---------------------------------------------------------------------- residents met ahead

PERSONS = pa.table(
    {
        "id_number": ["110101199001011234", "110101199002022345"],
        "phones": [["+8613800000001", "+8613800000002"], ["+8613800000003"]],
        "accounts": [["6222000011112222"], ["6222000033334444", "6222000055556666"]],
    }
)
FLAGGED = "+8613800000003"  # a resident's number an indicator blocks
PHONES = [*RESIDENT_PHONES, FLAGGED, "+8617000000009", "95588", "+442071234567"]
ACCOUNTS = ["6222000011112222", "6222000033334444", "6222000055556666", "6222999900001111"]
KEYED = ("subject", "cp", "cp2")  # columns of interned keys: compared as strings


def _base(*phones: str) -> IntelIndex:
    return IntelIndex.build([flagged(IndicatorKind.PHONE, p) for p in phones])


def _rows(builder: FrameBuilder, table: str, events: pa.Table) -> list[tuple[object, ...]]:
    """A frame's rows, keys as strings (key ids depend on the order keys were met)."""
    frame = builder.build(table, events)
    names = [c for c in COLUMNS if c not in KEYED]
    columns = [getattr(frame, c).tolist() for c in names]
    keys = [
        [builder.keys.value(k) if k >= 0 else None for k in getattr(frame, c).tolist()]
        for c in KEYED
    ]
    return list(zip(*columns, *keys, frame.event_id.to_pylist(), strict=True))


def _transfers(pairs: list[tuple[str, str]]) -> pa.Table:
    n = len(pairs)
    return pa.table(
        {
            "event_id": [f"t{i}" for i in range(n)],
            "ts": pa.array(
                [1_700_000_000_000_000 + i for i in range(n)], pa.timestamp("us", "UTC")
            ),
            "payer_account": [a for a, _ in pairs],
            "payee_account": [b for _, b in pairs],
            "amount_fen": [100 * (i + 1) for i in range(n)],
        }
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(PHONES), st.sampled_from(PHONES)), max_size=12),
    st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS)), max_size=12),
)
def test_residents_met_ahead_change_no_frame_row(
    calls: list[tuple[str, str]], transfers: list[tuple[str, str]]
) -> None:
    """A builder that met every resident's numbers and accounts ahead builds the rows one
    that meets them in the batches builds (residents, outsiders, a flagged resident)."""
    plain = FrameBuilder(Registry(PERSONS), IntelView(_base(FLAGGED)))
    ahead = FrameBuilder(Registry(PERSONS), IntelView(_base(FLAGGED)))
    ahead.prepare_residents()
    call_table = _calls([b for _, b in calls]).set_column(
        3, "caller", pa.array([a for a, _ in calls], pa.string())
    )
    for kind, table in (("call", call_table), ("transfer", _transfers(transfers))):
        if table.num_rows:
            assert _rows(ahead, kind, table) == _rows(plain, kind, table)


def _never(values: Values, _: np.ndarray) -> np.ndarray:
    raise AssertionError(f"computed again: {values.py}")


def _ready(builder: FrameBuilder, persons: pa.Table) -> None:
    """Every attribute of the residents' numbers and accounts is there without a look-up."""
    phones = builder.phones
    ids = phones.ids(pc.list_flatten(persons.column("phones")))
    for name, null in (("row", -1), ("subject", -1), ("cp", -1), ("flags", 0)):
        phones.get(name, ids, _never, null)
    phones.get_all(("verdict", "indicator"), ids, _never, (-1, -1))
    accounts = builder.accounts
    ids = accounts.ids(pc.list_flatten(persons.column("accounts")))
    for name in ("row", "subject", "cp"):
        accounts.get(name, ids, _never, -1)
    accounts.get_all(("verdict", "indicator"), ids, _never, (-1, -1))


def test_residents_met_ahead_are_not_looked_up_again() -> None:
    builder = FrameBuilder(Registry(PERSONS), IntelView())
    builder.prepare_residents()
    _ready(builder, PERSONS)
    residents = builder.phones.ids(pa.array([*RESIDENT_PHONES, FLAGGED]))
    assert builder.phones.get("row", residents, _never, -1).tolist() == [0, 0, 1]


def test_a_live_builder_meets_a_new_registrys_residents_ahead() -> None:
    builder = FrameBuilder(Registry(PERSONS), IntelView())
    builder.prepare_residents()
    more = pa.concat_tables(
        [
            PERSONS,
            pa.table(
                {
                    "id_number": ["110101199003033456"],
                    "phones": [["+8617000000009"]],
                    "accounts": [["6222999900001111"]],
                }
            ),
        ]
    )
    builder.use_registry(Registry(more))
    _ready(builder, more)
    assert builder.build("call", _calls(["+8617000000009"])).person.tolist() == [2]


def test_a_new_base_changes_the_verdicts_and_nothing_else() -> None:
    """A new intelligence base: each value's verdict is looked up again (at once for a live
    builder's residents), its keys and rows are kept."""
    for live in (False, True):
        view = IntelView(_base())
        builder = FrameBuilder(Registry(PERSONS), view)
        if live:
            builder.prepare_residents()
        table = _calls(["+8613800000001", "+8617000000009"]).set_column(
            3, "caller", pa.array([FLAGGED, "+8613800000002"])
        )
        before = builder.build("call", table)
        assert before.intel.tolist() == [-1, -1]
        view.base = _base(FLAGGED)
        builder.take_base()
        if live:
            _ready(builder, PERSONS)
        after = builder.build("call", table)
        assert after.intel.tolist() == [2, -1]  # the caller's: the fraud verdict's rank
        assert after.subject.tolist() == before.subject.tolist()  # the same key ids
        assert after.cp.tolist() == before.cp.tolist()
        assert after.person.tolist() == before.person.tolist() == [0, 0]


# ---------------------------------------------------------------------- texts, few and many

FRAGMENTS = st.sampled_from(
    [
        "您的账户涉嫌洗钱",
        "请转到安全账户",
        "刷单返利",
        "反诈提醒您",
        "转一下钱",
        "转3000块",
        "账户: 6222020000000001",
        "账户\u3000:6222020000000001",
        "账户\v6222020000000001",
        "户名",
        "https://Pay.Evil-Site.CC/login",
        "WWW.example.com",
        "http://a.b",
        "www.\u017fafe.com",
        "http://\u212aey.cn",
        "6222020000000001",
        "62220200000000011234567",
        "\n",
        "\t",
        " ",
        "退款",
        "我是你领导",
        "内部群",
        "x",
    ]
)
TEXTS = st.lists(st.lists(FRAGMENTS, max_size=5).map("".join), min_size=1, max_size=12)


def _families_hosts_flags(builder: FrameBuilder, texts: list[str]) -> list[tuple[object, ...]]:
    family, flags, host = builder._texts(Values(py=texts), np.arange(len(texts)))
    hosts = [builder.domains.values.value(h) if h >= 0 else None for h in host.tolist()]
    return list(zip(family.tolist(), flags.tolist(), hosts, strict=True))


@settings(max_examples=80, deadline=None)
@given(TEXTS)
def test_few_texts_are_read_as_arrow_reads_many(texts: list[str]) -> None:
    """A few messages go through Python's ``re``, many through Arrow's RE2: the same family,
    link, host and account flag for each (ASCII whitespace only, case folded as RE2 does)."""
    few = _families_hosts_flags(FrameBuilder(Registry(), IntelView()), texts)
    padding = [f"filler {i}" for i in range(SMALL + 1)]
    many = _families_hosts_flags(FrameBuilder(Registry(), IntelView()), texts + padding)
    assert few == many[: len(texts)]
    assert classify_texts(pa.array(texts)).tolist() == [f for f, _, _ in few]
    assert [f for f, _, _ in many[len(texts) :]] == [0] * len(padding)


REPORTERS = st.tuples(
    st.one_of(st.none(), st.sampled_from([*RESIDENT_PHONES, "+8613800000003", "+8617000000009"])),
    st.one_of(st.none(), st.sampled_from(["110101199001011234", "110101199002022345", "x"])),
)


def _reports(who: list[tuple[str | None, str | None]]) -> pa.Table:
    n = len(who)
    return pa.table(
        {
            "event_id": [f"r{i}" for i in range(n)],
            "ts": pa.array(
                [1_700_000_000_000_000 + i for i in range(n)], pa.timestamp("us", "UTC")
            ),
            "reporter_phone": pa.array([p for p, _ in who], pa.string()),
            "reporter_id_number": pa.array([i for _, i in who], pa.string()),
            "loss_fen": [100] * n,
        }
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(REPORTERS, min_size=1, max_size=10))
def test_a_few_reports_are_keyed_as_many_are(who: list[tuple[str | None, str | None]]) -> None:
    """The reporter's subject key (the resident's ID number, by ID number or phone, else
    ``phone:`` and the number) from a few reports as from many."""
    padding = [("+8617100000000", None)] * (SMALL + 1)
    keys = []
    for rows in (who, who + padding):
        builder = FrameBuilder(Registry(PERSONS), IntelView())
        frame = builder.build("police_report", _reports(rows))
        keys.append([builder.keys.value(k) if k >= 0 else None for k in frame.subject.tolist()])
    assert keys[0] == keys[1][: len(who)]
    assert keys[1][-1] == "phone:+8617100000000"
