"""The instruction repository contract, on memory, SQLite and PostgreSQL: idempotent creation
by warning, optimistic saves, deadlines that survive a restart, the scheduler's due query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from fanzha.dispatch.instruction import Breach, Instruction, State, WarningFacts
from fanzha.dispatch.levels import DEFAULT_POLICIES, Channel, RiskLevel
from fanzha.dispatch.outcome import ContactAttempt, Contacted, Judgement, Outcome
from fanzha.dispatch.repo import InstructionRepo, MemoryInstructionRepo, StaleInstructionError
from fanzha.dispatch.routing import Route, RouteReason
from fanzha.store import Store
from fanzha.store.instructions import SqlInstructions

T0 = dt.datetime(2024, 5, 9, 8, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
CALL = ContactAttempt(channel=Channel.PHONE, reached=True, note="接通\x00本人")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``memory``, or the URL of a fresh SQLite file or PostgreSQL schema."""
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'fanzha.db').as_posix()}"
    server = request.getfixturevalue("postgres_server")
    made: str = server.create_schema()
    return made


@pytest.fixture
def repo(url: str) -> Iterator[InstructionRepo]:
    if url == "memory":
        yield MemoryInstructionRepo()
        return
    with Store.open_url(url) as store:
        yield SqlInstructions(store.sessions)


def make(
    warning_id: str = "W1",
    level: RiskLevel = RiskLevel.HIGH,
    unit: str = "S1",
    at: dt.datetime = T0,
) -> Instruction:
    facts = WarningFacts(warning_id=warning_id, subject=f"id-{warning_id}", level=level)
    return Instruction.issue(
        facts, Route(unit, ("D2",), RouteReason.HOME), DEFAULT_POLICIES[level], at
    )


def test_creation_is_idempotent_by_warning(repo: InstructionRepo) -> None:
    first, created = repo.create(make())
    assert created and first.version == 1
    again, created_again = repo.create(make(level=RiskLevel.CRITICAL, at=T0 + MIN))
    assert not created_again
    assert again == first
    assert repo.find() == [first]


def test_an_instruction_comes_back_exactly_as_saved(repo: InstructionRepo) -> None:
    ins, _ = repo.create(make())
    ins.sign("li", T0 + MIN)
    ins.record_attempt("li", CALL, T0 + 2 * MIN)
    outcome = Outcome(
        reached=True, contacted=Contacted.PERSON, judgement=Judgement.CONFIRMED, dissuaded=True
    )
    ins.record_outcome("li", outcome, T0 + 3 * MIN)
    saved = repo.save(ins)
    assert saved.version == 2
    loaded = repo.get(ins.instruction_id)
    assert loaded is not None
    assert loaded.model_dump(exclude={"attempts"}) == saved.model_dump(exclude={"attempts"})
    assert loaded.attempts[0].attempt.note in ("接通\x00本人", "接通\\x00本人")  # SQL escapes NUL
    assert loaded.outcome == outcome and loaded.history == saved.history
    assert loaded.deadlines.contact_by.tzinfo is not None
    assert repo.by_warning("W1") == loaded
    assert repo.get("nope") is None and repo.by_warning("nope") is None


def test_a_stale_save_is_refused_and_changes_nothing(repo: InstructionRepo) -> None:
    ins, _ = repo.create(make())
    officer = repo.get(ins.instruction_id)
    scheduler = repo.get(ins.instruction_id)
    assert officer is not None and scheduler is not None
    officer.sign("li", T0 + MIN)
    repo.save(officer)
    scheduler.escalate(
        "scheduler", "D1", DEFAULT_POLICIES[RiskLevel.HIGH], T0 + 9 * MIN, Breach.SIGN
    )
    with pytest.raises(StaleInstructionError, match="read at version 1 but it is at version 2"):
        repo.save(scheduler)
    stored = repo.get(ins.instruction_id)
    assert stored is not None and (stored.state, stored.unit) == (State.SIGNED, "S1")
    with pytest.raises(StaleInstructionError, match="does not exist"):
        repo.save(make("W9"))


