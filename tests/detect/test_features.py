"""Feature kernels against per-row loops (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.detect.features import _rising_runs


@st.composite
def grouped(draw: st.DrawFn) -> tuple[list[int], list[bool], list[int]]:
    """Rows sorted by subject: each row's subject, whether it rises, each subject's run so far."""
    sizes = draw(st.lists(st.integers(1, 8), max_size=8))
    subjects = [s for s, size in enumerate(sizes) for _ in range(size)]
    rising = draw(st.lists(st.booleans(), min_size=len(subjects), max_size=len(subjects)))
    carried = draw(st.lists(st.integers(0, 5), min_size=len(sizes), max_size=len(sizes)))
    return subjects, rising, carried


@settings(max_examples=200, deadline=None)
@given(grouped())
def test_rising_runs_as_a_per_row_loop(case: tuple[list[int], list[bool], list[int]]) -> None:
    subjects, rising, carried = case
    expected: list[int] = []
    for i, (s, up) in enumerate(zip(subjects, rising, strict=True)):
        base = carried[s] if i == 0 or subjects[i - 1] != s else expected[-1]
        expected.append(base + 1 if up else 0)
    so = np.array(subjects, np.int64)
    first = np.r_[True, so[1:] != so[:-1]] if so.size else np.zeros(0, np.bool_)
    before = np.array([carried[s] for s in subjects], np.int64)
    got = _rising_runs(np.array(rising, np.bool_), first, before)
    assert got.tolist() == expected
