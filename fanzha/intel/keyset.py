"""KeySet: an immutable hash set of strings, looked up vectorised over Arrow string arrays.

Per-value Python is far too slow for millions of lookups a second, so everything here works
on the flat UTF-8 data buffer of an Arrow string array with NumPy:

- **Hash.** A polynomial hash over the bytes, ``P(s) = Σ s[i]·B**i mod 2**64`` with an odd
  ``B``. With the prefix sums ``F[k] = Σ_{j<k} byte[j]·B**j`` of a buffer, the hash of any
  span is ``(F[b] - F[a]) · B**-a`` (``B`` is odd, so invertible mod 2**64): one cumulative
  sum hashes every suffix or prefix of every string at once, and a span hashes the same as
  a whole string with the same bytes. The length is mixed in and the result goes through
  the splitmix64 finaliser. The prefix sums are computed a few MiB of bytes at a time.
- **Table.** Linear probing in an array of 64-bit hashes (load at most 0.5) beside an array
  of key indices. It is built at once rather than key by key: the keys are sorted by hash
  (one ``np.sort`` of ``hash_high_32 << 32 | index``), a key's home slot is a monotone
  function of its hash, and the slot of the ``i``-th sorted key is
  ``max(home_i, slot_{i-1} + 1)`` — a running maximum. Stored hashes therefore increase
  along every run, so a lookup stops as soon as it meets a larger one ("ordered" linear
  probing: a miss costs about as little as a hit). Probing never wraps: the array has
  spare slots at its end.
- **Exact.** A hash hit is verified by comparing the actual bytes (hits are few, so only
  those are compared); a 64-bit collision costs one more probe, never a wrong answer.
  A later duplicate of a key is left out of the table, so the first occurrence is found.

Memory: lookups run in batches of rows (:data:`BATCH_ROWS`) so that their temporaries stay
small and are reused; a table takes 12 bytes per slot, 24 bytes per distinct key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Self, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from fanzha.jit import kernel

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Ints = npt.NDArray[np.signedinteger[Any]]
Bool = npt.NDArray[np.bool_]
Bytes = npt.NDArray[np.uint8]

_B: Final = 0x9E3779B97F4A7C15  # odd: invertible modulo 2**64
_B_INV: Final = pow(_B, -1, 1 << 64)
_LEN_MIX: Final = np.uint64(0xD6E8FEB86659FD93)
_SM1: Final = np.uint64(0xBF58476D1CE4E5B9)
_SM2: Final = np.uint64(0x94D049BB133111EB)
_S27: Final = np.uint64(27)
_S30: Final = np.uint64(30)
_S31: Final = np.uint64(31)
_S32: Final = np.uint64(32)
#: Hashes are capped so that their high half is below 0xFFFFFFFF; an empty slot holds the
#: all-ones value, larger than any hash, so it ends every probe.
_MAX_HASH: Final = np.uint64(0xFFFFFFFEFFFFFFFF)
_EMPTY: Final = np.uint64(0xFFFFFFFFFFFFFFFF)
_LOW32: Final = np.uint64(0xFFFFFFFF)
#: table slots per distinct key (load factor 0.5)
SLOTS_PER_KEY: Final = 2.0
#: bytes of string data hashed per chunk (the prefix sums take 8 bytes per data byte)
CHUNK_BYTES: Final = 1 << 20
#: rows per batch of a lookup
BATCH_ROWS: Final = 1 << 17
#: lookups of at most this many values run in plain Python: the vectorised path costs a few
#: dozen NumPy calls whatever its size (about 0.3 ms), a Python probe about 3 µs per value
SMALL_LOOKUP: Final = 24
_M64: Final = (1 << 64) - 1
_LEN_MIX_INT: Final = int(_LEN_MIX)
_SM1_INT: Final = int(_SM1)
_SM2_INT: Final = int(_SM2)
_MAX_HASH_INT: Final = int(_MAX_HASH)

_powers: U64 = np.ones(1, np.uint64)
_inverse_powers: U64 = np.ones(1, np.uint64)


def _power_tables(n: int) -> tuple[U64, U64]:
    """``B**k`` and ``B**-k`` mod 2**64 for ``k < n`` (grown on demand and kept)."""
    global _powers, _inverse_powers
    if _powers.size < n:
        size = max(n, CHUNK_BYTES + 1)
        with np.errstate(over="ignore"):
            powers = np.full(size, _B, np.uint64)
            powers[0] = 1
            np.cumprod(powers, out=powers)
            inverse = np.full(size, _B_INV, np.uint64)
            inverse[0] = 1
            np.cumprod(inverse, out=inverse)
        _powers, _inverse_powers = powers, inverse
    return _powers, _inverse_powers


StringInput: TypeAlias = pa.Array | pa.ChunkedArray | Sequence[str | None]


def as_string_array(values: StringInput) -> pa.Array:
    """One contiguous ``string`` or ``large_string`` array (chunks combined)."""
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 0:
            array = pa.array([], values.type)
        elif values.num_chunks == 1:
            array = values.chunk(0)
        else:
            array = values.combine_chunks()
    elif isinstance(values, pa.Array):
        array = values
    else:
        array = pa.array(list(values), pa.string())
    if isinstance(array, pa.ChunkedArray):  # pa.array chunks inputs over 2 GiB
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_null(array.type):
        array = array.cast(pa.string())
    if pa.types.is_string_view(array.type):
        array = array.cast(pa.large_string())
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        raise TypeError(f"expected strings, got an array of {array.type}")
    return array


def batches(array: pa.Array, rows: int = BATCH_ROWS) -> Iterator[tuple[int, pa.Array]]:
    """``(first row, slice)`` of ``array`` in zero-copy slices of at most ``rows`` rows."""
    if len(array) == 0:
        yield 0, array
    for start in range(0, len(array), rows):
        yield start, array.slice(start, rows)


@dataclass(frozen=True, slots=True)
class Strings:
    """An Arrow string array as NumPy views: its UTF-8 ``data``, its ``offsets`` (n + 1,
    absolute positions into ``data``; int32 or int64 as Arrow has them) and ``valid``
    (``None`` when there are no nulls). No copies of the data or offsets are made."""

    array: pa.Array
    data: Bytes
    offsets: Ints
    valid: Bool | None

    @classmethod
    def of(cls, values: StringInput) -> Strings:
        """View ``values`` (string or large_string array, chunked array, Python strings)."""
        array = as_string_array(values)
        n = len(array)
        buffers = array.buffers()
        offset_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
        offsets: Ints
        if n == 0 or buffers[1] is None:
            offsets = np.zeros(n + 1, np.int64)
        else:
            raw: Ints = np.frombuffer(buffers[1], dtype=offset_type)
            offsets = raw[array.offset : array.offset + n + 1]
        data: Bytes = (
            np.frombuffer(buffers[2], dtype=np.uint8)
            if buffers[2] is not None
            else np.zeros(0, np.uint8)
        )
        valid: Bool | None = None
        if array.null_count:
            valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        return cls(array, data, offsets, valid)

    def __len__(self) -> int:
        return len(self.array)

    @property
    def lengths(self) -> Ints:
        """Byte length of each row (nulls included, as Arrow stores them)."""
        return np.diff(self.offsets)

    def live(self) -> Bool:
        """Rows that are neither null nor empty."""
        live: Bool = self.offsets[1:] > self.offsets[:-1]
        if self.valid is not None:
            live &= self.valid
        return live


@dataclass(frozen=True, slots=True)
class Spans:
    """Byte spans ``data[starts[i]:ends[i]]`` of a :class:`Strings`, each inside row
    ``rows[i]``, with ``rows`` non-decreasing. ``rows`` is ``None`` for "one span per row,
    every row in order" (the whole text of each row), which needs no index arrays."""

    rows: I64 | None
    starts: Ints
    ends: Ints

    @classmethod
    def whole(cls, strings: Strings) -> Spans:
        """The whole text of every non-null row."""
        if strings.valid is None:
            return cls(None, strings.offsets[:-1], strings.offsets[1:])
        rows = np.flatnonzero(strings.valid)
        return cls(rows, strings.offsets[rows], strings.offsets[rows + 1])

    def __len__(self) -> int:
        return len(self.starts)

    def row_bounds(self, cuts: I64) -> I64:
        """Index of the first span at or after each row of ``cuts``."""
        if self.rows is None:
            return np.minimum(cuts, len(self.starts))
        return np.searchsorted(self.rows, cuts, side="left")


