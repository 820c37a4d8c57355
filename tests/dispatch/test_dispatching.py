"""The dispatch service: warnings table in, instructions issued once and updated on upgrade,
the scheduler on a fake clock, officers' actions with jurisdiction, outcome decisions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fanzha.detect.schema import WARNINGS_SCHEMA
from fanzha.dispatch.effects import CaseRequest, IndicatorFeedback
from fanzha.dispatch.instruction import State
from fanzha.dispatch.levels import Channel, RiskLevel
from fanzha.dispatch.outcome import ContactAttempt, NotReachedReason, OutcomeError
from fanzha.dispatch.repo import InstructionRepo, MemoryInstructionRepo
from fanzha.dispatch.routing import Location, Router
from fanzha.dispatching import Dispatcher, JurisdictionError, Registry, UnknownInstructionError
from fanzha.model.clock import ManualClock
from fanzha.store import Store
from fanzha.store.instructions import SqlInstructions

from .builders import CHENGGUAN, CITY, JIANGBEI, NANPING, NANPING_GRID, SHENGLI, tree

T0 = dt.datetime(2024, 5, 9, 8, 0, tzinfo=dt.UTC)
RESIDENT = "500101198610030001"
PHONE = "+8617336543212"
REGISTRY = Registry({RESIDENT: NANPING_GRID}, {PHONE: NANPING_GRID})
SIGNALS = {
    "W1": [
        {
            "rule": "call_flagged_number",
            "event_id": "C1",
            "at": 1,
            "value": "+8617000000001",
            "indicator": "fraud · feed",
            "weight": 1.0,
        }
    ]
}


def table(*rows: dict[str, Any]) -> pa.Table:
    base = {
        "id_number": RESIDENT,
        "phone": PHONE,
        "first_at": T0,
        "level3_at": None,
        "level4_at": None,
        "shadow": False,
        "fraud_type": None,
        "score": 50.0,
    }
    full = [{**base, **r} for r in rows]
    return pa.Table.from_pylist(full, schema=WARNINGS_SCHEMA)


def row(warning_id: str = "W1", level: int = 3, **kw: Any) -> dict[str, Any]:
    return {"warning_id": warning_id, "subject": kw.pop("subject", RESIDENT), "level": level, **kw}


def service(repo: InstructionRepo | None = None) -> tuple[Dispatcher, ManualClock]:
    clock = ManualClock(T0)
    return Dispatcher(repo or MemoryInstructionRepo(), Router(tree()), clock), clock


def test_warnings_become_instructions_once_and_upgrades_update_them() -> None:
    svc, clock = service()
    report = svc.dispatch_warnings(
        table(
            row("W1", 3),
            row("W2", 2, subject="phone:+8613900000000", id_number=None, phone="+8613900000000"),
            row("W3", 4, shadow=True),
        ),
        REGISTRY,
        SIGNALS,
    )
    assert (report.issued, report.updated, report.shadow) == (2, 0, 1)
    assert report.by_unit == {NANPING: 1, CITY: 1}  # W2's person is unknown: city duty desk
    w1 = svc.repo.by_warning("W1")
    assert w1 is not None and w1.unit == NANPING and w1.evidence[0].rule == "call_flagged_number"
    assert (
        svc.dispatch_warnings(
            table(
                row("W1", 3),
                row(
                    "W2", 2, subject="phone:+8613900000000", id_number=None, phone="+8613900000000"
                ),
            ),
            REGISTRY,
            SIGNALS,
        ).unchanged
        == 2
    )
    clock.advance(60)
    again = svc.dispatch_warnings(table(row("W1", 4)), REGISTRY, SIGNALS)
    assert (again.issued, again.updated) == (0, 1)
    w1 = svc.repo.by_warning("W1")
    assert w1 is not None and w1.level is RiskLevel.CRITICAL
    assert w1.deadlines.contact_by == T0 + dt.timedelta(seconds=60 + 300)
    assert len(svc.repo.find()) == 2


def test_an_upgrade_to_a_level_another_tier_handles_moves_the_instruction() -> None:
    """低危 is the city's automated SMS; when the warning rises to 特危 the call is the home
    station's: the instruction goes there (a live stream meets the low level first)."""
    svc, clock = service()
    svc.dispatch_warnings(table(row("W1", 1)), REGISTRY, SIGNALS)
    low = svc.repo.by_warning("W1")
    assert low is not None and low.unit == CITY
    clock.advance(60)
    svc.dispatch_warnings(table(row("W1", 4)), REGISTRY, SIGNALS)
    high = svc.repo.by_warning("W1")
    assert high is not None and high.unit == NANPING and high.level is RiskLevel.CRITICAL
    assert [h.action.value for h in high.history][-2:] == ["update", "transfer"]
    assert high.version == low.version + 1  # in one save: no one sees 特危 at the city desk
    assert high.deadlines.contact_by == T0 + dt.timedelta(seconds=60 + 300)


