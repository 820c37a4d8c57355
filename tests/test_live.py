"""The live loop over a real SQLite store and lake: ingested events are detected, stored and
dispatched; the state survives a restart; the scheduler escalates, lapses stop-payments and
extends open cases over new transfers. Steps and ticks are called here (the thread that calls
them in ``fanzha serve`` is tested through the API in tests/api/test_live_api.py)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from liveworld import (
    ANN_ID,
    ANN_PHONE,
    FIRST_HALF_RULES,
    MULE,
    MULE2,
    SCAMMER_CALL,
    SCAMMER_SMS,
    first_half,
    onward,
    persons,
    second_half,
)
from webworld import CHENGGUAN, JIANGBEI, NANPING, populate

from fanzha.detect.engine import Engine
from fanzha.detection import build_engine, lake_files, lake_windows, run_engine
from fanzha.dispatching import warning_evidence
from fanzha.funding import FundsConfig
from fanzha.funds.orders import BankAnswer, OrderKind, OrderState
from fanzha.funds.report import parse_report
from fanzha.live import LiveSnapshots, adopt, live_watermark, newest_known, settle_heap
from fanzha.model.clock import ManualClock
from fanzha.service import App
from fanzha.settings import Settings

START = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
LATER = START + dt.timedelta(hours=3)


def settings(data: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data, "argon2_time_cost": 1, "argon2_memory_kib": 8}
    return Settings(**(values | changes))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def opened(data: Path, now: dt.datetime = LATER, **changes: Any) -> App:
    """An app on ``data`` with the web test city, its clock at ``now``, listening to commits."""
    fz = App(settings(data, **changes))
    fz.clock = ManualClock(now)
    populate(fz)
    fz.live.attach()
    return fz


@pytest.fixture
def fz(data: Path) -> Iterator[App]:
    with opened(data) as app:
        post(app, {"person": persons()})
        yield app


def post(fz: App, rows: Mapping[str, list[dict[str, Any]]]) -> None:
    for event_type, items in rows.items():
        fz.ingest_table(pa.Table.from_pylist(items), event_type, source="test")


def live_warnings(fz: App) -> list[dict[str, Any]]:
    return [w for w in fz.warnings.table().to_pylist() if w["subject"] == ANN_ID]


def rules_of(fz: App, warning_id: str) -> set[str]:
    """The rules of a stored warning's signals."""
    return {s["rule"] for s in warning_evidence(fz.store.sessions, [warning_id])[warning_id]}


# ---------------------------------------------------------------------- detection


def test_ingested_events_are_detected_stored_and_dispatched(fz: App) -> None:
    post(fz, first_half(START) | second_half(START))
    report = fz.live.detection.step()
    assert report.events == 7 and report.late == 0 and not report.problems
    [warning] = live_warnings(fz)
    assert warning["level"] == 4
    ins = fz.instructions.by_warning(warning["warning_id"])
    assert ins is not None and ins.level == 4 and ins.unit == NANPING
    assert ins.phone == "+8613812340001"  # from the registry: the number to call
    assert {e.rule for e in ins.evidence} >= {"install_screen_share_after_contact"}
    again = fz.live.detection.step()  # nothing new: nothing stored or dispatched twice
    assert again.events == again.warnings == again.dispatched == 0
    assert len(fz.instructions.find()) == 1


def test_a_person_seen_in_another_district_brings_in_its_duty_desk(fz: App) -> None:
    rows = first_half(START) | second_half(START)
    rows["call"] = [{**r, "city": "江州市", "county": "城关区"} for r in rows["call"]]
    post(fz, rows)
    fz.live.detection.step()
    [warning] = live_warnings(fz)
    ins = fz.instructions.by_warning(warning["warning_id"])
    # the home station acts; the district where her latest call was handled is copied in
    assert ins is not None and ins.unit == NANPING and ins.copy_to == (CHENGGUAN,)


