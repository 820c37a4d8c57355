"""Dispatch KPIs from hand-made instruction histories (exact figures)."""

from __future__ import annotations

import datetime as dt

import pytest
from dispatch.builders import CITY, JIANGBEI, NANPING
from dispatch.instructions import dissuaded, issued, warning

from fanzha.dispatch.instruction import Breach, Instruction
from fanzha.dispatch.levels import DEFAULT_POLICIES, Channel, RiskLevel
from fanzha.dispatch.outcome import ContactAttempt, Contacted, NotReachedReason, Outcome
from fanzha.dispatch.routing import Route, RouteReason
from fanzha.stats.kpi import ALL_UNITS, instruction_figures, kpis, legs

MIN = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)
T0 = dt.datetime(2024, 5, 9, 8, 0, tzinfo=dt.UTC)
HIGH = DEFAULT_POLICIES[RiskLevel.HIGH]
REACHED = ContactAttempt(channel=Channel.PHONE, reached=True)
NO_ANSWER = ContactAttempt(channel=Channel.PHONE, reached=False, reason=NotReachedReason.NO_ANSWER)
HUNG_UP = ContactAttempt(channel=Channel.PHONE, reached=False, reason=NotReachedReason.HUNG_UP)


def dissuaded_on_time() -> Instruction:
    """高危 at 南坪: signed after 2 min, reached after 5, dissuaded (50,000 yuan saved)."""
    ins = issued(RiskLevel.HIGH, T0, NANPING)
    ins.sign("li", T0 + 2 * MIN)
    ins.record_attempt("li", REACHED, T0 + 5 * MIN)
    ins.record_outcome("li", dissuaded(), T0 + 15 * MIN)
    ins.close("li", T0 + 16 * MIN)
    return ins


def escalated_then_refused() -> Instruction:
    """高危 at 南坪, never signed: escalated to 江北区 at +16 min, signed at +20, nobody
    answers at +22, the person hangs up at +30, recorded not reached at +31."""
    ins = Instruction.issue(warning(RiskLevel.HIGH, warning_id="W2"), _route(NANPING), HIGH, T0)
    ins.escalate("scheduler", JIANGBEI, HIGH, T0 + 16 * MIN, Breach.CONTACT)
    ins.sign("duty", T0 + 20 * MIN)
    ins.record_attempt("duty", NO_ANSWER, T0 + 22 * MIN)
    ins.record_attempt("duty", HUNG_UP, T0 + 30 * MIN)
    ins.record_outcome(
        "duty", Outcome(reached=False, not_reached_reason=NotReachedReason.HUNG_UP), T0 + 31 * MIN
    )
    return ins


def texted() -> Instruction:
    """低危 at the city: texted at once."""
    low = DEFAULT_POLICIES[RiskLevel.LOW]
    ins = Instruction.issue(warning(RiskLevel.LOW, warning_id="W3"), _route(CITY), low, T0)
    ins.sign("system", T0)
    ins.record_attempt("system", ContactAttempt(channel=Channel.SMS, reached=True), T0)
    ins.record_outcome("system", Outcome(reached=True, contacted=Contacted.PERSON), T0)
    return ins


def _route(unit: str) -> Route:
    return Route(unit, (), RouteReason.HOME)


def test_legs_follow_the_handovers() -> None:
    found = legs(escalated_then_refused())
    assert [(leg.unit, leg.start) for leg in found] == [(NANPING, T0), (JIANGBEI, T0 + 16 * MIN)]
    assert found[0].contact_by == T0 + HIGH.contact_within
    assert found[1].contact_by == T0 + 16 * MIN + HIGH.contact_within
    assert found[0].on_time(T0 + DAY) is False  # escalated for a breach
    assert found[1].on_time(T0 + DAY) is True


def test_kpis_per_unit_and_level() -> None:
    table = kpis([dissuaded_on_time(), escalated_then_refused(), texted()], T0 + DAY)
    rows = {(r.unit, r.level): r for r in table.rows}
    nanping = rows[(NANPING, 3)]
    assert (nanping.legs, nanping.signed, nanping.sign_s, nanping.contact_s) == (
        2,
        1,
        [120.0],
        [300.0],
    )
    assert (nanping.judged, nanping.on_time, nanping.overdue) == (2, 1, 1)
    assert (nanping.calls, nanping.answered, nanping.talks, nanping.dissuaded) == (1, 1, 1, 1)
    assert nanping.saved_fen == 5_000_000
    district = rows[(JIANGBEI, 3)]
    assert (district.sign_s, district.contact_s, district.on_time, district.overdue) == (
        [240.0],
        [360.0],
        1,
        0,
    )
    assert (district.calls, district.answered, district.refused, district.talks) == (2, 1, 1, 0)
    assert district.refusal_rate == 1.0
    city = rows[(CITY, 1)]
    assert (city.sms, city.calls, city.talks, city.on_time) == (1, 0, 0, 1)
    total = table.total
    assert total.unit == ALL_UNITS and total.legs == 4
    assert total.reach_rate == pytest.approx(2 / 3)
    assert total.dissuasion_rate == 1.0 and total.calls_per_dissuasion == 3.0
    assert rows[(ALL_UNITS, 3)].legs == 3 and rows[(NANPING, None)].legs == 2
    assert table.to_json()["total"]["on_time_rate"] == 0.75


def test_a_unit_filter_keeps_only_its_legs() -> None:
    table = kpis([escalated_then_refused()], T0 + DAY, units=lambda code: code == JIANGBEI)
    assert [(r.unit, r.level) for r in table.rows] == [
        (JIANGBEI, 3),
        (JIANGBEI, None),
        (ALL_UNITS, 3),
        (ALL_UNITS, None),
    ]


def test_an_open_leg_is_judged_only_once_its_deadline_passed() -> None:
    ins = issued(RiskLevel.HIGH, T0, NANPING)
    assert kpis([ins], T0 + 10 * MIN).total.judged == 0
    late = kpis([ins], T0 + 20 * MIN).total
    assert (late.judged, late.overdue) == (1, 1)


def test_instruction_figures() -> None:
    forgotten = Instruction.issue(warning(warning_id="W4"), _route(NANPING), HIGH, T0)
    figures = instruction_figures(
        [dissuaded_on_time(), escalated_then_refused(), texted(), forgotten], T0 + DAY
    )
    assert figures.instructions == 4
    assert figures.on_time_rate == pytest.approx(2 / 4)  # escalated: late; forgotten: never
    assert (figures.escalated, figures.home_visits, figures.overdue_open) == (1, 0, 1)
