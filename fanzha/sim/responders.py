"""Simulated responders: officers of every unit answering instructions on the platform clock,
and the operator's SMS network delivering warning SMS.

An officer signs an instruction after a delay, phones the person after another (both faster
the higher the level), and calls again when nobody answers, up to ``max_calls``. A call is
answered with ``reach_rate``; an answered call is refused (the person hangs up) with
``refusal_rate``; otherwise the officer talks to the person, who is dissuaded with a
probability that falls the further the scam has gone (high before the first payment, low after
several). When the phone did not dissuade someone, a station may be sent to the home (always
for 特危): the station signs, travels (longer to a village), finds the person or not, and talks
face to face. An unreachable person gets the templated warning SMS. Every step is one of the
Dispatcher's public actions (sign, contact attempt, outcome, home visit, close, SMS), taken as
a user of the instruction's unit, at the event time it happens; a dissuaded person stops paying
(:mod:`fanzha.sim.victims`).

Randomness is one stream per instruction (and per SMS), keyed by the seed and the id: the same
simulation, seed and warnings give the same responders, whatever the replay's window size.
"""

from __future__ import annotations

import datetime as dt
import enum
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fanzha.dispatch.effects import CaseRequest, IndicatorFeedback
from fanzha.dispatch.instruction import Instruction, State, TransitionError
from fanzha.dispatch.levels import Channel, RiskLevel
from fanzha.dispatch.org import OrgUnit, Role, User
from fanzha.dispatch.outcome import (
    ContactAttempt,
    Contacted,
    Judgement,
    NotReachedReason,
    OutcomeError,
)
from fanzha.dispatch.repo import StaleInstructionError
from fanzha.dispatch.sms import SmsGateway, SmsMessage, SmsStatus
from fanzha.dispatching import Dispatcher, JurisdictionError, UnknownInstructionError
from fanzha.model.clock import ManualClock
from fanzha.model.enums import OrgLevel
from fanzha.sim.params import LogNormal, ResponderParams
from fanzha.sim.rng import stream
from fanzha.sim.victims import Situation, Stage, Victims

OFFICER_PREFIX = "sim-"
LEVEL_KEYS = {
    RiskLevel.CRITICAL: "critical",
    RiskLevel.HIGH: "high",
    RiskLevel.MEDIUM: "medium",
    RiskLevel.LOW: "low",
}
MAX_PERSUASION = 0.95
MAX_FAILURES = 3  # refused actions on one instruction before the responders leave it alone
_SMS_DELIVERY_S = 5.0  # an operator's delivery report comes back within seconds


def officer(unit: str) -> str:
    """The simulated officer (duty desk) of a unit."""
    return OFFICER_PREFIX + unit


def simulated_users(units: Iterable[OrgUnit]) -> list[User]:
    """One simulated officer for every unit that takes instructions (not community grids)."""
    return [
        User(
            username=officer(u.code),
            name=f"模拟民警（{u.name}）",
            unit=u.code,
            roles=(Role.OFFICER, Role.DUTY_OFFICER),
        )
        for u in units
        if u.level is not OrgLevel.COMMUNITY
    ]


class Step(enum.StrEnum):
    """What a responder does next with an instruction."""

    SIGN = "sign"
    CALL = "call"
    TALK_END = "talk_end"
    GIVE_UP = "give_up"
    VISIT = "visit"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class _Talk:
    """A conversation in progress: what the person will do, decided when it began."""

    situation: Situation
    persuaded: bool
    face_to_face: bool


@dataclass
class _Work:
    """The responders' memory of one instruction."""

    rng: np.random.Generator
    key: tuple[str, State, bool] | None = None  # (unit, state, home visit) planned for
    token: int = 0
    calls: int = 0
    reason: NotReachedReason | None = None
    talk: _Talk | None = None
    failures: int = 0


@dataclass(order=True)
class _Wake:
    at: dt.datetime
    seq: int
    instruction_id: str = field(compare=False)
    step: Step = field(compare=False)
    token: int = field(compare=False)


