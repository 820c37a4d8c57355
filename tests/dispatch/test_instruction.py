"""The instruction state machine: the happy path, refusals with reasons, hand-overs, upgrades,
and random action sequences that never reach an illegal state."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.dispatch.instruction import (
    Action,
    Breach,
    Deadlines,
    Evidence,
    Instruction,
    State,
    TransitionError,
    instruction_id,
)
from fanzha.dispatch.levels import DEFAULT_POLICIES, DEFAULT_VISIT_POLICY, Channel, RiskLevel
from fanzha.dispatch.outcome import ContactAttempt, NotReachedReason, Outcome

from .builders import CITY, JIANGBEI, NANPING, SHENGLI
from .instructions import FLAGGED, T0, dissuaded, issued, warning

MIN = dt.timedelta(minutes=1)
HIGH = DEFAULT_POLICIES[RiskLevel.HIGH]
CALL_OK = ContactAttempt(channel=Channel.PHONE, reached=True)
HUNG_UP = ContactAttempt(channel=Channel.PHONE, reached=False, reason=NotReachedReason.HUNG_UP)
NOT_REACHED = Outcome(reached=False, not_reached_reason=NotReachedReason.HUNG_UP)


def test_the_happy_path_is_retold_by_the_history() -> None:
    ins = issued()
    assert ins.instruction_id == instruction_id("W1")
    assert ins.deadlines == Deadlines.start(HIGH, T0)
    assert ins.next_due() == T0 + HIGH.sign_within
    ins.sign("li", T0 + MIN)
    assert ins.next_due() == T0 + HIGH.contact_within
    ins.assign("li", "wang", T0 + 2 * MIN)
    ins.record_attempt("wang", HUNG_UP, T0 + 3 * MIN)
    ins.record_attempt("wang", CALL_OK, T0 + 4 * MIN)
    assert ins.next_due() == T0 + HIGH.outcome_within
    ins.record_outcome("wang", dissuaded(), T0 + 20 * MIN)
    ins.close("li", T0 + 21 * MIN)
    assert ins.state is State.CLOSED and ins.next_due() is None
    assert [h.action for h in ins.history] == [
        Action.ISSUE,
        Action.SIGN,
        Action.ASSIGN,
        Action.CONTACT,
        Action.CONTACT,
        Action.OUTCOME,
        Action.CLOSE,
    ]
    assert [h.actor for h in ins.history] == ["system", "li", "li", "wang", "wang", "wang", "li"]
    assert ins.history[3].detail == {"channel": "phone", "reached": False, "reason": "hung_up"}
    assert (ins.signed_at, ins.first_contact_at, ins.closed_at) == (
        T0 + MIN,
        T0 + 3 * MIN,
        T0 + 21 * MIN,
    )
    assert ins.assignee == "wang" and len(ins.attempts) == 2


ILLEGAL: list[tuple[str, Callable[[Instruction], None], str]] = [
    ("issued", lambda i: i.record_attempt("li", CALL_OK, T0 + MIN), "sign (签收) it first"),
    ("issued", lambda i: i.record_outcome("li", dissuaded(), T0 + MIN), "contact attempt first"),
    ("issued", lambda i: i.close("li", T0 + MIN), "record the outcome first"),
    ("issued", lambda i: i.dispatch_visit("li", SHENGLI, DEFAULT_VISIT_POLICY, T0 + MIN), "sign"),
    ("signed", lambda i: i.sign("li", T0 + 2 * MIN), "only an issued instruction"),
    ("signed", lambda i: i.transfer("li", NANPING, HIGH, T0 + 2 * MIN), "already at unit"),
    ("outcome", lambda i: i.transfer("li", JIANGBEI, HIGH, T0 + 9 * MIN), "outcome is recorded"),
    ("outcome", lambda i: i.record_outcome("li", dissuaded(), T0 + 9 * MIN), "already recorded"),
    ("outcome", lambda i: i.record_attempt("li", CALL_OK, T0 + 9 * MIN), "contact is over"),
    ("closed", lambda i: i.close("li", T0 + 9 * MIN), "already closed"),
    ("closed", lambda i: i.assign("li", "zhao", T0 + 9 * MIN), "closed instruction"),
    ("closed", lambda i: i.escalate("s", JIANGBEI, HIGH, T0 + 9 * MIN, Breach.SIGN), "outcome"),
    ("signed", lambda i: i.record_attempt("li", CALL_OK, T0), "before the last action"),
    ("signed", lambda i: i.assign("li", "li", T0 + 2 * MIN), "already assigned"),
    ("signed", lambda i: i.record_attempt("li", CALL_OK, dt.datetime(2024, 6, 1)), "timezone"),
]


def at_state(name: str) -> Instruction:
    ins = issued()
    if name == "issued":
        return ins
    ins.sign("li", T0 + MIN)
    ins.assign("li", "li", T0 + MIN)
    if name == "signed":
        return ins
    ins.record_attempt("li", CALL_OK, T0 + 2 * MIN)
    ins.record_outcome("li", dissuaded(), T0 + 3 * MIN)
    if name == "outcome":
        return ins
    ins.close("li", T0 + 4 * MIN)
    return ins


@pytest.mark.parametrize(("state", "act", "reason"), ILLEGAL)
def test_illegal_transitions_are_refused_with_a_reason_and_change_nothing(
    state: str, act: Callable[[Instruction], None], reason: str
) -> None:
    ins = at_state(state)
    before = ins.model_dump()
    with pytest.raises(TransitionError) as caught:
        act(ins)
    assert reason in str(caught.value)
    assert caught.value.reason_zh
    assert ins.model_dump() == before


def test_transfer_and_escalation_hand_over_with_fresh_deadlines() -> None:
    ins = at_state("signed")
    ins.record_attempt("li", HUNG_UP, T0 + 2 * MIN)
    ins.transfer("li", SHENGLI, HIGH, T0 + 3 * MIN, reason="person lives in 城关区")
    assert (ins.state, ins.unit, ins.assignee, ins.signed_at) == (State.ISSUED, SHENGLI, None, None)
    assert ins.deadlines == Deadlines.start(HIGH, T0 + 3 * MIN)
    assert ins.first_contact_at == T0 + 2 * MIN  # the first contact stays on record
    ins.escalate("scheduler", JIANGBEI, HIGH, T0 + 30 * MIN, Breach.SIGN)
    ins.escalate("scheduler", CITY, HIGH, T0 + 60 * MIN, Breach.CONTACT)
    assert ins.escalations == 2
    last = ins.history[-1]
    assert last.detail == {
        "breach": "contact",
        "from_unit": JIANGBEI,
        "to_unit": CITY,
        "contact_by": (T0 + 60 * MIN + HIGH.contact_within).isoformat(),  # the KPIs read it
    }
    assert (last.state_from, last.state_to, last.unit) == (State.ISSUED, State.ISSUED, CITY)


def test_a_failed_call_is_redispatched_for_a_home_visit() -> None:
    ins = at_state("signed")
    ins.record_attempt("li", HUNG_UP, T0 + 2 * MIN)
    ins.record_outcome("li", NOT_REACHED, T0 + 3 * MIN)
    ins.dispatch_visit("li", SHENGLI, DEFAULT_VISIT_POLICY, T0 + 4 * MIN, reason="hung up twice")
    assert (ins.state, ins.unit, ins.home_visit, ins.outcome) == (State.ISSUED, SHENGLI, True, None)
    assert ins.channels == (Channel.VISIT,)
    assert ins.deadlines == Deadlines.start(DEFAULT_VISIT_POLICY, T0 + 4 * MIN)
    assert ins.history[-1].detail["previous_outcome"] == "unclear"
    ins.sign("zhao", T0 + 5 * MIN)
    ins.record_attempt("zhao", ContactAttempt(channel=Channel.VISIT, reached=True), T0 + 20 * MIN)
    ins.record_outcome("zhao", dissuaded(), T0 + 25 * MIN)
    assert ins.outcome == dissuaded()


def test_an_upgrade_while_open_tightens_the_sla_and_adds_evidence_once() -> None:
    ins = issued(RiskLevel.MEDIUM)
    ins.sign("li", T0 + MIN)
    more = Evidence(rule="screen_share_app", event_id="A9", value="com.share")
    at = T0 + 10 * MIN
    assert ins.update_from_warning(
        warning(RiskLevel.CRITICAL, FLAGGED, more), DEFAULT_POLICIES[RiskLevel.CRITICAL], at
    )
    assert ins.level is RiskLevel.CRITICAL and ins.state is State.SIGNED
    assert ins.deadlines.contact_by == at + dt.timedelta(minutes=5)
    assert ins.channels == (Channel.PHONE, Channel.VISIT)
    assert ins.evidence == [FLAGGED, more]
    assert ins.history[-1].detail == {
        "evidence_added": 1,
        "level_from": 2,
        "level_to": 4,
        "contact_by": (at + dt.timedelta(minutes=5)).isoformat(),
    }
    # The same warning again changes nothing and leaves no trace.
    before = ins.model_dump()
    assert not ins.update_from_warning(warning(RiskLevel.HIGH, more), HIGH, at + MIN)
    assert ins.model_dump() == before


def test_a_looser_upgrade_never_loosens_a_deadline() -> None:
    ins = issued(RiskLevel.HIGH)
    before = ins.deadlines
    ins.update_from_warning(
        warning(RiskLevel.CRITICAL), DEFAULT_POLICIES[RiskLevel.LOW], T0 + 9 * MIN
    )
    assert ins.deadlines.contact_by == before.contact_by


def test_a_closed_instruction_reopens_when_its_warning_rises_and_not_otherwise() -> None:
    ins = at_state("closed")
    later = T0 + dt.timedelta(hours=3)
    extra = Evidence(rule="new_payee", event_id="T1")
    assert ins.update_from_warning(warning(RiskLevel.HIGH, extra), HIGH, later)
    assert ins.state is State.CLOSED
    critical = DEFAULT_POLICIES[RiskLevel.CRITICAL]
    assert ins.update_from_warning(warning(RiskLevel.CRITICAL), critical, later)
    assert (ins.state, ins.outcome, ins.closed_at) == (State.ISSUED, None, None)
    assert ins.deadlines == Deadlines.start(critical, later)
    assert ins.history[-1].detail["reopened"] is True


def test_an_update_from_another_warning_is_refused() -> None:
    with pytest.raises(TransitionError, match="not this instruction's"):
        issued().update_from_warning(warning(warning_id="W2"), HIGH, T0)


def test_breaches_name_the_earliest_missed_deadline() -> None:
    ins = issued()
    d = ins.deadlines
    assert ins.breach(d.sign_by) is None
    assert ins.breach(d.sign_by + MIN) is Breach.SIGN
    assert ins.breach(d.contact_by + MIN) is Breach.SIGN
    ins.sign("li", T0 + MIN)
    assert ins.breach(d.sign_by + MIN) is None
    assert ins.breach(d.contact_by + MIN) is Breach.CONTACT
    ins.record_attempt("li", CALL_OK, T0 + 2 * MIN)
    assert ins.breach(d.contact_by + MIN) is None
    assert ins.breach(d.outcome_by + MIN) is Breach.OUTCOME


# ---------------------------------------------------------------------------- property test

UNITS = [NANPING, SHENGLI, JIANGBEI, CITY]


def upgrade(ins: Instruction, at: dt.datetime, k: int) -> None:
    """The warning comes again at some level with some evidence."""
    evidence = Evidence(rule="r", event_id=str(k % 5))
    ins.update_from_warning(warning(RiskLevel(1 + k % 4), evidence), HIGH, at)


def level_to(detail: dict[str, str | int | float | bool | None]) -> RiskLevel:
    value = detail.get("level_to")
    return RiskLevel(value) if isinstance(value, int) else RiskLevel.LOW


OPS: dict[str, Callable[[Instruction, dt.datetime, int], None]] = {
    "sign": lambda i, at, k: i.sign("u", at),
    "assign": lambda i, at, k: i.assign("u", f"officer{k % 3}", at),
    "call": lambda i, at, k: i.record_attempt("u", CALL_OK if k % 2 else HUNG_UP, at),
    "outcome": lambda i, at, k: i.record_outcome("u", dissuaded() if k % 2 else NOT_REACHED, at),
    "close": lambda i, at, k: i.close("u", at),
    "transfer": lambda i, at, k: i.transfer("u", UNITS[k % 4], HIGH, at),
    "escalate": lambda i, at, k: i.escalate("s", UNITS[k % 4], HIGH, at, Breach.CONTACT),
    "visit": lambda i, at, k: i.dispatch_visit("u", UNITS[k % 4], DEFAULT_VISIT_POLICY, at),
    "upgrade": lambda i, at, k: upgrade(i, at, k),
}


def check_invariants(ins: Instruction) -> None:
    """What must hold after any sequence of actions."""
    assert ins.history[0].action is Action.ISSUE and ins.history[0].state_from is None
    for before, after in zip(ins.history, ins.history[1:], strict=False):
        assert after.state_from is before.state_to
        assert after.at >= before.at
    assert ins.history[-1].state_to is ins.state
    assert ins.updated_at == ins.history[-1].at
    assert (ins.state is State.ISSUED) == (ins.signed_at is None)
    has_outcome = ins.state in (State.OUTCOME_RECORDED, State.CLOSED)
    assert (ins.outcome is not None) == has_outcome == (ins.outcome_at is not None)
    assert (ins.state is State.CLOSED) == (ins.closed_at is not None)
    if ins.state in (State.CONTACTING, State.OUTCOME_RECORDED):
        assert ins.attempts and ins.first_contact_at is not None
    assert ins.escalations == sum(h.action is Action.ESCALATE for h in ins.history)
    assert len({e.key for e in ins.evidence}) == len(ins.evidence)
    assert ins.level == max([RiskLevel.HIGH, *(level_to(h.detail) for h in ins.history)])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 7), st.integers(0, 40)), max_size=30
    )
)
def test_random_action_sequences_never_reach_an_illegal_state(
    steps: list[tuple[str, int, int]],
) -> None:
    ins = issued()
    at = T0
    done = 0
    for name, k, minutes in steps:
        at += dt.timedelta(minutes=minutes)
        before = ins.model_dump()
        length = len(ins.history)
        try:
            OPS[name](ins, at, k)
        except TransitionError:
            assert ins.model_dump() == before  # a refusal changes nothing
            continue
        if len(ins.history) > length:
            done += 1
            assert len(ins.history) == length + 1  # one entry per action
        else:
            assert name == "upgrade" and ins.model_dump() == before
        check_invariants(ins)
    assert len(ins.history) == 1 + done
    assert Instruction.model_validate(ins.model_dump(mode="json")) == ins  # survives JSON


def test_random_walks_reach_every_state_and_keep_the_invariants() -> None:
    """The property test's moves can reach every state (so it does not test a corner only)."""
    rng = random.Random(5)
    reached: set[State] = set()
    for _ in range(200):
        ins, at = issued(), T0
        for _ in range(25):
            at += dt.timedelta(minutes=rng.randint(0, 40))
            with contextlib.suppress(TransitionError):
                OPS[rng.choice(sorted(OPS))](ins, at, rng.randint(0, 7))
            check_invariants(ins)
            reached.add(ins.state)
    assert reached == set(State)
