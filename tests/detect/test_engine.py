"""The engine's invariances: the same warnings whatever the batch size, the partition count, or a
snapshot and restore in the middle of the stream."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.detect.engine import (
    SNAPSHOT_FORMAT,
    SNAPSHOT_VERSION,
    Engine,
    EngineConfig,
    RuleRows,
    warnings_table,
)
from fanzha.detect.frame import COLUMNS, Frame, K
from fanzha.detect.intel_view import IntelView
from fanzha.detect.kernels import Column
from fanzha.detect.rules import BY_ID, RULES, Target

from .factories import (
    MOBILE,
    Timeline,
    World,
    at,
    day,
    evidence,
    feed,
    live,
    make_engine,
    run,
    sorted_warnings,
    story,
    subject_of,
    warning_contents,
    windows,
)

W = World()
STORY = story(W)
LEARNING = story(W, after_learning=True)
P3 = EngineConfig(partitions=3)


@pytest.fixture(scope="module")
def one_batch() -> Engine:
    return run(STORY)


def test_story_warns(one_batch: Engine) -> None:
    """The story is worth testing on: several residents warned, one twice, all levels known."""
    rows = warning_contents(one_batch)
    assert len(rows) >= 5
    subjects = [r["subject"] for r in rows]
    assert {W.ann.id_number, W.bob.id_number, W.gran.id_number} <= set(subjects)
    assert subjects.count(W.gran.id_number) == 2  # a second episode after the first lapsed
    assert one_batch.intel.learnt  # the report and the rules taught it indicators


# ---------------------------------------------------------------------- (a) batch size


@pytest.mark.parametrize("batch_s", [600, 3600, 86_400], ids=["10min", "1h", "1day"])
def test_batch_size_does_not_change_warnings(one_batch: Engine, batch_s: int) -> None:
    engine = run(STORY, batch_s)
    assert warning_contents(engine) == warning_contents(one_batch)
    assert evidence(engine) == evidence(one_batch)
    assert engine.intel.learnt.keys() == one_batch.intel.learnt.keys()
    assert engine.late == 0 and len(engine.pending) == 0


@pytest.mark.parametrize("lead", [0, 1], ids=["that_second", "the_next"])
def test_live_second_by_second_gives_the_same_warnings(one_batch: Engine, lead: int) -> None:
    """A worker taking each second's events as they come (tiny batches, the small-input
    paths), with the watermark at that second or the next, warns exactly as one batch does."""
    engine = feed(make_engine(STORY.world), live(STORY, lead))
    assert warning_contents(engine) == warning_contents(one_batch)
    assert evidence(engine) == evidence(one_batch)
    assert sorted_warnings(engine) == sorted_warnings(one_batch)


def test_batch_size_does_not_change_warning_ids(one_batch: Engine) -> None:
    assert sorted_warnings(run(STORY, 3600)) == sorted_warnings(one_batch)


def test_contacts_after_learning_do_not_depend_on_batch_size() -> None:
    assert warning_contents(run(LEARNING, 3600)) == warning_contents(run(LEARNING))


# ---------------------------------------------------------------------- (b) partitions


def test_partitions_do_not_change_warnings_real_engine() -> None:
    assert sorted_warnings(run(STORY, config=P3)) == sorted_warnings(run(STORY))


@pytest.fixture
def partitions_work() -> Iterator[None]:
    """Partitions > 1 work in the real engine (kept as a fixture for the tests that use it)."""
    yield


@pytest.mark.usefixtures("partitions_work")
@pytest.mark.parametrize("batch_s", [None, 3600], ids=["one_batch", "1h"])
def test_partitions_do_not_change_warnings(batch_s: int | None) -> None:
    one = run(STORY, batch_s)
    three = run(STORY, batch_s, config=P3)
    assert sorted_warnings(three) == sorted_warnings(one)
    assert evidence(three) == evidence(one)
    # Every subject's state lives in its own partition only.
    seen = [k for part in three.parts for k in part.subjects.payees.first]
    assert seen  # the story has payments
    for p, part in enumerate(three.parts):
        assert all((k >> 31) % 3 == p for k in part.subjects.payees.first)


# ---------------------------------------------------------------------- (c) snapshot


def _resumed(
    batches: list[Any], cut: int, before: EngineConfig | None = None, **restore: Any
) -> tuple[Engine, Engine, bytes]:
    """(engine fed the first ``cut`` batches, restored copy fed the rest, the snapshot)."""
    first = feed(make_engine(W, config=before), batches[:cut])
    data = first.snapshot()
    second = Engine.restore(data, W.registry, IntelView(), **restore)
    return first, feed(second, batches[cut:]), data


BATCHES = windows(STORY, 600)
LEARNING_BATCHES = windows(LEARNING, 600)


def _cut_with_pending() -> int:
    """The first 10-minute window after which a call is still going on (pending rows)."""
    engine = make_engine(W)
    for i, batch in enumerate(BATCHES):
        feed(engine, [batch])
        if len(engine.pending):
            return i + 1
    raise AssertionError("no pending rows in the story")


@pytest.fixture(scope="module")
def uninterrupted() -> Engine:
    return feed(make_engine(W), BATCHES)


@pytest.mark.parametrize("where", ["start", "pending", "middle", "after_report", "end"])
def test_snapshot_restore_resumes_exactly(uninterrupted: Engine, where: str) -> None:
    n = len(BATCHES)
    report_at = at(day(8))
    after_report = next(i for i, (_, wm) in enumerate(BATCHES) if wm is None or wm > report_at)
    cut = {
        "start": 0,
        "pending": _cut_with_pending(),
        "middle": n // 2,
        "after_report": after_report + 1,
        "end": n - 1,
    }[where]
    first, resumed, data = _resumed(BATCHES, cut)
    if where == "pending":
        assert len(first.pending) > 0
    if where == "after_report":
        assert first.intel.learnt and first.contacts.chunks
        assert any(r.warning is not None for r in first.scorer.subjects.values())
    assert sorted_warnings(resumed) == sorted_warnings(uninterrupted)
    assert evidence(resumed) == evidence(uninterrupted)
    assert resumed.intel.learnt == uninterrupted.intel.learnt
    assert resumed.snapshot() == uninterrupted.snapshot()
    # Restoring is exact: the snapshot of a restored engine is the same bytes.
    assert Engine.restore(data, W.registry, IntelView()).snapshot() == data


def test_snapshot_restore_with_learning_at_every_eighth_window() -> None:
    full = feed(make_engine(W), LEARNING_BATCHES)
    for cut in range(3, len(LEARNING_BATCHES), 8):
        _, resumed, _ = _resumed(LEARNING_BATCHES, cut)
        assert sorted_warnings(resumed) == sorted_warnings(full), cut


def test_restore_keeps_live_warnings_and_their_own_hits() -> None:
    first = feed(make_engine(W), BATCHES[: len(BATCHES) // 2])
    restored = Engine.restore(first.snapshot(), W.registry, IntelView())
    live = [(s, r) for s, r in restored.scorer.subjects.items() if r.warning is not None]
    assert live
    for subject, risk in live:
        w = risk.warning
        assert w is not None and restored.scorer.warnings[w.warning_id] is w
        assert w == first.scorer.subjects[subject].warning
        # The warning keeps its own dict: later signals replace the subject's hits only (the
        # hits both hold are never changed in place).
        assert w.hits is not risk.hits
        shared = next(iter(w.hits.values()))
        with pytest.raises(dataclasses.FrozenInstanceError):
            shared.at = 0  # type: ignore[misc]


@pytest.mark.parametrize("residents", [True, False])
def test_prepare_live_changes_no_warning(residents: bool) -> None:
    """Readying an engine for small calls (residents met ahead, its key dict caught up)
    changes no answer."""
    cut = len(BATCHES) // 2
    full = feed(make_engine(W), BATCHES)
    engine = feed(make_engine(W), BATCHES[:cut])
    # Keys of numbers never met (more than the state has room for): ids change no answer.
    engine.builder.keys.intern_list([f"phone:+86170{i:08d}" for i in range(3 * _room(engine))])
    engine.prepare_live(residents=residents)
    assert engine.builder.live is residents
    assert _room(engine) >= len(engine.builder.keys)
    keys = engine.builder.keys
    assert keys._in_dict == len(keys)  # every key in the dict (``find`` would catch it up)
    feed(engine, BATCHES[cut:])
    assert sorted_warnings(engine) == sorted_warnings(full)


def _room(engine: Engine) -> int:
    """The fewest ids any column of the state keyed by frame key has room for."""
    states: list[Any] = [engine.counterparties, *(p.subjects for p in engine.parts)]
    columns = [getattr(s, f.name) for s in states for f in dataclasses.fields(s)]
    return min(c.data.size for c in [*columns, engine._known_cps] if isinstance(c, Column))


def test_reserve_makes_room_for_every_key_met() -> None:
    """A live engine's state has room for every key met before its calls (none doubles in
    a call: milliseconds of fresh memory)."""
    engine = make_engine(W, config=EngineConfig(partitions=2))
    keys = engine.builder.keys
    keys.intern_list([f"phone:+86170{i:08d}" for i in range(3 * _room(engine))])
    assert _room(engine) < len(keys)
    engine.reserve()
    assert _room(engine) >= len(keys)


def test_restore_takes_the_snapshots_config_by_default() -> None:
    config = EngineConfig(lookback_days=10, call_probe_s=600)
    engine = feed(make_engine(W, config=config), BATCHES[:5])
    restored = Engine.restore(engine.snapshot(), W.registry)
    assert restored.config == config
    assert restored.contacts.lookback_s == 10 * 86_400
    assert restored.builder.call_probe_s == 600


def test_restore_with_a_shadow_scorer() -> None:
    shadow = BY_ID["call_live_risky"].with_config(min_seconds=600)
    full = feed(make_engine(W, shadow=[shadow]), BATCHES)
    assert warnings_table(full, shadow=True).num_rows > 0
    cut = len(BATCHES) // 2
    first = feed(make_engine(W, shadow=[shadow]), BATCHES[:cut])
    resumed = Engine.restore(first.snapshot(), W.registry, IntelView(), shadow=[shadow])
    feed(resumed, BATCHES[cut:])
    assert sorted_warnings(resumed) == sorted_warnings(full)


@pytest.mark.usefixtures("partitions_work")
@pytest.mark.parametrize(("before", "after"), [(1, 3), (3, 1), (3, 2)])
def test_restore_into_another_partition_count(before: int, after: int) -> None:
    cut = len(BATCHES) // 2
    full = feed(make_engine(W, config=EngineConfig(partitions=before)), BATCHES)
    _, resumed, _ = _resumed(
        BATCHES, cut, EngineConfig(partitions=before), config=EngineConfig(partitions=after)
    )
    assert len(resumed.parts) == after
    assert sorted_warnings(resumed) == sorted_warnings(full)


@pytest.mark.usefixtures("partitions_work")
def test_partition_snapshot_restores_one_partition() -> None:
    cut = len(BATCHES) // 2
    full = feed(make_engine(W, config=P3), BATCHES)
    first = feed(make_engine(W, config=P3), BATCHES[:cut])
    # The worker holding Ann's partition (she has a live warning) is lost: its state is
    # gone (an empty partition) …
    p = first.builder.keys.find(W.ann.id_number) % 3
    assert first.scorer.subjects[first.builder.keys.find(W.ann.id_number)].warning is not None
    lost = Engine.restore(first.snapshot(), W.registry, IntelView())
    empty = make_engine(W, config=P3).snapshot_partition(p)
    lost.restore_partition(p, empty)
    assert not any(s % 3 == p for s in lost.scorer.subjects)
    assert not lost.parts[p].subjects.payees.first
    assert sorted_warnings(feed(lost, BATCHES[cut:])) != sorted_warnings(full)
    # … and comes back from its own snapshot.
    back = Engine.restore(first.snapshot(), W.registry, IntelView())
    back.restore_partition(p, empty)
    back.restore_partition(p, first.snapshot_partition(p))
    assert sorted_warnings(feed(back, BATCHES[cut:])) == sorted_warnings(full)
    assert evidence(back) == evidence(full)


def test_partition_snapshot_refuses_another_partition() -> None:
    engine = make_engine(W, config=EngineConfig(partitions=2))
    data = engine.snapshot_partition(0)
    with pytest.raises(ValueError, match="partition 0 of 2"):
        engine.restore_partition(1, data)
    with pytest.raises(ValueError, match="partition 0 of 2"):
        make_engine(W, config=P3).restore_partition(0, data)
    with pytest.raises(ValueError, match="no partition"):
        engine.snapshot_partition(2)
    with pytest.raises(ValueError, match="not of 'engine'"):
        Engine.restore(data, W.registry)
    with pytest.raises(ValueError, match="not of 'partition'"):
        engine.restore_partition(0, engine.snapshot())


def _head(data: bytes) -> dict[str, Any]:
    size = int.from_bytes(data[:8], "big")
    head = json.loads(data[8 : 8 + size])
    assert isinstance(head, dict)
    return head


def test_snapshot_is_self_describing_without_pickle() -> None:
    engine = feed(make_engine(W), BATCHES[: _cut_with_pending()])
    data = engine.snapshot()
    head = _head(data)
    assert head["format"] == SNAPSHOT_FORMAT and head["version"] == SNAPSHOT_VERSION
    assert head["kind"] == "engine" and head["partitions"] == 1
    assert head["config"] == engine.config.model_dump(mode="json")
    size = int.from_bytes(data[:8], "big")
    with np.load(io.BytesIO(data[8 + size :]), allow_pickle=False) as npz:
        assert sorted(npz.files) == head["arrays"]
        assert all(npz[name].dtype != object for name in npz.files)
        assert "pending.at" in npz.files and npz["pending.at"].size == len(engine.pending)


def test_restore_refuses_other_formats() -> None:
    data = make_engine(W).snapshot()
    head = _head(data)
    size = int.from_bytes(data[:8], "big")

    def with_head(**changes: Any) -> bytes:
        new = json.dumps({**head, **changes}).encode()
        return len(new).to_bytes(8, "big") + new + data[8 + size :]

    with pytest.raises(ValueError, match="version 99"):
        Engine.restore(with_head(version=99), W.registry)
    with pytest.raises(ValueError, match="not an engine snapshot"):
        Engine.restore(with_head(format="something else"), W.registry)
    with pytest.raises(ValueError, match="not an engine snapshot"):
        Engine.restore(b"\x00" * 8 + b"garbage", W.registry)
    with pytest.raises(ValueError, match="do not match"):
        Engine.restore(with_head(arrays=["x"]), W.registry)


def test_a_report_arriving_ahead_of_the_watermark_is_learnt() -> None:
    t = Timeline(W)
    t.report(60, None, phones=[MOBILE])
    engine = make_engine(W)
    engine.process(t.tables(), at(60))  # the report's ts is the watermark: not due yet
    engine.flush()
    assert ("phone", MOBILE) in engine.intel.learnt


def test_rows_later_than_the_grace_are_set_aside_not_run() -> None:
    t = story(W)
    engine = make_engine(W)
    engine.process({}, at(day(2)))
    late = t.tables(at(day(1)), at(day(1)) + 3600)  # Ann's call, known before the watermark
    ids = {eid for table in late.values() for eid in table.column("event_id").to_pylist()}
    result = engine.process(late, at(day(2)))
    assert result.late == len(result.late_rows) == len(ids) and engine.late == result.late
    assert {eid for _, eid, _ in result.late_rows} == ids
    assert all(kind in late and when < at(day(2)) - 3600 for kind, _, when in result.late_rows)
    assert not engine.scorer.subjects and result.rows == 0  # nothing of it ran


def test_rows_within_the_grace_still_run() -> None:
    t = Timeline(W)
    t.call(0, "+8617012345678", W.ann.phone, 20 * 60)  # live probe at 15 min: call_live_risky
    engine = make_engine(W)
    engine.process({}, at(40))
    result = engine.process(t.tables(), at(41))  # 25 min late, within the 60-min grace
    assert result.late == 0 and result.rows > 0


def test_a_late_report_is_still_learnt() -> None:
    t = Timeline(W)
    t.report(60, None, phones=[MOBILE])
    engine = make_engine(W)
    engine.process({}, at(day(3)))
    result = engine.process(t.tables(), at(day(3)) + 60)
    assert result.late == 0 and ("phone", MOBILE) in engine.intel.learnt


def test_rows_without_a_subject_leave_no_subject_state() -> None:
    """A payment from an unknown payer has no subject (-1): it must not fold into the state of
    subject 0 (ids start at 0)."""
    t = Timeline(W)
    t.call(0, "+8617012345678", W.ann.phone, 30)  # Ann's ID number is interned first
    t._add("transfer", 10, payer_account=None, payee_account="6222000011112222", amount_fen=9_000)
    engine = run(t, 3600)
    assert subject_of(engine, W.ann) == 0
    state = engine.parts[0].subjects
    assert int(state.out_max.get(np.array([0]))[0]) == 0
    assert int(state.out_n.get(np.array([0]))[0]) == 0
    assert not state.payees.first


rows_st = st.lists(
    st.tuples(st.sampled_from(list(K)), st.integers(-1, 2), st.integers(-1, 2)), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(rows_st)
def test_rule_rows_are_the_rows_of_the_kinds_about_the_target(
    rows: list[tuple[K, int, int]],
) -> None:
    """Each group's rows: those of its kinds whose subject is a resident (subject rules) or
    whose counterparty is known (indicator rules), ascending, with their columns."""
    n = len(rows)
    cols = {name: np.arange(n, dtype=np.int64) for name in COLUMNS}
    cols["kind"] = np.array([int(k) for k, _, _ in rows], np.int64)
    cols["person"] = np.array([p for _, p, _ in rows], np.int64)
    cols["cp"] = np.array([c for _, _, c in rows], np.int64)
    f = Frame.of(cols, pa.array([str(i) for i in range(n)], pa.string()))
    groups = RuleRows(f)
    for r in RULES:
        idx, view = groups.of(r.kinds, r.target)
        who = f.person if r.target is Target.SUBJECT else f.cp
        want = [i for i in range(n) if f.kind[i] in r.kinds and who[i] >= 0]
        assert idx.tolist() == want
        assert view.at.tolist() == want and view.kind.tolist() == f.kind[want].tolist()
        assert groups.of(r.kinds, r.target)[0] is idx  # found once per batch