@dataclass
class ResponderReport:
    """What the responders did."""

    actions: int = 0
    signed: int = 0
    calls: int = 0
    answered: int = 0
    refused: int = 0
    talks: int = 0
    visits: int = 0
    dissuaded: int = 0
    sms: int = 0
    sms_heeded: int = 0
    cases: int = 0
    replans: int = 0
    problems: list[str] = field(default_factory=list)
    #: the case requests of "already defrauded" outcomes (for the funds workflow)
    case_requests: list[CaseRequest] = field(default_factory=list)
    #: indicator feedback of "confirmed" / "not fraud" outcomes (for the intelligence store)
    feedback: list[IndicatorFeedback] = field(default_factory=list)


class SimulatedSms:
    """The operator's SMS network: passes messages to the outbox, reports delivery, and lets
    a targeted person heed the warning (an :class:`~fanzha.dispatch.sms.SmsGateway`)."""

    def __init__(
        self,
        outbox: SmsGateway,
        victims: Victims,
        params: ResponderParams,
        seed: int,
        report: ResponderReport | None = None,
    ) -> None:
        self.outbox = outbox
        self.victims = victims
        self.params = params
        self.seed = seed
        self.report = report or ResponderReport()

    def send(self, message: SmsMessage) -> SmsMessage:
        """Queue, send and deliver (or fail) the message; the reader may stop paying."""
        queued = self.outbox.send(message)
        if queued.status is not SmsStatus.QUEUED:
            return queued  # sent before
        rng = stream(self.seed, "sms", message.message_id)
        self.outbox.update(message.message_id, SmsStatus.SENT, message.created_at)
        at = message.created_at + dt.timedelta(seconds=_SMS_DELIVERY_S)
        self.report.sms += 1
        if rng.random() >= self.params.sms_delivery_rate:
            return self.outbox.update(message.message_id, SmsStatus.FAILED, at, "undeliverable")
        delivered = self.outbox.update(message.message_id, SmsStatus.DELIVERED, at)
        situation = self.victims.situation(None, message.phone, at)
        heeds = situation.targeted and rng.random() < self.params.sms_heeded
        if heeds and self.victims.stop(None, message.phone, at, "sms").scams:
            self.report.sms_heeded += 1
        return delivered

    def update(
        self, message_id: str, status: SmsStatus, at: dt.datetime, detail: str = ""
    ) -> SmsMessage:
        """A delivery report (passed to the outbox)."""
        return self.outbox.update(message_id, status, at, detail)

    def messages(self) -> list[SmsMessage]:
        """Every message of the outbox."""
        return self.outbox.messages()


