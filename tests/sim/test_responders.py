"""Simulated responders on a tiny city: they act only through the Dispatcher, on the event clock,
as officers of the unit holding the instruction; the person reacts; the seed fixes everything."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dispatch.builders import CITY, JIANGBEI, NANPING, NANPING_GRID, SHENGLI_GRID, units

from fanzha.dispatch.instruction import Action, Instruction, State, instruction_id
from fanzha.dispatch.levels import Channel
from fanzha.dispatch.org import OrgTree
from fanzha.dispatch.outcome import Judgement, NotReachedReason
from fanzha.dispatch.repo import MemoryInstructionRepo
from fanzha.dispatch.routing import Router
from fanzha.dispatch.sms import MemoryOutbox, SmsStatus
from fanzha.dispatching import Dispatcher, Registry
from fanzha.model.clock import ManualClock
from fanzha.sim.params import LogNormal, ResponderParams
from fanzha.sim.responders import (
    SimulatedResponders,
    SimulatedSms,
    officer,
    persuasion,
    simulated_users,
)
from fanzha.sim.victims import Payment, Scam, Situation, Stage, Victims

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
E0 = int(T0.timestamp())
MIN = 60
DAY = dt.timedelta(days=1)


def person(k: int) -> tuple[str, str]:
    return f"50010119800101{k:04d}", f"+86138{k:08d}"


def scam(k: int, payments: int = 3, first_payment_min: int = 60) -> Scam:
    """Person k: contacted at T0, pays 100 yuan every hour from ``first_payment_min``."""
    id_number, phone = person(k)
    return Scam(
        victim_id=f"V{k}",
        id_number=id_number,
        phone=phone,
        fraud_type="order_brushing",
        first_contact=E0,
        engaged_at=E0 + 10 * MIN,
        payments=[
            Payment(f"P{k}-{n}", E0 + (first_payment_min + 60 * n) * MIN, 10_000, "6222")
            for n in range(payments)
        ],
    )


class City:
    """Dispatcher, responders, outbox and victims over the tiny city of the dispatch tests."""

    def __init__(self, params: ResponderParams, scams: list[Scam], seed: int = 7) -> None:
        self.clock = ManualClock(T0)
        self.victims = Victims(scams)
        self.outbox = MemoryOutbox()
        self.repo = MemoryInstructionRepo()
        tree = OrgTree(units(), simulated_users(units()))
        # Everyone lives in 南坪社区 (town), except person 999 in 胜利村 (a village).
        homes = {person(k)[0]: NANPING_GRID for k in range(1000)}
        self.registry = Registry({**homes, person(999)[0]: SHENGLI_GRID})
        sms = SimulatedSms(self.outbox, self.victims, params, seed)
        self.dispatcher = Dispatcher(self.repo, Router(tree), self.clock, sms=sms)
        self.responders = SimulatedResponders(
            self.dispatcher,
            self.clock,
            self.victims,
            params,
            seed=seed,
            community=self.registry.community,
        )

    def warn(self, k: int, level: int, at: dt.datetime = T0, warning_id: str = "") -> str:
        id_number, phone = person(k)
        self.clock.set(max(self.clock.now(), at))
        wid = warning_id or f"W{k}"
        row = {"warning_id": wid, "subject": id_number, "level": level}
        self.dispatcher.dispatch_rows(
            [{**row, "id_number": id_number, "phone": phone}], self.registry
        )
        iid = instruction_id(wid)
        self.responders.notice(iid)
        return iid

    def run(self, until: dt.datetime = T0 + DAY) -> None:
        """Responders' steps, and the scheduler every minute, up to ``until``."""
        tick = self.clock.now()
        while tick < until and self.responders.next_at() is not None:
            tick += dt.timedelta(minutes=1)
            self.responders.run_until(tick)
            self.clock.set(max(self.clock.now(), tick))
            for escalated in self.dispatcher.escalate_overdue().escalated:
                self.responders.notice(escalated)

    def get(self, iid: str) -> Instruction:
        found = self.repo.get(iid)
        assert found is not None
        return found


def params(**changes: Any) -> ResponderParams:
    return ResponderParams.model_validate({**ResponderParams().model_dump(), **changes})


ALWAYS = {
    "reach_rate": 1.0,
    "refusal_rate": 0.0,
    "persuasion": {"contacted": 1.0, "engaged": 1.0, "paying": 1.0},
    "persuasion_decay": 1.0,
}


def actions(ins: Instruction) -> list[str]:
    return [h.action.value for h in ins.history]


