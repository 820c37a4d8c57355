"""The batch kernels answer, row by row, what a per-row loop would have (hypothesis), and keyed
sets give the same answers over several batches as over one."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.detect import kernels
from fanzha.detect.kernels import (
    NEVER,
    NONE,
    Column,
    Interner,
    IntMap,
    KeySeen,
    group_rows,
    pair_keys,
    stable_order,
    take_strings,
)
from fanzha.intel.keyset import Strings, hash_span, hash_strings
from fanzha.jit import plain

I64 = np.int64
keys_st = st.lists(st.integers(-3, 6), max_size=60)
SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def keyed(draw: st.DrawFn, lo: int = -(10**6), hi: int = 10**6) -> tuple[list[int], list[int]]:
    keys = draw(keys_st)
    values = draw(st.lists(st.integers(lo, hi), min_size=len(keys), max_size=len(keys)))
    return keys, values


@st.composite
def keyed_rows(draw: st.DrawFn) -> tuple[list[int], list[int], list[bool], list[int]]:
    """Rows of keys (ids 0-6), values (times, sentinels included), whether each row is
    active, and each key's state before the batch."""
    keys = draw(st.lists(st.integers(0, 6), max_size=60))
    values = draw(
        st.lists(
            st.one_of(st.integers(-(10**6), 10**6), st.sampled_from([NONE + 1, NEVER - 1])),
            min_size=len(keys),
            max_size=len(keys),
        )
    )
    active = draw(st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)))
    state = draw(st.lists(st.integers(-(10**6), 10**6), min_size=7, max_size=7))
    return keys, values, active, state


def _column(state: list[int]) -> Column:
    col = Column(np.int64, 0)
    col.data[: len(state)] = state
    return col


@SETTINGS
@given(keyed_rows())
def test_so_far_columns_as_a_per_row_loop(
    case: tuple[list[int], list[int], list[bool], list[int]],
) -> None:
    """Largest (of the active rows), smallest and sum so far per key, this row included and
    carrying the column's state in and out: what a per-row loop over a dict answers."""
    keys, values, active, state = case
    k, v, a = np.array(keys, I64), np.array(values, I64), np.array(active, np.bool_)
    small = v % 1000  # sums of counts and flags: no sentinels to overflow
    top, low, total = dict(enumerate(state)), dict(enumerate(state)), dict(enumerate(state))
    want_max, want_min, want_sum = [], [], []
    for key, value, on in zip(keys, values, active, strict=True):
        top[key] = max(top[key], value) if on else top[key]
        low[key] = min(low[key], value)
        total[key] += value % 1000
        want_max.append(top[key])
        want_min.append(low[key])
        want_sum.append(total[key])
    cols = _column(state), _column(state), _column(state)
    assert cols[0].max_so_far(k, v, a).tolist() == want_max
    assert cols[1].min_so_far(k, v).tolist() == want_min
    assert cols[2].sum_so_far(k, small).tolist() == want_sum
    for col, final in zip(cols, (top, low, total), strict=True):
        assert col.data[:7].tolist() == [final[i] for i in range(7)]


@SETTINGS
@given(keyed_rows())
def test_so_far_loops_compiled_equal_plain(
    case: tuple[list[int], list[int], list[bool], list[int]],
) -> None:
    keys, values, active, state = case
    k, v, a = np.array(keys, I64), np.array(values, I64), np.array(active, np.bool_)
    runs = []
    for form in (kernels._max_so_far, plain(kernels._max_so_far)):
        st_, out = np.array(state, I64), np.zeros(k.size, I64)
        form(k, v, a, st_, out)
        runs.append((st_.tolist(), out.tolist()))
    for form in (kernels._min_so_far, plain(kernels._min_so_far)):
        st_, out = np.array(state, I64), np.zeros(k.size, I64)
        form(k, v, st_, out)
        runs.append((st_.tolist(), out.tolist()))
    for form in (kernels._sum_so_far, plain(kernels._sum_so_far)):
        st_, out = np.array(state, I64), np.zeros(k.size, I64)
        form(k, v % 1000, st_, out)
        runs.append((st_.tolist(), out.tolist()))
    assert runs[0] == runs[1] and runs[2] == runs[3] and runs[4] == runs[5]