def test_due_lists_open_instructions_past_their_current_deadline(repo: InstructionRepo) -> None:
    high, _ = repo.create(make("W1", RiskLevel.HIGH))  # sign by +5 min
    critical, _ = repo.create(make("W2", RiskLevel.CRITICAL))  # sign by +2 min
    repo.create(make("W3", RiskLevel.MEDIUM))  # sign by +30 min
    assert repo.due(T0 + MIN) == []
    assert [i.warning_id for i in repo.due(T0 + 5 * MIN)] == ["W2", "W1"]
    high.sign("li", T0 + MIN)  # now owes contact by +15 min
    repo.save(high)
    assert [i.warning_id for i in repo.due(T0 + 10 * MIN)] == ["W2"]
    critical.sign("li", T0 + MIN)
    critical.record_attempt("li", CALL, T0 + 2 * MIN)
    critical.record_outcome("li", Outcome(reached=True, contacted=Contacted.RELATIVE), T0 + 3 * MIN)
    critical.close("li", T0 + 4 * MIN)
    repo.save(critical)
    assert [i.warning_id for i in repo.due(T0 + dt.timedelta(days=1))] == ["W1", "W3"]


def test_find_filters_by_unit_state_and_level_newest_first(repo: InstructionRepo) -> None:
    for k, (unit, level) in enumerate([("S1", 3), ("S1", 4), ("S2", 3), ("D1", 2)]):
        repo.create(make(f"W{k}", RiskLevel(level), unit, at=T0 + k * MIN))
    assert [i.warning_id for i in repo.find()] == ["W3", "W2", "W1", "W0"]
    assert [i.warning_id for i in repo.find(units={"S1"})] == ["W1", "W0"]
    assert [i.warning_id for i in repo.find(level=RiskLevel.HIGH)] == ["W2", "W0"]
    assert [i.warning_id for i in repo.find(units=["S1", "D1"], level=RiskLevel.CRITICAL)] == ["W1"]
    assert repo.find(states={State.SIGNED}) == []
    assert len(repo.find(states={State.ISSUED}, limit=2)) == 2


def test_deadlines_survive_a_restart(url: str) -> None:
    if url == "memory":
        pytest.skip("memory does not outlive its process")
    with Store.open_url(url) as store:
        SqlInstructions(store.sessions).create(make("W1", RiskLevel.CRITICAL))
    with Store.open_url(url) as reopened:
        repo = SqlInstructions(reopened.sessions)
        [due] = repo.due(T0 + 3 * MIN)
        assert due.deadlines.sign_by == T0 + 2 * MIN
        assert due.deadlines.contact_by == T0 + 5 * MIN


@pytest.mark.parametrize(
    "url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_replay_replaces_every_instruction_at_once(url: str) -> None:
    """``replace_all`` (a replay's result) and ``between`` (``fanzha kpi``); a NUL in a note
    is escaped on the way in, as ``save`` does."""
    fresh = MemoryInstructionRepo(copies=False)
    for k in range(3):
        ins, _ = fresh.create(make(f"W{k}", at=T0 + k * MIN))
        ins.sign("li", T0 + k * MIN)
        ins.record_attempt("li", CALL, T0 + (k + 1) * MIN)
        fresh.save(ins)
    with Store.open_url(url) as store:
        sql = SqlInstructions(store.sessions)
        sql.create(make("OLD"))
        assert sql.replace_all(fresh.all()) == 3
        stored = sql.between()
        assert [i.warning_id for i in stored] == ["W0", "W1", "W2"]
        kept = fresh.all()
        assert [i.model_dump(exclude={"attempts"}) for i in stored] == [
            i.model_dump(exclude={"attempts"}) for i in kept
        ]
        assert stored[0].attempts[0].attempt.note == "接通\\x00本人"
        window = sql.between(T0 + MIN, T0 + 2 * MIN)
        assert [i.warning_id for i in window] == ["W1"]
        assert sql.due(T0 + dt.timedelta(days=1))  # the deadline columns came along
