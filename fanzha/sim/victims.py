"""The warned person's side of a replay: where each targeted person stands in their scam at a
moment, and what no longer happens once they are dissuaded.

Built from a simulation's truth (``victims``, ``payments``, ``timeline``, ``flows``). A person
told by an officer (or by a warning SMS they heed) at time T stops: every payment of a scam
that had begun by T and is due after T is taken out of the event stream before the platform
sees it, with the gang's rebates after T, the laundering hops of the cancelled payments, and
the police report of a scam that then cost nothing. Money is counted from what the stream
carried: **lost** = the scam payments that still happened, **saved** = the ones taken out.

The replay streams windows in event-time order and moves :attr:`Victims.frontier` to each
window's end before its dispatch work; a person stopped at T inside a window whose events the
platform has already seen still pays what was due in ``(T, frontier)``: those payments count
as lost (``paid_after_stop``), which the scorecard reports so the window size can be judged.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from fanzha.sim.truth import read_truth

#: Timeline steps that show a person has taken the bait (beyond being contacted).
ENGAGING_STEPS = frozenset({"visit", "install", "urgent_request"})


class Stage(enum.StrEnum):
    """How far a person's scam has gone at a moment."""

    NOT_TARGETED = "not_targeted"
    CONTACTED = "contacted"
    ENGAGED = "engaged"
    PAYING = "paying"


@dataclass(frozen=True, slots=True)
class Payment:
    """One scam payment of a victim (truth ``payments``)."""

    event_id: str
    at: int  # epoch seconds
    amount_fen: int
    payee: str


@dataclass
class Scam:
    """One victim record: a person's scam from first contact to its last payment."""

    victim_id: str
    id_number: str
    phone: str | None
    fraud_type: str
    first_contact: int
    engaged_at: int | None
    payments: list[Payment]
    rebates: list[tuple[int, str]] = field(default_factory=list)  # (at, event id)
    report: tuple[int, str] | None = None
    # payment → its laundering transfers (at, event id)
    flows: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    stopped_at: int | None = None
    stopped_by: str = ""
    removed: set[str] = field(default_factory=set)  # payment event ids taken out

    @property
    def original_fen(self) -> int:
        """What the scam would have cost with nobody intervening."""
        return sum(p.amount_fen for p in self.payments)

    def kept(self) -> list[Payment]:
        """Payments that happen (not taken out)."""
        return [p for p in self.payments if p.event_id not in self.removed]


@dataclass(frozen=True, slots=True)
class Situation:
    """What an officer finds when talking to a person at a moment (from the truth)."""

    stage: Stage
    fraud_type: str | None = None
    paid: tuple[Payment, ...] = ()  # payments already made
    at_risk_fen: int = 0  # payments still to come unless the person stops

    @property
    def targeted(self) -> bool:
        """Whether the person is being defrauded."""
        return self.stage is not Stage.NOT_TARGETED

    @property
    def lost_fen(self) -> int:
        """What the person has already paid."""
        return sum(p.amount_fen for p in self.paid)


@dataclass(frozen=True, slots=True)
class Stop:
    """What stopping a person at a moment took out of the stream."""

    scams: int
    payments_removed: int
    saved_fen: int
    paid_after_stop: int  # due after the stop but already streamed


@dataclass
class Money:
    """The scorecard's view of the victims."""

    victims: int = 0  # scams that would have cost money
    protected_before_loss: int = 0  # ... and cost nothing in the end
    stopped: int = 0  # scams stopped (dissuaded or heeding an SMS)
    stopped_by: dict[str, int] = field(default_factory=dict)
    lost_fen: int = 0
    saved_fen: int = 0
    payments_removed: int = 0
    paid_after_stop: int = 0