def test_an_upgrade_leaves_an_instruction_someone_handed_on_where_it_is() -> None:
    svc, clock = service()
    svc.dispatch_warnings(table(row("W1", 3)), REGISTRY, SIGNALS)
    ins = svc.repo.by_warning("W1")
    assert ins is not None
    svc.transfer(ins.instruction_id, "system", SHENGLI, "the family lives there")
    clock.advance(60)
    svc.dispatch_warnings(table(row("W1", 4)), REGISTRY, SIGNALS)
    moved = svc.repo.by_warning("W1")
    assert moved is not None and moved.unit == SHENGLI and moved.level is RiskLevel.CRITICAL


def test_a_person_seen_elsewhere_copies_the_local_district() -> None:
    svc, _ = service()
    svc.dispatch_warnings(
        table(row()), REGISTRY, locations={PHONE: Location(city="江州市", county="城关区")}
    )
    ins = svc.repo.by_warning("W1")
    assert ins is not None and (ins.unit, ins.copy_to) == (NANPING, (CHENGGUAN,))


def test_bad_rows_are_reported_by_row_and_the_good_ones_dispatched() -> None:
    rows = pa.Table.from_pylist(
        [
            {"warning_id": "W1", "subject": RESIDENT, "level": 3},
            {"warning_id": "W2", "subject": RESIDENT, "level": 7},
            {"warning_id": "", "subject": RESIDENT, "level": 2},
        ]
    )
    report = svc_report(rows)
    assert report.issued == 1
    assert [str(p) for p in report.problems] == [
        "warning row 2 level: 7 is not a level 1–4",
        "warning row 3 warning_id: is empty",
    ]


def svc_report(rows: pa.Table) -> Any:
    svc, _ = service()
    return svc.dispatch_warnings(rows, REGISTRY)


def test_the_scheduler_escalates_on_clock_time_and_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'f.db').as_posix()}"
    with Store.open_url(url) as store:
        svc, clock = service(SqlInstructions(store.sessions))
        svc.dispatch_warnings(table(row("W1", 3)), REGISTRY)
        clock.advance(4 * 60)
        assert svc.escalate_overdue().escalated == []
    with Store.open_url(url) as store:  # a restart: a new service, the same deadlines
        svc, clock = service(SqlInstructions(store.sessions))
        clock.set(T0 + dt.timedelta(minutes=6))
        tick = svc.escalate_overdue()
        [ins] = svc.repo.find()
        assert tick.escalated == [ins.instruction_id] and ins.unit == JIANGBEI
        assert svc.escalate_overdue().escalated == []  # nothing twice
        clock.advance(3600)
        assert svc.escalate_overdue().escalated == [ins.instruction_id]
        clock.advance(3600)
        top = svc.escalate_overdue()
        assert top.escalated == [] and top.overdue_at_top == [ins.instruction_id]


