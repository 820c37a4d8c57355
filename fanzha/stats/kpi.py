"""KPIs of the warning and dissuasion work, per unit and level, from instructions and their
histories alone (pure).

An instruction's history is cut into **legs**: the stretch it spends at one unit, from its
issue, transfer, escalation or re-dispatch for a home visit (or its reopening after an
upgrade) to the next of these. Each leg is the work of the unit that held it, at the
instruction's level:

- **time to sign**: the leg's first 签收 minus its start; **time to first contact**: its first
  contact attempt (call, SMS, visit) minus its start (medians and means, seconds).
- **on time**: first contact no later than the leg's contact deadline (recorded in the history
  when the leg began, tightened by upgrades). A leg is **judged** once it has a contact or its
  deadline has passed at ``as_of``; a leg handed on (transferred) before its deadline and
  without contact is not judged. **overdue** = judged and not on time (escalated legs are).
  ``on_time_rate`` = on time / judged.
- **calls** = phone attempts; **visits** = home-visit attempts; **sms** = SMS sent.
- **reach rate** = phone or visit attempts where the person answered (reached, or refused /
  hung up: someone picked up) / phone or visit attempts. **refusal rate** = refused or hung up
  / answered.
- **talks** = outcomes where the person was reached by phone or in person and the officer did
  not judge it a false alarm; **dissuasion rate** = outcomes with ``dissuaded`` / talks;
  **calls per dissuasion** = calls / dissuaded.
- **saved** and **lost** = the ``amount_saved_fen`` / ``amount_lost_fen`` of the outcomes
  recorded in the leg; a home visit after a phone outcome replaces it, so only an
  instruction's final outcome counts its money (earlier ones still count as outcomes).

Rows: one per (unit, level), one per unit over all levels (level ``None``), and the overall
row (unit ``"*"``). The instruction-level figures of a replay's scorecard are in
:func:`instruction_figures`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fanzha.dispatch.instruction import Action, HistoryEntry, Instruction
from fanzha.dispatch.levels import Channel
from fanzha.dispatch.outcome import ContactAttempt, Judgement, NotReachedReason

ALL_UNITS = "*"
_STARTS = frozenset({Action.ISSUE, Action.TRANSFER, Action.ESCALATE, Action.VISIT})
_REFUSALS = frozenset({NotReachedReason.REFUSED, NotReachedReason.HUNG_UP})


@dataclass
class Leg:
    """An instruction's stay at one unit."""

    instruction_id: str
    unit: str
    level: int
    start: dt.datetime
    contact_by: dt.datetime | None
    signed_at: dt.datetime | None = None
    first_contact_at: dt.datetime | None = None
    ended_by: Action | None = None
    entries: list[HistoryEntry] = field(default_factory=list)

    def on_time(self, as_of: dt.datetime) -> bool | None:
        """True / False once judged, None while it cannot be judged yet."""
        if self.contact_by is None:
            return None
        if self.first_contact_at is not None:
            return self.first_contact_at <= self.contact_by
        if self.ended_by is Action.ESCALATE:
            return False
        if self.ended_by is Action.TRANSFER or self.contact_by > as_of:
            return None
        return False


def legs(ins: Instruction) -> list[Leg]:
    """The instruction's legs, oldest first."""
    out: list[Leg] = []
    for entry in ins.history:
        reopened = entry.action is Action.UPDATE and entry.detail.get("reopened")
        if entry.action in _STARTS or reopened or not out:
            if out:
                out[-1].ended_by = entry.action
            out.append(Leg(ins.instruction_id, entry.unit, int(ins.level), entry.at, None))
        leg = out[-1]
        leg.entries.append(entry)
        due = entry.detail.get("contact_by")
        if isinstance(due, str):
            when = dt.datetime.fromisoformat(due)
            leg.contact_by = when if leg.contact_by is None else min(leg.contact_by, when)
        if entry.action is Action.SIGN and leg.signed_at is None:
            leg.signed_at = entry.at
        if entry.action is Action.CONTACT and leg.first_contact_at is None:
            leg.first_contact_at = entry.at
    if out and out[-1].contact_by is None and len(out) == 1:
        out[-1].contact_by = ins.deadlines.contact_by  # written before deadlines were logged
    return out