class Victims:
    """Every scam of a simulation, by person, and the events stopped people no longer cause."""

    def __init__(self, scams: Iterable[Scam]) -> None:
        self.scams = sorted(scams, key=lambda s: (s.first_contact, s.victim_id))
        self._by_id: dict[str, list[Scam]] = defaultdict(list)
        self._by_phone: dict[str, list[Scam]] = defaultdict(list)
        for scam in self.scams:
            self._by_id[scam.id_number].append(scam)
            if scam.phone:
                self._by_phone[scam.phone].append(scam)
        self.removed: set[str] = set()
        self.frontier: int | None = None  # events before this (epoch s) were streamed
        # What is still to be taken out, by time: a window needs only its own stretch.
        self._pending: list[tuple[int, str]] = []

    @classmethod
    def from_truth(cls, out_dir: Path) -> Victims:
        """The scams of a simulation folder."""
        return cls(scams_from_tables(*(read_truth(out_dir, n) for n in _TABLES)))

    # ------------------------------------------------------------------ reading

    def of(self, id_number: str | None, phone: str | None) -> list[Scam]:
        """A person's scams, by ID number, else by phone."""
        if id_number and id_number in self._by_id:
            return self._by_id[id_number]
        return self._by_phone.get(phone or "", [])

    def situation(self, id_number: str | None, phone: str | None, at: dt.datetime) -> Situation:
        """Where the person's latest scam begun by ``at`` stands then."""
        now = _epoch(at)
        begun = [s for s in self.of(id_number, phone) if s.first_contact <= now]
        if not begun:
            return Situation(Stage.NOT_TARGETED)
        scam = begun[-1]
        kept = scam.kept()
        paid = tuple(p for p in kept if p.at <= now)
        ahead = [p.amount_fen for p in kept if p.at > now]
        to_come = 0 if scam.stopped_at is not None else sum(ahead)
        if paid:
            stage = Stage.PAYING
        elif scam.engaged_at is not None and scam.engaged_at <= now:
            stage = Stage.ENGAGED
        else:
            stage = Stage.CONTACTED
        return Situation(stage, scam.fraud_type, paid, to_come)

    def pays_between(
        self, id_number: str | None, phone: str | None, after: int, before: int
    ) -> bool:
        """Whether the person still has a payment due in ``(after, before)`` (epoch s) in a
        scam begun by ``after`` and not stopped."""
        return any(
            after < p.at < before
            for scam in self.of(id_number, phone)
            if scam.first_contact <= after and scam.stopped_at is None
            for p in scam.kept()
        )

    # ------------------------------------------------------------------ reacting

    def stop(self, id_number: str | None, phone: str | None, at: dt.datetime, by: str) -> Stop:
        """The person stops paying at ``at``: take every later event of their begun scams
        out of the stream (those not streamed yet)."""
        now = _epoch(at)
        scams = removed = saved = late = 0
        gone: list[tuple[int, str]] = []  # (when, event id) taken out by this stop
        for scam in self.of(id_number, phone):
            if scam.first_contact > now or scam.stopped_at is not None:
                continue
            scams += 1
            scam.stopped_at, scam.stopped_by = now, by
            for p in scam.payments:
                if p.at <= now:
                    continue
                if self.frontier is not None and p.at < self.frontier:
                    late += 1
                    continue
                scam.removed.add(p.event_id)
                gone.append((p.at, p.event_id))
                gone.extend(scam.flows.get(p.event_id, ()))
                removed += 1
                saved += p.amount_fen
            gone.extend((t, e) for t, e in scam.rebates if t > now)
            if scam.report is not None and scam.report[0] > now and not scam.kept():
                gone.append(scam.report)
        for item in gone:
            if item[1] not in self.removed:
                self.removed.add(item[1])
                bisect.insort(self._pending, item)
        return Stop(scams, removed, saved, late)

    def filter(
        self, tables: Mapping[str, pa.Table], until: int | None = None
    ) -> dict[str, pa.Table]:
        """A window's tables without the events stopped people no longer cause (``until``:
        the window's end, epoch s; the removals due before it are used up)."""
        if until is None:
            ids = list(self.removed)
        else:
            cut = bisect.bisect_left(self._pending, (until, ""))
            ids = [event_id for _, event_id in self._pending[:cut]]
            del self._pending[:cut]
        if not ids:
            return dict(tables)
        gone = pa.array(ids, pa.string())
        out = {}
        for name, table in tables.items():
            if name in ("transfer", "police_report") and table.num_rows:
                keep = pc.invert(pc.is_in(table.column("event_id"), value_set=gone))
                table = table.filter(keep)
            out[name] = table
        return out

    def money(self) -> Money:
        """Victims, protected before any loss, money lost and saved."""
        out = Money()
        for scam in self.scams:
            kept = sum(p.amount_fen for p in scam.kept())
            out.lost_fen += kept
            out.saved_fen += scam.original_fen - kept
            out.payments_removed += len(scam.removed)
            if scam.stopped_at is not None:
                out.stopped += 1
                out.stopped_by[scam.stopped_by] = out.stopped_by.get(scam.stopped_by, 0) + 1
                late = [p for p in scam.kept() if p.at > scam.stopped_at]
                out.paid_after_stop += len(late)
            if scam.payments:
                out.victims += 1
                out.protected_before_loss += kept == 0
        return out


_TABLES = ("victims", "payments", "timeline", "flows")


def scams_from_tables(
    victims: pa.Table, payments: pa.Table, timeline: pa.Table, flows: pa.Table
) -> list[Scam]:
    """Scams from the truth tables (times as epoch seconds)."""
    paid: dict[str, list[Payment]] = defaultdict(list)
    for row in payments.sort_by([("ts", "ascending")]).to_pylist():
        paid[row["victim_id"]].append(
            Payment(row["event_id"], _epoch(row["ts"]), row["amount_fen"], row["payee_account"])
        )
    engaged: dict[str, int] = {}
    rebates: dict[str, list[tuple[int, str]]] = defaultdict(list)
    reports: dict[str, tuple[int, str]] = {}
    for row in timeline.to_pylist():
        at, vid = _epoch(row["ts"]), row["victim_id"]
        if row["step"] in ENGAGING_STEPS:
            engaged[vid] = min(engaged.get(vid, at), at)
        elif row["step"] == "rebate":
            rebates[vid].append((at, row["event_id"]))
        elif row["step"] == "report":
            reports[vid] = (at, row["event_id"])
    laundering: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in flows.select(["root_event_id", "event_id", "ts"]).to_pylist():
        laundering[row["root_event_id"]].append((_epoch(row["ts"]), row["event_id"]))
    out = []
    for row in victims.to_pylist():
        vid = row["victim_id"]
        mine = paid.get(vid, [])
        first_payment = mine[0].at if mine else None
        engaged_at = engaged.get(vid, first_payment)
        out.append(
            Scam(
                victim_id=vid,
                id_number=row["id_number"],
                phone=row["phone"],
                fraud_type=row["fraud_type"],
                first_contact=_epoch(row["first_contact_ts"]),
                engaged_at=engaged_at,
                payments=mine,
                rebates=rebates.get(vid, []),
                report=reports.get(vid),
                flows={p.event_id: laundering.get(p.event_id, []) for p in mine},
            )
        )
    return out


def _epoch(when: dt.datetime) -> int:
    return int(when.timestamp())
