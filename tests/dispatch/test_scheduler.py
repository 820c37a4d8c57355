"""The escalation scheduler with a fake clock: station → district → city, then overdue."""

from __future__ import annotations

import datetime as dt

from fanzha.dispatch.instruction import Breach, Deadlines, State
from fanzha.dispatch.levels import DEFAULT_POLICIES, Channel, RiskLevel
from fanzha.dispatch.outcome import ContactAttempt
from fanzha.dispatch.scheduler import SCHEDULER, Escalation, apply_escalation, plan_escalations
from fanzha.model.clock import ManualClock

from .builders import CITY, JIANGBEI, NANPING, tree
from .instructions import T0, issued

MIN = dt.timedelta(minutes=1)
HIGH = DEFAULT_POLICIES[RiskLevel.HIGH]


def test_an_unsigned_instruction_climbs_the_tree_then_stays_overdue() -> None:
    org, clock = tree(), ManualClock(T0)
    ins = issued(RiskLevel.HIGH)
    assert plan_escalations([ins], org, clock.now()) == []
    clock.set(T0 + HIGH.sign_within)
    assert plan_escalations([ins], org, clock.now()) == []  # due, not yet past
    clock.advance(1)
    [step] = plan_escalations([ins], org, clock.now())
    assert step == Escalation(
        ins.instruction_id, Breach.SIGN, T0 + HIGH.sign_within, NANPING, JIANGBEI
    )
    assert apply_escalation(ins, step, org, clock.now())
    assert (ins.unit, ins.state, ins.escalations) == (JIANGBEI, State.ISSUED, 1)
    assert ins.deadlines == Deadlines.start(org.policy(JIANGBEI, RiskLevel.HIGH), clock.now())
    assert ins.history[-1].actor == SCHEDULER
    clock.advance(HIGH.sign_within.total_seconds() + 1)
    [step] = plan_escalations([ins], org, clock.now())
    assert apply_escalation(ins, step, org, clock.now()) and ins.unit == CITY
    clock.advance(3600)
    [step] = plan_escalations([ins], org, clock.now())
    assert step.to_unit is None
    assert not apply_escalation(ins, step, org, clock.now()) and ins.unit == CITY


def test_signed_but_not_contacted_is_a_contact_breach() -> None:
    org = tree()
    ins = issued(RiskLevel.HIGH)
    ins.sign("li", T0 + MIN)
    assert plan_escalations([ins], org, T0 + 10 * MIN) == []
    [step] = plan_escalations([ins], org, T0 + HIGH.contact_within + MIN)
    assert step.breach is Breach.CONTACT


def test_contacting_without_outcome_is_an_outcome_breach_and_closed_is_never_due() -> None:
    org = tree()
    ins = issued(RiskLevel.HIGH)
    ins.sign("li", T0 + MIN)
    ins.record_attempt("li", ContactAttempt(channel=Channel.PHONE, reached=True), T0 + 2 * MIN)
    assert plan_escalations([ins], org, T0 + HIGH.contact_within + MIN) == []
    [step] = plan_escalations([ins], org, T0 + HIGH.outcome_within + MIN)
    assert step.breach is Breach.OUTCOME


def test_the_plan_is_ordered_by_deadline_and_strands_nothing() -> None:
    org = tree()
    late = issued(RiskLevel.MEDIUM)  # sign by +30 min
    early = issued(RiskLevel.CRITICAL, unit="gone")  # a unit the tree no longer has
    plan = plan_escalations([late, early], org, T0 + dt.timedelta(hours=1))
    assert [(s.from_unit, s.to_unit) for s in plan] == [("gone", CITY), (NANPING, JIANGBEI)]


def test_a_step_for_another_instruction_is_not_applied() -> None:
    org = tree()
    ins = issued()
    step = Escalation("other", Breach.SIGN, T0, NANPING, JIANGBEI)
    assert not apply_escalation(ins, step, org, T0 + MIN)
    assert ins.unit == NANPING