@dataclass
class KpiRow:
    """The figures of one unit at one level (``level`` None: all levels)."""

    unit: str
    level: int | None
    legs: int = 0
    signed: int = 0
    sign_s: list[float] = field(default_factory=list)
    contact_s: list[float] = field(default_factory=list)
    judged: int = 0
    on_time: int = 0
    overdue: int = 0
    calls: int = 0
    visits: int = 0
    sms: int = 0
    answered: int = 0
    refused: int = 0
    outcomes: int = 0
    talks: int = 0
    dissuaded: int = 0
    defrauded: int = 0
    saved_fen: int = 0
    lost_fen: int = 0

    def add(self, other: KpiRow) -> None:
        """Add another row's counts to this one."""
        for name, value in vars(other).items():
            if isinstance(value, int) and name != "level":
                setattr(self, name, getattr(self, name) + value)
        self.sign_s.extend(other.sign_s)
        self.contact_s.extend(other.contact_s)

    @property
    def on_time_rate(self) -> float | None:
        """On time / judged."""
        return _ratio(self.on_time, self.judged)

    @property
    def reach_rate(self) -> float | None:
        """Answered / phone and visit attempts."""
        return _ratio(self.answered, self.calls + self.visits)

    @property
    def refusal_rate(self) -> float | None:
        """Refused or hung up / answered."""
        return _ratio(self.refused, self.answered)

    @property
    def dissuasion_rate(self) -> float | None:
        """Dissuaded / talks."""
        return _ratio(self.dissuaded, self.talks)

    @property
    def calls_per_dissuasion(self) -> float | None:
        """Calls / dissuaded."""
        return _ratio(self.calls, self.dissuaded)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "unit": self.unit,
            "level": self.level,
            "instructions": self.legs,
            "signed": self.signed,
            "median_sign_s": _median(self.sign_s),
            "mean_sign_s": _mean(self.sign_s),
            "median_first_contact_s": _median(self.contact_s),
            "mean_first_contact_s": _mean(self.contact_s),
            "on_time_rate": _round(self.on_time_rate),
            "overdue": self.overdue,
            "calls": self.calls,
            "visits": self.visits,
            "sms": self.sms,
            "reach_rate": _round(self.reach_rate),
            "refusal_rate": _round(self.refusal_rate),
            "outcomes": self.outcomes,
            "dissuaded": self.dissuaded,
            "dissuasion_rate": _round(self.dissuasion_rate),
            "calls_per_dissuasion": _round(self.calls_per_dissuasion),
            "defrauded": self.defrauded,
            "saved_fen": self.saved_fen,
            "lost_fen": self.lost_fen,
        }


