"""The contact index: small chunks merge, answers do not change."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.detect import retro
from fanzha.detect.retro import ContactIndex
from fanzha.jit import plain


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


def test_the_unsorted_tail_answers_as_chunks_do() -> None:
    """Lookups between adds read the tail (the newest contacts, not yet a chunk) as a chunk:
    the same contacts in the same order as an index that makes a chunk of every batch."""
    rng = np.random.default_rng(11)
    tail, eager = ContactIndex(30 * 86_400), ContactIndex(30 * 86_400)
    tail.tail_max = 50
    eager.tail_max = 1  # every batch a chunk at once
    for batch in range(120):
        n = int(rng.integers(0, 6))
        cp = rng.integers(0, 15, n).tolist()
        at = [1_000 + 7 * batch] * n
        _add(tail, cp, at, 10 * batch)
        _add(eager, cp, at, 10 * batch)
        assert len(tail) == len(eager)
        if batch % 9 == 0:
            since = 1_000 + 7 * batch - 200
            for c in range(16):
                assert tail.contacts([c], since) == eager.contacts([c], since)
            # every counterparty in touch since then (chunks answer whole: maybe a few more)
            recent = {c.cp for c in eager.contacts(range(16), since)}
            assert recent <= set(tail.counterparties(since).tolist())
    assert tail._tail and len(tail._chunks) < len(eager._chunks)
    for contact in tail.contacts(range(16), 0):  # subject 100 + i is event i of its batch
        assert int(contact.event_id[1:]) % 10 == contact.subject - 100
    for c in range(16):  # one counterparty's contacts in the order they were added
        assert tail.contacts([c], 0) == eager.contacts([c], 0)


def test_the_tail_spans_no_more_than_a_merge() -> None:
    index = ContactIndex(32 * 100)  # merges span at most 100 s
    _add(index, [1], [0], 0)
    _add(index, [2], [60], 1)
    assert len(index._chunks) == 0 and index._tail_n == 2
    _add(index, [3], [150], 2)  # 150 s after the tail's first: the tail becomes a chunk first
    assert [c.cp.tolist() for c in index._chunks] == [[1, 2]] and index._tail_n == 1
    assert [c.cp.tolist() for c in index.chunks] == [[1, 2], [3]]


def test_pruning_keeps_the_tail() -> None:
    index = ContactIndex(32 * 100)
    _add(index, [1], [0], 0)
    _add(index, [1], [500], 1)  # far from the first: the first becomes a chunk, this the tail
    index.prune(500 + 32 * 100)
    assert [c.event_id for c in index.contacts([1], 0)] == ["e1"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from([0, 3, 4, 9, 2**31 - 2, 2**31 - 1]), st.integers(0, 50)),
            max_size=6,
        ),
        max_size=12,
    ),
    st.sets(st.sampled_from([0, 1, 3, 4, 8, 9, 2**31 - 2, 2**31 - 1]), max_size=4),
    st.integers(0, 50),
)
def test_contacts_are_every_indexed_contact_of_the_keys_since(
    batches: list[list[tuple[int, int]]], wanted: set[int], since: int
) -> None:
    """Every contact with one of the keys at or after ``since``, absent keys and the largest
    ids a chunk holds included, whatever the chunks and tail hold."""
    index = ContactIndex(30 * 86_400)
    index.tail_max = 5
    made: list[tuple[int, int, str]] = []
    first = 0
    for batch in batches:
        if batch:
            cp, at = (list(x) for x in zip(*batch, strict=True))
            _add(index, cp, at, first)
            ids = [f"e{first + i}" for i in range(len(batch))]
            made += [(c, a, e) for c, a, e in zip(cp, at, ids, strict=True)]
            first += len(batch)
    want = sorted((c, a, e) for c, a, e in made if c in wanted and a >= since)
    got = sorted((c.cp, c.at, c.event_id) for c in index.contacts(wanted, since))
    assert got == want


def test_a_scan_of_the_tail_answers_as_the_sorted_tail() -> None:
    """Look-ups scan the tail instead of sorting it: the contacts of several counterparties at
    once, in the order of the chunk the tail becomes (by counterparty, then as they came)."""
    rng = np.random.default_rng(5)
    for trial in range(20):
        scanned, sealed = ContactIndex(30 * 86_400), ContactIndex(30 * 86_400)
        for index in (scanned, sealed):
            index.tail_max = 10_000  # every batch stays in the tail
        for batch in range(int(rng.integers(1, 8))):
            n = int(rng.integers(0, 9))
            cp = rng.integers(0, 12, n).tolist()
            at = (1_000 + 10 * batch + rng.integers(0, 5, n)).tolist()
            _add(scanned, cp, at, 10 * batch)
            _add(sealed, cp, at, 10 * batch)
        sealed._seal()  # the tail as the one chunk it becomes
        assert not sealed._tail and len(sealed._chunks) == 1 and not scanned._chunks
        wanted = rng.integers(0, 13, int(rng.integers(1, 6))).tolist()
        since = 1_000 + int(rng.integers(0, 60))
        got = scanned.contacts(wanted, since)
        assert got == sealed.contacts(wanted, since)
        assert scanned._tail_chunk is None  # not sorted for the look-up
        assert [c.cp for c in got] == sorted(c.cp for c in got), trial


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 30), st.integers(0, 5_000)), max_size=8), max_size=20
    ),
    st.sets(st.integers(0, 31), min_size=1, max_size=4),
    st.integers(0, 5_000),
    st.booleans(),
)
def test_look_ups_between_a_counterpartys_first_and_last_contact(
    batches: list[list[tuple[int, int]]], wanted: set[int], since: int, restored: bool
) -> None:
    """Chunks far apart in time (merges span 100 s): a look-up reads only the chunks between
    the wanted counterparties' first and last contact, and still finds every contact — in an
    index loaded from another's chunks as well."""
    index = ContactIndex(32 * 100)
    index.tail_max = 4
    made: list[tuple[int, int, str]] = []
    first = 0
    for batch in batches:
        if batch:
            cp, at = (list(x) for x in zip(*sorted(batch, key=lambda x: x[1]), strict=True))
            _add(index, cp, at, first)
            made += [(c, a, f"e{first + i}") for i, (c, a) in enumerate(zip(cp, at, strict=True))]
            first += len(batch)
    if restored:
        again = ContactIndex(32 * 100)
        again.load(*index.parts())
        index = again
    for c in index._chunks:
        assert c.lowest() == int(c.at.min())
    want = sorted((c, a, e) for c, a, e in made if c in wanted and a >= since)
    got = sorted((c.cp, c.at, c.event_id) for c in index.contacts(wanted, since))
    assert got == want


