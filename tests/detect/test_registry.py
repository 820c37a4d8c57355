"""The registry's vectorised look-ups against row-by-row answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.detect import registry as registry_module
from fanzha.detect.registry import FEW, Registry
from fanzha.intel.keyset import KeySet
from fanzha.jit import plain

births = st.lists(st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2030, 1, 1))))


def _registry(born: list[dt.date | None]) -> Registry:
    return Registry(
        pa.table(
            {
                "id_number": pa.array([f"id{i}" for i in range(len(born))], pa.string()),
                "phones": pa.array([[] for _ in born], pa.list_(pa.string())),
                "birth_date": pa.array(born, pa.date32()),
            }
        )
    )


@settings(max_examples=100, deadline=None)
@given(
    births,
    st.lists(st.tuples(st.integers(-1, 40), st.integers(-(2**33), 2**33))),
    st.booleans(),
)
def test_age_at_is_whole_years_of_known_births(
    born: list[dt.date | None], asked: list[tuple[int, int]], compiled: bool
) -> None:
    """Compiled or plain, the age loop gives the whole years a date subtraction gives."""
    registry = _registry(born)
    asked = [(r if r < len(born) else -1, s) for r, s in asked]
    rows = np.array([r for r, _ in asked], np.int64)
    at = np.array([s for _, s in asked], np.int64)
    epoch = dt.date(1970, 1, 1)
    want = []
    for r, s in asked:
        b = born[r] if r >= 0 else None
        want.append(-1 if b is None else ((s // 86_400) - (b - epoch).days) * 400 // 146_097)
    saved = registry_module._ages
    if not compiled:
        registry_module._ages = plain(saved)
    try:
        assert registry.age_at(rows, at).tolist() == want
    finally:
        registry_module._ages = saved


def test_age_at_without_residents() -> None:
    ages = Registry().age_at(np.array([-1, -1]), np.array([0, 86_400]))
    assert ages.tolist() == [-1, -1]


phones_st = st.lists(st.one_of(st.none(), st.sampled_from(["", "+86138", "+86139", "95588", "a"])))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(phones_st, max_size=8),
    st.lists(st.one_of(st.none(), st.sampled_from(["", "+86138", "+86139", "95588", "b"]))),
)
def test_a_few_phones_are_found_as_the_hash_set_finds_them(
    held: list[list[str | None]], asked: list[str | None]
) -> None:
    """Through the Python hashes: the first resident holding the value, nulls never."""
    persons = pa.table(
        {
            "id_number": pa.array([f"id{i}" for i in range(len(held))], pa.string()),
            "phones": pa.array(held, pa.list_(pa.string())),
        }
    )
    registry = Registry(persons)
    flat = [v for phones in held for v in phones]
    owner = [i for i, phones in enumerate(held) for _ in phones]
    keys = KeySet.build(pa.array(flat, pa.string()))
    want = [owner[k] if k >= 0 else -1 for k in keys.lookup(pa.array(asked, pa.string()))]
    assert registry.by_phone(asked).tolist() == want
    assert registry.by_phone(pa.array(asked, pa.string())).tolist() == want
    many = asked * (FEW // max(len(asked), 1) + 1)  # past FEW: the hash set itself
    assert registry.by_phone(pa.array(many, pa.string())).tolist() == want * (
        len(many) // max(len(asked), 1)
    )


def test_values_sharing_a_hash_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "hash", lambda v: len(v or ""), raising=False)
    held = [["+86138", "95588"], ["+86139"], ["+86138", "+86137"], [None, ""]]
    persons = pa.table(
        {
            "id_number": pa.array(["a", "b", "c", "d"], pa.string()),
            "phones": pa.array(held, pa.list_(pa.string())),
        }
    )
    asked = ["+86137", "+86139", "+86138", "+86136", "95588", "95589", "", None]
    assert Registry(persons).by_phone(asked).tolist() == [2, 1, 0, -1, 0, -1, 3, -1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=10), st.data())
def test_id_numbers_of_rows_are_read_back(ids: list[str], data: st.DataObject) -> None:
    """ID numbers by row, from a sliced column too (its offsets start past zero)."""
    table = pa.table(
        {
            "id_number": pa.array(["skipped", *ids], pa.string()),
            "phones": pa.array([[] for _ in range(len(ids) + 1)], pa.list_(pa.string())),
        }
    ).slice(1)
    registry = Registry(table)
    rows = data.draw(st.lists(st.integers(0, len(ids) - 1), max_size=12))
    assert registry.ids_of(rows) == [ids[r] for r in rows]
    assert registry.ids_of([]) == []
