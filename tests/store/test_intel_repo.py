"""The IndicatorRepo contract, on the in-memory repo, SQLite and a real PostgreSQL.

Merging rules, the audit trail, allow-list stickiness, incremental reads (``changed_since``),
expiry, hostile values and batches larger than one chunk.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fanzha.intel.model import Indicator, IndicatorKind, Verdict
from fanzha.intel.repo import Action, IndicatorRepo, MemoryIndicatorRepo, UpsertReport, rewind
from fanzha.model.clock import ManualClock
from fanzha.store import Store
from fanzha.store.intel import CHUNK_VALUES, SqlIndicatorRepo

T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
FEED = "import:scam.txt"
PERSON = "manual:officer-7"
D = IndicatorKind.DOMAIN


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def repo(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> Iterator[IndicatorRepo]:
    if request.param == "memory":
        yield MemoryIndicatorRepo(clock)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{(tmp_path / 'fanzha.db').as_posix()}"
    else:
        url = request.getfixturevalue("postgres_server").create_schema()
    store = Store.open_url(url)
    try:
        yield SqlIndicatorRepo(store.sessions, clock)
    finally:
        store.close()


def ind(value: str = "evil.example", **fields: object) -> Indicator:
    return Indicator.model_validate({"kind": D, "value": value, "source": "feed-a", **fields})


def counts(report: UpsertReport) -> tuple[int, int, int, int]:
    return (report.added, report.upgraded, report.unchanged, report.refused)


def actions(repo: IndicatorRepo, value: str = "evil.example", kind: IndicatorKind = D) -> list[str]:
    return [c.action.value for c in repo.history(kind, value)]


def test_add_then_the_same_again_changes_nothing(repo: IndicatorRepo) -> None:
    first = repo.upsert_many([ind(confidence=0.7)], actor=FEED, reason="daily feed")
    assert counts(first) == (1, 0, 0, 0)
    stored = repo.get(D, "evil.example")
    assert stored == ind(confidence=0.7)
    [change] = repo.history(D, "evil.example")
    assert (change.action, change.actor, change.reason, change.at) == (
        Action.ADDED,
        FEED,
        "daily feed",
        T0,
    )
    assert change.old is None and change.new is not None
    assert change.new["verdict"] == "fraud" and change.new["confidence"] == 0.7
    again = repo.upsert_many([ind(confidence=0.7)], actor=FEED, reason="daily feed")
    assert counts(again) == (0, 0, 1, 0)
    assert actions(repo) == ["added"]


def test_a_feed_raises_the_verdict_and_never_lowers_it(repo: IndicatorRepo) -> None:
    repo.upsert_many([ind(verdict="suspicious", confidence=0.5)], actor=FEED, reason="r")
    up = repo.upsert_many([ind(verdict="fraud", source="feed-b")], actor=FEED, reason="r")
    assert counts(up) == (0, 1, 0, 0)
    stored = repo.get(D, "evil.example")
    assert stored is not None
    assert (stored.verdict, stored.confidence, stored.source) == (Verdict.FRAUD, 0.8, "feed-b")
    change = repo.history(D, "evil.example")[-1]
    assert change.action is Action.UPGRADED
    assert change.old == {"verdict": "suspicious", "confidence": 0.5, "source": "feed-a"}
    assert change.new == {"verdict": "fraud", "confidence": 0.8, "source": "feed-b"}
    down = repo.upsert_many(
        [ind(verdict="suspicious", confidence=0.99), ind(verdict="allow")], actor=FEED, reason="r"
    )
    assert counts(down) == (0, 0, 0, 2)
    after = repo.get(D, "evil.example")
    assert after is not None and (after.verdict, after.confidence) == (Verdict.FRAUD, 0.8)
    assert actions(repo) == ["added", "upgraded"]


def test_a_person_allows_and_the_allow_wins_over_feeds(repo: IndicatorRepo) -> None:
    repo.upsert_many([ind()], actor=FEED, reason="feed")
    allowed = repo.upsert_many([ind(verdict="allow", source="manual")], actor=PERSON, reason="ok")
    assert counts(allowed) == (0, 1, 0, 0)
    assert actions(repo) == ["added", "allow"]
    again = repo.upsert_many([ind(verdict="fraud", confidence=1.0)], actor=FEED, reason="feed")
    assert counts(again) == (0, 0, 0, 1)
    stored = repo.get(D, "evil.example")
    assert stored is not None and stored.verdict is Verdict.ALLOW
    # a person may block it again
    reblocked = repo.upsert_many([ind(verdict="fraud")], actor=PERSON, reason="was wrong")
    assert counts(reblocked) == (0, 1, 0, 0)
    assert actions(repo) == ["added", "allow", "upgraded"]
    later = repo.upsert_many([ind(verdict="suspicious")], actor=FEED, reason="feed")
    assert counts(later) == (0, 0, 0, 1)


def test_an_allow_from_a_feed_is_raised_by_a_later_block(repo: IndicatorRepo) -> None:
    repo.upsert_many([ind("good.example", verdict="allow")], actor=FEED, reason="@@ rule")
    up = repo.upsert_many([ind("good.example")], actor="import:other", reason="feed")
    assert counts(up) == (0, 1, 0, 0)
    assert actions(repo, "good.example") == ["added", "upgraded"]


def test_a_person_confirming_a_feed_allow_makes_it_sticky(repo: IndicatorRepo) -> None:
    repo.upsert_many([ind("good.example", verdict="allow")], actor=FEED, reason="@@ rule")
    confirmed = repo.upsert_many([ind("good.example", verdict="allow")], actor=PERSON, reason="ok")
    assert counts(confirmed) == (0, 1, 0, 0)
    assert actions(repo, "good.example") == ["added", "allow"]
    refused = repo.upsert_many([ind("good.example")], actor=FEED, reason="feed")
    assert counts(refused) == (0, 0, 0, 1)
    # allowing it again changes nothing
    same = repo.upsert_many([ind("good.example", verdict="allow")], actor=PERSON, reason="ok")
    assert counts(same) == (0, 0, 1, 0)


def test_a_new_manual_allow_is_sticky_from_the_start(repo: IndicatorRepo) -> None:
    repo.upsert_many([ind("bank.example", verdict="allow")], actor="manual", reason="our bank")
    refused = repo.upsert_many([ind("bank.example")], actor=FEED, reason="feed")
    assert counts(refused) == (0, 0, 0, 1)


def test_a_person_may_lower_a_verdict(repo: IndicatorRepo) -> None:
    repo.upsert_many([ind()], actor=FEED, reason="feed")
    down = repo.upsert_many([ind(verdict="suspicious")], actor=PERSON, reason="unsure")
    assert counts(down) == (0, 1, 0, 0)
    assert actions(repo) == ["added", "downgraded"]


def test_confidence_seen_times_expiry_and_note(repo: IndicatorRepo, clock: ManualClock) -> None:
    day = dt.timedelta(days=1)
    repo.upsert_many(
        [ind(confidence=0.6, first_seen=T0, last_seen=T0, expires=T0 + 10 * day)],
        actor=FEED,
        reason="r",
    )
    clock.advance(60)
    repo.upsert_many([ind(confidence=0.9, expires=T0)], actor=FEED, reason="r")
    repo.upsert_many([ind(confidence=0.1, expires=T0)], actor=FEED, reason="r")  # kept: 0.9
    repo.upsert_many(
        [ind(first_seen=T0 - day, last_seen=T0 + day, expires=T0 + 20 * day)],
        actor=FEED,
        reason="r",
    )
    repo.upsert_many([ind(note="客服退款话术", expires=T0)], actor=FEED, reason="r")
    stored = repo.get(D, "evil.example")
    assert stored is not None
    assert stored.confidence == 0.9
    assert (stored.first_seen, stored.last_seen, stored.expires) == (
        T0 - day,
        T0 + day,
        T0 + 20 * day,
    )
    assert stored.note == "客服退款话术"
    history = repo.history(D, "evil.example")
    assert [c.action.value for c in history] == ["added", "confidence", "seen", "note"]
    assert history[1].at == T0 + dt.timedelta(seconds=60)
    assert history[2].old == {
        "first_seen": T0.isoformat(),
        "last_seen": T0.isoformat(),
        "expires": (T0 + 10 * day).isoformat(),
    }
    # no expiry is later than any expiry
    repo.upsert_many([ind()], actor=FEED, reason="r")
    forever = repo.get(D, "evil.example")
    assert forever is not None and forever.expires is None


def test_times_come_back_aware_and_equal(repo: IndicatorRepo) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    seen = dt.datetime(2026, 5, 1, 16, 30, 15, 123456, tzinfo=shanghai)
    repo.upsert_many([ind(first_seen=seen)], actor=FEED, reason="r")
    stored = repo.get(D, "evil.example")
    assert stored is not None and stored.first_seen == seen
    assert stored.first_seen is not None and stored.first_seen.tzinfo is not None


def test_duplicates_in_one_batch_are_merged_in_order(repo: IndicatorRepo) -> None:
    report = repo.upsert_many(
        [ind(verdict="suspicious"), ind(verdict="suspicious"), ind(), ind(verdict="allow")],
        actor=FEED,
        reason="r",
    )
    assert counts(report) == (1, 1, 1, 1)
    assert actions(repo) == ["added", "upgraded"]
    stored = repo.get(D, "evil.example")
    assert stored is not None and stored.verdict is Verdict.FRAUD


def test_all_by_kind_and_in_force(repo: IndicatorRepo) -> None:
    phone = Indicator(kind=IndicatorKind.PHONE, value="+8613800138000")
    old = ind("old.example", expires=T0)
    repo.upsert_many([ind("b.example"), ind("a.example"), phone, old], actor=FEED, reason="r")
    assert [i.value for i in repo.all()] == ["a.example", "b.example", "old.example", phone.value]
    assert repo.all(IndicatorKind.PHONE) == [phone]
    active = repo.all(active_at=T0)
    assert [i.value for i in active] == ["a.example", "b.example", phone.value]
    assert len(repo.all(D, active_at=T0 - dt.timedelta(seconds=1))) == 3
    assert repo.get(IndicatorKind.URL, "a.example") is None


P = IndicatorKind.PHONE


def phone(value: str, **fields: object) -> Indicator:
    return Indicator.model_validate({"kind": P, "value": value, "source": "feed-a", **fields})


def test_get_many_by_key_in_force_allow_entries_included(repo: IndicatorRepo) -> None:
    url = Indicator(kind=IndicatorKind.URL, value="http://evil.example/login")
    repo.upsert_many(
        [
            ind("b.example"),
            ind("a.example", verdict="allow", source="manual"),
            ind("old.example", expires=T0),
            ind("later.example", expires=T0 + dt.timedelta(days=1)),
            phone("+8613800138000"),
            url,
        ],
        actor=FEED,
        reason="r",
    )
    keys = [(D, "old.example"), (D, "b.example"), (D, "a.example"), (D, "b.example"),
            (D, "later.example"), (D, "missing.example"), (P, "+8613800138000"),
            (IndicatorKind.URL, url.value), (IndicatorKind.URL, "b.example")]  # fmt: skip
    everything = repo.get_many(keys)
    assert [(i.kind.value, i.value) for i in everything] == [
        ("domain", "a.example"),
        ("domain", "b.example"),
        ("domain", "later.example"),
        ("domain", "old.example"),
        ("phone", "+8613800138000"),
        ("url", url.value),
    ]
    assert everything[0].verdict is Verdict.ALLOW and everything[0] == repo.get(D, "a.example")
    # expiry as in all(): in force strictly before ``expires``
    assert [i.value for i in repo.get_many(keys, active_at=T0)] == [
        "a.example", "b.example", "later.example", "+8613800138000", url.value
    ]  # fmt: skip
    later = repo.get_many(keys, active_at=T0 + dt.timedelta(days=1))
    assert "later.example" not in [i.value for i in later] and len(later) == 4
    assert repo.get_many([]) == []
    assert repo.get_many(iter([(D, "b.example")])) == [repo.get(D, "b.example")]


def test_get_many_more_keys_than_a_chunk(repo: IndicatorRepo) -> None:
    n = 2 * CHUNK_VALUES + 7
    repo.upsert_many([ind(f"h{i}.example") for i in range(0, n, 3)], actor=FEED, reason="r")
    found = repo.get_many((D, f"h{i}.example") for i in range(n))
    assert sorted(i.value for i in found) == sorted(f"h{i}.example" for i in range(0, n, 3))
    assert [i.key for i in found] == sorted(i.key for i in found)


def test_phone_prefixes(repo: IndicatorRepo) -> None:
    repo.upsert_many(
        [
            phone("+86170*", verdict="suspicious"),
            phone("0086 171*"),  # stored as written: the index normalises prefixes
            phone("+86138* "),  # the index strips the value before looking for the star
            phone("+86139*", verdict="allow", source="manual"),
            phone("+86165*", expires=T0),
            phone("+8613800138000"),
            phone("+86*1"),  # a star inside is no prefix
            ind("*.evil.example"),  # not a phone
        ],
        actor=FEED,
        reason="r",
    )
    everything = repo.phone_prefixes()
    assert [i.value for i in everything] == sorted(
        ["+86170*", "0086 171*", "+86138* ", "+86139*", "+86165*"]
    )
    allowed = [i for i in everything if i.verdict is Verdict.ALLOW]
    assert [i.value for i in allowed] == ["+86139*"]
    in_force = [i.value for i in repo.phone_prefixes(active_at=T0)]
    assert "+86165*" not in in_force and len(in_force) == 4
    assert repo.phone_prefixes(active_at=T0 - dt.timedelta(seconds=1)) == everything


def test_changed_since_gives_what_changed_after_a_seq(repo: IndicatorRepo) -> None:
    assert repo.changed_since(0) == ([], 0)
    repo.upsert_many([ind("a.example"), ind("b.example")], actor=FEED, reason="r")
    first, seq = repo.changed_since(0)
    assert [i.value for i in first] == ["a.example", "b.example"] and seq > 0
    assert repo.changed_since(seq) == ([], seq)
    repo.upsert_many([ind("a.example"), ind("b.example", verdict="allow")], actor=FEED, reason="r")
    assert repo.changed_since(seq) == ([], seq)  # nothing changed: no audit rows
    repo.upsert_many([ind("b.example", confidence=0.95), ind("c.example")], actor=FEED, reason="r")
    later, seq2 = repo.changed_since(seq)
    assert [(i.value, i.confidence) for i in later] == [("b.example", 0.95), ("c.example", 0.8)]
    assert seq2 > seq


def test_expire(repo: IndicatorRepo, clock: ManualClock) -> None:
    repo.upsert_many([ind()], actor=FEED, reason="r")
    _, seq = repo.changed_since(0)
    at = T0 + dt.timedelta(hours=1)
    assert repo.expire(D, "evil.example", at=at, actor=PERSON, reason="site taken down")
    assert not repo.expire(D, "evil.example", at=at, actor=PERSON, reason="again")
    assert not repo.expire(D, "unknown.example", at=at, actor=PERSON, reason="x")
    assert actions(repo) == ["added", "expired"]
    assert repo.all(active_at=at) == []
    assert [i.value for i in repo.all(active_at=T0)] == ["evil.example"]
    changed, _ = repo.changed_since(seq)
    assert [i.expires for i in changed] == [at]


def test_adjust_confidence_moves_within_bounds_and_is_audited(repo: IndicatorRepo) -> None:
    repo.upsert_many([ind(confidence=0.8)], actor=FEED, reason="r")
    _, seq = repo.changed_since(0)
    lowered = repo.adjust_confidence(D, "evil.example", -0.2, actor="officer:1", reason="not fraud")
    assert lowered is not None and lowered.confidence == pytest.approx(0.6)
    raised = repo.adjust_confidence(D, "evil.example", 0.9, actor="officer:2", reason="confirmed")
    assert raised is not None and raised.confidence == 1.0  # capped
    same = repo.adjust_confidence(D, "evil.example", 0.1, actor="officer:2", reason="again")
    assert same is not None and same.confidence == 1.0  # at the bound: no audit row
    assert repo.adjust_confidence(D, "unknown.example", 0.1, actor="x", reason="x") is None
    stored = repo.get(D, "evil.example")
    assert stored is not None and stored.confidence == 1.0
    assert stored.verdict is Verdict.FRAUD  # only the confidence moves
    history = repo.history(D, "evil.example")
    assert [c.action for c in history] == ["added", "confidence", "confidence"]
    assert [c.reason for c in history[1:]] == ["not fraud", "confirmed"]
    assert history[1].old == {"confidence": 0.8} and history[1].new == {"confidence": 0.6}
    changed, _ = repo.changed_since(seq)
    assert [i.confidence for i in changed] == [1.0]
    # A later feed's lower confidence does not undo the feedback (the maximum is kept).
    repo.upsert_many([ind(confidence=0.5)], actor=FEED, reason="feed")
    again = repo.get(D, "evil.example")
    assert again is not None and again.confidence == 1.0


def test_hostile_values_are_kept_verbatim_and_unstorable_ones_refused(
    repo: IndicatorRepo,
) -> None:
    hostile = [
        Indicator(kind=IndicatorKind.APP, value="'; drop table indicators; --"),
        Indicator(kind=IndicatorKind.APP, value="<script>alert(1)</script>"),
        Indicator(kind=IndicatorKind.DEVICE, value="设备 “引号” \\ %_"),
    ]
    assert repo.upsert_many(hostile, actor=FEED, reason="'; --").added == 3
    for h in hostile:
        assert repo.get(h.kind, h.value) == h
    assert [c.reason for c in repo.history(IndicatorKind.APP, hostile[0].value)] == ["'; --"]
    with pytest.raises(ValueError, match="control"):
        repo.upsert_many(
            [Indicator(kind=IndicatorKind.DEVICE, value="a\x00b")], actor=FEED, reason="r"
        )
    with pytest.raises(ValueError, match="2048"):
        repo.upsert_many(
            [Indicator(kind=IndicatorKind.APP, value="x" * 3000)], actor=FEED, reason="r"
        )
    assert len(repo.all()) == 3


def test_batches_larger_than_a_chunk(repo: IndicatorRepo) -> None:
    n = CHUNK_VALUES + 500
    first = [ind(f"host{i}.example") for i in range(0, n, 2)]
    repo.upsert_many(first, actor=FEED, reason="r")
    batch = [ind(f"host{i}.example", confidence=0.9 if i % 4 == 0 else 0.8) for i in range(n)]
    report = repo.upsert_many(batch, actor=FEED, reason="r")
    assert report.total == n
    assert counts(report) == (n // 2, len(range(0, n, 4)), n // 2 - len(range(0, n, 4)), 0)
    assert len(repo.all()) == n
    _, seq = repo.changed_since(0)
    assert seq == len(first) + report.added + report.upgraded  # one audit row per change


def test_concurrent_writers_each_key_added_once(tmp_path: Path) -> None:
    """Two processes' worth of writers on one SQLite file: no lost updates, no duplicates."""
    url = f"sqlite:///{(tmp_path / 'fanzha.db').as_posix()}"
    Store.open_url(url).close()
    reports: list[UpsertReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def write(offset: int) -> None:
        with Store.open_url(url) as store:
            repo = SqlIndicatorRepo(store.sessions)
            try:
                start.wait()
                batch = [ind(f"h{i}.example") for i in range(offset, offset + 3000)]
                reports.append(repo.upsert_many(batch, actor=FEED, reason="r"))
            except BaseException as error:
                errors.append(error)

    threads = [threading.Thread(target=write, args=(k * 1000,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.added for r in reports) == 5000
    with Store.open_url(url) as store:
        repo = SqlIndicatorRepo(store.sessions)
        assert len(repo.all()) == 5000
        assert repo.changed_since(0)[1] == 5000


def test_indicators_read_back_behave_like_validated_ones(repo: IndicatorRepo) -> None:
    given = [
        ind(note="n", first_seen=T0),
        Indicator(kind=IndicatorKind.PHONE, value="+8613800138000"),
    ]
    repo.upsert_many(given, actor=FEED, reason="r")
    for stored, original in zip(repo.all(), sorted(given, key=lambda i: i.key), strict=True):
        assert stored == original and hash(stored) == hash(original)
        assert stored.model_dump() == original.model_dump() and repr(stored) == repr(original)
        changed = stored.model_copy(update={"note": "other"})
        assert changed.note == "other" and stored.note == original.note
        with pytest.raises(ValueError, match="frozen"):
            stored.note = "x"  # type: ignore[misc]


def test_rewind_gives_the_indicators_as_they_were_at_a_seq(
    repo: IndicatorRepo, clock: ManualClock
) -> None:
    repo.upsert_many([ind("a.example", verdict="suspicious")], actor="feed", reason="one")
    repo.upsert_many([ind("keep.example")], actor="feed", reason="one")
    _, seq = repo.changed_since(0)
    clock.advance(60)
    repo.upsert_many([ind("a.example", verdict="fraud", confidence=0.95)], actor="feed", reason="2")
    repo.upsert_many([ind("new.example")], actor="feed", reason="two")
    repo.expire(D, "keep.example", at=T0 + dt.timedelta(hours=1), actor="x", reason="gone")
    changes = repo.changes_since(seq)
    assert [c.value for c in changes] == ["a.example", "new.example", "keep.example"]
    before = {i.value: i for i in rewind(repo.all(), changes)}
    assert set(before) == {"a.example", "keep.example"}  # new.example came later
    assert before["a.example"].verdict is Verdict.SUSPICIOUS
    assert before["a.example"].confidence == 0.8  # the default, before the second feed
    assert before["keep.example"].expires is None
    assert rewind(repo.all(), repo.changes_since(0)) == []  # before anything was added
