"""Small vectorised building blocks for keyed, ordered state: growable columns, interning,
segmented running sums and maxima, and "seen before" sets of keys.

Every kernel here answers, for each row of a batch in its order, the same thing a per-row loop
would have answered at that row: the batch boundary never changes a result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.intel.keyset import KeySet, Strings, as_string_array, hash_span, hash_strings
from fanzha.jit import kernel

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Offsets = npt.NDArray[np.signedinteger[Any]]  # an Arrow array's offsets: int32 or int64
NEVER = np.iinfo(np.int64).max  # "no time yet" for first-seen columns
NONE = np.iinfo(np.int64).min  # "no time yet" for last-seen columns
_FREE: Final = np.iinfo(np.int64).min  # an empty slot of an IntMap
_FREE_BITS: Final = np.uint64(1 << 63)  # the same, as the uint64 a hash is
_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier
_GOLDEN_SIGNED: Final = np.int64(0x9E3779B97F4A7C15 - (1 << 64))  # the same bits, as int64
_ARANGE = np.arange(0, dtype=np.int64)
Hasher = Callable[[pa.Array], npt.NDArray[np.uint64]]
#: Batches of at most this many values take plain-Python paths: a NumPy or Arrow call costs
#: 1–30 µs whatever its size (a first-sight computation makes several), a value in Python
#: about a microsecond. 128, not 64: live calls of ~2,000 events meet 64–256 new values of a
#: kind and took 3 % less CPU (A/B alternated per call; 5 % at 256), the city day's hourly
#: windows the same (at 256: 4–7 % more, two engines alternated per window).
SMALL: Final = 128
#: Batches of at most this many rows (or distinct values) go through a dict (measured: the
#: compiled hashed path costs 25-100 µs plus 0.1-0.2 µs a value, the dict 0.5-1.3 µs a value
#: once it holds millions)...
PLAIN_DISTINCT: Final = 48
#: ... when the dict lacks at most this many values (bringing it up to date costs a Python
#: string and a dict insert per value, about what one value costs the hashed path).
DICT_LAG: Final = 1024
#: An interner readied for a live worker (:meth:`Interner.sync`) takes batches of up to this
#: many values through its dict (on 160k keys the dict costs ~0.2 µs a value against ~40–95 µs
#: a hashed call: it wins to ~256 and loses by 512); a replay keeps ``PLAIN_DISTINCT``: more
#: batches through a lagging dict cost the city day ~8 % in catching it up.
LIVE_PLAIN: Final = 256
#: The fixed cost of one call of the hashed path, in values.
HASHED_FIXED: Final = 64
#: Batches of at most this many rows, when no value is new, are looked up in one compiled call
#: (:meth:`Interner._held`: ~10 µs for a few values against ~50–85 for the general pass; the
#: two cost the same at ~400 values, where that pass's head words save a memory miss a row).
HELD_MAX: Final = 128
#: Batches of at most this many rows are hashed row by row, never dictionary-encoded first
#: (encoding costs more than the hashed path saves on a few thousand rows).
ENCODE_MIN: Final = 8192
#: Values a lagging dict takes in per call once it is worth bringing up to date (about half
#: a millisecond: 40,000 at once were a 10 ms stall in one live call).
SYNC_STEP: Final = 2048
#: A batch whose distinct values are more than this share of its rows is not worth Arrow's
#: dictionary encoding: the next ``DIRECT_RUN`` batches hash their rows directly (then one is
#: encoded again, to see whether that still holds).
DIRECT_SHARE: Final = 0.7
DIRECT_RUN: Final = 7


def _rows(n: int) -> I64:
    """``np.arange(n)``, cut from one kept array."""
    global _ARANGE
    if _ARANGE.size < n:
        _ARANGE = np.arange(max(n, 2 * _ARANGE.size), dtype=np.int64)
    return _ARANGE[:n]


@kernel
def _unset_ids(ids: I64, values: I64, unset: int, mark: int, out: I64) -> int:
    """The distinct ids (-1 skipped) whose value is ``unset``, in order of first sight, into
    ``out``, each marked (its value set to ``mark``, so later rows of it pass); how many."""
    n = 0
    for i in range(ids.size):
        j = ids[i]
        if j >= 0 and values[j] == unset:
            values[j] = mark
            out[n] = j
            n += 1
    return n


@kernel
def _gather(values: I64, ids: I64, null: int, out: I64) -> None:
    """``values[ids]``, ``null`` where the id is -1."""
    for i in range(ids.size):
        j = ids[i]
        out[i] = values[j] if j >= 0 else null


@kernel
def _max_so_far(keys: I64, values: I64, active: B, state: I64, out: I64) -> None:
    """Row by row: the key's state raised to the row's value where ``active``, then read."""
    for r in range(keys.size):
        c = keys[r]
        if active[r] and values[r] > state[c]:
            state[c] = values[r]
        out[r] = state[c]


@kernel
def _min_so_far(keys: I64, values: I64, state: I64, out: I64) -> None:
    """Row by row: the key's state lowered to the row's value, then read."""
    for r in range(keys.size):
        c = keys[r]
        if values[r] < state[c]:
            state[c] = values[r]
        out[r] = state[c]


@kernel
def _sum_so_far(keys: I64, values: I64, state: I64, out: I64) -> None:
    """Row by row: the row's value added to the key's state, then read."""
    for r in range(keys.size):
        c = keys[r]
        state[c] += values[r]
        out[r] = state[c]


class Column:
    """A numpy column indexed by a dense key id, growing on demand, with a default value."""

    def __init__(self, dtype: Any, default: Any) -> None:
        self.default = default
        self.data = np.full(1024, default, dtype=dtype)

    def ensure(self, size: int) -> None:
        """Make room for ids below ``size``."""
        if size > self.data.size:
            grown = np.full(max(size, self.data.size * 2), self.default, dtype=self.data.dtype)
            grown[: self.data.size] = self.data
            self.data = grown

    def get(self, ids: I64) -> npt.NDArray[Any]:
        """Values at ``ids`` (the default for ids never set)."""
        if ids.size:
            self.ensure(int(ids.max()) + 1)
        return self.data[ids]

    def unset(self, ids: I64, mark: int) -> I64:
        """The distinct ``ids`` (none -1, all below the size made sure of) still holding the
        default, in order of first sight; each now holds ``mark`` until it is set."""
        out = np.empty(ids.size, np.int64)
        return out[: _unset_ids(ids, self.data, self.default, mark, out)]

    def max_so_far(self, keys: I64, values: I64, active: B) -> I64:
        """For each row in order (``keys`` none negative): the largest of the key's value and
        of the ``active`` rows' ``values`` so far, this row's included; the column advanced."""
        out = np.empty(keys.size, np.int64)
        if keys.size:
            self.ensure(int(keys.max()) + 1)
            _max_so_far(keys, values, active, self.data, out)
        return out

    def min_so_far(self, keys: I64, values: I64) -> I64:
        """:meth:`max_so_far`'s smallest, every row counting."""
        out = np.empty(keys.size, np.int64)
        if keys.size:
            self.ensure(int(keys.max()) + 1)
            _min_so_far(keys, values, self.data, out)
        return out

    def sum_so_far(self, keys: I64, values: I64) -> I64:
        """:meth:`max_so_far`'s sum (the key's value plus the rows' values so far)."""
        out = np.empty(keys.size, np.int64)
        if keys.size:
            self.ensure(int(keys.max()) + 1)
            _sum_so_far(keys, values, self.data, out)
        return out

    def take(self, ids: I64, null: int) -> I64:
        """Values at ``ids`` (all below the size made sure of), ``null`` where the id is -1."""
        out = np.empty(ids.size, np.int64)
        _gather(self.data, ids, null, out)
        return out