def span_hashes(strings: Strings, *groups: Spans) -> list[U64]:
    """The hash of every span of every group (one pass over the bytes for all groups)."""
    out = [np.empty(len(g), np.uint64) for g in groups]
    live = [g for g in groups if len(g)]
    if not live:
        return out
    offsets = strings.offsets
    first = min(0 if g.rows is None else int(g.rows[0]) for g in live)
    last = max(len(g) - 1 if g.rows is None else int(g.rows[-1]) for g in live)
    # chunks of whole rows, about CHUNK_BYTES each (at least one row)
    cuts = [first]
    while cuts[-1] <= last:
        row = cuts[-1]
        target = offsets.dtype.type(min(int(offsets[row]) + CHUNK_BYTES, int(offsets[-1])))
        nxt = int(np.searchsorted(offsets, target, side="right")) - 1
        cuts.append(min(max(nxt, row + 1), last + 1))
    bounds = np.asarray(cuts, np.int64)
    at = [g.row_bounds(bounds) for g in groups]
    with np.errstate(over="ignore"):
        for c in range(len(cuts) - 1):
            lo, hi = int(offsets[cuts[c]]), int(offsets[cuts[c + 1]])
            prefix: U64 | None = None
            for g, group in enumerate(groups):
                i0, i1 = int(at[g][c]), int(at[g][c + 1])
                if i1 == i0:
                    continue
                if prefix is None:
                    prefix = _prefix_sums(strings.data, lo, hi)
                _, inverse = _power_tables(hi - lo + 1)
                a = group.starts[i0:i1] - lo
                b = group.ends[i0:i1] - lo
                h = out[g][i0:i1]
                np.subtract(prefix[b], prefix[a], out=h)
                np.multiply(h, inverse[a], out=h)
                b -= a
                _finalise(h, b)
    return out


