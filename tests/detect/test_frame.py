"""Per-value attributes of the frame builder: computed once per distinct value, in the order
values first appear, and the same as computing them row by row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.detect.frame import PerValue, Values, phone_flag, phone_flags
from fanzha.detect.kernels import SMALL

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