@dataclass
class Kpis:
    """KPI rows: per (unit, level), per unit, and overall."""

    rows: list[KpiRow]
    as_of: dt.datetime

    @property
    def total(self) -> KpiRow:
        """The overall row."""
        return next(r for r in self.rows if r.unit == ALL_UNITS and r.level is None)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the overall row and every other row."""
        return {
            "as_of": self.as_of.isoformat(),
            "total": self.total.to_json(),
            "rows": [r.to_json() for r in self.rows if r.unit != ALL_UNITS or r.level is not None],
        }


def kpis(
    instructions: Iterable[Instruction],
    as_of: dt.datetime,
    *,
    units: Callable[[str], bool] | None = None,
) -> Kpis:
    """The KPIs of ``instructions`` judged at ``as_of``; ``units`` keeps only the legs of the
    units it accepts (a unit and the ones under it)."""
    cells: dict[tuple[str, int], KpiRow] = {}
    for ins in instructions:
        final = _final_outcome_entry(ins)
        for leg in legs(ins):
            if units is not None and not units(leg.unit):
                continue
            row = cells.setdefault((leg.unit, leg.level), KpiRow(leg.unit, leg.level))
            _count(row, ins, leg, final, as_of)
    return Kpis(_rollup(cells), as_of)


def _count(
    row: KpiRow, ins: Instruction, leg: Leg, final: HistoryEntry | None, as_of: dt.datetime
) -> None:
    row.legs += 1
    if leg.signed_at is not None:
        row.signed += 1
        row.sign_s.append((leg.signed_at - leg.start).total_seconds())
    if leg.first_contact_at is not None:
        row.contact_s.append((leg.first_contact_at - leg.start).total_seconds())
    judged = leg.on_time(as_of)
    if judged is not None:
        row.judged += 1
        row.on_time += judged
        row.overdue += not judged
    for a in _attempts(ins, leg.entries):
        if a.channel is Channel.SMS:
            row.sms += 1
            continue
        row.calls += a.channel is Channel.PHONE
        row.visits += a.channel is Channel.VISIT
        row.answered += a.reached or a.reason in _REFUSALS
        row.refused += a.reason in _REFUSALS
    for k, entry in enumerate(leg.entries):
        if entry.action is Action.OUTCOME:
            _count_outcome(row, ins, entry, final, _attempts(ins, leg.entries[:k]))


def _attempts(ins: Instruction, entries: Sequence[HistoryEntry]) -> list[ContactAttempt]:
    """The contact attempts logged by ``entries`` (the k-th contact entry of the history
    records the k-th attempt)."""
    mine = {id(e) for e in entries if e.action is Action.CONTACT}
    contacts = (e for e in ins.history if e.action is Action.CONTACT)
    return [a.attempt for e, a in zip(contacts, ins.attempts, strict=False) if id(e) in mine]


def _count_outcome(
    row: KpiRow,
    ins: Instruction,
    entry: HistoryEntry,
    final: HistoryEntry | None,
    before: list[ContactAttempt],
) -> None:
    row.outcomes += 1
    d = entry.detail
    spoke = bool(d.get("reached")) and any(
        a.reached and a.channel is not Channel.SMS for a in before
    )
    if spoke and d.get("judgement") != Judgement.NOT_FRAUD.value:
        row.talks += 1
        row.dissuaded += bool(d.get("dissuaded"))
    row.defrauded += bool(d.get("defrauded"))
    if entry is final and ins.outcome is not None:
        row.saved_fen += ins.outcome.amount_saved_fen
        row.lost_fen += ins.outcome.amount_lost_fen


def _final_outcome_entry(ins: Instruction) -> HistoryEntry | None:
    """The history entry of the outcome the instruction holds now."""
    if ins.outcome is None:
        return None
    found = [e for e in ins.history if e.action is Action.OUTCOME]
    return found[-1] if found else None


def _rollup(cells: dict[tuple[str, int], KpiRow]) -> list[KpiRow]:
    """Cells, then a row per unit over all levels, then per level over all units, then all."""
    per_unit: dict[str, KpiRow] = {}
    per_level: dict[int, KpiRow] = {}
    total = KpiRow(ALL_UNITS, None)
    for (unit, level), row in sorted(cells.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        per_unit.setdefault(unit, KpiRow(unit, None)).add(row)
        per_level.setdefault(level, KpiRow(ALL_UNITS, level)).add(row)
        total.add(row)
    out: list[KpiRow] = []
    for unit in sorted(per_unit):
        out.extend(r for (u, _), r in sorted(cells.items(), key=lambda kv: -kv[0][1]) if u == unit)
        out.append(per_unit[unit])
    out.extend(per_level[level] for level in sorted(per_level, reverse=True))
    out.append(total)
    return out


@dataclass(frozen=True, slots=True)
class InstructionFigures:
    """Instruction-level figures for a scorecard."""

    instructions: int
    on_time_rate: float | None  # first contact within the SLA in force when it was issued
    escalated: int
    home_visits: int
    overdue_open: int  # open and past the deadline they work towards at as_of


def instruction_figures(
    instructions: Sequence[Instruction], as_of: dt.datetime
) -> InstructionFigures:
    """On-time rate over instructions (judged as the first leg is), escalations, visits."""
    judged = on_time = 0
    for ins in instructions:
        first = legs(ins)[0] if ins.history else None
        if first is None:
            continue
        verdict = _first_contact_on_time(ins, first, as_of)
        if verdict is not None:
            judged += 1
            on_time += verdict
    return InstructionFigures(
        instructions=len(instructions),
        on_time_rate=_ratio(on_time, judged),
        escalated=sum(1 for i in instructions if i.escalations),
        home_visits=sum(1 for i in instructions if i.home_visit),
        overdue_open=sum(1 for i in instructions if i.is_open and i.breach(as_of) is not None),
    )


def _first_contact_on_time(ins: Instruction, first: Leg, as_of: dt.datetime) -> bool | None:
    """Whether the person was first contacted within the first leg's deadline."""
    if first.contact_by is None:
        return None
    if ins.first_contact_at is not None:
        return ins.first_contact_at <= first.contact_by
    return False if first.contact_by <= as_of else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None
