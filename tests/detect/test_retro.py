"""The contact index: small chunks merge, answers do not change."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fanzha.detect.retro import ContactIndex


def _add(index: ContactIndex, cp: list[int], at: list[int], first_id: int) -> None:
    n = len(cp)
    # the events in reverse, each contact pointing at its own: ids are taken through ``rows``
    ids = pa.array([f"e{first_id + i}" for i in reversed(range(n))], pa.string())
    rows = np.arange(n)[::-1].copy()
    index.add(np.array(cp), np.arange(n) + 100, np.array(at), np.full(n, 3), ids, rows)


def test_small_chunks_merge_and_answer_as_unmerged() -> None:
    rng = np.random.default_rng(7)
    merged, apart = ContactIndex(30 * 86_400), ContactIndex(30 * 86_400)
    apart.merge_span_s = -1  # never merges
    for batch in range(300):  # a live worker: a few contacts a call, a few seconds apart
        cp = rng.integers(0, 20, 4).tolist()
        at = [1_000 + 5 * batch] * 4
        _add(merged, cp, at, 4 * batch)
        _add(apart, cp, at, 4 * batch)
    assert len(apart.chunks) == 300 and len(merged.chunks) < 12
    assert len(merged) == len(apart) == 1200
    for cp in range(21):
        assert merged.contacts([cp], 1_200) == apart.contacts([cp], 1_200)
    for c in merged.contacts(range(21), 0):  # subject 100 + i is event i of its batch
        assert int(c.event_id[1:]) % 4 == c.subject - 100


def test_chunks_far_apart_in_time_stay_apart_and_expire() -> None:
    index = ContactIndex(32 * 100)  # merges span at most 100 s
    _add(index, [1, 2], [0, 0], 0)
    _add(index, [1], [500], 2)
    assert len(index.chunks) == 2
    index.prune(500 + 32 * 100)  # the first chunk is older than the look-back
    assert [c.event_id for c in index.contacts([1], 0)] == ["e2"]


def test_counterparties_are_the_distinct_ones_of_chunks_in_the_window() -> None:
    index = ContactIndex(lookback_s=1_000)
    _add(index, [5, 3, 5, 9], [100, 100, 100, 100], 0)
    _add(index, [3, 7, 7], [5_000, 5_000, 5_000], 10)
    assert index.counterparties(0).tolist() == [3, 5, 7, 9]
    assert index.counterparties(4_500).tolist() == [3, 7]  # the first chunk ends at 100
    assert ContactIndex().counterparties(0).tolist() == []