def test_officers_act_within_their_jurisdiction_and_outcomes_decide() -> None:
    svc, clock = service()
    svc.dispatch_warnings(table(row()), REGISTRY, SIGNALS)
    [ins] = svc.repo.find()
    with pytest.raises(JurisdictionError, match="no jurisdiction"):
        svc.sign(ins.instruction_id, "zhao")  # 胜利派出所 is not 南坪派出所
    with pytest.raises(JurisdictionError, match="unknown user"):
        svc.sign(ins.instruction_id, "mallory")
    with pytest.raises(UnknownInstructionError):
        svc.sign("nope", "li")
    clock.advance(60)
    assert svc.sign(ins.instruction_id, "li").state is State.SIGNED
    with pytest.raises(JurisdictionError, match="does not work at unit"):
        svc.assign(ins.instruction_id, "li", "zhao")
    assert svc.assign(ins.instruction_id, "li", "wang").assignee == "wang"
    svc.record_attempt(
        ins.instruction_id, "wang", ContactAttempt(channel=Channel.PHONE, reached=True)
    )
    with pytest.raises(OutcomeError, match="payees"):
        svc.record_outcome(
            ins.instruction_id,
            "wang",
            {
                "reached": True,
                "contacted": "person",
                "judgement": "confirmed",
                "defrauded": True,
                "amount_lost_fen": 100,
            },
        )
    data = {
        "reached": True,
        "contacted": "person",
        "judgement": "confirmed",
        "defrauded": True,
        "amount_lost_fen": 100,
        "payees": [{"account": "6222000011112222", "amount_fen": 100}],
    }
    done, decisions = svc.record_outcome(ins.instruction_id, "wang", data)
    assert done.state is State.OUTCOME_RECORDED
    assert [type(d) for d in decisions] == [CaseRequest, IndicatorFeedback]
    assert svc.close(ins.instruction_id, "duty").state is State.CLOSED  # the city may act anywhere


def test_a_failed_call_is_sent_for_a_home_visit_and_transfers_check_the_unit() -> None:
    svc, _ = service()
    svc.dispatch_warnings(table(row("W1", 2)), REGISTRY)  # 中危: the district centre phones
    [ins] = svc.repo.find()
    assert ins.unit == JIANGBEI
    svc.sign(ins.instruction_id, "duty")
    svc.record_attempt(
        ins.instruction_id,
        "duty",
        ContactAttempt(channel=Channel.PHONE, reached=False, reason=NotReachedReason.HUNG_UP),
    )
    visit = svc.dispatch_visit(ins.instruction_id, "duty", NANPING, reason="hung up")
    assert (visit.unit, visit.home_visit, visit.state) == (NANPING, True, State.ISSUED)
    with pytest.raises(KeyError, match="unknown org unit"):
        svc.transfer(ins.instruction_id, "duty", "nowhere")
    assert svc.transfer(ins.instruction_id, "duty", SHENGLI, "lives in 城关区").unit == SHENGLI


def test_call_locations_give_each_phones_latest_county(tmp_path: Path) -> None:
    from factories import call_row

    from fanzha.dispatching import call_locations
    from fanzha.ingest.normalise import Options, normalise
    from fanzha.lake import Lake
    from fanzha.model.events import CallRecord

    records = [
        call_row(caller="13800138000", ts="2024-05-01 10:00:00", county="江北区", city="江州市"),
        call_row(callee="13800138000", ts="2024-05-01 12:00:00", county="城关区", city="江州市"),
        call_row(caller="13700137000", ts="2024-05-01 13:00:00", county="", city=""),
    ]
    raw = pa.table({n: pa.array([str(r[n]) for r in records], pa.string()) for n in records[0]})
    lake = Lake(tmp_path / "lake")
    txn = lake.begin()
    txn.append("call", normalise(raw, CallRecord, Options()).table)
    txn.commit()
    found = call_locations(lake, ["+8613800138000", "+8613700137000", "+8613600136000"])
    assert list(found) == ["+8613800138000"]
    assert (found["+8613800138000"].city, found["+8613800138000"].county) == ("江州市", "城关区")
    assert call_locations(lake, []) == {}


def test_warning_evidence_reads_the_stored_signals(tmp_path: Path) -> None:
    from fanzha.dispatching import warning_evidence
    from fanzha.store.warnings import SqlWarnings

    with Store.open_url(f"sqlite:///{(tmp_path / 'f.db').as_posix()}") as store:
        stored = {
            "warning_id": "W1",
            "subject": RESIDENT,
            "id_number": RESIDENT,
            "phone": PHONE,
            "level": 3,
            "score": 50.0,
            "first_at": T0,
            "updated_at": T0,
            "level3_at": T0,
            "level4_at": None,
            "fraud_type": None,
            "shadow": False,
            "explanation_zh": "",
            "explanation_en": "",
            "signals": SIGNALS["W1"],
        }
        SqlWarnings(store.sessions).upsert_many([stored])
        assert warning_evidence(store.sessions, ["W1", "W1", "W9"]) == {"W1": SIGNALS["W1"]}