@SETTINGS
@given(st.lists(st.lists(st.integers(0, 2**40), max_size=30), max_size=5))
def test_intmap_count_as_a_per_row_loop(batches: list[list[int]]) -> None:
    """Counts of each key so far, this row included, over batches (the map keeps them); the
    counting loop compiled and plain alike."""
    m, counts = IntMap(), dict[int, int]()
    for batch in batches:
        want = []
        for key in batch:
            counts[key] = counts.get(key, 0) + 1
            want.append(counts[key])
        assert m.count(np.array(batch, I64)).tolist() == want
    assert dict(m.items()) == counts
    keys = np.array([key for b in batches for key in b], I64)
    runs = []
    for form in (kernels._count_rows, plain(kernels._count_rows)):
        table, values = np.full(256, kernels._FREE, I64), np.zeros(256, I64)
        out = np.zeros(keys.size, I64)
        added = form(table, values, (keys * 7) & 255, keys, 255, out)
        runs.append((added, out.tolist(), table.tolist(), values.tolist()))
    assert runs[0] == runs[1]
    assert runs[0][0] == len(counts)


def _batches(draw: st.DrawFn, n: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    return [0, *cuts, n]


@st.composite
def timed_keys(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    """Keys with non-decreasing times (rows sorted by ``at``) and batch cut points."""
    keys = draw(st.lists(st.integers(0, 8), max_size=50))
    steps = draw(st.lists(st.integers(0, 3), min_size=len(keys), max_size=len(keys)))
    times = np.cumsum(steps).tolist()
    return keys, times, _batches(draw, len(keys))


@SETTINGS
@given(timed_keys())
def test_keyseen_batches_equal_one_batch(data: tuple[list[int], list[int], list[int]]) -> None:
    keys, times, cuts = data
    k, t = np.array(keys, I64), np.array(times, I64)
    one_new, one_first = KeySeen(), KeySeen()
    whole_new = one_new.is_new(k, t).tolist()
    whole_first = one_first.first_at(k, t).tolist()
    many_new, many_first = KeySeen(), KeySeen()
    split_new: list[bool] = []
    split_first: list[int] = []
    for a, b in itertools.pairwise(cuts):
        split_new += many_new.is_new(k[a:b], t[a:b]).tolist()
        split_first += many_first.first_at(k[a:b], t[a:b]).tolist()
    assert split_new == whole_new
    assert split_first == whole_first
    assert dict(many_new.items()) == dict(one_new.items()) == dict(many_first.items())
    # And both are what a loop says.
    first: dict[int, int] = {}
    for key, time in zip(keys, times, strict=True):
        first.setdefault(key, time)
    assert whole_new == [i == keys.index(key) for i, key in enumerate(keys)]
    assert whole_first == [first[key] for key in keys]
    assert len(one_new) == len(set(keys))


def test_keyseen_empty() -> None:
    s = KeySeen()
    e = np.empty(0, I64)
    assert s.is_new(e, e).size == 0 and s.first_at(e, e).size == 0 and len(s) == 0


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=30), st.integers(0, 30))
def test_interner_is_stable_over_batches(values: list[str | None], cut: int) -> None:
    one = Interner()
    whole = one.intern(pa.array(values, pa.string())).tolist()
    many = Interner()
    split = (
        many.intern(pa.array(values[:cut], pa.string())).tolist()
        + many.intern(pa.chunked_array([pa.array(values[cut:], pa.string())])).tolist()
    )
    assert split == whole
    assert many.values == one.values
    for v, i in zip(values, whole, strict=True):
        assert (i == -1) == (v is None)
        if v is not None:
            assert one.value(i) == v and one.find(v) == i
    assert one.find("\x00never") == -1
    assert take_strings(one.values, np.array([*whole, -1], I64))[-1] == ""


@SETTINGS
@given(st.lists(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=90), max_size=4))
def test_interner_plain_and_hashed_paths_agree(batches: list[list[str | None]]) -> None:
    """Few values go through a dict one by one, many through the hash map: the same ids
    either way, batch after batch, and the same strings back."""
    plain, hashed = Interner(), Interner(plain=0)
    for batch in batches:
        got = hashed.intern(pa.array(batch, pa.string()))
        assert plain.intern_list(batch).tolist() == got.tolist()
    assert plain.values == hashed.values
    ids = np.arange(len(hashed), dtype=I64)
    assert hashed.arrow(ids).to_pylist() == plain.values