def test_a_reached_victim_is_dissuaded_and_stops_paying() -> None:
    city = City(params(**ALWAYS), [scam(1)])
    iid = city.warn(1, level=3)
    city.run()
    ins = city.get(iid)
    assert actions(ins) == ["issue", "sign", "contact", "outcome", "close"]
    assert {h.actor for h in ins.history[1:]} == {officer(NANPING)}
    times = [h.at for h in ins.history]
    assert times == sorted(times) and times[0] == T0
    assert ins.outcome is not None and ins.outcome.dissuaded
    assert ins.outcome.judgement is Judgement.CONFIRMED
    assert ins.outcome.amount_saved_fen == 30_000  # all three payments were still to come
    money = city.victims.money()
    assert (money.protected_before_loss, money.lost_fen, money.saved_fen) == (1, 0, 30_000)
    assert money.stopped_by == {"phone": 1}


def test_nobody_answers_a_critical_warning_so_a_station_visits() -> None:
    never = params(
        **{**ALWAYS, "reach_rate": 0.0, "wrong_number_share": 0.0, "visit_home_rate": 1.0}
    )
    city = City(never, [scam(1)])
    iid = city.warn(1, level=4)
    city.run()
    ins = city.get(iid)
    phone_calls = [a for a in ins.attempts if a.attempt.channel is Channel.PHONE]
    assert len(phone_calls) == never.max_calls
    assert all(a.attempt.reason is NotReachedReason.NO_ANSWER for a in phone_calls)
    sms = [a for a in ins.attempts if a.attempt.channel is Channel.SMS]
    assert len(sms) == 1 and len(city.outbox.messages()) == 1
    assert city.outbox.messages()[0].status in (SmsStatus.DELIVERED, SmsStatus.FAILED)
    visit = [h for h in ins.history if h.action is Action.VISIT]
    assert len(visit) == 1 and visit[0].detail["to_unit"] == NANPING
    assert ins.home_visit and ins.state is State.CLOSED
    assert ins.outcome is not None and ins.outcome.dissuaded  # face to face it worked
    assert city.victims.money().stopped_by == {"visit": 1}
    # The visit came after the drive: at least a minute after it was dispatched.
    contact_after = [h.at for h in ins.history if h.at > visit[0].at and h.action is Action.CONTACT]
    assert contact_after and contact_after[0] - visit[0].at >= dt.timedelta(minutes=1)


def test_a_drive_to_a_village_takes_longer() -> None:
    fixed = {
        "reach_rate": 0.0,
        "visit_minutes_urban": {"median": 10, "sigma": 0.0},
        "visit_minutes_rural": {"median": 40, "sigma": 0.0},
        "sign_delay_s": {"median": 60, "sigma": 0.0},
    }
    city = City(params(**fixed), [scam(1), scam(999)])
    drives = []
    for k in (1, 999):
        ins = city.get(city.warn(k, level=4, warning_id=f"W{k}"))
        city.run(ins.created_at + DAY)
        ins = city.get(ins.instruction_id)
        sign = [h.at for h in ins.history if h.action is Action.SIGN][-1]
        visit = next(a for a in ins.attempts if a.attempt.channel is Channel.VISIT)
        drives.append(visit.at - sign)
    assert drives == [dt.timedelta(minutes=10), dt.timedelta(minutes=40)]


def test_a_person_nobody_targeted_is_recorded_as_a_false_alarm() -> None:
    city = City(params(**ALWAYS, not_targeted_believe=1.0), [])
    iid = city.warn(5, level=3)
    city.run()
    ins = city.get(iid)
    assert ins.outcome is not None
    assert ins.outcome.judgement is Judgement.NOT_FRAUD and not ins.outcome.dissuaded


def test_a_victim_who_already_paid_everything_opens_a_case() -> None:
    city = City(params(**ALWAYS), [scam(1, payments=1, first_payment_min=1)])
    iid = city.warn(1, level=3, at=T0 + dt.timedelta(minutes=30))
    city.run()
    assert city.responders.report.cases == 1
    outcome = city.get(iid).outcome
    assert outcome is not None and outcome.defrauded and not outcome.dissuaded
    assert outcome.amount_lost_fen == 10_000 and outcome.payees[0].account == "6222"


