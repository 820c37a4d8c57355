"""The demo's run through the whole platform (``fanzha demo``), in one process.

A simulation folder goes through, in accelerated event time:

1. **replay** (:func:`fanzha.replaying.replay_with_responders` with ``ingest``): the events
   land in the lake, detection warns, the dispatcher instructs, simulated officers call and
   visit, dissuaded victims stop paying;
2. **funds** (:func:`fanzha.funding.replay`): the police reports that still happened and the
   officers' "already defrauded" outcomes (:func:`case_reports`) go to the stop-payment desk,
   orders to the simulated bank, the money is traced and extended orders follow it — over the
   ledger of the transfers that still happened; the cases and orders are then stored, for the
   pages;
3. **evaluate** (:func:`fanzha.sim.evaluate.evaluate`): the stored warnings against the truth
   (precision by level);
4. **users**: one login per role for the pages, passwords generated (returned once).

The :class:`DemoCard` holds every figure; ``to_json`` gives the headline keys first.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fanzha.auth.principal import Grant
from fanzha.auth.repo import DuplicateError
from fanzha.auth.roles import Role
from fanzha.dispatch.effects import CaseRequest
from fanzha.funding import replay as funds_replay
from fanzha.funding import sim_reports, sim_transfers
from fanzha.funds.ledger import Ledger
from fanzha.funds.report import Payment, Report, from_case_request
from fanzha.replaying import (
    CpuTimer,
    ReplayOptions,
    Scorecard,
    read_manifest,
    replay_with_responders,
)
from fanzha.service import App
from fanzha.sim.bank import SimulatedBank
from fanzha.sim.evaluate import Scorecard as Evaluation
from fanzha.sim.evaluate import evaluate
from fanzha.sim.stream import Window
from fanzha.store.funds import SqlFunds

STAGES = ("replay", "funds", "evaluate", "users")
#: the bank given to the liaison when no order names one
FALLBACK_BANK = "ICBC"


class DemoProgress:
    """What the demo reports as it goes (the CLI draws bars; the default draws nothing)."""

    def stage(self, name: str, total: float | None) -> None:
        """A stage begins (``total``: its units of work, when known)."""

    def advance(self, completed: float, note: str = "") -> None:
        """The current stage has done ``completed`` units."""


@dataclass(frozen=True)
class DemoUser:
    """One login created for the pages, or the liaison's API token (shown once)."""

    username: str
    role: Role
    where: str  # unit code or bank
    where_name: str
    password: str  # the API token for the bank liaison


