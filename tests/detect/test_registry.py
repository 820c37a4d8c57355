"""The registry's vectorised look-ups against row-by-row answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.detect.registry import Registry

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
@given(births, st.lists(st.tuples(st.integers(-1, 40), st.integers(-(2**33), 2**33))))
def test_age_at_is_whole_years_of_known_births(
    born: list[dt.date | None], asked: list[tuple[int, int]]
) -> None:
    registry = _registry(born)
    asked = [(r if r < len(born) else -1, s) for r, s in asked]
    rows = np.array([r for r, _ in asked], np.int64)
    at = np.array([s for _, s in asked], np.int64)
    epoch = dt.date(1970, 1, 1)
    want = []
    for r, s in asked:
        b = born[r] if r >= 0 else None
        want.append(-1 if b is None else ((s // 86_400) - (b - epoch).days) * 400 // 146_097)
    assert registry.age_at(rows, at).tolist() == want


def test_age_at_without_residents() -> None:
    ages = Registry().age_at(np.array([-1, -1]), np.array([0, 86_400]))
    assert ages.tolist() == [-1, -1]
