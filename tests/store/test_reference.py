"""Residents and org units: idempotent, batched upserts and tree queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from fanzha.store import OrgUnitRow, PersonRow, Store
from fanzha.store.reference import OrgTreeError
from fanzha.store.tables import PersonRecord


def person(n: int, **changes: Any) -> PersonRow:
    row = PersonRow(
        id_number=f"50010319900307{n:04d}"[:18],
        name=f"居民{n}",
        birth_date=dt.date(1990, 3, 7),
        phones=(f"+86138{n:08d}", "+8613900000000"),
        accounts=(f"62220200{n:011d}",),
        community="500103001001",
        source="registry-2026-03",
    )
    return replace(row, **changes)


CITY = OrgUnitRow("500000", "重庆市公安局", "city", None, "Chongqing PSB")
DISTRICT = OrgUnitRow("500103", "渝中区分局", "district", "500000", "Yuzhong Branch")
STATION_A = OrgUnitRow("500103001", "解放碑派出所", "station", "500103")
STATION_B = OrgUnitRow("500103002", "朝天门派出所", "station", "500103")
COMMUNITY = OrgUnitRow("500103001001", "民族路社区", "community", "500103001")
TREE = [COMMUNITY, STATION_B, STATION_A, DISTRICT, CITY]  # children before parents on purpose


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement sent to the database inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def test_upserting_the_same_persons_again_changes_nothing(store: Store) -> None:
    rows = [person(n) for n in range(10)]
    assert store.reference.upsert_persons(rows) == 10
    assert store.reference.upsert_persons(rows) == 0
    assert store.reference.get_person(rows[3].id_number) == rows[3]


def test_a_changed_person_is_updated(store: Store) -> None:
    rows = [person(n) for n in range(3)]
    store.reference.upsert_persons(rows)
    moved = replace(rows[1], community="500103002001", phones=("+8613800000099",))
    renamed = replace(rows[2], name="居民二号", birth_date=dt.date(1991, 1, 1))
    assert store.reference.upsert_persons([rows[0], moved, renamed]) == 2
    assert store.reference.get_person(moved.id_number) == moved
    assert store.reference.get_person(renamed.id_number) == renamed
    assert store.reference.get_person(rows[0].id_number) == rows[0]


def test_updated_at_moves_only_when_something_changed(store: Store) -> None:
    rows = [person(1), person(2)]
    store.reference.upsert_persons(rows)

    def stamps() -> dict[str, dt.datetime]:
        with store.sessions() as session:
            query = select(PersonRecord.id_number, PersonRecord.updated_at)
            return dict(session.execute(query).all())

    before = stamps()
    store.reference.upsert_persons([rows[0], replace(rows[1], accounts=())])
    after = stamps()
    assert after[rows[0].id_number] == before[rows[0].id_number]
    assert after[rows[1].id_number] > before[rows[1].id_number]


def test_null_and_empty_values_compare_correctly(store: Store) -> None:
    homeless = person(1, community=None, phones=(), accounts=())
    assert store.reference.upsert_persons([homeless]) == 1
    assert store.reference.upsert_persons([homeless]) == 0
    assert store.reference.upsert_persons([replace(homeless, community="500103001001")]) == 1
    assert store.reference.upsert_persons([homeless]) == 1
    assert store.reference.get_person(homeless.id_number) == homeless


def test_the_last_row_for_an_id_wins_within_a_batch(store: Store) -> None:
    first, last = person(1), person(1, name="后来的名字")
    assert store.reference.upsert_persons([first, last]) == 1
    assert store.reference.get_person(first.id_number) == last


def test_person_upserts_are_batched(store: Store) -> None:
    rows = [person(n) for n in range(1_200)]
    with statements(store) as sent:
        assert store.reference.upsert_persons(rows) == 1_200
    inserts = [s for s in sent if s.lstrip().upper().startswith("INSERT")]
    assert 1 <= len(inserts) <= 6  # a few multi-row statements, not 1,200 round trips
    with statements(store) as sent:
        assert store.reference.upsert_persons(rows) == 0
    assert len([s for s in sent if s.lstrip().upper().startswith("INSERT")]) <= 6


def test_an_unknown_person_is_none(store: Store) -> None:
    assert store.reference.get_person("110101199001010000") is None


def test_an_overlong_identity_number_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="1 to 18 characters"):
        store.reference.upsert_persons([person(1, id_number="1" * 19)])
    assert store.reference.upsert_persons([]) == 0


def test_org_units_load_parents_first_whatever_the_order(store: Store) -> None:
    assert store.reference.upsert_org_units(TREE) == 5
    assert store.reference.upsert_org_units(TREE) == 0
    assert store.reference.org_unit_children("500103") == [STATION_A, STATION_B]
    assert store.reference.org_unit_children("500103001") == [COMMUNITY]
    assert store.reference.org_unit_children("500103001001") == []
    assert store.reference.org_unit_children("nope") == []
    assert store.reference.get_org_unit("500000") == CITY
    assert store.reference.get_org_unit("nope") is None
    assert [u.code for u in store.reference.org_units()] == sorted(u.code for u in TREE)


def test_a_changed_org_unit_is_updated(store: Store) -> None:
    store.reference.upsert_org_units(TREE)
    renamed = replace(STATION_B, name="朝天门派出所(新)", name_en="Chaotianmen Station")
    moved = replace(COMMUNITY, parent_code="500103002")
    assert store.reference.upsert_org_units([renamed, moved, CITY]) == 2
    assert store.reference.org_unit_children("500103002") == [moved]
    assert store.reference.org_unit_children("500103001") == []
    assert store.reference.get_org_unit(STATION_B.code) == renamed


def test_a_cycle_is_refused_and_nothing_is_written(store: Store) -> None:
    store.reference.upsert_org_units(TREE)
    with pytest.raises(OrgTreeError, match="cycle"):
        store.reference.upsert_org_units(
            [replace(DISTRICT, parent_code=COMMUNITY.code), replace(CITY, name="x")]
        )
    assert store.reference.get_org_unit(CITY.code) == CITY
    with pytest.raises(OrgTreeError):
        store.reference.upsert_org_units([OrgUnitRow("x", "self", "station", "x")])


def test_an_unknown_parent_is_refused(store: Store) -> None:
    with pytest.raises(IntegrityError):
        store.reference.upsert_org_units([OrgUnitRow("500199001", "孤儿所", "station", "500199")])
    assert store.reference.org_units() == []


def test_an_unknown_level_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="level must be one of"):
        store.reference.upsert_org_units([replace(CITY, level="province")])


def test_a_deep_batch_spans_statements_in_order(store: Store) -> None:
    units = [CITY, DISTRICT]
    for s in range(40):
        station = OrgUnitRow(f"5001030{s:02d}", f"派出所{s}", "station", DISTRICT.code)
        units.append(station)
        units += [
            OrgUnitRow(f"{station.code}{c:03d}", f"社区{s}-{c}", "community", station.code)
            for c in range(20)
        ]
    units.reverse()
    assert store.reference.upsert_org_units(units) == len(units)
    assert len(store.reference.org_unit_children(DISTRICT.code)) == 40
