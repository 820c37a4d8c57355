"""KeySet: exact answers against a Python dict, whatever the input layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.intel import keyset
from fanzha.intel.keyset import KeySet, Strings, hash_strings, spans_equal
from fanzha.jit import plain

# Few distinct characters (ASCII, two-byte and three-byte UTF-8) so that keys collide often
# in prefixes and suffixes, and lookups hit as often as they miss.
TEXT = st.text(alphabet="ab.-é中", max_size=12)


def first_index(keys: Sequence[str | None]) -> dict[str, int]:
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key is not None:
            first.setdefault(key, i)
    return first


def expected(keys: Sequence[str | None], values: Sequence[str | None]) -> list[int]:
    first = first_index(keys)
    return [-1 if v is None else first.get(v, -1) for v in values]


def test_worked_example() -> None:
    keys = ["a", "b", "", "a", "héllo", None, "xyz"]
    ks = KeySet.build(keys)
    assert len(ks) == 7
    assert ks.unique == 5
    found = ks.lookup(["a", "b", "", "héllo", "zz", None, "xyz", "hé", "A"])
    assert found.tolist() == [0, 1, 2, 4, -1, -1, 6, -1, -1]
    assert found.dtype == np.int64
    assert ks.key(4) == "héllo"
    with pytest.raises(IndexError):
        ks.key(5)


def test_empty_set_and_empty_queries() -> None:
    ks = KeySet.build([])
    assert len(ks) == 0
    assert ks.lookup(["a", "", None]).tolist() == [-1, -1, -1]
    assert KeySet.build(["a"]).lookup([]).tolist() == []
    assert KeySet.build([None, None]).lookup([None, ""]).tolist() == [-1, -1]


@pytest.mark.parametrize("layout", ["list", "array", "large", "sliced", "chunked", "dict"])
def test_layouts(layout: str) -> None:
    keys = ["example.com", "例子.中国", "", "b.example.com", "example.com"]
    values = ["zz", "example.com", "例子.中国", None, "", "b.example.com", "x"]
    want = expected(list(keys), values)
    arrays: dict[str, Any] = {
        "list": values,
        "array": pa.array(values),
        "large": pa.array(values, pa.large_string()),
        "sliced": pa.array(["pad", "pad2", *values, "tail"]).slice(2, len(values)),
        "chunked": pa.chunked_array([pa.array(values[:3]), pa.array(values[3:])]),
        "dict": pa.array(values).dictionary_encode(),
    }
    ks = KeySet.build(pa.array(["x", *keys]).slice(1))
    assert ks.lookup(arrays[layout]).tolist() == want
    ks = KeySet.build(pa.chunked_array([pa.array(keys[:2]), pa.array(keys[2:], pa.string())]))
    assert ks.lookup(values).tolist() == want


def test_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        KeySet.build(pa.array([1, 2]))


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.none() | TEXT, max_size=40), values=st.lists(st.none() | TEXT, max_size=40))
def test_lookup_agrees_with_a_dict(keys: list[str | None], values: list[str | None]) -> None:
    ks = KeySet.build(keys)
    want = expected(keys, values)
    assert ks.lookup(values).tolist() == want
    assert [ks.find(v) for v in values] == want  # the plain-Python probe of few values
    # the same through a sliced array in the middle of a larger buffer
    padded = pa.array(["pad", *values, "pad"]).slice(1, len(values))
    assert ks.lookup(padded).tolist() == want
    # the vectorised path, whatever the number of values
    pad = [None] * (keyset.SMALL_LOOKUP + 1)
    assert ks.lookup(pa.array([*pad, *values])).tolist()[len(pad) :] == want


@settings(max_examples=100, deadline=None)
@given(values=st.lists(TEXT, max_size=10))
def test_hash_one_equals_hash_strings(values: list[str]) -> None:
    assert [keyset.hash_one(v.encode()) for v in values] == hash_strings(values).tolist()


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=12))
def test_hash_kernel_compiled_equals_plain_and_spans(values: list[str | None]) -> None:
    """The row-by-row hash loop, compiled and plain, hashes as the prefix-sum form does."""
    strings = Strings.of(pa.array(values, pa.string()))
    ends = strings.offsets[1:]
    if strings.valid is not None:
        ends = np.where(strings.valid, ends, strings.offsets[:-1])
    spans = keyset.span_hashes(strings, keyset.Spans(None, strings.offsets[:-1], ends))[0]
    plain_out = np.empty(len(values), np.uint64)
    with np.errstate(over="ignore"):
        plain(keyset._hash_rows)(strings.data, strings.offsets[:-1], ends, plain_out)
    assert hash_strings(values).tolist() == plain_out.tolist() == spans.tolist()


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(TEXT, min_size=1, max_size=30),
    values=st.lists(TEXT, max_size=20),
    data=st.data(),
)
def test_lookup_loop_compiled_equals_plain_and_survives_collisions(
    keys: list[str], values: list[str], data: st.DataObject
) -> None:
    """Spans looked up with their own hash, or with a key's hash (as if the two collided):
    a hash met with other bytes is no match, compiled and plain alike."""
    ks = KeySet.build(keys)
    first = first_index(keys)
    strings = Strings.of(values)
    starts = strings.offsets[:-1].astype(np.int64)
    lengths = np.diff(strings.offsets).astype(np.int64)
    hashes = hash_strings(values)
    borrowed = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    donor = data.draw(st.sampled_from(keys))
    hashes[np.array(borrowed, bool)] = hash_strings([donor])[0]
    want = [
        first.get(v, -1) if not b or v == donor else -1
        for v, b in zip(values, borrowed, strict=True)
    ]
    runs = []
    for form in (keyset._lookup_keys, plain(keyset._lookup_keys)):
        found = np.zeros(len(values), np.int64)
        k = ks._keys
        form(
            ks._table, ks._index, ks._capacity, k.data, k.offsets, strings.data,
            starts, lengths, hashes, np.zeros(len(values), np.int64), found,
        )  # fmt: skip
        runs.append(found.tolist())
    assert runs[0] == runs[1] == want
    assert ks.lookup_hashes(strings, starts, lengths, hashes).tolist() == want


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(TEXT, max_size=30),
    values=st.lists(TEXT, min_size=1, max_size=20),
    data=st.data(),
)
def test_substring_lookup_agrees(keys: list[str], values: list[str], data: st.DataObject) -> None:
    ks = KeySet.build(keys)
    first = first_index(list(keys))
    encoded = [v.encode() for v in values]
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(values) - 1), st.integers(0, 40), st.integers(0, 40)),
            max_size=30,
        )
    )
    rows = np.array([p[0] for p in pairs], np.int64)
    starts = np.array([p[1] for p in pairs], np.int64)
    ends = np.array([p[2] for p in pairs], np.int64)
    got_suffix = ks.substring_lookup(values, starts, rows)
    got_span = ks.substring_lookup(values, starts, rows, ends)
    for i, (row, a, b) in enumerate(pairs):
        raw = encoded[row]
        want_suffix = -1
        if a <= len(raw):
            try:
                want_suffix = first.get(raw[a:].decode(), -1)
            except UnicodeDecodeError:
                want_suffix = -1  # a key is valid UTF-8: a torn character never matches
        want_span = -1
        if a <= b <= len(raw):
            try:
                want_span = first.get(raw[a:b].decode(), -1)
            except UnicodeDecodeError:
                want_span = -1
        assert got_suffix[i] == want_suffix
        assert got_span[i] == want_span


def test_many_keys_many_duplicates() -> None:
    rng = np.random.default_rng(3)
    alphabet = np.array(list("abcde"))
    keys = ["".join(rng.choice(alphabet, rng.integers(1, 9))) for _ in range(20_000)]
    ks = KeySet.build(keys)
    first = first_index(list(keys))
    assert ks.unique == len(first)
    queries = keys[:5000] + ["z" + k for k in keys[:5000]] + ["", "abcdeabcde"]
    assert ks.lookup(queries).tolist() == expected(list(keys), queries)


def test_hash_collisions_are_resolved_by_the_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a finaliser that keeps only the length, every key of one length collides: the
    answers must still be exact (verified on the bytes, probing past false hits)."""

    def length_only(h: keyset.U64, lengths: keyset.Ints) -> None:
        h[:] = lengths.astype(np.uint64) << np.uint64(40)

    def length_only_one(h: int, length: int) -> int:
        return length << 40

    monkeypatch.setattr(keyset, "_finalise", length_only)
    monkeypatch.setattr(keyset, "_finalise_one", length_only_one)
    keys = ["ab", "ba", "aa", "bb", "abc", "ab", "", "c"]
    ks = KeySet.build(keys)
    values = ["bb", "ba", "ab", "aa", "cc", "abc", "acb", "", "c", "d", None]
    assert ks.lookup(values).tolist() == expected(list(keys), values)
    many = values * (keyset.SMALL_LOOKUP // len(values) + 1)  # the vectorised path
    assert ks.lookup(many).tolist() == expected(list(keys), many)


def test_span_hash_equals_whole_string_hash() -> None:
    whole = hash_strings(["example.com", "com", "", "中国"])
    strings = Strings.of(["www.example.com", "x.中国"])
    spans = keyset.Spans(
        np.array([0, 0, 0, 1], np.int64),
        np.array([4, 12, 15, 17], np.int64),
        np.array([15, 15, 15, 23], np.int64),
    )
    assert keyset.span_hashes(strings, spans)[0].tolist() == whole.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=20), st.data())
def test_spans_equal(chunks: list[bytes], data: st.DataObject) -> None:
    blob = b"".join(chunks)
    array = pa.array([blob], pa.binary()).cast(pa.string(), safe=False)
    s = Strings.of(array)
    n = len(blob)
    triples = data.draw(
        st.lists(st.tuples(st.integers(0, n), st.integers(0, n), st.integers(0, n)), max_size=30)
    )
    triples = [(a, b, min(k, n - a, n - b)) for a, b, k in triples]
    got = spans_equal(
        s,
        np.array([t[0] for t in triples], np.int64),
        s,
        np.array([t[1] for t in triples], np.int64),
        np.array([t[2] for t in triples], np.int64),
    )
    assert got.tolist() == [blob[a : a + k] == blob[b : b + k] for a, b, k in triples]