def test_the_same_engine_as_fanzha_detect_gives_the_same_warning(fz: App) -> None:
    post(fz, first_half(START) | second_half(START))
    fz.live.detection.step()
    from fanzha.detect.intel_view import IntelView
    from fanzha.detection import persons_table

    batch = build_engine(persons_table(fz.store.sessions), IntelView(fz.intel_index()))
    run_engine(batch, lake_windows(fz.lake))
    [live] = live_warnings(fz)
    [replayed] = list(batch.scorer.warnings.values())
    assert live["warning_id"] == replayed.warning_id and live["level"] == replayed.level


def test_intelligence_imported_later_warns_who_was_in_touch_already(fz: App) -> None:
    from fanzha.intel.model import Indicator, IndicatorKind

    # a short call from a number nobody knows yet: nothing to warn of on its own
    call = {"caller": SCAMMER_SMS, "callee": ANN_PHONE, "duration_s": 90}
    post(fz, {"call": [{"source": "test", "ts": START.isoformat(), **call}]})
    fz.live.detection.step()
    assert live_warnings(fz) == []
    feed = Indicator(kind=IndicatorKind.PHONE, value=SCAMMER_SMS, source="feed:province")
    fz.intel.upsert_many([feed], actor="analyst", reason="provincial feed")
    fz.live.tick()  # the tick reloads the intelligence and looks back
    [warning] = live_warnings(fz)
    assert warning["level"] >= 3 and rules_of(fz, warning["warning_id"]) == {"retro_new_intel"}
    ins = fz.instructions.by_warning(warning["warning_id"])
    assert ins is not None and ins.unit == NANPING
    fz.live.tick()  # the same intelligence again: nothing new
    assert len(fz.instructions.find()) == 1


def test_rows_waiting_for_the_watermark_keep_the_intelligence_they_were_read_with(
    data: Path,
) -> None:
    from fanzha.intel.model import Indicator, IndicatorKind

    [call] = first_half(START)["call"]  # 40 minutes with a Beijing fixed line, ends at 70
    other = "+861000000001"  # sorts before it: its number in the base is 1, then 0
    with opened(data, now=START + dt.timedelta(minutes=70, seconds=2)) as fz:
        post(fz, {"person": persons()})
        flagged = [Indicator(kind=IndicatorKind.PHONE, value=v) for v in (other, SCAMMER_CALL)]
        fz.intel.upsert_many(flagged, actor="analyst", reason="feed")
        post(fz, {"call": [call]})
        fz.live.detection.step()  # the engine reads the call; its end is inside the hold
        engine = fz.live.detection.engine
        assert engine is not None and len(engine.pending)
        gone = fz.clock.now() - dt.timedelta(seconds=1)
        fz.intel.expire(IndicatorKind.PHONE, other, at=gone, actor="analyst", reason="wrong")
        fz.live.tick()  # a new base, where the fixed line is indicator 0
        assert isinstance(fz.clock, ManualClock)
        fz.clock.set(START + dt.timedelta(minutes=71))  # the call's end is released
        fz.live.detection.step()
        engine = fz.live.detection.engine
        assert engine is not None and not len(engine.pending)
        [warning] = live_warnings(fz)
        wid = warning["warning_id"]
        notes = {s["indicator"] for s in warning_evidence(fz.store.sessions, [wid])[wid]}
        assert any(n.startswith(f"phone:{SCAMMER_CALL} · fraud") for n in notes)
        assert not any(other in n for n in notes)


def test_rows_wait_for_the_hold_then_the_clock_releases_them(data: Path) -> None:
    last = START + dt.timedelta(minutes=110)  # the last transfer
    with opened(data, now=last, live_hold_s=60) as fz:
        post(fz, {"person": persons()})
        post(fz, first_half(START) | second_half(START))
        fz.live.detection.step()
        assert live_warnings(fz)[0]["level"] == 4
        engine = fz.live.detection.engine
        assert engine is not None and len(engine.pending) == 1  # it waits for stragglers
        assert isinstance(fz.clock, ManualClock)
        fz.clock.set(last + dt.timedelta(seconds=30))
        fz.live.detection.step()
        assert len(engine.pending) == 1  # the clock is not yet a hold past it
        fz.clock.set(last + dt.timedelta(seconds=60))
        fz.live.detection.step()
        assert len(engine.pending) == 0
        rules = rules_of(fz, live_warnings(fz)[0]["warning_id"])
        assert "transfer_escalating" in rules