@SETTINGS
@given(st.lists(st.lists(st.text(max_size=5), max_size=20), max_size=4), st.data())
def test_interner_strings_are_the_values_of_their_ids(
    batches: list[list[str]], data: st.DataObject
) -> None:
    """Ids stored as bytes and ids still held as Python strings (the dict path) decode alike."""
    interner = Interner()
    for k, batch in enumerate(batches):  # odd batches through the dict: some values pending
        if k % 2:
            interner.intern_list(batch)
        else:
            interner.intern(pa.array(batch, pa.string()))
    if not len(interner):
        assert interner.strings(np.zeros(0, I64)) == []
        return
    ids = data.draw(st.lists(st.integers(0, len(interner) - 1), max_size=30))
    asked = np.array(ids, I64)
    assert interner.strings(asked) == [interner.value(i) for i in ids]
    assert interner.strings(asked) == [interner.values[i] for i in ids]


def _dict_ids(batches: list[list[str | None]]) -> list[list[int]]:
    ids: dict[str, int] = {}
    return [[-1 if v is None else ids.setdefault(v, len(ids)) for v in b] for b in batches]


@SETTINGS
@given(
    st.lists(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=60), max_size=5),
    st.sampled_from([0, 8]),
    st.integers(0, 3),
)
def test_interner_survives_hash_collisions(
    batches: list[list[str | None]], plain: int, bits: int
) -> None:
    """With a hash of a few values only, distinct strings share hashes all the time: every
    id is still the one a dict hands out, whichever path a batch takes."""
    weak = Interner(lambda a: hash_strings(a) & np.uint64((1 << bits) - 1), plain=plain)
    got = [weak.intern(pa.array(b, pa.string())).tolist() for b in batches]
    assert got == _dict_ids(batches)
    expected = list(dict.fromkeys(v for b in batches for v in b if v is not None))
    assert weak.values == expected
    for i, v in enumerate(expected):
        assert weak.find(v) == i and weak.value(i) == v
    again = Interner(lambda a: hash_strings(a) & np.uint64((1 << bits) - 1), plain=plain)
    again.values = weak.values  # a restore: then the same batches again, and a new value
    for b, ids in zip(batches, got, strict=True):
        assert again.intern(pa.array([*b, "\x00new"], pa.string())).tolist() == [
            *ids,
            len(expected),
        ]


_LOOPS = ("_intern_rows", "_head_words", "_intern_strings", "_find_rows", "hash_span")


def _intern_all(
    batches: list[list[str | None]], bits: int | None, compiled: bool
) -> tuple[Any, ...]:
    """Ids of each batch through the hashed path (a weak hash: collisions; None: the
    interner's own, hashed in the interning call), with the interning loops compiled or
    plain; and the store and hash map left."""
    saved = {name: getattr(kernels, name) for name in _LOOPS}
    if not compiled:
        for name, loop in saved.items():
            setattr(kernels, name, plain(loop))
    try:
        it = (
            Interner(plain=0)
            if bits is None
            else Interner(lambda a: hash_strings(a) & np.uint64((1 << bits) - 1), plain=0)
        )
        ids = [it.intern(pa.array(b, pa.string())).tolist() for b in batches]
    finally:
        for name, loop in saved.items():
            setattr(kernels, name, loop)
    n = it.held_from
    return (
        ids,
        it.values,
        it._offsets[: n + 1].tolist(),
        it._heads[: 2 * n].tolist(),
        it._by_hash.items(),
    )


@SETTINGS
@given(
    st.lists(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=40), max_size=4),
    st.sampled_from([2, 5, 64, None]),
)
def test_interning_loops_compiled_equal_plain(
    batches: list[list[str | None]], bits: int | None
) -> None:
    """The interning loop and the head words, compiled and plain: the same ids, stored bytes,
    head words and hash map, collisions (the dict's turn) included; ids as a dict hands out."""
    compiled = _intern_all(batches, bits, True)
    assert compiled == _intern_all(batches, bits, False)
    assert compiled[0] == _dict_ids(batches)
    stored = compiled[1][: len(compiled[3]) // 2]  # the values held as bytes: their heads
    strings = Strings.of(pa.array(stored, pa.string()))
    heads = np.empty(2 * len(stored), np.uint64)
    kernels._head_words(strings.data, strings.offsets, heads)
    assert compiled[3] == heads.tolist()


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.text(max_size=24)), max_size=12))
def test_head_words_are_the_first_sixteen_bytes(values: list[str | None]) -> None:
    strings = Strings.of(pa.array(values, pa.string()))
    out = np.empty(2 * len(values), np.uint64)
    kernels._head_words(strings.data, strings.offsets, out)
    for i, v in enumerate(values):
        head = (v or "").encode()[:16].ljust(16, b"\0")
        assert out[2 * i : 2 * i + 2].tolist() == [
            int.from_bytes(head[:8], "little"),
            int.from_bytes(head[8:], "little"),
        ]