class SimulatedResponders:
    """Officers of every unit working the instructions they are given, in event time."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        clock: ManualClock,
        victims: Victims,
        params: ResponderParams | None = None,
        *,
        seed: int = 0,
        community: Callable[[str | None, str | None], str | None] = lambda _id, _phone: None,
        report: ResponderReport | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.clock = clock
        self.victims = victims
        self.params = params or ResponderParams()
        self.seed = seed
        self.community = community  # a person's home community (the registry)
        self.report = report or ResponderReport()
        self._work: dict[str, _Work] = {}
        self._queue: list[_Wake] = []
        self._seq = 0

    # ------------------------------------------------------------------ driving

    def notice(self, instruction_id: str) -> None:
        """An instruction was issued or changed by someone else (dispatch, the scheduler):
        plan its next step if what it waits for has changed."""
        ins = self.dispatcher.repo.get(instruction_id)
        if ins is None:
            return
        work = self._work.get(instruction_id)
        if work is None:
            rng = stream(self.seed, "responder", instruction_id)
            work = self._work[instruction_id] = _Work(rng)
        if work.key != _key(ins):
            if work.key is not None:
                self.report.replans += 1
            work.calls, work.talk = 0, None
            self._plan(ins, work, self.clock.now())

    def next_at(self) -> dt.datetime | None:
        """When the next step is due (None: nothing to do)."""
        while self._queue and self._stale(self._queue[0]):
            heapq.heappop(self._queue)
        return self._queue[0].at if self._queue else None

    def stops_due(self, until: dt.datetime) -> list[tuple[dt.datetime, str | None, str | None]]:
        """Conversations under way that will end before ``until`` with the person persuaded:
        (when, ID number, phone). The replay cuts its windows there, so that the person
        stops before the platform sees what they would have paid next."""
        out = []
        for wake in self._queue:
            if wake.step is not Step.TALK_END or wake.at >= until or self._stale(wake):
                continue
            talk = self._work[wake.instruction_id].talk
            ins = self.dispatcher.repo.get(wake.instruction_id)
            if talk is not None and talk.persuaded and ins is not None:
                out.append((wake.at, ins.id_number, ins.phone))
        return sorted(out, key=lambda t: t[0])

    def run_until(self, until: dt.datetime) -> int:
        """Take every step due before ``until``, in time order; returns how many."""
        done = 0
        while (at := self.next_at()) is not None and at < until:
            self.step()
            done += 1
        return done

    def step(self) -> None:
        """Take the earliest step (the clock moves to its time)."""
        wake = heapq.heappop(self._queue)
        if self._stale(wake):
            return
        self.clock.set(max(self.clock.now(), wake.at))
        ins = self.dispatcher.repo.get(wake.instruction_id)
        work = self._work[wake.instruction_id]
        if ins is None or _key(ins) != work.key:
            if ins is not None:
                self.notice(wake.instruction_id)
            return
        try:
            self._take(wake.step, ins, work)
            self.report.actions += 1
        except (
            TransitionError,
            JurisdictionError,
            StaleInstructionError,
            UnknownInstructionError,
            OutcomeError,
        ) as exc:
            self.report.problems.append(f"{wake.instruction_id} {wake.step.value}: {exc}")
            work.failures += 1
            if work.failures >= MAX_FAILURES:  # give up on it rather than loop
                work.token += 1
                return
            work.key = None  # plan again from whatever state it is in now
            self.notice(wake.instruction_id)

    # ------------------------------------------------------------------ planning

    def _stale(self, wake: _Wake) -> bool:
        work = self._work.get(wake.instruction_id)
        return work is None or work.token != wake.token

    def _schedule(self, ins: Instruction, work: _Work, step: Step, at: dt.datetime) -> None:
        work.key = _key(ins)
        work.token += 1
        self._seq += 1
        heapq.heappush(self._queue, _Wake(at, self._seq, ins.instruction_id, step, work.token))

    def _plan(self, ins: Instruction, work: _Work, since: dt.datetime) -> None:
        """The next step from the instruction's state, counted from ``since``."""
        p = self.params
        if ins.state is State.CLOSED or set(ins.channels) == {Channel.SMS}:
            work.key = _key(ins)  # closed, or texted by the platform itself: nothing to do
            work.token += 1
            return
        pace = p.urgency.get(LEVEL_KEYS[ins.level], 1.0)
        if ins.state is State.ISSUED:
            self._schedule(ins, work, Step.SIGN, since + _draw(work.rng, p.sign_delay_s, pace))
        elif ins.state is State.SIGNED and ins.home_visit:
            travel = p.visit_minutes_rural if self._rural(ins) else p.visit_minutes_urban
            minutes = _draw(work.rng, travel, 60.0)
            self._schedule(ins, work, Step.VISIT, since + minutes)
        elif ins.state is State.SIGNED:
            self._schedule(ins, work, Step.CALL, since + _draw(work.rng, p.call_delay_s, pace))
        elif ins.state is State.CONTACTING:
            self._schedule(ins, work, Step.GIVE_UP, since)  # picked up mid-way: wrap it up
        else:
            self._schedule(ins, work, Step.CLOSE, since)

    def _rural(self, ins: Instruction) -> bool:
        """Whether the person lives in a village (a community named …村): a longer drive."""
        home = self.dispatcher.tree.get(self.community(ins.id_number, ins.phone))
        return home is not None and home.name.endswith("村")

    # ------------------------------------------------------------------ acting

    def _take(self, step: Step, ins: Instruction, work: _Work) -> None:
        actions: dict[Step, Callable[[Instruction, _Work], None]] = {
            Step.SIGN: self._sign,
            Step.CALL: self._call,
            Step.TALK_END: self._talk_end,
            Step.GIVE_UP: self._give_up,
            Step.VISIT: self._visit,
            Step.CLOSE: self._close,
        }
        actions[step](ins, work)

    def _sign(self, ins: Instruction, work: _Work) -> None:
        done = self.dispatcher.sign(ins.instruction_id, officer(ins.unit))
        self.report.signed += 1
        self._plan(done, work, self.clock.now())

    def _call(self, ins: Instruction, work: _Work) -> None:
        p, rng, now = self.params, work.rng, self.clock.now()
        work.calls += 1
        self.report.calls += 1
        reason: NotReachedReason | None = None
        if rng.random() >= p.reach_rate:
            wrong = rng.random() < p.wrong_number_share
            reason = NotReachedReason.WRONG_NUMBER if wrong else NotReachedReason.NO_ANSWER
        else:
            self.report.answered += 1
            if rng.random() < p.refusal_rate:
                self.report.refused += 1
                hung_up = rng.random() < 0.5
                reason = NotReachedReason.HUNG_UP if hung_up else NotReachedReason.REFUSED
        attempt = ContactAttempt(channel=Channel.PHONE, reached=reason is None, reason=reason)
        done = self.dispatcher.record_attempt(ins.instruction_id, officer(ins.unit), attempt)
        if reason is None:
            self._start_talk(done, work, face_to_face=False)
            return
        work.reason = reason
        if reason is not NotReachedReason.WRONG_NUMBER and work.calls < p.max_calls:
            self._schedule(done, work, Step.CALL, now + _draw(rng, p.retry_delay_s))
        else:
            self._schedule(done, work, Step.GIVE_UP, now)

    def _start_talk(self, ins: Instruction, work: _Work, *, face_to_face: bool) -> None:
        now = self.clock.now()
        situation = self.victims.situation(ins.id_number, ins.phone, now)
        chance = persuasion(self.params, situation, face_to_face=face_to_face)
        persuaded = work.rng.random() < chance
        work.talk = _Talk(situation, persuaded, face_to_face)
        self.report.talks += 1
        self._schedule(ins, work, Step.TALK_END, now + _draw(work.rng, self.params.talk_s))

    def _talk_end(self, ins: Instruction, work: _Work) -> None:
        talk, now = work.talk, self.clock.now()
        assert talk is not None  # scheduled only after a conversation began
        work.talk = None
        s = talk.situation
        dissuaded = talk.persuaded and s.targeted and (s.at_risk_fen > 0 or not s.paid)
        if dissuaded:
            how = "visit" if talk.face_to_face else "phone"
            self.victims.stop(ins.id_number, ins.phone, now, how)
            self.report.dissuaded += 1
        outcome = self._outcome(s, dissuaded, work.rng)
        done, decisions = self.dispatcher.record_outcome(
            ins.instruction_id, officer(ins.unit), outcome
        )
        requests = [d for d in decisions if isinstance(d, CaseRequest)]
        self.report.cases += len(requests)
        self.report.case_requests.extend(requests)
        self.report.feedback.extend(d for d in decisions if isinstance(d, IndicatorFeedback))
        self._after_outcome(done, work, visit_wanted=s.targeted and not dissuaded)

    def _outcome(self, s: Situation, dissuaded: bool, rng: np.random.Generator) -> dict[str, Any]:
        if not s.targeted:
            believe = rng.random() < self.params.not_targeted_believe
            judgement = Judgement.NOT_FRAUD if believe else Judgement.UNCLEAR
            return {"reached": True, "contacted": Contacted.PERSON, "judgement": judgement}
        out: dict[str, Any] = {
            "reached": True,
            "contacted": Contacted.PERSON,
            "judgement": Judgement.CONFIRMED,
            "dissuaded": dissuaded,
            "fraud_type": s.fraud_type,
            "amount_at_risk_fen": s.at_risk_fen,
            "amount_saved_fen": s.at_risk_fen if dissuaded else 0,
            "notice_signed": dissuaded and bool(rng.random() < self.params.notice_rate),
        }
        if s.paid:
            out["defrauded"] = True
            out["amount_lost_fen"] = s.lost_fen
            out["payees"] = [
                {
                    "account": p.payee,
                    "amount_fen": p.amount_fen,
                    "paid_at": dt.datetime.fromtimestamp(p.at, dt.UTC),
                }
                for p in s.paid
            ]
        return out

    def _give_up(self, ins: Instruction, work: _Work) -> None:
        """The phone (or the visit) reached nobody: text the person, record, maybe visit."""
        actor = officer(ins.unit)
        template = None
        if ins.phone and self.dispatcher.sms is not None:
            ins, message = self.dispatcher.send_sms(ins.instruction_id, actor)
            template = message.template
        reason = work.reason or NotReachedReason.NO_ANSWER
        outcome = {"reached": False, "not_reached_reason": reason, "sms_template": template}
        done, _ = self.dispatcher.record_outcome(ins.instruction_id, actor, outcome)
        situation = self.victims.situation(ins.id_number, ins.phone, self.clock.now())
        self._after_outcome(done, work, visit_wanted=situation.targeted)

    def _after_outcome(self, ins: Instruction, work: _Work, *, visit_wanted: bool) -> None:
        share = self.params.visit_after_failure.get(LEVEL_KEYS[ins.level], 0.0)
        station = self._station(ins)
        if visit_wanted and station and not ins.home_visit and work.rng.random() < share:
            done = self.dispatcher.dispatch_visit(
                ins.instruction_id, officer(ins.unit), station, reason="电话劝阻未成功"
            )
            self.report.visits += 1
            work.calls, work.reason = 0, None
            self._plan(done, work, self.clock.now())
            return
        self._close(ins, work)

    def _station(self, ins: Instruction) -> str | None:
        """The station that can visit the person's home (None when the home is unknown)."""
        tree = self.dispatcher.tree
        for code in (*ins.copy_to, ins.unit):
            unit = tree.get(code)
            if unit is not None and unit.level is OrgLevel.STATION:
                return code
        community = self.dispatcher.router.tree.get(self.community(ins.id_number, ins.phone))
        if community is None:
            return None
        station = tree.at_tier(community.code, OrgLevel.STATION)
        return None if station is None else station.code

    def _visit(self, ins: Instruction, work: _Work) -> None:
        found = work.rng.random() < self.params.visit_home_rate
        reason = None if found else NotReachedReason.NO_ANSWER
        attempt = ContactAttempt(channel=Channel.VISIT, reached=found, reason=reason)
        done = self.dispatcher.record_attempt(ins.instruction_id, officer(ins.unit), attempt)
        if found:
            self._start_talk(done, work, face_to_face=True)
        else:
            work.reason = reason
            self._give_up(done, work)

    def _close(self, ins: Instruction, work: _Work) -> None:
        done = self.dispatcher.close(ins.instruction_id, officer(ins.unit))
        work.key = _key(done)
        work.token += 1  # nothing more to do


def persuasion(params: ResponderParams, situation: Situation, *, face_to_face: bool) -> float:
    """The chance that a person who listens is dissuaded: by stage, lower with every payment
    made, higher face to face (at most :data:`MAX_PERSUASION`)."""
    p = params.persuasion
    if situation.stage is Stage.PAYING:
        after = max(0, len(situation.paid) - 1)
        chance = p.get("paying", 0.0) * params.persuasion_decay**after
    else:
        chance = p.get(situation.stage.value, 0.0)
    if face_to_face:
        chance *= params.visit_persuasion_factor
    return min(chance, MAX_PERSUASION)


def _key(ins: Instruction) -> tuple[str, State, bool]:
    return (ins.unit, ins.state, ins.home_visit)


def _draw(rng: np.random.Generator, dist: LogNormal, scale: float = 1.0) -> dt.timedelta:
    """A log-normal delay (seconds × ``scale``)."""
    seconds = float(rng.lognormal(np.log(dist.median), dist.sigma)) * scale
    return dt.timedelta(seconds=max(1.0, seconds))