def test_slow_signing_is_escalated_and_the_district_takes_over() -> None:
    slow = params(**ALWAYS, sign_delay_s=LogNormal(median=3_600, sigma=0.0))
    city = City(slow, [scam(1)])
    iid = city.warn(1, level=3)
    city.run()
    ins = city.get(iid)
    escalations = [h for h in ins.history if h.action is Action.ESCALATE]
    assert escalations and escalations[0].detail["to_unit"] == JIANGBEI
    signer = next(h for h in ins.history if h.action is Action.SIGN)
    assert signer.unit != NANPING and signer.actor == officer(signer.unit)
    assert signer.unit in (JIANGBEI, CITY)


def test_persuasion_falls_as_the_scam_goes_on() -> None:
    p = ResponderParams()
    paid = tuple(Payment(f"P{n}", E0, 1, "x") for n in range(3))
    chances = [
        persuasion(p, Situation(Stage.CONTACTED), face_to_face=False),
        persuasion(p, Situation(Stage.ENGAGED), face_to_face=False),
        persuasion(p, Situation(Stage.PAYING, paid=paid[:1]), face_to_face=False),
        persuasion(p, Situation(Stage.PAYING, paid=paid), face_to_face=False),
    ]
    assert chances == sorted(chances, reverse=True) and len(set(chances)) == 4
    assert chances[0] == p.persuasion["contacted"]
    assert chances[3] == pytest.approx(p.persuasion["paying"] * p.persuasion_decay**2)
    face = persuasion(p, Situation(Stage.PAYING, paid=paid), face_to_face=True)
    assert face == pytest.approx(chances[3] * p.visit_persuasion_factor)


def _histories(seed: int) -> list[list[tuple[str, str, dt.datetime]]]:
    city = City(ResponderParams(), [scam(k) for k in range(30)], seed=seed)
    ids = [city.warn(k, level=3 + k % 2) for k in range(30)]
    city.run(T0 + 2 * DAY)
    return [[(h.action.value, h.actor, h.at) for h in city.get(i).history] for i in ids]


def test_the_seed_fixes_every_step() -> None:
    assert _histories(1) == _histories(1)
    assert _histories(1) != _histories(2)


def test_call_rates_follow_the_parameters() -> None:
    """Over many calls, the answered and refused shares are the configured ones."""
    p = params(max_calls=6, visit_after_failure={})
    city = City(p, [scam(k) for k in range(400)])
    for k in range(400):
        city.warn(k, level=3)
    city.run(T0 + 3 * DAY)
    report = city.responders.report
    assert report.calls > 900
    assert report.answered / report.calls == pytest.approx(p.reach_rate, abs=0.04)
    assert report.refused / report.answered == pytest.approx(p.refusal_rate, abs=0.05)
    open_left = [i for i in city.repo.find(limit=10_000) if i.state is not State.CLOSED]
    assert not open_left  # every instruction was worked to the end


def test_refused_actions_are_reported_and_never_loop() -> None:
    """A tree without the simulated officers: every signature is refused (unknown user)."""
    city = City(params(**ALWAYS), [scam(1)])
    city.dispatcher.tree = OrgTree(units())  # the same units, no users
    iid = city.warn(1, level=3)
    city.run(T0 + dt.timedelta(hours=2))
    problems = city.responders.report.problems
    assert 3 <= len(problems) <= 6 and all("unknown user" in p for p in problems)
    assert city.get(iid).signed_at is None  # nobody signed it; the scheduler still escalated it


def test_stops_due_names_the_talks_that_will_persuade() -> None:
    persuaded = City(params(**ALWAYS), [scam(1)])
    iid = persuaded.warn(1, level=3)
    persuaded.run(until=T0 + dt.timedelta(hours=3))  # not far enough for a whole day
    assert persuaded.get(iid).outcome is not None  # the talk is over: nothing due
    assert persuaded.responders.stops_due(T0 + DAY) == []
    city = City(params(**ALWAYS), [scam(1)])
    city.warn(1, level=3)
    while not city.responders.report.talks:  # up to the moment the conversation begins
        city.responders.step()
    (when, id_number, phone), *rest = city.responders.stops_due(T0 + DAY)
    assert rest == [] and (id_number, phone) == person(1) and when > city.clock.now()
    assert city.responders.stops_due(when) == []  # due at ``when``, not before
    never = City(
        params(**{**ALWAYS, "persuasion": {"contacted": 0.0, "engaged": 0.0, "paying": 0.0}}),
        [scam(1)],
    )
    never.warn(1, level=3)
    while not never.responders.report.talks:
        never.responders.step()
    assert never.responders.stops_due(T0 + DAY) == []  # this talk will not persuade