@kernel
def _probe(table: I64, home: I64, keys: I64, mask: int, out: I64) -> None:
    """The slot of each key in an open-addressing table, -1 when absent."""
    for i in range(keys.size):
        k = keys[i]
        s = home[i]
        out[i] = -1
        if k == _FREE:
            continue
        while table[s] != _FREE:
            if table[s] == k:
                out[i] = s
                break
            s = (s + 1) & mask


@kernel
def _lookup(
    table: I64, values: I64, home: I64, keys: I64, mask: int, default: int, pos: I64, out: I64
) -> None:
    """The slot (-1 when absent) and value (``default``) of each key."""
    for i in range(keys.size):
        k = keys[i]
        s = home[i]
        pos[i] = -1
        out[i] = default
        if k == _FREE:
            continue
        while table[s] != _FREE:
            if table[s] == k:
                pos[i] = s
                out[i] = values[s]
                break
            s = (s + 1) & mask


@kernel
def _insert(table: I64, values: I64, home: I64, keys: I64, vals: I64, mask: int) -> None:
    """Put absent, distinct keys in the first free slot from their home."""
    for i in range(keys.size):
        s = home[i]
        while table[s] != _FREE:
            s = (s + 1) & mask
        table[s] = keys[i]
        values[s] = vals[i]


@kernel
def _first_seen(
    table: I64, values: I64, home: I64, keys: I64, at: I64, mask: int, out: I64, added: B
) -> int:
    """Row by row: the key's value, the key added with ``at`` first when absent; the number
    of keys added."""
    n = 0
    for i in range(keys.size):
        k = keys[i]
        s = home[i]
        while True:
            here = table[s]
            if here == k:
                out[i] = values[s]
                break
            if here == _FREE:
                table[s] = k
                values[s] = at[i]
                out[i] = at[i]
                added[i] = True
                n += 1
                break
            s = (s + 1) & mask
    return n


@kernel
def _same_bytes(a: U8, i: int, b: U8, j: int, length: int) -> bool:
    """Whether ``a[i:i + length]`` holds the bytes of ``b[j:j + length]``."""
    for k in range(length):  # noqa: SIM110 - a loop: Numba compiles no generator for all()
        if a[i + k] != b[j + k]:
            return False
    return True


@kernel
def _head_words(data: U8, offsets: Offsets, out: U64) -> None:
    """The first 16 bytes of each string ``data[offsets[i]:offsets[i + 1]]`` as two
    little-endian words, zero-padded, in ``out[2 * i]`` and ``out[2 * i + 1]``: with its
    length, the whole of a string of at most 16 bytes (a phone number, an account)."""
    for i in range(offsets.size - 1):
        a = offsets[i]
        m = min(offsets[i + 1] - a, 16)
        low = np.uint64(0)
        high = np.uint64(0)
        for k in range(min(m, 8)):
            low |= np.uint64(data[a + k]) << np.uint64(8 * k)
        for k in range(8, m):
            high |= np.uint64(data[a + k]) << np.uint64(8 * (k - 8))
        out[2 * i] = low
        out[2 * i + 1] = high


@kernel
def _find_rows(
    data: U8,
    offsets: Offsets,
    table: U64,
    ids: I64,
    mask: np.uint64,
    shift: np.uint64,
    store: U8,
    stored_at: I64,
    hashes: U64,
    out: I64,
) -> bool:
    """The id of each string ``data[offsets[i]:offsets[i + 1]]`` in ``out``, when every one
    is held already (True; False as soon as one is not): hashed (:func:`hash_span`), found in
    the table (hash → id; ``table`` its keys as ``uint64``) and checked against the bytes
    held (``store[stored_at[j]:stored_at[j + 1]]``); ``hashes`` is scratch.

    Three loops, as :func:`_intern_rows` has: the hashes, the probes, the checks; the misses
    of one row's probe or check overlap the next row's."""
    rows = offsets.size - 1
    for i in range(rows):
        hashes[i] = hash_span(data, offsets[i], offsets[i + 1])
    for i in range(rows):
        h = hashes[i]
        s = (h * _GOLDEN) >> shift
        j = -1
        while table[s] != _FREE_BITS:
            if table[s] == h:
                j = ids[s]
                break
            s = (s + np.uint64(1)) & mask
        if j < 0:
            return False
        out[i] = j
    for i in range(rows):
        a, j = offsets[i], out[i]
        c = stored_at[j]
        if stored_at[j + 1] - c != offsets[i + 1] - a:
            return False
        for k in range(offsets[i + 1] - a):
            if data[a + k] != store[c + k]:
                return False
    return True


