"""Number prefixes: the longest listed prefix, against a plain Python loop."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.intel.keyset import KeySet
from fanzha.intel.phones import prefix_match

NUMBER = st.text(alphabet="+0178", min_size=0, max_size=8)


def reference(keys: list[str], number: str | None, lengths: list[int]) -> int:
    if number is None:
        return -1
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    for length in sorted(set(lengths), reverse=True):
        if 0 < length <= len(number) and number[:length] in first:
            return first[number[:length]]
    return -1


@settings(max_examples=150, deadline=None)
@given(
    keys=st.lists(NUMBER, max_size=12),
    numbers=st.lists(st.none() | NUMBER, max_size=20),
    extra=st.lists(st.integers(0, 9), max_size=3),
)
def test_prefix_match_agrees(keys: list[str], numbers: list[str | None], extra: list[int]) -> None:
    lengths = sorted({len(k) for k in keys} | set(extra))
    got = prefix_match(KeySet.build(keys), numbers, lengths).tolist()
    assert got == [reference(keys, n, lengths) for n in numbers]


def test_examples() -> None:
    keys = KeySet.build(["+86170", "+86171", "+8617012"])
    numbers = pa.array(["+8617012345678", "+8613800138000", "+8617112345678", "+86170", None, ""])
    assert prefix_match(keys, numbers, [6, 8]).tolist() == [2, -1, 1, 0, -1, -1]
    # only the given lengths are tried
    assert prefix_match(keys, numbers, [6]).tolist() == [0, -1, 1, 0, -1, -1]
    assert prefix_match(keys, numbers, []).tolist() == [-1] * 6