def test_bounds_take_in_the_tail_and_the_edges() -> None:
    """A counterparty met only in the tail (also in an index loaded from another's parts), and
    a contact at exactly ``since`` that is its chunk's last, are found."""
    index = ContactIndex(32 * 100)
    index.tail_max = 2
    _add(index, [1, 2], [0, 50], 0)  # a chunk over [0, 50]
    _add(index, [3], [500], 2)  # the tail
    assert len(index._chunks) == 1 and index._tail_n == 1
    again = ContactIndex(32 * 100)
    again.load(*index.parts())
    for ix in (index, again):
        assert [c.event_id for c in ix.contacts([3], 0)] == ["e2"]
        assert [c.event_id for c in ix.contacts([2], 50)] == ["e1"]  # "e1": events reversed
        assert [c.event_id for c in ix.contacts([1, 3], 0)] == ["e0", "e2"]
        assert ix.contacts([1], 1) == [] and ix.contacts([7], 0) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 5)), max_size=6), st.integers(0, 9))
def test_positions_compiled_and_plain(spans: list[tuple[int, int]], since: int) -> None:
    """The places of each key's run, those at or after ``since``, in key order."""
    at = np.arange(30, dtype=np.int64) % 10
    lo = np.array([a for a, _ in spans], np.int64)
    size = np.array([min(b, 30 - a) for a, b in spans], np.int64)
    want = [p for a, b in zip(lo.tolist(), size.tolist(), strict=True) for p in range(a, a + b)]
    want = [p for p in want if at[p] >= since]
    for form in (retro._positions, plain(retro._positions)):
        out = np.empty(int(size.sum()), np.int64)
        assert out[: form(lo, size, at, since, out)].tolist() == want
