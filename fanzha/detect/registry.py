"""The residents the engine knows: which phone and account belongs to whom, and their age.

Built once from the registry's person table (Arrow); lookups are vectorised.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.detect.kernels import I64
from fanzha.intel.keyset import KeySet, StringInput


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

    def by_phone(self, phones: StringInput) -> I64:
        """The resident row of each phone (-1 when not a resident's number)."""
        return _lookup(self._phone_set, self._phone_owner, phones)

    def by_account(self, accounts: StringInput) -> I64:
        """The resident row of each account (-1 when not a resident's account)."""
        return _lookup(self._account_set, self._account_owner, accounts)

    def by_id_number(self, ids: StringInput) -> I64:
        """The resident row of each ID number (-1 when unknown)."""
        return np.asarray(self._id_set.lookup(ids), np.int64)

    def age_at(self, rows: I64, at_s: I64) -> I64:
        """Age in whole years at epoch second ``at_s`` (-1 for unknown residents or births)."""
        if self.n == 0 or rows.size == 0:
            return np.full(rows.size, -1, np.int64)
        born = self.birth_days[np.maximum(rows, 0)]  # row -1: a stand-in, masked below
        age = (at_s // 86_400 - born) * 400 // 146_097
        return np.where((rows >= 0) & (born != _NO_BIRTH), age, -1)

    def ids_of(self, rows: list[int]) -> list[str]:
        """The ID numbers of resident rows (one Arrow take: a scalar per row costs more)."""
        if not rows:
            return []
        return [str(v) for v in self.id_number.take(pa.array(rows, pa.int64())).to_pylist()]


def _empty() -> pa.Table:
    return pa.table(
        {
            "id_number": pa.array([], pa.string()),
            "phones": pa.array([], pa.list_(pa.string())),
            "accounts": pa.array([], pa.list_(pa.string())),
        }
    )


def _flatten(persons: pa.Table, column: str) -> tuple[pa.Array, I64]:
    if column not in persons.column_names:
        return pa.array([], pa.string()), np.empty(0, np.int64)
    lists = persons.column(column).combine_chunks()
    values = pc.list_flatten(lists)
    owner = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    return values, owner


def _lookup(values: KeySet, owner: I64, query: StringInput) -> I64:
    if len(values) == 0 or len(query) == 0:
        return np.full(len(query), -1, np.int64)
    idx = np.asarray(values.lookup(query), np.int64)
    return np.where(idx >= 0, owner[np.maximum(idx, 0)], -1)


#: The birth day of a resident whose birth date is unknown.
_NO_BIRTH = int(np.iinfo(np.int32).min)


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