def _prefix_sums(data: Bytes, lo: int, hi: int) -> U64:
    n = hi - lo
    powers, _ = _power_tables(n + 1)
    prefix = np.empty(n + 1, np.uint64)
    prefix[0] = 0
    np.multiply(data[lo:hi], powers[:n], out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    return prefix


def _finalise(h: U64, lengths: Ints) -> None:
    """Mix in the length, run splitmix64 and cap (in place)."""
    with np.errstate(over="ignore"):
        mix = lengths.astype(np.uint64)
        mix *= _LEN_MIX
        h ^= mix
        np.right_shift(h, _S30, out=mix)
        h ^= mix
        h *= _SM1
        np.right_shift(h, _S27, out=mix)
        h ^= mix
        h *= _SM2
        np.right_shift(h, _S31, out=mix)
        h ^= mix
    np.minimum(h, _MAX_HASH, out=h)


_py_powers: list[int] = [pow(_B, k, 1 << 64) for k in range(64)]


def _finalise_one(h: int, length: int) -> int:
    """:func:`_finalise` of one hash (Python ints)."""
    h ^= (length * _LEN_MIX_INT) & _M64
    h ^= h >> 30
    h = (h * _SM1_INT) & _M64
    h ^= h >> 27
    h = (h * _SM2_INT) & _M64
    h ^= h >> 31
    return min(h, _MAX_HASH_INT)


def hash_one(raw: bytes) -> int:
    """The hash of one UTF-8 string as :func:`hash_strings` computes it, in plain Python."""
    global _py_powers
    if len(raw) > len(_py_powers):
        _py_powers = [pow(_B, k, 1 << 64) for k in range(2 * len(raw))]
    h = sum(map(int.__mul__, raw, _py_powers)) & _M64  # Python ints: no overflow to mask
    return _finalise_one(h, len(raw))


_B64: Final = np.uint64(_B)


@kernel
def _hash_rows(data: Bytes, starts: Ints, ends: Ints, out: U64) -> None:
    """:func:`span_hashes` of the spans ``data[starts[i]:ends[i]]``, one row at a time
    (Horner's rule from the last byte: ``Σ s[k]·B**k`` without a table of powers)."""
    for i in range(starts.size):
        a, b = starts[i], ends[i]
        h = np.uint64(0)
        for k in range(b - 1, a - 1, -1):
            h = h * _B64 + np.uint64(data[k])
        h ^= np.uint64(b - a) * _LEN_MIX
        h ^= h >> _S30
        h *= _SM1
        h ^= h >> _S27
        h *= _SM2
        h ^= h >> _S31
        out[i] = min(h, _MAX_HASH)


@kernel
def hash_span(data: Bytes, a: int, b: int) -> np.uint64:
    """The hash of the span ``data[a:b]``, as :func:`_hash_rows` computes each row (its loop
    body, for kernels that hash one string at a time; a test keeps the two in step)."""
    h = np.uint64(0)
    for k in range(b - 1, a - 1, -1):
        h = h * _B64 + np.uint64(data[k])
    h ^= np.uint64(b - a) * _LEN_MIX
    h ^= h >> _S30
    h *= _SM1
    h ^= h >> _S27
    h *= _SM2
    h ^= h >> _S31
    return min(h, _MAX_HASH)


def hash_strings(values: StringInput) -> U64:
    """The hash of each string as :class:`KeySet` computes it (a null hashes as "")."""
    strings = Strings.of(values)
    ends = strings.offsets[1:]
    if strings.valid is not None:
        ends = np.where(strings.valid, ends, strings.offsets[:-1])
    out = np.empty(len(strings), np.uint64)
    with np.errstate(over="ignore"):  # the plain form (FANZHA_JIT=0) wraps as NumPy does
        _hash_rows(strings.data, strings.offsets[:-1], ends, out)
    return out


def _words(data: Bytes) -> U64:
    """Every 8-byte window of ``data`` as a little-endian ``uint64`` (a strided view)."""
    return np.ndarray((max(len(data) - 7, 0),), dtype="<u8", buffer=data, offset=0, strides=(1,))


_LOW_BYTES: Final = np.array([(1 << (8 * k)) - 1 for k in range(8)], np.uint64)
_HIGH_SHIFT: Final = np.array([8 * (8 - k) for k in range(8)], np.uint64)


def _short_values(data: Bytes, words: U64, starts: I64, lengths: I64) -> U64:
    """The bytes of spans shorter than 8 as integers (read from a window around them)."""
    values = np.empty(len(starts), np.uint64)
    front = starts + 8 <= len(data)
    values[front] = words[starts[front]] & _LOW_BYTES[lengths[front]]
    back = np.flatnonzero(~front)
    if len(back):
        values[back] = words[starts[back] + lengths[back] - 8] >> _HIGH_SHIFT[lengths[back]]
    return values


def spans_equal(a: Strings, a_starts: Ints, b: Strings, b_starts: Ints, lengths: Ints) -> Bool:
    """Whether ``a.data[a_starts[i]:][:lengths[i]] == b.data[b_starts[i]:][:lengths[i]]``.

    Compares 8 bytes at a time through unaligned 64-bit windows of the data: the full words
    of each span, then the last 8 bytes (overlapping); spans under 8 bytes as integers.
    """
    n = len(lengths)
    equal = np.ones(n, bool)
    if n == 0:
        return equal
    a_starts = np.asarray(a_starts, np.int64)
    b_starts = np.asarray(b_starts, np.int64)
    lengths = np.asarray(lengths, np.int64)
    if len(a.data) < 16 or len(b.data) < 16:  # tiny buffers: byte by byte
        for i in np.flatnonzero(lengths):
            x, y, k = int(a_starts[i]), int(b_starts[i]), int(lengths[i])
            equal[i] = bytes(a.data[x : x + k]) == bytes(b.data[y : y + k])
        return equal
    wa, wb = _words(a.data), _words(b.data)
    short = np.flatnonzero((lengths < 8) & (lengths > 0))
    if len(short):
        sa, sb, sl = a_starts[short], b_starts[short], lengths[short]
        equal[short] = _short_values(a.data, wa, sa, sl) == _short_values(b.data, wb, sb, sl)
    long = np.flatnonzero(lengths >= 8)
    if len(long) == 0:
        return equal
    la, lb, ll = a_starts[long], b_starts[long], lengths[long]
    same = wa[la + ll - 8] == wb[lb + ll - 8]  # the last 8 bytes
    words = ll >> 3  # full words; the last window covers what the others leave
    k = 0
    more = np.flatnonzero(ll > 8)  # exactly 8 bytes: the last window is the whole span
    while len(more):
        step = 8 * k
        same[more] &= wa[la[more] + step] == wb[lb[more] + step]
        k += 1
        more = more[words[more] > k]
    equal[long] = same
    return equal


class KeySet:
    """Immutable hash set of strings; 64-bit hashes, verified on hit.

    :meth:`lookup` gives, for each value, the index of the equal key in the sequence given
    to :meth:`build` (the first occurrence when a key was given more than once), ``-1`` when
    absent. Nulls are never keys and never match.
    """

    __slots__ = ("_capacity", "_index", "_keys", "_table", "_unique")

    def __init__(self, keys: Strings, table: U64, index: Ints, capacity: int, unique: int) -> None:
        self._keys = keys
        self._table = table
        self._index = index
        self._capacity = capacity
        self._unique = unique

    @classmethod
    def build(cls, keys: StringInput) -> Self:
        """The set of ``keys`` (duplicates allowed: the first occurrence is kept; nulls ignored)."""
        strings = Strings.of(keys)
        spans = Spans.whole(strings)
        return cls.from_hashes(strings, spans.rows, span_hashes(strings, spans)[0])

    @classmethod
    def from_hashes(cls, keys: Strings, rows: I64 | None, hashes: U64) -> Self:
        """The set of ``keys[rows]`` (``None``: every row) whose hashes, from
        :func:`span_hashes`, are known already; a row whose hash is all ones
        (``0xFFFF_FFFF_FFFF_FFFF``, never a hash) is left out. ``hashes`` is overwritten.
        Large temporaries are made in place or in batches: at 10 M keys, fresh memory costs
        as much as the arithmetic."""
        m = len(hashes)
        if m >= 2**32:  # pragma: no cover - over four thousand million keys
            raise ValueError("a KeySet holds fewer than 2**32 keys")
        # sort by (high half of the hash, position): equal keys sort together, first first
        packed = hashes >> _S32
        packed <<= _S32
        for i, j in _batch_bounds(m):
            packed[i:j] |= np.arange(i, j, dtype=np.uint64)
        packed.sort()
        # rows left out (hash all ones: the only ones with high half 0xFFFFFFFF) sort last
        m = int(np.searchsorted(packed, np.uint64(0xFFFFFFFF << 32)))
        packed = packed[:m]
        order = packed.view(np.int64)  # becomes the positions once the homes are read
        capacity = max(8, int(m * SLOTS_PER_KEY) + 1)
        sorted_hashes = np.empty(m, np.uint64)
        for i, j in _batch_bounds(m):
            hashes.take(order[i:j] & np.int64(0xFFFFFFFF), out=sorted_hashes[i:j])
        slots = hashes[:m].view(np.int64)  # the hashes are read: their memory holds the slots
        for i, j in _batch_bounds(m):
            with np.errstate(over="ignore"):
                home = (packed[i:j] >> _S32) * np.uint64(capacity)
            home >>= _S32
            slots[i:j] = home.view(np.int64)
        order &= np.int64(0xFFFFFFFF)
        del hashes, packed
        first, later = _duplicates(keys, rows, order, sorted_hashes)
        # slot_i = max(home_i, slot_{i-1} + 1) over distinct keys; a duplicate lands on the
        # slot of the key before it (it holds the same hash; the index is fixed below)
        later_mask: Bool | None = None
        if len(later):
            later_mask = np.zeros(m, bool)
            later_mask[later] = True
        rank_base = 0
        ranks: list[I64] = []
        for i, j in _batch_bounds(m):
            rank = np.arange(i, j, dtype=np.int64)
            if later_mask is not None:
                seen = np.cumsum(later_mask[i:j])
                rank -= rank_base + seen
                rank_base += int(seen[-1])
            ranks.append(rank)
            slots[i:j] -= rank
        np.maximum.accumulate(slots, out=slots)
        for (i, j), rank in zip(_batch_bounds(m), ranks, strict=True):
            slots[i:j] += rank
        del ranks
        size = max(capacity, int(slots[-1]) + 1 if m else 0) + 1  # ≥ 1 empty slot at the end
        table = np.full(size, _EMPTY, np.uint64)
        table[slots] = sorted_hashes
        del sorted_hashes
        index: Ints = np.full(size, -1, np.int32 if len(keys) < 2**31 else np.int64)
        index[slots] = order if rows is None else rows[order]
        if len(first):  # the first occurrence owns the slot a duplicate shares
            index[slots[first]] = order[first] if rows is None else rows[order[first]]
        return cls(keys, table, index, capacity, m - len(later))

    def __len__(self) -> int:
        """Number of keys given to :meth:`build` (duplicates and nulls included)."""
        return len(self._keys)

    @property
    def unique(self) -> int:
        """Number of distinct keys (those stored in the table)."""
        return self._unique

    @property
    def nbytes(self) -> int:
        """Memory held by the table (not the keys' Arrow buffers, which are shared)."""
        return int(self._table.nbytes + self._index.nbytes)

    @property
    def keys(self) -> pa.Array:
        """The keys given to :meth:`build`, as one Arrow string array."""
        return self._keys.array

    def key(self, i: int) -> str:
        """The ``i``-th key given to :meth:`build`."""
        value = self._keys.array[i].as_py()
        if value is None:
            raise IndexError(f"key {i} is null")
        return str(value)

    def lookup(self, values: StringInput) -> I64:
        """Index of each value among the keys (``int64``), ``-1`` when absent or null."""
        if len(values) <= SMALL_LOOKUP:
            few = values if isinstance(values, Sequence) else as_string_array(values).to_pylist()
            return np.array([self.find(v) for v in few], np.int64)
        array = as_string_array(values)
        found = np.full(len(array), -1, np.int64)
        for start, part in batches(array):
            strings = Strings.of(part)
            spans = Spans.whole(strings)
            hits = self.lookup_spans(strings, spans)
            if spans.rows is None:
                found[start : start + len(part)] = hits
            else:
                found[start + spans.rows] = hits
        return found

    def find(self, value: str | None) -> int:
        """Index of one value among the keys, ``-1`` when absent or None (plain Python: the
        same probe as :meth:`lookup_hashes`, for a handful of values)."""
        if value is None:
            return -1
        raw = value.encode()
        h = hash_one(raw)
        top = h >> 32
        table, index, offsets = self._table, self._index, self._keys.offsets
        slot = (top * self._capacity) >> 32
        while True:
            here = table.item(slot)
            if here >> 32 > top:  # a larger hash or an empty slot ends the probe
                return -1
            if here == h:
                key = index.item(slot)
                lo, hi = offsets.item(key), offsets.item(key + 1)
                if self._keys.data[lo:hi].tobytes() == raw:
                    return int(key)
            slot += 1

    def substring_lookup(
        self, values: StringInput, starts: Ints, rows: Ints, ends: Ints | None = None
    ) -> I64:
        """For each pair, the key equal to ``values[rows[i]][starts[i]:ends[i]]``, or ``-1``.

        ``starts`` and ``ends`` are byte offsets into the row's UTF-8 text; ``ends`` defaults
        to the end of the row (so ``starts`` alone picks suffixes). Pairs that fall outside
        their row, or on a null row, give ``-1``.
        """
        strings = Strings.of(values)
        rows = np.asarray(rows, np.int64)
        base = strings.offsets[rows].astype(np.int64)
        row_end = strings.offsets[rows + 1].astype(np.int64)
        a = base + np.asarray(starts, np.int64)
        b = row_end if ends is None else base + np.asarray(ends, np.int64)
        ok = (a >= base) & (a <= b) & (b <= row_end)
        if strings.valid is not None:
            ok &= strings.valid[rows]
        order = np.flatnonzero(ok)
        if len(order) > 1 and np.any(np.diff(rows[order]) < 0):
            order = order[np.argsort(rows[order], kind="stable")]
        found = np.full(len(rows), -1, np.int64)
        found[order] = self.lookup_spans(strings, Spans(rows[order], a[order], b[order]))
        return found

    def lookup_spans(self, strings: Strings, spans: Spans, hashes: U64 | None = None) -> I64:
        """The key equal to each span, ``-1`` when none (``hashes`` when known already)."""
        if hashes is None:
            hashes = span_hashes(strings, spans)[0]
        return self.lookup_hashes(strings, spans.starts, spans.ends - spans.starts, hashes)

    def lookup_hashes(self, strings: Strings, starts: Ints, lengths: Ints, hashes: U64) -> I64:
        """The key equal to each ``strings.data[starts[i]:][:lengths[i]]`` with hash
        ``hashes[i]`` (from :func:`span_hashes`), ``-1`` when none."""
        n = len(hashes)
        found = np.empty(n, np.int64)
        if n:
            _lookup_keys(
                self._table,
                self._index,
                self._capacity,
                self._keys.data,
                self._keys.offsets,
                strings.data,
                np.ascontiguousarray(starts, np.int64),
                np.ascontiguousarray(lengths, np.int64),
                np.ascontiguousarray(hashes),
                np.empty(n, np.int64),
                found,
            )
        return found


@kernel
def _lookup_keys(
    table: U64,
    index: Ints,
    capacity: int,
    key_data: Bytes,
    key_offsets: Ints,
    data: Bytes,
    starts: I64,
    lengths: I64,
    hashes: U64,
    key_starts: I64,
    found: I64,
) -> None:
    """The key whose bytes equal each span ``data[starts[i]:][:lengths[i]]`` of hash
    ``hashes[i]``, -1 when none (``key_starts``: scratch). Three loops, the first two without
    a step that waits on another span's, so that their memory misses overlap: the probes,
    the offsets of the keys found, their bytes. A hash met with other bytes (a 64-bit
    collision) is probed again, one slot after another (:func:`_probe_key`)."""
    cap = np.uint64(capacity)
    for i in range(hashes.size):  # ordered probing: a larger hash (or an empty slot) ends it
        h = hashes[i]
        top = h >> _S32
        s = np.int64((top * cap) >> _S32)
        while table[s] != h and (table[s] >> _S32) <= top:
            s += 1
        found[i] = index[s] if table[s] == h else -1
    for i in range(hashes.size):
        key_starts[i] = key_offsets[found[i]] if found[i] >= 0 else 0
    for i in range(hashes.size):  # the bytes (written out: a call here costs several times)
        k = found[i]
        if k < 0:
            continue
        a, b, length = key_starts[i], starts[i], lengths[i]
        same = key_offsets[k + 1] - a == length
        c = 0
        while same and c < length:
            same = key_data[a + c] == data[b + c]
            c += 1
        if not same:
            found[i] = _probe_key(
                table, index, capacity, key_data, key_offsets, data, b, length, hashes[i]
            )


@kernel
def _probe_key(
    table: U64,
    index: Ints,
    capacity: int,
    key_data: Bytes,
    key_offsets: Ints,
    data: Bytes,
    start: int,
    length: int,
    h: np.uint64,
) -> int:
    """The key equal to ``data[start:start + length]`` (hash ``h``), -1 when none: every
    slot of the probe holding the hash checked on the bytes."""
    top = h >> _S32
    s = np.int64((top * np.uint64(capacity)) >> _S32)
    while (table[s] >> _S32) <= top:
        if table[s] == h:
            k = index[s]
            a = key_offsets[k]
            same = key_offsets[k + 1] - a == length
            c = 0
            while same and c < length:
                same = key_data[a + c] == data[start + c]
                c += 1
            if same:
                return int(k)
        s += 1
    return -1


def _batch_bounds(m: int) -> list[tuple[int, int]]:
    return [(i, min(i + BATCH_ROWS, m)) for i in range(0, m, BATCH_ROWS)]


def _duplicates(keys: Strings, rows: I64 | None, order: I64, sorted_hashes: U64) -> tuple[I64, I64]:
    """Keys (positions in sorted order) equal to the key sorted just before them: the first
    occurrences that have duplicates, and the later duplicates."""
    none = np.zeros(0, np.int64)
    if len(order) < 2:
        return none, none
    same = np.flatnonzero(sorted_hashes[1:] == sorted_hashes[:-1])
    if len(same) == 0:
        return none, none
    mine, theirs = order[same + 1], order[same]
    if rows is not None:
        mine, theirs = rows[mine], rows[theirs]
    offsets = keys.offsets
    starts = offsets[mine]
    lengths = offsets[mine + 1] - starts
    equal = (offsets[theirs + 1] - offsets[theirs]) == lengths
    equal[equal] = spans_equal(keys, starts[equal], keys, offsets[theirs[equal]], lengths[equal])
    later = same[equal] + 1
    is_later = np.zeros(len(order), bool)
    is_later[later] = True
    before = same[equal]
    return before[~is_later[before]], later
