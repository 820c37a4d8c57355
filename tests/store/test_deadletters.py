"""Dead letters in SQL: idempotent, byte-exact, filterable, and the Protocol's contract."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import select

from fanzha.ingest.deadletter import DeadLetter, DeadLetterStore
from fanzha.store import Store
from fanzha.store.deadletters import SqlDeadLetters
from fanzha.store.tables import DeadLetterRow

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def letter(
    n: int = 1,
    *,
    source: str = "calls.ndjson",
    raw: bytes | None = None,
    reason: str = "missing field 'caller'",
    at: dt.datetime | None = None,
) -> DeadLetter:
    return DeadLetter(
        source=source,
        location=f"line {n}",
        event_type="call",
        field="caller",
        reason=reason,
        raw=raw if raw is not None else f'{{"n": {n}}}'.encode(),
        run_id="3f1c2d5e-0000-4000-8000-000000000001",
        created_at=at or T0 + dt.timedelta(seconds=n),
    )


def test_implements_the_ingest_protocol(store: Store) -> None:
    letters: DeadLetterStore = store.dead_letters
    assert isinstance(letters, SqlDeadLetters)


def test_adding_the_same_letters_twice_keeps_one_of_each(store: Store) -> None:
    batch = [letter(n) for n in range(5)]
    assert store.dead_letters.add_many(batch) == 5
    assert store.dead_letters.add_many(batch) == 0
    assert store.dead_letters.add_many([*batch, letter(5)]) == 1
    assert store.dead_letters.count(status=None) == 6


def test_duplicates_inside_one_call_count_once(store: Store) -> None:
    assert store.dead_letters.add_many([letter(1), letter(1), letter(2)]) == 2
    assert store.dead_letters.add_many([]) == 0


def test_many_letters_span_several_statements(store: Store) -> None:
    batch = [letter(n) for n in range(1_234)]
    assert store.dead_letters.add_many(batch) == 1_234
    assert store.dead_letters.add_many(batch[::7]) == 0
    assert store.dead_letters.count() == 1_234


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00",
        b"\xff\xfe\x00\x80 not utf-8 \xc3\x28",
        "张三,13800138000,转账".encode("gb18030"),
        bytes(range(256)) * 3,
    ],
    ids=["empty", "nul", "invalid-utf8", "gb18030", "all-bytes"],
)
def test_raw_bytes_round_trip_exactly(store: Store, raw: bytes) -> None:
    store.dead_letters.add_many([letter(raw=raw)])
    [stored] = store.dead_letters.list()
    assert stored.letter.raw == raw
    assert type(stored.letter.raw) is bytes


def test_a_one_megabyte_record_round_trips(store: Store) -> None:
    big = random.Random(7).randbytes(1_048_576)
    small = letter(2)
    assert store.dead_letters.add_many([letter(1, raw=big), small]) == 2
    stored = {s.letter.location: s for s in store.dead_letters.list()}
    assert stored["line 1"].letter.raw == big
    assert stored["line 2"].letter.raw == small.raw


def test_a_stored_letter_keeps_every_field(store: Store) -> None:
    original = DeadLetter(
        source="/data/银行/流水 2026-03.csv",
        location="row 12",
        event_type=None,
        field=None,
        reason="amount '12,3元' is not a number of yuan",
        raw=b"12,3\xd4\xaa",
        truncated=True,
        run_id=None,
        created_at=dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    store.dead_letters.add_many([original])
    [stored] = store.dead_letters.list()
    assert stored.letter == original  # same instant; read back in UTC
    assert stored.letter.created_at.tzinfo is not None
    assert stored.letter.key == original.key
    assert (stored.status, stored.attempts) == ("open", 0)
    assert store.dead_letters.get(stored.id) == stored


def test_get_unknown_is_none(store: Store) -> None:
    assert store.dead_letters.get(424242) is None


def test_list_is_newest_first_and_limited(store: Store) -> None:
    store.dead_letters.add_many([letter(n) for n in (3, 1, 4, 2)])
    assert [s.letter.location for s in store.dead_letters.list()] == [
        "line 4",
        "line 3",
        "line 2",
        "line 1",
    ]
    assert [s.letter.location for s in store.dead_letters.list(limit=2)] == ["line 4", "line 3"]
    assert store.dead_letters.list(limit=0) == []


def test_list_filters_by_status_and_source(store: Store) -> None:
    store.dead_letters.add_many(
        [letter(1), letter(2), letter(3, source="bank.csv"), letter(4, source="bank.csv")]
    )
    ids = {s.letter.location: s.id for s in store.dead_letters.list(status=None)}
    store.dead_letters.mark([ids["line 2"], ids["line 4"]], "discarded")

    def locations(status: str | None, source: str | None = None) -> list[str]:
        found = store.dead_letters.list(status=status, source=source)
        return [s.letter.location for s in found]

    assert locations("open") == ["line 3", "line 1"]
    assert locations("discarded") == ["line 4", "line 2"]
    assert locations("retried") == []
    assert locations(None, "bank.csv") == ["line 4", "line 3"]
    assert locations("open", "calls.ndjson") == ["line 1"]
    assert store.dead_letters.count(status="discarded", source="bank.csv") == 1


def test_mark_sets_status_counts_attempts_and_touches_updated_at(store: Store) -> None:
    store.dead_letters.add_many([letter(1), letter(2)])
    first, second = sorted(s.id for s in store.dead_letters.list())
    with store.sessions() as session:
        before = session.scalar(select(DeadLetterRow.updated_at).where(DeadLetterRow.id == first))
    store.dead_letters.mark([first], "retried")
    store.dead_letters.mark(iter([first, first]), "open")  # repeated ids count once per call
    got = store.dead_letters.get(first)
    assert got is not None
    assert (got.status, got.attempts) == ("open", 2)
    untouched = store.dead_letters.get(second)
    assert untouched is not None
    assert (untouched.status, untouched.attempts) == ("open", 0)
    with store.sessions() as session:
        after = session.scalar(select(DeadLetterRow.updated_at).where(DeadLetterRow.id == first))
    assert before is not None and after is not None
    assert after >= before and after.tzinfo is not None


def test_mark_rejects_an_unknown_status(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown dead-letter status"):
        store.dead_letters.mark([1], "fixed")


def test_mark_nothing_and_unknown_ids_is_harmless(store: Store) -> None:
    store.dead_letters.mark([], "retried")
    store.dead_letters.mark([999], "retried")
    assert store.dead_letters.list(status=None) == []


def test_hostile_text_is_stored_not_fatal(store: Store) -> None:
    """NUL, lone surrogates and huge names come from bad input; they must not break a batch."""
    bad = DeadLetter(
        source="/in/\udcff\udcfe.ndjson",  # a non-UTF-8 file name decoded with surrogateescape
        location="line 1" + "9" * 1000,
        event_type="x" * 5000,
        field="caller\x00name",
        reason="NUL in \x00 field",
        raw=b"\x00",
    )
    assert store.dead_letters.add_many([bad, letter(2)]) == 2
    assert store.dead_letters.add_many([bad]) == 0
    stored = {s.letter.raw: s.letter for s in store.dead_letters.list()}[b"\x00"]
    assert stored.field == "caller\\x00name"
    assert stored.reason == "NUL in \\x00 field"
    assert stored.source == "/in/\\udcff\\udcfe.ndjson"
    assert stored.event_type is not None and len(stored.event_type) == 256
    assert len(stored.location) == 256