def test_interner_catches_its_dict_up() -> None:
    """After a large batch the dict lags; small batches take the hashed path until they have
    cost as much as bringing it up to date, then the dict: the ids never change."""
    it = Interner()
    many = [f"v{i}" for i in range(5000)]
    assert it.intern(pa.array(many)).tolist() == list(range(5000))
    for k in range(40):
        few = [f"v{k * 97 % 5000}", f"new{k}", None]
        assert it.intern(pa.array(few)).tolist() == [k * 97 % 5000, 5000 + k, -1]
    assert it.intern_list(["v3", "new0"]).tolist() == [3, 5000]
    assert it.find("v4999") == 4999 and it.value(5039) == "new39"


def test_interner_sync_takes_a_few_values_by_the_dict_at_once() -> None:
    """``sync`` brings the dict up to date at once: the next few values go through it (none
    by the hashed path), with the ids they always had."""
    it = Interner()
    many = [f"v{i}" for i in range(5000)]
    it.intern(pa.array(many))
    it.sync()
    hashed = it._intern_hashed
    it._intern_hashed = None  # type: ignore[assignment,method-assign]  # must not be taken
    assert it.intern(pa.array(["v4321", "fresh", None])).tolist() == [4321, 5000, -1]
    assert it.intern_list(["v7", "fresh", "again"]).tolist() == [7, 5000, 5001]
    it._intern_hashed = hashed  # type: ignore[method-assign]
    assert it.intern(pa.array([*many, "again"])).tolist() == [*range(5000), 5001]


def test_column_grows_with_its_default() -> None:
    c = Column(np.int64, NEVER)
    assert c.get(np.array([5000], I64)).tolist() == [NEVER]
    assert c.data.size >= 5001 and (c.data == NEVER).all()
    c.data[3] = 7
    c.ensure(20_000)
    assert c.get(np.array([3, 19_999], I64)).tolist() == [7, NEVER]


@SETTINGS
@given(st.lists(st.integers(-1, 12), max_size=40), st.sets(st.integers(0, 12)))
def test_column_unset_and_take_compiled_equal_plain(ids: list[int], known: set[int]) -> None:
    """The first-unset and gather loops, compiled and plain: the ids never set, distinct, in
    order of first sight (each marked), and the values with ``null`` for -1."""
    rows = np.array(ids, I64)
    runs = []
    for unset, gather in (
        (kernels._unset_ids, kernels._gather),
        (plain(kernels._unset_ids), plain(kernels._gather)),
    ):
        values = np.full(13, NONE, I64)
        values[sorted(known)] = np.array(sorted(known), I64) * 10
        out = np.zeros(rows.size, I64)
        n = unset(rows, values, NONE, -7, out)
        got = np.zeros(rows.size, I64)
        gather(values, rows, -99, got)
        runs.append((out[:n].tolist(), values.tolist(), got.tolist()))
    assert runs[0] == runs[1]
    first = list(dict.fromkeys(i for i in ids if i >= 0 and i not in known))
    assert runs[0][0] == first
    assert runs[0][2] == [-99 if i < 0 else (10 * i if i in known else -7) for i in ids]


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
def test_pair_keys_are_unique_and_carry_the_first(a: int, b: int) -> None:
    k = pair_keys(np.array([a], I64), np.array([b], I64))
    assert int(k[0]) >> 31 == a and int(k[0]) & (2**31 - 1) == b


ops_st = st.lists(
    st.lists(
        st.tuples(
            st.one_of(
                st.integers(-50, 50),
                st.sampled_from([NONE, NEVER, NONE + 1, 2**62, -(2**62)]),
            ),
            st.integers(-(10**9), 10**9),
        ),
        max_size=40,
    ),
    max_size=8,
)