def test_rows_later_than_the_grace_are_dead_lettered(fz: App) -> None:
    post(fz, second_half(START + dt.timedelta(hours=5)))
    fz.live.detection.step()
    post(fz, first_half(START))  # 5 hours older than what already ran; the grace is 1 h
    report = fz.live.detection.step()
    assert report.late == 3
    letters = fz.store.dead_letters.list(status="open", limit=10)
    assert {r.letter.source for r in letters} == {"detect"}
    assert all("grace" in r.letter.reason for r in letters)


def test_old_changes_are_stored_but_not_dispatched(data: Path) -> None:
    with opened(data, now=START + dt.timedelta(days=3)) as fz:
        post(fz, {"person": persons()})
        post(fz, first_half(START) | second_half(START))
        report = fz.live.detection.step()
        assert report.too_old == 1 and report.dispatched == 0
        assert live_warnings(fz)[0]["level"] == 4
        assert fz.instructions.find() == []


def test_without_org_units_warnings_are_stored_and_the_problem_said(data: Path) -> None:
    with App(settings(data)) as fz:
        fz.clock = ManualClock(LATER)
        fz.live.attach()
        post(fz, {"person": persons()})
        post(fz, first_half(START) | second_half(START))
        report = fz.live.detection.step()
        assert live_warnings(fz) and report.problems == [
            "no org units are loaded: warnings stored, not dispatched"
        ]


def test_a_resident_registered_after_the_start_is_known_at_once(data: Path) -> None:
    with opened(data) as fz:
        fz.live.detection.step()  # the engine is built before the registry has her
        post(fz, {"person": persons()})
        post(fz, first_half(START) | second_half(START))
        fz.live.detection.step()
        assert [w["id_number"] for w in live_warnings(fz)] == [ANN_ID]


# ---------------------------------------------------------------------- restarts


def test_a_pattern_split_across_a_restart_still_fires(data: Path) -> None:
    with opened(data) as fz:
        post(fz, {"person": persons()})
        post(fz, first_half(START))
        fz.live.detection.step()
        [before] = live_warnings(fz)
        assert before["level"] == 3
    # close() wrote the snapshot; a new process restores it
    assert LiveSnapshots(data / "live").load() is not None
    with opened(data) as fz:
        post(fz, second_half(START))
        fz.live.detection.step()
        [after] = live_warnings(fz)
        assert after["warning_id"] == before["warning_id"] and after["level"] == 4
        rules = rules_of(fz, after["warning_id"])
        assert rules >= FIRST_HALF_RULES and "install_screen_share_after_contact" in rules
        [ins] = fz.instructions.find()  # the instruction was upgraded, not doubled
        assert ins.level == 4 and [h.action.value for h in ins.history][-1] == "update"


def test_intelligence_imported_while_the_loop_was_down_looks_back_at_start(data: Path) -> None:
    from fanzha.intel.model import Indicator, IndicatorKind

    call = {"caller": SCAMMER_SMS, "callee": ANN_PHONE, "duration_s": 90}
    with opened(data) as fz:
        post(fz, {"person": persons()})
        post(fz, {"call": [{"source": "test", "ts": START.isoformat(), **call}]})
        fz.live.detection.step()
        assert live_warnings(fz) == []
    with App(settings(data)) as other:  # fanzha intel import, the server stopped
        feed = Indicator(kind=IndicatorKind.PHONE, value=SCAMMER_SMS, source="feed:province")
        other.intel.upsert_many([feed], actor="cron", reason="nightly feed")
    with opened(data) as fz:
        fz.live.detection.step()
        [warning] = live_warnings(fz)
        assert rules_of(fz, warning["warning_id"]) == {"retro_new_intel"}
    with opened(data) as fz:  # and only once
        fz.live.detection.step()
        assert len(fz.instructions.find()) == 1


