"""Feature kernels against per-row loops (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.detect.features import _amount_rows
from fanzha.jit import plain

I64 = np.int64
#: The subject states a case starts from: largest, number, last amount, rising run.
STATES = ("out_max", "out_n", "last", "up_run")


@st.composite
def payments(draw: st.DrawFn) -> tuple[list[int], list[int], list[list[int]]]:
    """Payers (ids 0-4) and amounts in row order, and each payer's state before them."""
    payers = draw(st.lists(st.integers(0, 4), max_size=40))
    amounts = draw(st.lists(st.integers(0, 50), min_size=len(payers), max_size=len(payers)))
    states = [draw(st.lists(st.integers(0, 50), min_size=5, max_size=5)) for _ in STATES]
    return payers, amounts, states


@settings(max_examples=200, deadline=None)
@given(payments(), st.booleans())
def test_amount_rows_as_a_per_row_loop(
    case: tuple[list[int], list[int], list[list[int]]], compiled: bool
) -> None:
    """Each payment: the payer's largest payment and number of payments before it, its
    previous amount and the run of rising amounts ending here (the first payment ever is not
    a rise), as a loop over the payments in order answers; compiled and plain alike."""
    payers, amounts, states = case
    top, count, last, run = ({i: v[i] for i in range(5)} for v in states)
    want: list[tuple[int, int, int, int]] = []
    for c, a in zip(payers, amounts, strict=True):
        rises = a > last[c] > 0
        run[c] = run[c] + 1 if rises else 0
        want.append((top[c], count[c], last[c], run[c]))
        top[c], count[c], last[c] = max(top[c], a), count[c] + 1, a
    n = len(payers)
    rows = np.arange(n, dtype=I64)
    state = [np.array(v, I64) for v in states]
    outs = [np.zeros(n, I64) for _ in range(4)]
    form = _amount_rows if compiled else plain(_amount_rows)
    form(rows, np.array(payers, I64), np.array(amounts, I64), *state, *outs)
    assert list(zip(*(o.tolist() for o in outs), strict=True)) == want
    assert [s.tolist() for s in state] == [
        [d[i] for i in range(5)] for d in (top, count, last, run)
    ]