@SETTINGS
@given(ops_st, st.integers(1, 64))
def test_intmap_is_a_dict(batches: list[list[tuple[int, int]]], capacity: int) -> None:
    """Batches of writes (distinct keys in a batch) and reads answer what a dict answers,
    through growth, collisions and the key that marks a free slot."""
    m, d = IntMap(capacity), dict[int, int]()
    probe = np.array(sorted({k for b in batches for k, _ in b} | {7, NONE, -1}), I64)
    for batch in batches:
        write = dict(batch)
        m.put_many(np.array(list(write), I64), np.array(list(write.values()), I64))
        d.update(write)
        assert m.get_many(probe, -99).tolist() == [d.get(k, -99) for k in probe.tolist()]
        assert m.contains(probe).tolist() == [k in d for k in probe.tolist()]
        assert len(m) == len(d)
    assert dict(m.items()) == d == dict(IntMap.of(*m.arrays()).items())
    for k in probe.tolist():
        assert (m[k] == d[k]) if k in d else (k not in m)
    m[12345] = 6
    assert m.get(12345) == 6 and m.get(-12345) is None


@SETTINGS
@given(st.sets(st.integers(NONE + 1, NEVER), max_size=40), st.integers(6, 9))
def test_rehash_loop_puts_keys_at_their_homes(keys: set[int], bits: int) -> None:
    """Growing re-inserts every key where the map's probe (its own multiply-shift home)
    finds it, compiled and plain alike."""
    old = IntMap(64)
    k = np.array(sorted(keys), I64)
    old.add_new(k, k // 3)
    runs = []
    for form in (kernels._rehash, plain(kernels._rehash)):
        grown = IntMap(1 << bits)
        with np.errstate(over="ignore"):
            form(old._keys, old._values, grown._keys, grown._values, 64 - bits, grown._mask)
        grown._n = len(keys)
        assert grown.get_many(k, -1).tolist() == (k // 3).tolist()
        runs.append((grown._keys.tolist(), grown._values.tolist()))
    assert runs[0] == runs[1]


def test_intmap_grows_past_many_keys() -> None:
    m = IntMap()
    keys = np.arange(0, 300_000 * 7, 7, dtype=I64) << 31
    m.put_many(keys, keys + 1)
    assert len(m) == keys.size
    assert (m.get_many(keys, 0) == keys + 1).all()
    assert not m.contains(keys + 1).any()


@SETTINGS
@given(st.lists(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=12), max_size=5))
def test_interner_hands_out_ids_in_order_of_first_sight(batches: list[list[str | None]]) -> None:
    """Ids over batches are what a dict handing out ids in order of first sight says."""
    interner, ids = Interner(), dict[str, int]()
    for batch in batches:
        got = interner.intern(pa.array(batch, pa.string())).tolist()
        expected = [-1 if v is None else ids.setdefault(v, len(ids)) for v in batch]
        assert got == expected
    assert interner.values == list(ids)
    for v, i in ids.items():
        assert interner.find(v) == i and interner.value(i) == v
    assert interner.find("never\x00") == -1
    again = Interner()
    again.values = list(interner.values)
    assert again.ids == ids
    assert again.intern(pa.array(["x", None, "x", "y"])).tolist() == [
        again.find("x"),
        -1,
        again.find("x"),
        again.find("y"),
    ]


@SETTINGS
@given(st.lists(st.integers(-(2**62), 2**62), max_size=80), st.integers(0, 3))
def test_stable_order_and_groups(keys: list[int], spread: int) -> None:
    """The SIMD-sort stable order is ``np.argsort(kind="stable")``, narrow or wide keys."""
    k = np.array([x >> (20 * spread) for x in keys], I64)
    assert stable_order(k).tolist() == np.argsort(k, kind="stable").tolist()
    order, starts, first, inverse = group_rows(k)
    uniq, first_idx, inv = np.unique(k, return_index=True, return_inverse=True)
    assert first.tolist() == first_idx.tolist() and inverse.tolist() == inv.tolist()
    assert k[order].tolist() == sorted(k.tolist())
    assert (k[first] == uniq).all() and (k[order][starts] == k[order]).all()


@SETTINGS
@given(timed_keys(), st.lists(st.integers(0, 8), max_size=10))
def test_keyseen_first_at_with_late_rows(
    data: tuple[list[int], list[int], list[int]], late: list[int]
) -> None:
    """A later batch with rows earlier than a key's first time (late rows) still answers the
    earliest time seen in order."""
    keys, times, _ = data
    seen = KeySeen()
    seen.first_at(np.array(keys, I64), np.array(times, I64))
    first: dict[int, int] = {}
    for key, time in zip(keys, times, strict=True):
        first.setdefault(key, time)
    got = seen.first_at(np.array(late, I64), np.full(len(late), -1, I64)).tolist()
    assert got == [min(first.get(k, NEVER), -1) for k in late]


@SETTINGS
@given(st.lists(st.text(max_size=24), max_size=20))
def test_hash_span_is_the_hash_of_each_string(values: list[str]) -> None:
    """One string's hash (for kernels that hash one at a time), compiled and plain, is the
    hash :func:`hash_strings` gives it."""
    strings = Strings.of(pa.array(values, pa.string()))
    expected = hash_strings(pa.array(values, pa.string())).tolist()
    for form in (hash_span, plain(hash_span)):
        with np.errstate(over="ignore"):
            got = [
                int(form(strings.data, strings.offsets[i], strings.offsets[i + 1]))
                for i in range(len(values))
            ]
        assert got == expected


@SETTINGS
@given(
    st.lists(st.text(max_size=20), min_size=1, max_size=40),
    st.data(),
    st.booleans(),
)
def test_held_values_are_found_in_one_pass(
    values: list[str], data: st.DataObject, compiled: bool
) -> None:
    """Values all interned already: their ids in one call (compiled or plain); None as soon
    as one is new, and then the general pass hands it the next id."""
    interner = Interner(plain=0)
    interner.intern(pa.array(values, pa.string()))
    asked = data.draw(st.lists(st.sampled_from(values), max_size=30))
    saved = kernels._find_rows
    if not compiled:
        kernels._find_rows = plain(saved)
    try:
        held = interner._held(pa.array(asked, pa.string()))
        assert held is not None and held.tolist() == [interner.find(v) for v in asked]
        fresh = [*asked, "\x00new"]
        assert interner._held(pa.array(fresh, pa.string())) is None
    finally:
        kernels._find_rows = saved
    n = len(interner)
    assert interner.intern(pa.array(fresh, pa.string())).tolist()[-1] == n


def test_held_values_are_checked_against_their_bytes() -> None:
    """A hash found in the table is not taken on trust: when it leads to another string (as
    a 64-bit collision would), the one-pass look-up gives up and the general pass decides."""
    interner = Interner(plain=0)
    interner.intern(pa.array(["13800000001", "13800000002"], pa.string()))
    m = interner._by_hash
    slot = m.positions(hash_strings(pa.array(["13800000001"])).view(np.int64))
    m._values[slot] = 1  # the first value's hash now leads to the second's bytes
    for form in (kernels._find_rows, plain(kernels._find_rows)):
        kernels_saved = kernels._find_rows
        kernels._find_rows = form
        try:
            assert interner._held(pa.array(["13800000001"], pa.string())) is None
            other = interner._held(pa.array(["13800000002"], pa.string()))
            assert other is not None and other.tolist() == [1]
        finally:
            kernels._find_rows = kernels_saved


@SETTINGS
@given(
    st.lists(st.text(max_size=12), max_size=30),
    st.data(),
    st.sampled_from([pa.string(), pa.large_string()]),
    st.booleans(),
)
def test_take_utf8_is_arrows_take(
    values: list[str], data: st.DataObject, kind: pa.DataType, compiled: bool
) -> None:
    """The compiled take of strings (and the strings decoded at some rows) is Arrow's take,
    compiled or plain, on a slice of a larger array as on a whole one."""
    whole = pa.array(["x", *values, "y"], kind)
    array = whole.slice(1, len(values))
    idx = np.array(data.draw(st.lists(st.integers(0, max(len(values) - 1, 0)), max_size=40)), I64)
    if not values:
        idx = idx[:0]
    saved = kernels._span_offsets, kernels._gather_spans
    if not compiled:
        kernels._span_offsets, kernels._gather_spans = (plain(k) for k in saved)
    try:
        got = kernels.take_utf8(array, idx)
    finally:
        kernels._span_offsets, kernels._gather_spans = saved
    expected = array.take(pa.array(idx, pa.int64()))
    assert got.type == expected.type and got.equals(expected)
    assert kernels.utf8_at(array, idx) == expected.to_pylist()


def test_take_utf8_refuses_an_index_out_of_range_and_keeps_nulls() -> None:
    array = pa.array(["a", "bc", "d"])
    for bad in ([3], [-1], [0, 7]):
        with pytest.raises(IndexError):
            kernels.take_utf8(array, np.array(bad, I64))
    with_null = pa.array(["a", None, "c"])
    assert kernels.take_utf8(with_null, np.array([1, 2], I64)).to_pylist() == [None, "c"]
    assert kernels.utf8_at(with_null, np.array([1, 0], I64)) == ["None", "a"]