@kernel
def _intern_rows(
    keys: I64,
    home: I64,
    valid: B,
    data: U8,
    offsets: Offsets,
    heads: U64,
    table: I64,
    ids: I64,
    mask: int,
    store: U8,
    stored_at: I64,
    stored_heads: U64,
    stored: int,
    out: I64,
    source: I64,
    stop: I64,
) -> int:
    """Row by row, the id of each string ``data[offsets[i]:offsets[i + 1]]`` (-1 where not
    ``valid``; ``heads``: its :func:`_head_words`): found by its hash ``keys[i]`` in the
    table (hash → id) and checked against the value held (bytes ``store[stored_at[j]:
    stored_at[j + 1]]``, head words ``stored_heads[2 * j:2 * j + 2]``), else added with the
    next id from ``stored`` on (bytes, offset, head words, table slot). Stops at the first
    row whose hash a different string holds (or that marks a free slot) and puts its index
    in ``stop[0]`` (``keys.size`` when none); returns the number of values added.

    Three loops, the first two without a step that waits on another row's: the probes, the
    checks of what they found (a string of at most 16 bytes by its length and head words,
    so one memory miss; bytes beyond from the store), then the new values in row order. A
    loop doing all three would wait on each miss in turn; these overlap them."""
    rows = keys.size
    for i in range(rows):  # probe: the id the table holds for the row's hash, or -1
        out[i] = -1
        s = home[i]
        k = keys[i]
        while valid[i] and table[s] != _FREE:
            if table[s] == k:
                out[i] = ids[s]
                break
            s = (s + 1) & mask
    end = rows
    for i in range(rows):  # check what was found (written out: a call here costs 4x)
        j = out[i]
        if j < 0:
            continue
        a, b = offsets[i], stored_at[j]
        length = offsets[i + 1] - a
        differ = stored_at[j + 1] - b != length
        differ |= heads[2 * i] != stored_heads[2 * j]
        differ |= heads[2 * i + 1] != stored_heads[2 * j + 1]
        if differ or (length > 16 and not _same_bytes(data, a + 16, store, b + 16, length - 16)):
            end = i
            break
    n = stored
    for i in range(end):  # new values in row order (a value new here may come again)
        if out[i] >= 0 or not valid[i]:
            continue
        k = keys[i]
        if k == _FREE:
            end = i
            break
        s = home[i]
        while table[s] != _FREE and table[s] != k:
            s = (s + 1) & mask
        if table[s] == k:  # added by an earlier row of this batch: the same string?
            first = source[ids[s] - stored]
            a, b = offsets[i], offsets[first]
            length = offsets[i + 1] - a
            if (
                offsets[first + 1] - b != length
                or heads[2 * i] != heads[2 * first]
                or heads[2 * i + 1] != heads[2 * first + 1]
                or (length > 16 and not _same_bytes(data, a + 16, data, b + 16, length - 16))
            ):
                end = i
                break
            out[i] = ids[s]
            continue
        table[s] = k
        ids[s] = n
        source[n - stored] = i
        out[i] = n
        n += 1
    for j in range(stored, n):  # their bytes, apart: the loop above then overlaps its misses
        i = source[j - stored]
        a = offsets[i]
        length = offsets[i + 1] - a
        b = stored_at[j]
        for c in range(length):
            store[b + c] = data[a + c]
        stored_at[j + 1] = b + length
        stored_heads[2 * j] = heads[2 * i]
        stored_heads[2 * j + 1] = heads[2 * i + 1]
    stop[0] = end
    return n - stored


@kernel
def _intern_strings(
    data: U8,
    offsets: Offsets,
    valid: B,
    table: I64,
    ids: I64,
    mask: int,
    shift: np.uint64,
    store: U8,
    stored_at: I64,
    stored_heads: U64,
    stored: int,
    own: bool,
    hashes: U64,
    keys: I64,
    home: I64,
    heads: U64,
    source: I64,
    out: I64,
    stop: I64,
) -> int:
    """:func:`_intern_rows` of strings as they come: with ``own``, their hashes
    (:func:`hash_span`, into ``hashes``, which ``keys`` views as ``int64``; else ``hashes``
    holds them), home slots and head words computed first, in the same call (each a separate
    NumPy or compiled step cost more than its work for a live call's few hundred values)."""
    for i in range(offsets.size - 1):
        a, b = offsets[i], offsets[i + 1]
        if own:
            # a null hashes as "" (never looked up: its id is -1)
            hashes[i] = hash_span(data, a, b if valid[i] else a)
        h = hashes[i]
        home[i] = (h * _GOLDEN) >> shift
        # the head words as _head_words makes them, inline (a test checks the stored ones)
        m = min(b - a, 16)
        low = np.uint64(0)
        high = np.uint64(0)
        for k in range(min(m, 8)):
            low |= np.uint64(data[a + k]) << np.uint64(8 * k)
        for k in range(8, m):
            high |= np.uint64(data[a + k]) << np.uint64(8 * (k - 8))
        heads[2 * i] = low
        heads[2 * i + 1] = high
    return _intern_rows(
        keys,
        home,
        valid,
        data,
        offsets,
        heads,
        table,
        ids,
        mask,
        store,
        stored_at,
        stored_heads,
        stored,
        out,
        source,
        stop,
    )


@kernel
def _count_rows(table: I64, values: I64, home: I64, keys: I64, mask: int, out: I64) -> int:
    """Row by row: one more for the row's key (added with 0 first when absent), then read;
    the number of keys added."""
    n = 0
    for i in range(keys.size):
        k = keys[i]
        s = home[i]
        while table[s] != k and table[s] != _FREE:
            s = (s + 1) & mask
        if table[s] == _FREE:
            table[s] = k
            values[s] = 0
            n += 1
        values[s] += 1
        out[i] = values[s]
    return n


@kernel
def _rehash(old: I64, old_values: I64, table: I64, values: I64, shift: int, mask: int) -> None:
    """Every key of the table ``old`` into the empty ``table``, at its home there (the
    :meth:`IntMap._home` multiply-shift, in int64: an arithmetic shift masked keeps the bits
    a logical one gives). The old table lists its keys nearly in the order of their new
    homes, so the writes move along the new one."""
    for i in range(old.size):
        k = old[i]
        if k == _FREE:
            continue
        s = ((k * _GOLDEN_SIGNED) >> shift) & mask
        while table[s] != _FREE:
            s = (s + 1) & mask
        table[s] = k
        values[s] = old_values[i]


