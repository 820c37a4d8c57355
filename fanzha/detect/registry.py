"""The residents the engine knows: which phone and account belongs to whom, and their age.

Built once from the registry's person table (Arrow); lookups are vectorised. The engine looks
up each phone number or account the first time it meets it: in a live call that is a handful
of values, for which phones and accounts are also held by Python string hash (one C call per
value and a binary search, where even a plain-Python probe of the hash set costs microseconds
a value).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.detect.kernels import I64
from fanzha.intel.keyset import KeySet, StringInput, as_string_array
from fanzha.jit import kernel


class Registry:
    """Residents by phone and by account, with birth dates (for age) and home community."""

    def __init__(self, persons: pa.Table | None = None) -> None:
        persons = persons if persons is not None else _empty()
        self.id_number = persons.column("id_number").combine_chunks()
        self.n = persons.num_rows
        self.community = (
            persons.column("community").combine_chunks()
            if "community" in persons.column_names
            else pa.nulls(self.n, pa.string())
        )
        self.birth_days = _birth_days(persons)
        self._phones, self._phone_owner = _flatten(persons, "phones")
        self._accounts, self._account_owner = _flatten(persons, "accounts")
        # Hash sets built once: pc.index_in would rebuild its table on every call.
        self._phone_set = KeySet.build(self._phones)
        self._account_set = KeySet.build(self._accounts)
        self._id_set = KeySet.build(self.id_number)
        self._phone_hashes = _Hashed(self._phones)
        self._account_hashes = _Hashed(self._accounts)
        self._id_offsets, self._id_data = _string_buffers(self.id_number)

    @property
    def phones(self) -> pa.Array:
        """Every resident's phone numbers (one row per number)."""
        return self._phones

    @property
    def accounts(self) -> pa.Array:
        """Every resident's accounts (one row per account)."""
        return self._accounts

    def by_phone(self, phones: StringInput) -> I64:
        """The resident row of each phone (-1 when not a resident's number)."""
        return _lookup(self._phone_set, self._phone_hashes, self._phone_owner, phones)

    def by_account(self, accounts: StringInput) -> I64:
        """The resident row of each account (-1 when not a resident's account)."""
        return _lookup(self._account_set, self._account_hashes, self._account_owner, accounts)

    def by_id_number(self, ids: StringInput) -> I64:
        """The resident row of each ID number (-1 when unknown)."""
        return np.asarray(self._id_set.lookup(ids), np.int64)

    def age_at(self, rows: I64, at_s: I64) -> I64:
        """Age in whole years at epoch second ``at_s`` (-1 for unknown residents or births)."""
        if self.n == 0:
            return np.full(rows.size, -1, np.int64)
        out = np.empty(rows.size, np.int64)
        _ages(self.birth_days, rows, at_s, out)  # one compiled pass: a call builds six frames
        return out

    def ids_of(self, rows: list[int]) -> list[str]:
        """The ID numbers of resident rows, decoded straight from the column's bytes (an Arrow
        take, or a scalar per row, costs tens of microseconds)."""
        if not rows:
            return []
        at = np.asarray(rows, np.int64)
        starts, ends = self._id_offsets[at].tolist(), self._id_offsets[at + 1].tolist()
        data = self._id_data
        return [str(data[a:b], "utf-8") for a, b in zip(starts, ends, strict=True)]


def _empty() -> pa.Table:
    return pa.table(
        {
            "id_number": pa.array([], pa.string()),
            "phones": pa.array([], pa.list_(pa.string())),
            "accounts": pa.array([], pa.list_(pa.string())),
        }
    )


def _string_buffers(values: pa.Array) -> tuple[I64, memoryview]:
    """A string column's offsets and bytes (a null reads as an empty string; the registry's
    ID numbers are never null)."""
    values = values.cast(pa.large_string())
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], np.int64, len(values) + 1, values.offset)
    data = memoryview(buffers[2]) if buffers[2] is not None else memoryview(b"")
    return offsets, data


def _flatten(persons: pa.Table, column: str) -> tuple[pa.Array, I64]:
    if column not in persons.column_names:
        return pa.array([], pa.string()), np.empty(0, np.int64)
    lists = persons.column(column).combine_chunks()
    values = pc.list_flatten(lists)
    owner = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    return values, owner