@dataclass
class DemoCard:
    """Every figure of the demo."""

    replay: Scorecard
    funds: dict[str, Any]
    evaluation: Evaluation
    users: list[DemoUser]
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    cpu_by_stage: dict[str, float] = field(default_factory=dict)

    @property
    def money_frozen_fen(self) -> int:
        """The victims' money held by executed stop-payments and freezes."""
        return int(self.funds.get("frozen_fen", 0))

    def to_json(self) -> dict[str, Any]:
        """One JSON object: the headline keys first, then the parts in full."""
        r, e = self.replay, self.evaluation
        return {
            "victims": r.victims,
            "protected_before_loss": r.protected_before_loss,
            "money_lost_fen": r.money_lost_fen,
            "money_saved_fen": r.money_saved_fen,
            "money_frozen_fen": self.money_frozen_fen,
            "frozen_share": self.funds.get("frozen_share"),
            "stop_payment_60min_rate": self.funds.get("stop_payment_60min_rate"),
            "warnings_by_level": {str(k): v for k, v in sorted(r.warnings_by_level.items())},
            "precision_level3plus": e.precision_level3plus,
            "precision_by_level": {str(k): v for k, v in e.precision_by_level.items()},
            "recall_before_loss": e.recall_before_loss,
            "instructions": r.instructions,
            "on_time_rate": r.to_json()["on_time_rate"],
            "reach_rate": r.to_json()["reach_rate"],
            "dissuasion_success_rate": r.to_json()["dissuasion_success_rate"],
            "seconds": round(self.seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "cpu_by_stage": self.cpu_by_stage,
            "replay": r.to_json(),
            "funds": self.funds,
            "evaluation": e.to_json(),
            "users": [
                # printed this once, like the tables' passwords (no other way to log in)
                {
                    "username": u.username,
                    "role": u.role.value,
                    "where": u.where,
                    "secret": u.password,
                }
                for u in self.users
            ],
        }


def run_demo(
    app: App, folder: Path, progress: DemoProgress | None = None, *, users: bool = True
) -> DemoCard:
    """Run ``folder`` (a simulation) through the platform and score it (module docstring)."""
    shown = progress or DemoProgress()
    wall, cpu = time.perf_counter(), time.process_time()
    timer = CpuTimer()
    with timer("replay"):
        shown.stage("replay", _span(folder))
        card = replay_with_responders(app, folder, ReplayOptions(ingest=True), _by_window(shown))
    with timer("funds"):
        funds = replay_funds(app, folder, card.removed, shown, card.case_requests)
    with timer("evaluate"):
        shown.stage("evaluate", None)
        evaluation = evaluate(app.warnings_table(), folder)
    made: list[DemoUser] = []
    if users:
        with timer("users"):
            shown.stage("users", None)
            made = demo_users(app, _liaison_bank(app))
    spent = {f"replay.{k}": v for k, v in card.cpu_by_stage.items()}
    spent |= {k: round(v, 2) for k, v in timer.spent.items() if k != "replay"}
    return DemoCard(
        card,
        funds,
        evaluation,
        made,
        seconds=time.perf_counter() - wall,
        cpu_seconds=time.process_time() - cpu,
        cpu_by_stage=spent,
    )


def _span(folder: Path) -> float | None:
    """Simulated seconds from the manifest's start to its end (the replay bar's length)."""
    manifest = read_manifest(folder)
    try:
        start = dt.datetime.fromisoformat(str(manifest["start"]))
        end = dt.datetime.fromisoformat(str(manifest["end"]))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds()


def _by_window(progress: DemoProgress) -> Callable[[Window, int], None]:
    start: list[float] = []

    def show(window: Window, events: int) -> None:
        if not start:
            start.append(window.end.timestamp())
        progress.advance(max(0.0, window.end.timestamp() - start[0]), f"{events:,}")

    return show


def replay_funds(
    app: App,
    folder: Path,
    removed: frozenset[str],
    progress: DemoProgress,
    requests: Sequence[CaseRequest] = (),
) -> dict[str, Any]:
    """The funds replay over the police reports and transfers that still happened and the
    cases officers opened from "already defrauded" outcomes (:func:`case_reports`); the cases
    and orders are then stored in the platform (the desk and trace pages read them)."""
    reports = case_reports(sim_reports(folder, removed), requests)
    ledger = Ledger.build(sim_transfers(folder, removed))
    progress.stage("funds", len(reports))
    card, funds = funds_replay(
        reports, ledger, SimulatedBank(ledger), progress=lambda n: progress.advance(n)
    )
    stored = SqlFunds(app.store.sessions)
    for case in funds.repo.find_cases(limit=10**9):
        stored.create_case(case)
    for order in funds.repo.find_orders(limit=10**9):
        stored.create_order(order)
    return card


def case_reports(police: Sequence[Report], requests: Sequence[CaseRequest]) -> list[Report]:
    """The documents that open cases, once per lost payment: the victims' police reports and
    the reports of officers' "already defrauded" outcomes, earliest first. A victim (by
    phone) reached by an officer before going to the police has the case opened then; a later
    document of the same victim opens a case only for payments no earlier one named (the
    money lost since), so no payment is stopped, or counted as lost, twice."""
    documents = [*police, *(from_case_request(r, f"I-{r.instruction_id}") for r in requests)]
    documents.sort(key=lambda r: (r.received_at, r.report_id))
    named: dict[str, set[tuple[str, int, int]]] = {}
    out = []
    for doc in documents:
        if doc.victim_phone is None:
            out.append(doc)
            continue
        seen = named.setdefault(doc.victim_phone, set())
        keys = [_payment_key(p) for p in doc.payments]
        new = [p for p, k in zip(doc.payments, keys, strict=True) if k not in seen]
        seen.update(keys)
        if len(new) == len(doc.payments):
            out.append(doc)
        elif new:  # only the money lost since the earlier document
            out.append(doc.model_copy(update={"payments": tuple(new), "loss_fen": _sum(new)}))
    return out


def _payment_key(p: Payment) -> tuple[str, int, int]:
    paid = int(p.paid_at.timestamp()) if p.paid_at is not None else -1
    return p.account, p.amount_fen, paid


def _sum(payments: Sequence[Payment]) -> int:
    return sum(p.amount_fen for p in payments)


def _liaison_bank(app: App) -> str:
    """The bank with the most orders (the liaison then has work to see)."""
    counts: dict[str, int] = {}
    for order in SqlFunds(app.store.sessions).find_orders(limit=10**9):
        if order.bank:
            counts[order.bank] = counts.get(order.bank, 0) + 1
    return max(sorted(counts), key=lambda b: counts[b]) if counts else FALLBACK_BANK


def demo_users(app: App, bank: str) -> list[DemoUser]:
    """A city admin, a district dispatcher and two officers of that district's first two
    stations, each with a fresh password (an existing user of the same name gets a new
    one); and the bank liaison, which is a role for machines: an API token, not a login."""
    from fanzha.auth.passwords import generate_password

    units = list(app.store.reference.org_units())
    city = next(u for u in units if u.level == "city")
    district = next(u for u in units if u.level == "district")
    stations = [u for u in units if u.level == "station" and u.parent_code == district.code]
    wanted = [
        ("city.admin", Role.CITY_ADMIN, city),
        ("district.dispatcher", Role.DISTRICT_DISPATCHER, district),
        *((f"station{n}.officer", Role.STATION_OFFICER, s) for n, s in enumerate(stations[:2], 1)),
    ]
    made = []
    security = app.security
    for username, role, unit in wanted:
        password = generate_password()
        grant = Grant(role=role, unit=unit.code)
        try:
            security.add_user(username, unit.name, password, [grant], "demo")
        except DuplicateError:
            security.set_password(username, password, "demo")
        made.append(DemoUser(username, role, unit.code, unit.name, password))
    liaison = Grant(role=Role.BANK_LIAISON, bank=bank)
    _, token = security.create_token("bank.liaison", liaison, "demo")
    made.append(DemoUser("bank.liaison", Role.BANK_LIAISON, bank, "API token", token))
    return made
