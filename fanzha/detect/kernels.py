"""Small vectorised building blocks for keyed, ordered state: growable columns, interning,
segmented running sums and maxima, and "seen before" sets of keys.

Every kernel here answers, for each row of a batch in its order, the same thing a per-row loop
would have answered at that row: the batch boundary never changes a result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
NEVER = np.iinfo(np.int64).max  # "no time yet" for first-seen columns
NONE = np.iinfo(np.int64).min  # "no time yet" for last-seen columns


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


class Interner:
    """Dense integer ids for strings, stable for the life of the interner (and its snapshot)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.values: list[str] = []

    def __len__(self) -> int:
        return len(self.values)

    def intern(self, values: pa.Array | pa.ChunkedArray) -> I64:
        """The id of each value (nulls → -1), adding the new ones."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
        if len(values) == 0:
            return np.empty(0, np.int64)
        encoded = pc.dictionary_encode(values)
        uniques = encoded.dictionary.to_pylist()
        lookup = np.fromiter((self._one(u) for u in uniques), np.int64, len(uniques))
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        if encoded.indices.null_count:
            valid = ~np.asarray(encoded.indices.is_null())
            out = np.full(len(values), -1, np.int64)
            out[valid] = lookup[codes[valid].astype(np.int64)]
            return out
        return np.asarray(lookup[codes.astype(np.int64)], np.int64)

    def _one(self, value: str) -> int:
        found = self.ids.get(value)
        if found is None:
            found = self.ids[value] = len(self.values)
            self.values.append(value)
        return found

    def find(self, value: str) -> int:
        """The id of ``value``, or -1 when it was never interned."""
        return self.ids.get(value, -1)

    def value(self, i: int) -> str:
        """The string of an id."""
        return self.values[i]


def group_starts(keys: I64) -> tuple[I64, I64]:
    """Stable order grouping equal keys, and for each sorted row the position its group starts."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    new = np.empty(sk.size, np.bool_)
    if sk.size:
        new[0] = True
        new[1:] = sk[1:] != sk[:-1]
    starts = np.maximum.accumulate(np.where(new, np.arange(sk.size), 0))
    return order, starts


def running_count(keys: I64) -> I64:
    """For each row, how many earlier rows of the batch have the same key (0 for the first)."""
    order, starts = group_starts(keys)
    out = np.empty(keys.size, np.int64)
    out[order] = np.arange(keys.size) - starts
    return out


def running_sum(keys: I64, values: I64, *, inclusive: bool = True) -> I64:
    """Running sum of ``values`` per key in row order (including the row itself by default)."""
    order, starts = group_starts(keys)
    sv = values[order]
    cs = np.cumsum(sv)
    before = np.where(starts > 0, cs[starts - 1], 0)
    run = cs - before
    if not inclusive:
        run = run - sv
    out = np.empty(keys.size, np.int64)
    out[order] = run
    return out


def running_max(keys: I64, values: I64, *, inclusive: bool = True, floor: int = NONE) -> I64:
    """Running maximum of ``values`` per key in row order; ``floor`` where nothing came yet."""
    order = np.argsort(keys, kind="stable")
    sk, sv = keys[order], values[order]
    n = sv.size
    out = np.empty(n, np.int64)
    if n == 0:
        return out
    new = np.empty(n, np.bool_)
    new[0] = True
    new[1:] = sk[1:] != sk[:-1]
    seg = np.cumsum(new) - 1
    # Segmented maximum: rank the values, lift each segment above the previous one so one
    # global maximum.accumulate never leaks across keys, and map the ranks back.
    uniq, rank = np.unique(sv, return_inverse=True)
    lifted = rank.astype(np.int64) + seg * uniq.size
    acc = uniq[np.maximum.accumulate(lifted) - seg * uniq.size]
    if not inclusive:
        prev = np.empty(n, np.int64)
        prev[0] = floor
        prev[1:] = acc[:-1]
        prev[new] = floor
        acc = prev
    out[order] = np.maximum(acc, floor)
    return out


class KeySeen:
    """A set of int64 keys with the first moment each was seen ("is this pair new?")."""

    def __init__(self) -> None:
        self.first: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.first)

    def first_at(self, keys: I64, at: I64) -> I64:
        """For each row: the first time its key was seen, this batch's rows included (in order)."""
        if keys.size == 0:
            return np.empty(0, np.int64)
        uniq, first_idx = np.unique(keys, return_index=True)
        batch_first = at[first_idx]
        known = self.first
        prior = np.fromiter((known.get(k, NEVER) for k in uniq.tolist()), np.int64, uniq.size)
        firsts = np.minimum(prior, batch_first)
        fresh = prior == NEVER
        known.update(zip(uniq[fresh].tolist(), batch_first[fresh].tolist(), strict=True))
        return firsts[np.searchsorted(uniq, keys)]

    def is_new(self, keys: I64, at: I64) -> B:
        """True for the row where a key is seen for the first time ever (earlier rows count)."""
        if keys.size == 0:
            return np.empty(0, np.bool_)
        known = self.first
        uniq, first_idx = np.unique(keys, return_index=True)
        prior = np.fromiter((k in known for k in uniq.tolist()), np.bool_, uniq.size)
        new = np.zeros(keys.size, np.bool_)
        new[first_idx[~prior]] = True
        fresh_keys = uniq[~prior].tolist()
        known.update(zip(fresh_keys, at[first_idx[~prior]].tolist(), strict=True))
        return new

    def items(self) -> Iterable[tuple[int, int]]:
        """(key, first time) pairs."""
        return self.first.items()


def pair_keys(a: I64, b: I64) -> I64:
    """One int64 key for a pair of ids below 2**31."""
    return (a.astype(np.int64) << 31) | b.astype(np.int64)


def take_strings(values: Sequence[str], ids: I64) -> list[str]:
    """The strings at ``ids`` ('' for -1)."""
    return [values[i] if i >= 0 else "" for i in ids.tolist()]