#: Look-ups of at most this many values go through the Python hashes.
FEW = 1_024


class _Hashed:
    """Positions of a string array's values by Python ``hash`` (sorted; ties in position
    order), checked against the bytes on a match."""

    def __init__(self, values: pa.Array) -> None:
        strings = values.to_pylist()
        kept = [i for i, v in enumerate(strings) if v is not None]  # a null matches nothing
        hashes = np.fromiter((hash(strings[i]) for i in kept), np.int64, len(kept))
        order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[order]
        self._order = np.asarray(kept, np.int64)[order]
        # The values' bytes: a match of hashes is confirmed on them.
        width = np.int64 if pa.types.is_large_string(values.type) else np.int32
        buffers = values.buffers()
        self._offsets = (
            np.frombuffer(
                buffers[1], width, len(values) + 1, values.offset * np.dtype(width).itemsize
            ).astype(np.int64)
            if len(values)
            else np.zeros(1, np.int64)
        )
        # a copy of the bytes: slices of ``bytes`` compare at C speed, of an Arrow buffer's
        # memoryview item by item
        self._data = bytes(buffers[2]) if buffers[2] is not None else b""

    def find(self, values: Sequence[str | None]) -> I64:
        """The first position of each value (-1: absent or None)."""
        out = np.full(len(values), -1, np.int64)
        hashes = self._hashes
        if not hashes.size or not len(values):
            return out
        asked = np.fromiter((hash(v) for v in values), np.int64, len(values))
        at = np.searchsorted(hashes, asked)
        np.minimum(at, hashes.size - 1, out=at)
        met = np.flatnonzero(hashes[at] == asked)
        pos = self._order[at[met]]
        starts, ends = self._offsets[pos].tolist(), self._offsets[pos + 1].tolist()
        data = self._data
        for i, j, p, a, b in zip(
            met.tolist(), at[met].tolist(), pos.tolist(), starts, ends, strict=True
        ):
            v = values[i]
            if v is None:
                continue
            raw = v.encode()
            # the first value with this hash nearly always; else another has the same hash
            out[i] = p if data[a:b] == raw else self._scan(raw, j)
        return out

    def _scan(self, raw: bytes, j: int) -> int:
        """The first position, from sorted place ``j`` on among equal hashes, holding
        ``raw`` (-1: none)."""
        hashes, order, offsets = self._hashes, self._order, self._offsets
        h = hashes[j]
        while j < hashes.size and hashes[j] == h:
            p = int(order[j])
            if self._data[offsets[p] : offsets[p + 1]] == raw:
                return p
            j += 1
        return -1


def _lookup(values: KeySet, hashed: _Hashed, owner: I64, query: StringInput) -> I64:
    if len(values) == 0 or len(query) == 0:
        return np.full(len(query), -1, np.int64)
    if len(query) <= FEW:
        few = query if isinstance(query, Sequence) else as_string_array(query).to_pylist()
        idx = hashed.find(few)
    else:
        idx = np.asarray(values.lookup(query), np.int64)
    return np.where(idx >= 0, owner[np.maximum(idx, 0)], -1)


#: The birth day of a resident whose birth date is unknown.
_NO_BIRTH = int(np.iinfo(np.int32).min)


@kernel
def _ages(birth_days: I64, rows: I64, at_s: I64, out: I64) -> None:
    """Age in whole years (days × 400 // 146,097: the Gregorian year) of each row's resident
    at ``at_s``; -1 for row -1 and unknown births."""
    for i in range(rows.size):
        r = rows[i]
        if r < 0 or birth_days[r] == _NO_BIRTH:
            out[i] = -1
        else:
            out[i] = (at_s[i] // 86_400 - birth_days[r]) * 400 // 146_097


def _birth_days(persons: pa.Table) -> I64:
    missing = _NO_BIRTH
    if "birth_date" not in persons.column_names:
        return np.full(persons.num_rows, missing, np.int64)
    days = persons.column("birth_date").combine_chunks().cast(pa.date32())
    arr = days.to_numpy(zero_copy_only=False)
    out = np.asarray(arr.astype("datetime64[D]").astype(np.int64), np.int64)
    nulls = np.asarray(days.is_null())
    out[nulls] = missing
    return out