def test_without_the_first_half_the_install_means_nothing(data: Path) -> None:
    with opened(data) as fz:
        post(fz, {"person": persons()})
        post(fz, second_half(START))
        fz.live.detection.step()
        for warning in live_warnings(fz):
            assert "install_screen_share_after_contact" not in rules_of(fz, warning["warning_id"])


def test_files_committed_while_the_loop_was_down_are_read_at_start(data: Path) -> None:
    with opened(data) as fz:
        post(fz, {"person": persons()})
        post(fz, first_half(START))
        fz.live.detection.step()
    with App(settings(data)) as other:  # another process (fanzha ingest): nobody listening
        post(other, second_half(START))
    with opened(data) as fz:
        report = fz.live.detection.step()
        assert report.files == 2 and report.events == 4  # one file per type: install, transfers
        assert live_warnings(fz)[0]["level"] == 4


def test_fanzha_detect_state_is_where_the_live_loop_continues(data: Path) -> None:
    with opened(data) as fz:
        post(fz, {"person": persons()})
        post(fz, first_half(START))
        from fanzha.detect.intel_view import IntelView
        from fanzha.detection import persons_table

        engine = build_engine(persons_table(fz.store.sessions), IntelView(fz.intel_index()))
        files = lake_files(fz.lake)
        run_engine(engine, lake_windows(fz.lake, files=files))
        adopt(fz, engine, files)  # what `fanzha detect` does at its end
    with opened(data) as fz:
        post(fz, second_half(START))
        report = fz.live.detection.step()
        assert report.events == 4  # only the new files: the detect run read the others
        rules = rules_of(fz, live_warnings(fz)[0]["warning_id"])
        assert "install_screen_share_after_contact" in rules


# ---------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("newest", "now", "expected"),
    [
        (None, 1000, None),  # nothing seen yet
        (1000, 5000, 1001),  # the clock is far ahead (a replay): everything runs
        (1000, 1003, 999),  # real time: the last 5 s wait for stragglers
        (1000, 900, 996),  # the clock is behind the events: the data moves the mark
    ],
)
def test_live_watermark(newest: int | None, now: int, expected: int | None) -> None:
    assert live_watermark(newest, now, 5) == expected


def test_newest_known_counts_a_call_at_its_end() -> None:
    ts = pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC"))
    call = pa.table({"ts": ts, "duration_s": pa.array([600], pa.int32())})
    sms = pa.table({"ts": ts})
    at = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
    assert newest_known({"sms": sms}) == at
    assert newest_known({"sms": sms, "call": call}) == at + 600
    assert newest_known({}) is None


# ---------------------------------------------------------------------- the scheduler


def test_the_tick_escalates_an_overdue_instruction(fz: App) -> None:
    post(fz, first_half(START) | second_half(START))
    fz.live.tick()
    [ins] = fz.instructions.find()
    assert ins.unit == NANPING
    assert isinstance(fz.clock, ManualClock)
    fz.clock.set(LATER + dt.timedelta(minutes=30))  # 特危: sign and contact long overdue
    report = fz.live.tick()
    assert report.escalated == [ins.instruction_id]
    moved = fz.instructions.get(ins.instruction_id)
    assert moved is not None and moved.unit == JIANGBEI
    assert fz.live.tick().escalated == []  # the district's fresh deadlines are not due yet


def _case(fz: App) -> str:
    """Ann reports the three payments of :func:`second_half` (27,000 yuan to the mule)."""
    paid = [
        {"account": MULE, "amount_fen": t["amount_fen"], "paid_at": t["ts"]}
        for t in second_half(START)["transfer"]
    ]
    report = parse_report(
        {
            "report_id": "R-1",
            "unit": NANPING,
            "received_at": LATER,
            "taken_by": "user:test",
            "payments": paid,
        }
    )
    return fz.funds.intake(report, "user:test").case.case_id