class IntMap(MutableMapping[int, int]):
    """A hash map from int64 keys to int64 values, read and written a whole array at a time.

    Open addressing with linear probing in two NumPy arrays (keys, values) at most half full;
    the homes of a batch's keys are hashed in NumPy, the probes run as compiled loops
    (:mod:`fanzha.jit`: a probe is a chain of data-dependent reads that NumPy can only do in
    rounds over the keys still looking). Growing hashes every key again into a table three
    times the size. As a ``MutableMapping`` it also answers one key at a time (snapshots,
    tests); per-key calls are for the rare path.
    """

    __slots__ = ("_bits", "_free_value", "_keys", "_mask", "_n", "_shift", "_values")

    def __init__(self, capacity: int = 1024) -> None:
        self._alloc(capacity)
        self._n = 0
        self._free_value: int | None = None  # the value of the key equal to _FREE, if any

    def _alloc(self, capacity: int) -> None:
        self._bits = max(4, int(capacity - 1).bit_length())
        self._keys = np.full(1 << self._bits, _FREE, np.int64)
        self._values = np.zeros(1 << self._bits, np.int64)
        self._mask = (1 << self._bits) - 1
        self._shift = np.uint64(64 - self._bits)

    @classmethod
    def of(cls, keys: I64, values: I64) -> IntMap:
        """A map of ``keys`` (distinct) to ``values``."""
        out = cls(2 * len(keys) + 1)
        out.put_many(np.asarray(keys, np.int64), np.asarray(values, np.int64))
        return out

    def _home(self, keys: I64) -> I64:
        with np.errstate(over="ignore"):
            h = keys.view(np.uint64) * _GOLDEN
        return (h >> self._shift).view(np.int64)

    def positions(self, keys: I64) -> I64:
        """The slot of each key, -1 when absent (the key equal to ``_FREE`` included)."""
        keys = np.ascontiguousarray(keys, np.int64)
        out = np.empty(keys.size, np.int64)
        if keys.size == 0 or self._n == 0:
            out.fill(-1)
            return out
        _probe(self._keys, self._home(keys), keys, self._mask, out)
        return out

    def contains(self, keys: I64) -> B:
        """Whether each key is in the map."""
        keys = np.asarray(keys, np.int64)
        found: B = self.positions(keys) >= 0
        if self._free_value is not None:
            found |= keys == _FREE
        return found

    def lookup(self, keys: I64, default: int) -> tuple[I64, I64]:
        """The value of each key (``default`` where absent) and its slot (-1 where absent);
        the slots serve :meth:`put_many` while the map is unchanged."""
        keys = np.ascontiguousarray(keys, np.int64)
        pos = np.empty(keys.size, np.int64)
        out = np.empty(keys.size, np.int64)
        if keys.size == 0 or self._n == 0:
            pos.fill(-1)
            out.fill(default)
        else:
            _lookup(self._keys, self._values, self._home(keys), keys, self._mask, default, pos, out)
        if self._free_value is not None:
            out[keys == _FREE] = self._free_value
        return out, pos

    def get_many(self, keys: I64, default: int) -> I64:
        """The value of each key, ``default`` where absent."""
        return self.lookup(keys, default)[0]

    def put_many(self, keys: I64, values: I64, positions: I64 | None = None) -> None:
        """Set ``keys`` (distinct) to ``values``: present keys are overwritten, others added
        (``positions``: their slots from :meth:`lookup`, when known)."""
        keys = np.asarray(keys, np.int64)
        values = np.asarray(values, np.int64)
        free = keys == _FREE
        if free.any():
            self._n += self._free_value is None
            self._free_value = int(values[free][-1])
            keep = ~free
            keys, values = keys[keep], values[keep]
            positions = None if positions is None else positions[keep]
        pos = self.positions(keys) if positions is None else positions
        old = pos >= 0
        if old.all():
            self._values[pos] = values
            return
        self._values[pos[old]] = values[old]
        new = np.flatnonzero(~old)
        self.add_new(keys[new], values[new])

    def add_new(self, keys: I64, values: I64) -> None:
        """Add keys known to be absent (distinct, none equal to ``_FREE``)."""
        m = keys.size
        if m == 0:
            return
        self.reserve(m)
        self._n += m
        keys = np.ascontiguousarray(keys, np.int64)
        values = np.ascontiguousarray(values, np.int64)
        _insert(self._keys, self._values, self._home(keys), keys, values, self._mask)

    def first_seen(self, keys: I64, at: I64) -> tuple[I64, B]:
        """For each row in order: the value of its key, the key added with the row's ``at``
        when absent (so later rows of the same key read that); and which rows added one.
        Keys equal to ``_FREE`` are not allowed."""
        keys = np.ascontiguousarray(keys, np.int64)
        self.reserve(keys.size)
        out = np.empty(keys.size, np.int64)
        added = np.zeros(keys.size, np.bool_)
        home = self._home(keys)
        at = np.ascontiguousarray(at, np.int64)
        self._n += _first_seen(self._keys, self._values, home, keys, at, self._mask, out, added)
        return out, added

    def count(self, keys: I64) -> I64:
        """For each row in order: its key's value plus one (an absent key counting from 0),
        kept in the map: how many times the key was counted, this row included. Keys equal
        to ``_FREE`` are not allowed."""
        keys = np.ascontiguousarray(keys, np.int64)
        self.reserve(keys.size)
        out = np.empty(keys.size, np.int64)
        self._n += _count_rows(self._keys, self._values, self._home(keys), keys, self._mask, out)
        return out

    def reserve(self, more: int) -> None:
        """Room for ``more`` keys to come without growing (the table stays at most half full)."""
        if 2 * (self._n + more) > self._keys.size:
            self._grow(3 * (self._n + more))

    def _grow(self, capacity: int) -> None:
        keys, values = self._keys, self._values
        self._alloc(capacity)
        with np.errstate(over="ignore"):  # the plain form (FANZHA_JIT=0) wraps as NumPy does
            _rehash(keys, values, self._keys, self._values, 64 - self._bits, self._mask)

    def arrays(self) -> tuple[I64, I64]:
        """Every (key, value) as two arrays, by key (the same whatever the map's history)."""
        used = self._keys != _FREE
        keys, values = self._keys[used], self._values[used]
        if self._free_value is not None:
            keys = np.append(keys, _FREE)
            values = np.append(values, self._free_value)
        order = np.argsort(keys, kind="stable")
        return keys[order], values[order]

    # ------------------------------------------------------------ one key at a time

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Memory held by the table (keys and values, free slots included)."""
        return int(self._keys.nbytes + self._values.nbytes)

    def __getitem__(self, key: int) -> int:
        if key == _FREE and self._free_value is not None:
            return self._free_value
        pos = self.positions(np.array([key], np.int64))
        if pos[0] < 0:
            raise KeyError(key)
        return int(self._values[pos[0]])

    def __setitem__(self, key: int, value: int) -> None:
        self.put_many(np.array([key], np.int64), np.array([value], np.int64))

    def __delitem__(self, key: int) -> None:
        raise TypeError("IntMap keys cannot be deleted")

    def __iter__(self) -> Iterator[int]:
        return iter(self.arrays()[0].tolist())

    def items(self) -> list[tuple[int, int]]:  # type: ignore[override]
        """(key, value) pairs, by key."""
        keys, values = self.arrays()
        return list(zip(keys.tolist(), values.tolist(), strict=True))


class Interner:
    """Dense integer ids for strings, stable for the life of the interner (and its snapshot),
    handed out in order of first sight.

    The strings are held as UTF-8 bytes and offsets (an Arrow ``large_string`` view of them is
    free), with each one's first 16 bytes as two words (:func:`_head_words`). A batch is
    hashed with :class:`~fanzha.intel.keyset.KeySet`'s hash and interned by one compiled
    pass (:func:`_intern_rows`) over its Arrow buffers: a probe of the :class:`IntMap` from
    hash to id, every hit verified (length and head words: one memory read for a string of
    at most 16 bytes; the bytes beyond from the store), new values appended to the store. No
    Python string is made for a value seen before. A column with few distinct values
    (message texts) is dictionary-encoded by Arrow first, so only those are interned; a
    mostly distinct one is interned row by row. A string whose hash another string holds
    already (a 64-bit collision, or many strings under a test's weak hash) is kept in a plain
    dict only; from a row that meets one on, a batch goes through the dict.

    Few values (a live worker's small batches) go through the plain dict one by one when it is
    up to date; it is brought up to date lazily (the values added since, decoded once), when
    the hashed path taken meanwhile has cost as much.
    """

    def __init__(self, hasher: Hasher = hash_strings, *, plain: int = PLAIN_DISTINCT) -> None:
        self._hasher = hasher
        self._plain = plain  # at most this many distinct values go through the dict
        self._direct = 0  # batches still to hash row by row, without encoding them first
        self._reset()

    def _reset(self) -> None:
        self._data = np.zeros(1 << 12, np.uint8)
        self._offsets = np.zeros(1 << 10, np.int64)  # value i is _data[_offsets[i]:_offsets[i+1]]
        self._heads = np.zeros(1 << 11, np.uint64)  # value i's _head_words at 2 * i, 2 * i + 1
        self._stored = 0  # values held as bytes and (unless their hash was taken) in the map
        self._by_hash = IntMap()
        self._ids: dict[str, int] = {}  # the first _in_dict values, and every collided one
        self._in_dict = 0
        self._rent = 0  # values' worth of hashed-path calls taken while the dict lagged
        self._pending: list[str] = []  # values added through the dict, not yet stored as bytes

    def __len__(self) -> int:
        return self._stored + len(self._pending)

    # ------------------------------------------------------------------ whole contents

    @property
    def values(self) -> list[str]:
        """Every interned string, by id."""
        self._store_pending()
        return list(self._arrow().to_pylist())

    @values.setter
    def values(self, values: list[str]) -> None:
        if len(set(values)) != len(values):
            raise ValueError("interned values must be distinct")
        self._reset()
        self._append(pa.array(values, pa.string()))
        hashes = self._hasher(self._arrow()).view(np.int64)
        _, _, first, _ = group_rows(hashes)  # a hash two values share: the first's
        first = np.sort(first)
        _add_absent(self._by_hash, hashes[first], first)
        # The strings are at hand (a restore): the dict is up to date from the start.
        self._ids = {v: i for i, v in enumerate(values)}
        self._in_dict = len(values)

    @property
    def ids(self) -> dict[str, int]:
        """Value → id (a dict, brought up to date)."""
        self._sync_dict()
        return dict(self._ids)

    @ids.setter
    def ids(self, ids: Mapping[str, int]) -> None:
        self.values = sorted(ids, key=ids.__getitem__)

    # ------------------------------------------------------------------ interning

    def intern(self, values: pa.Array | pa.ChunkedArray) -> I64:
        """The id of each value (nulls → -1), adding the new ones."""
        if len(values) <= self._plain and self._dict_ready(len(values)):
            return self._intern_py(values.to_pylist())
        return self._intern_arrow(as_string_array(values))

    def intern_list(self, values: Sequence[str | None]) -> I64:
        """:meth:`intern` of Python strings (through the dict while it is nearly up to date)."""
        if len(values) > self._plain or not self._dict_ready(len(values)):
            return self._intern_arrow(pa.array(values, pa.string()))
        return self._intern_py(values)

    def _intern_arrow(self, array: pa.Array) -> I64:
        if len(array) == 0:
            return np.empty(0, np.int64)
        if len(array) <= ENCODE_MIN or (self._direct > 0 and len(array) > self._plain):
            # Few rows, or mostly distinct values (the last encoding said so): hash the rows
            # themselves.
            self._direct -= len(array) > ENCODE_MIN
            self._store_pending()
            return self._intern_hashed(array)
        # Arrow's dictionary encoding first: only the distinct values are hashed (a column of
        # message texts has a few hundred distinct values in a hundred thousand rows).
        encoded = pc.dictionary_encode(array)
        distinct = len(encoded.dictionary)
        self._direct = DIRECT_RUN if distinct > DIRECT_SHARE * len(array) else 0
        ids = self._intern_distinct(encoded.dictionary)
        indices = encoded.indices
        nulls = indices.null_count
        codes = np.asarray((indices.fill_null(-1) if nulls else indices).to_numpy())
        if ids.size == 0:
            return np.full(codes.size, -1, np.int64)
        out: I64 = ids[codes]
        if nulls:
            out[codes < 0] = -1
        return out

    def _intern_distinct(self, distinct: pa.Array) -> I64:
        """Ids of distinct values: through the dict when they are few and it is nearly up to
        date, else hashed."""
        if len(distinct) <= self._plain and self._dict_ready(len(distinct)):
            return self._intern_py(distinct.to_pylist())
        self._store_pending()
        return self._intern_hashed(distinct)

    def _intern_py(self, values: Sequence[str | None]) -> I64:
        """One dict look-up per value (the dict brought up to date first)."""
        self._sync_dict()
        ids, get, pending = self._ids, self._ids.get, self._pending
        out = []
        for v in values:
            i = get(v, -1) if v is not None else -1
            if i < 0 and v is not None:
                i = ids[v] = self._stored + len(pending)
                pending.append(v)
            out.append(i)
        self._in_dict = len(self)
        return np.array(out, np.int64)

    @property
    def held_from(self) -> int:
        """Ids from this one on are still held as Python strings (added through the dict
        since the byte store was last brought up to date): :meth:`value` of them is free."""
        return self._stored

    def find(self, value: str) -> int:
        """The id of ``value``, or -1 when it was never interned."""
        self._sync_dict()
        return self._ids.get(value, -1)

    def value(self, i: int) -> str:
        """The string of an id."""
        if i >= self._stored:
            return self._pending[i - self._stored]
        return bytes(self._data[self._offsets[i] : self._offsets[i + 1]]).decode()

    def strings(self, ids: I64) -> list[str]:
        """The strings of ``ids`` (none -1), for a few ids: decoded straight from the byte
        store (a NumPy scalar read and a slice per id, as :meth:`value` does, cost a
        microsecond each)."""
        if ids.size and int(ids.max()) >= self._stored:  # some only held as Python strings
            return [self.value(i) for i in ids.tolist()]
        starts, ends = self._offsets[ids].tolist(), self._offsets[ids + 1].tolist()
        data = self._data.data
        return [str(data[a:b], "utf-8") for a, b in zip(starts, ends, strict=True)]

    def arrow(self, ids: I64) -> pa.Array:
        """The strings of ``ids`` (none -1) as an Arrow ``string`` array."""
        self._store_pending()
        return self._arrow().take(pa.array(ids, pa.int64())).cast(pa.string())

    # ------------------------------------------------------------------ the hashed path

    def _intern_hashed(self, array: pa.Array) -> I64:
        """Ids through the hash map, row by row in one compiled pass (new values stored as
        they come); from a row whose hash another string holds on, through the dict."""
        ours = self._hasher is hash_strings
        if ours and len(array) <= HELD_MAX and not array.null_count:
            held = self._held(array)
            if held is not None:
                return held
        return self._intern_strings(array, None if ours else self._hasher(array))

    def _intern_strings(self, array: pa.Array, hashed: U64 | None) -> I64:
        """:meth:`_intern_hashed`'s pass: home slots, head words and (``hashed`` None: this
        interner's own hash) the hashes in the same compiled call as the look-ups and
        additions."""
        n = len(array)
        strings = Strings.of(array)
        valid = np.ones(n, np.bool_) if strings.valid is None else strings.valid
        m = self._by_hash
        m.reserve(n)
        self._room_for(n, int(strings.offsets[-1] - strings.offsets[0]))
        scratch = np.empty(5 * n, np.uint64)
        hashes = scratch[:n]
        if hashed is not None:
            hashes[:] = hashed
        out = np.empty(n, np.int64)
        stop = np.zeros(1, np.int64)
        with np.errstate(over="ignore"):  # the plain form (FANZHA_JIT=0) wraps as NumPy does
            added = _intern_strings(
                strings.data,
                strings.offsets,
                valid,
                m._keys,
                m._values,
                m._mask,
                m._shift,
                self._data,
                self._offsets,
                self._heads,
                self._stored,
                hashed is None,
                hashes,
                hashes.view(np.int64),
                scratch[n : 2 * n].view(np.int64),
                scratch[2 * n : 4 * n],
                scratch[4 * n :].view(np.int64),
                out,
                stop,
            )
        m._n += added
        self._stored += added
        rest = int(stop[0])
        if rest < n:  # a 64-bit collision (a test's weak hash, a free slot's): the dict decides
            out[rest:] = self._intern_py(array.slice(rest).to_pylist())
        return out

    def _held(self, array: pa.Array) -> I64 | None:
        """The ids of values all held already, in one compiled call (a live call's few
        values are nearly always held, and the general pass takes ~15 steps before its
        loop); None when one is not."""
        strings = Strings.of(array)
        out = np.empty(len(array), np.int64)
        m = self._by_hash
        with np.errstate(over="ignore"):  # the plain form (FANZHA_JIT=0) wraps as NumPy does
            held = _find_rows(
                strings.data,
                strings.offsets,
                m._keys.view(np.uint64),
                m._values,
                np.uint64(m._mask),
                m._shift,
                self._data,
                self._offsets,
                np.empty(len(array), np.uint64),
                out,
            )
        return out if held else None

    def _room_for(self, values: int, size: int) -> None:
        """Room in the store for ``values`` more values of ``size`` bytes in all."""
        used = int(self._offsets[self._stored])
        self._data = _room(self._data, used + size)
        self._offsets = _room(self._offsets, self._stored + values + 1)
        self._heads = _room(self._heads, 2 * (self._stored + values))

    def _append(self, new: pa.Array) -> None:
        """Store the bytes (and head words) of new values (ids from ``_stored`` on)."""
        s = Strings.of(new)
        lo, hi = int(s.offsets[0]), int(s.offsets[-1])
        m = len(new)
        self._room_for(m, hi - lo)
        used = int(self._offsets[self._stored])
        self._data[used : used + hi - lo] = s.data[lo:hi]
        self._offsets[self._stored + 1 : self._stored + m + 1] = s.offsets[1:] - lo + used
        _head_words(s.data, s.offsets, self._heads[2 * self._stored : 2 * (self._stored + m)])
        self._stored += m

    def _store_pending(self) -> None:
        """Move the values added through the dict into the byte store and the hash map."""
        if not self._pending:
            return
        new = pa.array(self._pending, pa.string())
        hashes = np.ascontiguousarray(self._hasher(new)).view(np.int64)
        ids = self._stored + _rows(len(new))
        self._pending = []
        self._append(new)
        # Only hashes no other value holds go into the map (the rest stay in the dict); a
        # hash repeated among the new values goes in once, for the first: one compiled pass
        # (a live worker stores a few values between its calls), unless a hash is the map's
        # free-slot marker, which that pass cannot hold.
        if int(hashes.min()) != _FREE:
            self._by_hash.first_seen(hashes, ids)
            return
        _, _, first, _ = group_rows(hashes)
        first = np.sort(first)
        free = ~self._by_hash.contains(hashes[first])
        _add_absent(self._by_hash, hashes[first][free], ids[first][free])

    def sync(self, plain: int = LIVE_PLAIN) -> None:
        """Ready the dict for a run of small batches (a live worker's), whose few values each
        would otherwise take the hashed path (about 100 µs a call, against a fraction of a
        microsecond a value through the dict) until the lazy catch-up had paid for itself:
        brought up to date now, and batches of up to ``plain`` values go through it."""
        self._sync_dict()
        self._plain = max(self._plain, plain)

    def _dict_ready(self, n: int) -> bool:
        """Whether ``n`` values may go through the dict: it lacks at most ``DICT_LAG`` values,
        or the hashed path taken instead since it was last brought up to date has cost as
        much as bringing it up to date now (a live worker's small batches soon find it up to
        date; a replay's few small batches never pay for the values its large ones added)."""
        lag = len(self) - self._in_dict
        if lag <= DICT_LAG:
            return True
        self._rent += n + HASHED_FIXED
        if self._rent < lag:
            return False
        # Paid for: brought up to date ``SYNC_STEP`` values a call (the hashed path serves
        # meanwhile), so a live worker's call never stalls on a replay's worth of values.
        self._sync_dict(SYNC_STEP)
        return len(self) - self._in_dict <= DICT_LAG

    def _sync_dict(self, most: int | None = None) -> None:
        """Add the values stored since the dict was last brought up to date (``most`` of them
        at most)."""
        if self._in_dict >= self._stored:
            return
        lo = self._in_dict
        hi = self._stored if most is None else min(self._stored, lo + most)
        fresh = self._arrow().slice(lo, hi - lo).to_pylist()
        self._ids.update(zip(fresh, range(lo, hi), strict=True))
        self._in_dict = len(self) if hi == self._stored else hi
        if hi == self._stored:
            self._rent = 0

    def _arrow(self) -> pa.Array:
        """The stored values as a zero-copy ``large_string`` array."""
        n = self._stored
        offsets = self._offsets[: n + 1]
        return pa.LargeStringArray.from_buffers(
            n, pa.py_buffer(offsets), pa.py_buffer(self._data[: int(offsets[-1])])
        )


@kernel
def _span_offsets(offsets: Offsets, idx: I64, out: Offsets, limit: int) -> int:
    """The offsets of the spans ``idx`` picks (``out[0]`` = 0), from ``offsets`` (n + 1);
    their total length, -1 when an index is out of range, -2 when the total passes
    ``limit``."""
    n = offsets.size - 1
    total = 0
    out[0] = 0
    for i in range(idx.size):
        j = idx[i]
        if j < 0 or j >= n:
            return -1
        total += offsets[j + 1] - offsets[j]
        if total > limit:
            return -2
        out[i + 1] = total
    return total


@kernel
def _gather_spans(data: U8, offsets: Offsets, idx: I64, at: Offsets, out: U8) -> None:
    """The bytes of the spans ``idx`` picks, one after the other, at ``at`` (from
    :func:`_span_offsets`)."""
    for i in range(idx.size):
        a = offsets[idx[i]]
        o = at[i]
        out[o : at[i + 1]] = data[a : a + at[i + 1] - o]


_UTF8_LIMIT: Final = {False: (1 << 31) - 1, True: (1 << 62)}


def take_utf8(array: pa.Array, idx: I64) -> pa.Array:
    """``array.take(idx)`` for a ``string`` or ``large_string`` array without nulls, in two
    compiled passes (an Arrow take costs tens of microseconds in a live call, whatever its
    size; event ids are taken several times a call); any other array through Arrow.
    ``IndexError`` for an index out of range, as Arrow raises."""
    idx = np.ascontiguousarray(idx, np.int64)
    large = pa.types.is_large_string(array.type)
    if array.null_count or not (large or pa.types.is_string(array.type)):
        return array.take(pa.array(idx, pa.int64()))
    strings = Strings.of(array)
    at: Offsets = np.empty(idx.size + 1, np.int64 if large else np.int32)
    total = _span_offsets(strings.offsets, idx, at, _UTF8_LIMIT[large])
    if total == -1:
        raise IndexError(f"index out of range for an array of {len(array)} values")
    if total < 0:  # over 2 GiB of string data: Arrow's own take
        return array.take(pa.array(idx, pa.int64()))
    data = np.empty(total, np.uint8)
    _gather_spans(strings.data, strings.offsets, idx, at, data)
    buffers = [None, pa.py_buffer(at), pa.py_buffer(data)]
    return pa.Array.from_buffers(array.type, idx.size, buffers)


def strings_at(strings: Strings, idx: I64) -> list[str]:
    """The Python strings at ``idx`` (none -1) of a string array's buffers, decoded straight
    from its bytes (an Arrow take and ``to_pylist`` cost more for a few)."""
    starts = strings.offsets[idx].tolist()
    ends = strings.offsets[np.asarray(idx) + 1].tolist()
    data = strings.data.data  # the bytes, as a memoryview (slices of it decode at C speed)
    return [str(data[a:b], "utf-8") for a, b in zip(starts, ends, strict=True)]


def utf8_at(array: pa.Array, idx: I64) -> list[str]:
    """The Python strings at ``idx`` of a ``string`` or ``large_string`` array without
    nulls (:func:`strings_at`); any other array through Arrow (a null as ``"None"``, as
    ``str`` of it would be)."""
    large = pa.types.is_large_string(array.type)
    if array.null_count or not (large or pa.types.is_string(array.type)):
        return [str(v) for v in array.take(pa.array(idx, pa.int64())).to_pylist()]
    return strings_at(Strings.of(array), idx)


def warm() -> None:
    """Compile (or load from ``__pycache__``) every kernel of the detection path now, on a
    few values: importing Numba and loading the kernels costs a second or two of CPU, which a
    live worker (or a bench) pays before it takes traffic rather than in its first batch."""
    keys = np.arange(1, 4, dtype=np.int64)
    m = IntMap()
    m.first_seen(keys, keys)
    m.lookup(keys, -1)
    m.contains(keys)
    m.add_new(keys + 8, keys)
    m.reserve(64)  # grows: the insert loop again
    col = Column(np.int64, NONE)
    col.unset(keys, 0)
    col.take(keys, -1)
    col.max_so_far(keys, keys, keys > 1)
    col.min_so_far(keys, keys)
    col.sum_so_far(keys, keys)
    m.count(keys)
    for kind in (pa.string(), pa.large_string()):  # int32 and int64 offsets
        interner = Interner(plain=0)
        interner.intern(pa.array(["a", "b", "a", None], kind))
        interner.intern(pa.array(["b", "a"], kind))  # all held: the one-pass look-up
        take_utf8(pa.array(["a", "bc"], kind), keys[:2] - 1)
        KeySet.build(pa.array(["a", "b"], kind)).lookup(pa.array(["a", "c"] * 16, kind))


def _add_absent(m: IntMap, keys: I64, values: I64) -> None:
    """Add keys known to be absent (distinct), the one that marks a free slot included."""
    if keys.size and (keys == _FREE).any():
        m.put_many(keys, values)
    else:
        m.add_new(keys, values)


def _room(a: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """``a``, or a copy twice as large, with room for ``size`` elements."""
    if size <= a.size:
        return a
    grown = np.zeros(max(size, 2 * a.size), a.dtype)
    grown[: a.size] = a
    return grown


_ROW_BITS: Final = 32
_ROW_MASK: Final = np.int64((1 << _ROW_BITS) - 1)


def stable_order(keys: I64) -> I64:
    """``np.argsort(keys, kind="stable")``, faster for keys spanning less than 2**31 (ids):
    each key goes in the high half of an int64 and its row in the low half, and one plain
    ``np.sort`` (SIMD) orders them."""
    n = keys.size
    rows = _rows(n)
    if n < 2:
        return rows.copy()
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo >= 1 << 31 or n > 1 << _ROW_BITS:  # wide keys (pairs of ids): no room
        wide: I64 = np.argsort(keys, kind="stable")
        return wide
    packed = np.sort(((keys - lo) << _ROW_BITS) | rows)
    order: I64 = packed & _ROW_MASK
    return order


def group_rows(keys: I64) -> tuple[I64, I64, I64, I64]:
    """``(order, starts, first, inverse)``: the stable order grouping equal keys, for each sorted
    row the position its group starts, the first row of each group (groups in key order), and
    each row's group."""
    order = stable_order(keys)
    sk = keys[order]
    new = np.empty(sk.size, np.bool_)
    if sk.size:
        new[0] = True
        np.not_equal(sk[1:], sk[:-1], out=new[1:])
    at = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    inverse = np.empty(keys.size, np.int64)
    inverse[order] = group
    return order, at[group], order[at], inverse


class KeySeen:
    """A set of int64 keys with the first moment each was seen ("is this pair new?"), held in
    an :class:`IntMap` (:attr:`first`: key → first time)."""

    def __init__(self) -> None:
        self._first = IntMap()

    @property
    def first(self) -> IntMap:
        """Key → first time seen."""
        return self._first

    @first.setter
    def first(self, first: Mapping[int, int]) -> None:
        if isinstance(first, IntMap):
            self._first = first
            return
        keys = np.fromiter(first.keys(), np.int64, len(first))
        values = np.fromiter(first.values(), np.int64, len(first))
        self._first = IntMap.of(keys, values)

    def __len__(self) -> int:
        return len(self.first)

    def first_at(self, keys: I64, at: I64) -> I64:
        """For each row: the first time its key was seen, this batch's rows included (in order):
        a key met for the first time takes the time of its first row in the batch."""
        if keys.size == 0:
            return np.empty(0, np.int64)
        if self._free_key(keys):
            return self._first_at_free(keys, at)
        out, _ = self.first.first_seen(keys, at)
        if (at >= out).all():
            return out
        # A row earlier than the time its key holds (late data): the key's first row in the
        # batch counts for all its rows; the map keeps what it held (a new key: its first row).
        _, _, first, inverse = group_rows(keys)
        return np.minimum(out[first], at[first])[inverse]

    def is_new(self, keys: I64, at: I64) -> B:
        """True for the row where a key is seen for the first time ever (earlier rows count)."""
        if keys.size == 0:
            return np.zeros(0, np.bool_)
        if self._free_key(keys):
            new = np.zeros(keys.size, np.bool_)
            rows = np.flatnonzero(~self.first.contains(keys))
            if rows.size:
                _, _, first, _ = group_rows(keys[rows])
                firsts = rows[first]
                new[firsts] = True
                self.first.put_many(keys[firsts], at[firsts])
            return new
        return self.first.first_seen(keys, at)[1]

    @staticmethod
    def _free_key(keys: I64) -> bool:
        """Whether a key is the map's free-slot marker (never for pairs of ids): the map holds
        it apart, the compiled loop cannot."""
        return bool(keys.min() == _FREE)

    def _first_at_free(self, keys: I64, at: I64) -> I64:
        _, _, first, inverse = group_rows(keys)
        uniq, batch_first = keys[first], at[first]
        known, pos = self.first.lookup(uniq, NEVER)
        fresh = known == NEVER
        if fresh.any():
            self.first.put_many(uniq[fresh], batch_first[fresh], pos[fresh])
        return np.minimum(known, batch_first)[inverse]

    def get(self, keys: I64, default: int = NEVER) -> I64:
        """The first time each key was seen, ``default`` for keys never seen."""
        return self.first.get_many(keys, default)

    def items(self) -> Iterable[tuple[int, int]]:
        """(key, first time) pairs."""
        return self.first.items()


_MEMBER_TABLES: dict[tuple[int, ...], B] = {}


def members(values: I64, small: Iterable[int]) -> B:
    """Whether each value is one of ``small`` (non-negative ints below 64, such as row kinds):
    a table look-up, where ``np.isin`` sorts."""
    key = tuple(small)
    table = _MEMBER_TABLES.get(key)
    if table is None:  # tables made once: the sets are the few fixed kind groups of rules
        table = _MEMBER_TABLES[key] = np.zeros(64, np.bool_)
        table[list(key)] = True
    if values.size and (values.min() < 0 or values.max() >= 64):
        return np.isin(values, np.flatnonzero(table))
    return table[values]


def pair_keys(a: I64, b: I64) -> I64:
    """One int64 key for a pair of ids below 2**31."""
    return (a.astype(np.int64) << 31) | b.astype(np.int64)


def take_strings(values: Sequence[str], ids: I64) -> list[str]:
    """The strings at ``ids`` ('' for -1)."""
    return [values[i] if i >= 0 else "" for i in ids.tolist()]
