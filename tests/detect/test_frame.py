"""Per-value attributes of the frame builder: computed once per distinct value, in the order
values first appear, and the same as computing them row by row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fanzha.detect.frame import FrameBuilder, PerValue, Values, phone_flag, phone_flags
from fanzha.detect.intel_view import IntelView
from fanzha.detect.kernels import SMALL
from fanzha.detect.registry import Registry

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