def test_the_tick_lapses_a_stop_payment_after_48_hours(fz: App) -> None:
    case_id = _case(fz)
    [order] = fz.funds.orders(case_id=case_id)
    answer = BankAnswer(answer_id="B-1", held_fen=2_700_000, at=LATER)
    fz.funds.answer(order.order_id, answer)
    assert isinstance(fz.clock, ManualClock)
    fz.clock.set(LATER + dt.timedelta(hours=47))
    assert fz.live.tick().expired == []
    fz.clock.set(LATER + dt.timedelta(hours=48))
    assert fz.live.tick().expired == [order.order_id]
    assert fz.funds.order(order.order_id).state is OrderState.EXPIRED


@pytest.mark.parametrize("auto", [True, False])
def test_a_transfer_after_the_case_opened_is_followed(fz: App, auto: bool) -> None:
    fz.funds.config = FundsConfig(auto_extend=auto)
    post(fz, first_half(START) | second_half(START))
    case_id = _case(fz)
    fz.live.tick()  # the ledger is built from the lake; nothing has left the mule yet
    ledger = fz.funds.ledger
    assert ledger is not None and len(ledger) == 3
    assert [o.account for o in fz.funds.orders(case_id=case_id)] == [MULE]
    post(fz, onward(START, 150))  # the mule moves 15,000 yuan on
    report = fz.live.tick()
    assert fz.funds.ledger is ledger and len(ledger) == 4  # appended, not rebuilt
    assert report.extended == 1
    orders = {o.account: o for o in fz.funds.orders(case_id=case_id)}
    proposals = fz.funds.case(case_id).proposals
    # what the case's traces say the second account holds of the victim's money
    held = sum(n.holdable_fen for t in fz.funds.trace_case(case_id) for n in t.nodes if n.hop)
    assert 0 < held <= 1_500_000
    if auto:
        assert orders[MULE2].kind is OrderKind.STOP_PAYMENT and orders[MULE2].hop == 1
        assert orders[MULE2].amount_fen == held
    else:
        assert MULE2 not in orders and proposals[MULE2] == (held, 1)


def test_the_first_tick_after_a_restart_extends_open_cases(data: Path) -> None:
    with opened(data) as fz:
        post(fz, {"person": persons()})
        post(fz, second_half(START))
        case_id = _case(fz)
        fz.live.detection.step()
    with App(settings(data)) as other:  # ingested while the server was down
        post(other, onward(START, 150))
    with opened(data) as fz:
        assert fz.live.tick().extended == 1
        assert MULE2 in {o.account for o in fz.funds.orders(case_id=case_id)}


def test_engine_snapshot_files_are_replaced_not_piled_up(fz: App, data: Path) -> None:
    post(fz, first_half(START))
    fz.live.detection.step()
    fz.live.detection.snapshot()
    fz.live.detection.snapshot()
    assert len(list((data / "live").glob("engine-*.snap"))) == 1
    saved = LiveSnapshots(data / "live").load()
    assert saved is not None and Engine.restore(saved.engine).watermark is not None
    assert len(saved.files) == 3


def test_the_engine_is_opened_once_for_traffic(fz: App) -> None:
    engine = fz.live.detection.ready()
    assert fz.live.detection.ready() is engine


def test_settling_the_heap_leaves_what_is_alive_out_of_later_collections() -> None:
    state = [{"row": [i]} for i in range(1_000)]  # containers: what the collector tracks
    before = gc.get_freeze_count()
    settle_heap()
    try:
        assert gc.get_freeze_count() >= before + 2 * len(state)
        assert gc.get_count()[0] < 100  # collected first: the young generation starts over
    finally:
        gc.unfreeze()
