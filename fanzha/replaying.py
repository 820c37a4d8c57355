"""Headless replay with simulated responders: a simulation's events through the whole platform
in accelerated event time, and the scorecard of what the platform achieved.

Per event-time window, in order:

1. the window's events, without those a stopped victim no longer causes
   (:mod:`fanzha.sim.victims`), are handed to detection as frames read straight from the
   simulation's files and, with ``ingest=True``, ingested into the lake too, gathered over
   windows into batches of a few hundred thousand rows (about 100,000 events per CPU
   second; one ingestion per 10-minute window managed 15,000);
2. detection (:meth:`fanzha.detect.engine.Engine.process`, watermark = the window's end)
   reports warnings created, upgraded and updated, each at its event time;
3. everything due before the window's end happens in time order on one platform clock: each
   warning change is dispatched (:meth:`fanzha.dispatching.Dispatcher.dispatch_warnings`, which
   also texts 低危 warnings through the SMS outbox), the simulated responders take their steps,
   and the scheduler escalates instructions whose deadline passed (it ticks every ``tick_s``
   seconds while a deadline is pending, like a cron job).

After the last window the engine is flushed and the responders finish the work in hand (at
most ``tail_s`` seconds after the last event). The warnings and instructions then replace the
platform's stored ones (``fanzha evaluate`` and ``fanzha kpi`` read them), the SMS outbox is in
``DATA/outbox/sms-replay.jsonl``, and the scorecard is computed: victims and money from the
simulation's truth as the victims reacted (:class:`fanzha.sim.victims.Money`), the dispatch
figures from the instructions (:mod:`fanzha.stats.kpi`).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from fanzha.detect.engine import Engine, EngineConfig
from fanzha.detect.intel_view import IntelView
from fanzha.detect.scoring import Change, signal_json
from fanzha.detection import build_engine, lake_files, persons_table, warning_rows
from fanzha.dispatch.effects import CaseRequest, IndicatorFeedback
from fanzha.dispatch.instruction import instruction_id
from fanzha.dispatch.repo import MemoryInstructionRepo
from fanzha.dispatch.routing import Location, Router
from fanzha.dispatching import Dispatcher, Registry
from fanzha.ingest.pipeline import Request
from fanzha.instructing import apply_feedback
from fanzha.model.clock import ManualClock
from fanzha.outbox import FileOutbox
from fanzha.service import App
from fanzha.sim.params import ResponderParams
from fanzha.sim.responders import (
    ResponderReport,
    SimulatedResponders,
    SimulatedSms,
    simulated_users,
)
from fanzha.sim.stream import REPLAY_ORDER, Window, iter_windows
from fanzha.sim.victims import Victims
from fanzha.stats.kpi import Kpis, instruction_figures, kpis
from fanzha.store import OrgUnitRow
from fanzha.store.instructions import SqlInstructions
from fanzha.store.warnings import SqlWarnings

OUTBOX_NAME = "sms-replay.jsonl"
PERSON_COLUMNS = ("id_number", "birth_date", "phones", "accounts", "community")


class ReplayError(ValueError):
    """The folder is not a simulation that can be replayed (the message says what is wrong)."""


@dataclass(frozen=True)
class ReplayOptions:
    """How a replay with responders runs."""

    window_s: float = 600.0
    tick_s: float = 60.0
    tail_s: float = 86_400.0
    ingest: bool = False
    #: ingested rows are gathered over windows and landed together once this many are
    #: waiting (and at the end): one lake file per type and day instead of one per window,
    #: since each ingestion has a fixed cost (detection reads the windows as they come)
    ingest_rows: int = 300_000
    seed: int | None = None  # None: the simulation's seed
    params: ResponderParams | None = None  # None: the simulation's responder parameters


@dataclass
class Scorecard:
    """What the platform achieved on a simulation (``to_json`` lists every key)."""

    victims: int
    protected_before_loss: int
    instructions: int
    on_time_rate: float | None
    reach_rate: float | None
    refusal_rate: float | None
    dissuasion_success_rate: float | None
    money_lost_fen: int
    money_saved_fen: int
    seconds: float
    cpu_seconds: float
    events: int
    windows: int
    warnings: int
    warnings_by_level: dict[int, int]
    escalated: int
    overdue_open: int
    home_visits: int
    calls: int
    dissuaded: int  # scams stopped by an officer (phone or visit)
    dissuasion_outcomes: int  # outcomes recorded as dissuaded (a person may be twice)
    stopped_by: dict[str, int]
    sms_sent: int
    sms_heeded: int
    cases_opened: int
    payments_removed: int
    paid_after_stop: int
    kpi: Kpis
    indicator_feedback: dict[str, int] = field(default_factory=dict)  # raise / lower
    indicators_adjusted: int = 0
    problems: list[str] = field(default_factory=list)
    ingested: bool = False
    cpu_by_stage: dict[str, float] = field(default_factory=dict)
    #: event ids the victims no longer caused (payments, rebates, laundering, reports):
    #: what later stages (the funds replay) must leave out too; not in the JSON
    removed: frozenset[str] = field(default_factory=frozenset, repr=False)
    #: the case requests of "already defrauded" outcomes, in time order; not in the JSON
    case_requests: list[CaseRequest] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        """One JSON object (the headline keys first)."""

        def rate(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "victims": self.victims,
            "protected_before_loss": self.protected_before_loss,
            "instructions": self.instructions,
            "on_time_rate": rate(self.on_time_rate),
            "reach_rate": rate(self.reach_rate),
            "refusal_rate": rate(self.refusal_rate),
            "dissuasion_success_rate": rate(self.dissuasion_success_rate),
            "money_lost_fen": self.money_lost_fen,
            "money_saved_fen": self.money_saved_fen,
            "seconds": round(self.seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "cpu_by_stage": self.cpu_by_stage,
            "events": self.events,
            "windows": self.windows,
            "ingested": self.ingested,
            "warnings": self.warnings,
            "warnings_by_level": {str(k): v for k, v in sorted(self.warnings_by_level.items())},
            "escalated": self.escalated,
            "overdue_open": self.overdue_open,
            "home_visits": self.home_visits,
            "calls": self.calls,
            "dissuaded": self.dissuaded,
            "dissuasion_outcomes": self.dissuasion_outcomes,
            "stopped_by": dict(sorted(self.stopped_by.items())),
            "sms_sent": self.sms_sent,
            "sms_heeded": self.sms_heeded,
            "cases_opened": self.cases_opened,
            "payments_removed": self.payments_removed,
            "paid_after_stop": self.paid_after_stop,
            "indicator_feedback": dict(sorted(self.indicator_feedback.items())),
            "indicators_adjusted": self.indicators_adjusted,
            "kpi": self.kpi.to_json(),
            "problems": self.problems[:20],
        }


Progress = Callable[[Window, int], None]


class CpuTimer:
    """CPU seconds spent per stage (the machine may be shared: wall time would mislead)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.process_time()
        try:
            yield
        finally:
            self.spent[stage] = self.spent.get(stage, 0.0) + time.process_time() - start


@dataclass
class _Run:
    """The platform pieces one replay wires together."""

    engine: Engine
    dispatcher: Dispatcher
    repo: MemoryInstructionRepo
    clock: ManualClock
    registry: Registry
    responders: SimulatedResponders
    victims: Victims
    report: ResponderReport
    options: ReplayOptions
    whereabouts: Whereabouts = field(default_factory=lambda: Whereabouts())
    adjusted: int = 0  # indicator confidences moved by outcome feedback
    timings: CpuTimer = field(default_factory=lambda: CpuTimer())
    next_tick: dt.datetime | None = None
    dispatched: dict[str, int] = field(default_factory=dict)  # warning → last change (epoch s)
    events: int = 0
    windows: int = 0
    problems: list[str] = field(default_factory=list)


def replay_with_responders(
    app: App,
    folder: Path,
    options: ReplayOptions | None = None,
    progress: Progress | None = None,
) -> Scorecard:
    """Run ``folder`` (a simulation) through the platform with simulated responders."""
    options = options or ReplayOptions()
    manifest = read_manifest(folder)
    wall, cpu = time.perf_counter(), time.process_time()
    timings = CpuTimer()
    with timings("setup"):
        run = _wire(app, folder, manifest, options)
    run.timings = timings
    ingest = _Ingester(app, folder, options.ingest_rows) if options.ingest else None
    clock = run.timings
    for window in _windows(folder, manifest, options, app.settings.timezone):
        _window(run, window, ingest)
        run.windows += 1
        if progress is not None:
            progress(window, run.events)
    if ingest is not None:
        with clock("ingest"):
            ingest.flush()
    with clock("dispatch"):
        _finish(run, manifest)
    with clock("store"):
        _store(app, run)
        run.adjusted = apply_feedback(app, run.report.feedback, "replay")
        if ingest is not None:  # the lake holds what the engine read: serve continues from it
            from fanzha.live import adopt

            adopt(app, run.engine, lake_files(app.lake))
    with clock("scorecard"):
        card = _scorecard(run, 0.0, 0.0, ingest)
    card.seconds, card.cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    card.cpu_by_stage = {k: round(v, 2) for k, v in run.timings.spent.items()}
    card.removed = frozenset(run.victims.removed)
    card.case_requests = list(run.report.case_requests)
    return card


# ---------------------------------------------------------------------- wiring


def read_manifest(folder: Path) -> dict[str, Any]:
    """The simulation's manifest, checked to describe a folder with events, registry, truth."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise ReplayError(f"{path}: no such file (expected a simulation folder)")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReplayError(f"{path}: not JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ReplayError(f"{path}: expected an object")
    for part in ("events", "registry", "truth"):
        if not (folder / part).is_dir():
            raise ReplayError(f"{folder / part}: no such folder (expected a simulation)")
    return manifest


def responder_params(manifest: Mapping[str, Any]) -> ResponderParams:
    """The simulation's responder parameters (the defaults when it has none)."""
    raw = (manifest.get("parameters") or {}).get("responders")
    if raw is None:
        return ResponderParams()
    try:
        return ResponderParams.model_validate(raw)
    except ValidationError as exc:
        raise ReplayError(f"manifest.json parameters.responders: {exc}") from None


def _wire(app: App, folder: Path, manifest: Mapping[str, Any], options: ReplayOptions) -> _Run:
    persons = _registry(app, folder, manifest, options)
    engine = build_engine(persons, IntelView(app.intel_index()), EngineConfig())
    org = app.load_org()  # the registry's units, the org file's policies and routing
    if org is None:
        raise ReplayError("the simulation's registry has no org units")
    tree = org.with_users(simulated_users(org))
    start = dt.datetime.fromisoformat(str(manifest.get("start") or "1970-01-01T00:00:00+00:00"))
    clock = ManualClock(start - dt.timedelta(days=366))  # accounts open weeks before the start
    repo = MemoryInstructionRepo(copies=False)
    victims = Victims.from_truth(folder)
    params = options.params or responder_params(manifest)
    seed = options.seed if options.seed is not None else int(manifest.get("seed", 0))
    report = ResponderReport()
    outbox = FileOutbox(app.settings.data_dir / "outbox" / OUTBOX_NAME)
    outbox.path.unlink(missing_ok=True)  # a replay's outbox starts empty
    sms = SimulatedSms(outbox, victims, params, seed, report)
    dispatcher = Dispatcher(repo, Router(tree, app.routing), clock, sms=sms)
    registry = Registry.from_table(persons)
    responders = SimulatedResponders(
        dispatcher,
        clock,
        victims,
        params,
        seed=seed,
        community=registry.community,
        report=report,
    )
    return _Run(
        engine,
        dispatcher,
        repo,
        clock,
        registry,
        responders,
        victims,
        report,
        options,
    )


def _registry(
    app: App, folder: Path, manifest: Mapping[str, Any], options: ReplayOptions
) -> pa.Table:
    """The residents (for detection and routing); the units land in the store either way.

    With ``ingest`` (or a simulation written as NDJSON) the registry goes through ingestion
    like any provider's file; otherwise the simulator's Parquet is read directly, as the
    events are, and only the units are stored (for routing and ``fanzha kpi``): validating
    every resident again costs seconds and tells nothing new about the simulator's output."""
    registry = folder / "registry"
    if options.ingest or manifest.get("format") != "parquet":
        app.ingest(Request([registry]))
        return persons_table(app.store.sessions)
    units = pq.read_table(registry / "org_unit.parquet").to_pylist()
    app.store.reference.upsert_org_units(
        [
            OrgUnitRow(r["code"], r["name"], r["level"], r.get("parent_code"), r.get("name_en"))
            for r in units
        ]
    )
    return pq.read_table(registry / "person.parquet", columns=list(PERSON_COLUMNS))


class _Ingester:
    """Lands the replayed windows in the lake through the ingestor (every record validated
    and de-duplicated as any provider's), a few hundred thousand rows at a time."""

    def __init__(self, app: App, folder: Path, rows: int) -> None:
        self.app, self.folder, self.rows = app, folder, rows
        self.waiting: dict[str, list[pa.Table]] = {}
        self.count = 0

    def __call__(self, tables: Mapping[str, pa.Table]) -> None:
        for event_type, table in tables.items():
            if table.num_rows:
                self.waiting.setdefault(event_type, []).append(table)
                self.count += table.num_rows
        if self.count >= self.rows:
            self.flush()

    def flush(self) -> None:
        """Ingest what is waiting, type by type in replay order."""
        for event_type in REPLAY_ORDER:
            parts = self.waiting.pop(event_type, [])
            if parts:
                table = pa.concat_tables(parts, promote_options="permissive")
                source = str(self.folder / "events" / event_type)
                self.app.ingest_table(table, event_type, source=source)
        self.count = 0


# ---------------------------------------------------------------------- the event-time loop


def _windows(
    folder: Path, manifest: Mapping[str, Any], options: ReplayOptions, tz: str
) -> Iterator[Window]:
    """The simulation's windows: the weeks before its start (accounts and SIMs opened ahead,
    a few events a day) in day-long windows, then ``window_s`` windows; every event once."""
    events = folder / "events"
    start = manifest.get("start")
    if not start:
        yield from iter_windows(events, options.window_s, tz=tz)
        return
    begin = dt.datetime.fromisoformat(str(start))
    yield from iter_windows(events, max(options.window_s, 86_400.0), until=begin, tz=tz)
    yield from iter_windows(events, options.window_s, since=begin, tz=tz)


def _window(run: _Run, window: Window, ingest: _Ingester | None) -> None:
    """One window through the platform, cut where a conversation under way will stop a
    person who still pays inside it: the stop must come before the platform sees (and the
    victim makes) the payments after it, whatever the window size. Detection does not depend
    on where batches are cut."""
    clock, end = run.timings, int(window.end.timestamp())
    with clock("victims"):
        tables = run.victims.filter(window.tables, end)
    start = int(window.start.timestamp())
    while True:
        with clock("victims"):
            cut = _cut(run, start, end)
        chunk, rest = (tables, None) if cut is None else _split(tables, cut)
        upto = end if cut is None else cut
        if ingest is not None:
            with clock("ingest"):
                ingest(chunk)
        with clock("detection"):
            result = run.engine.process(chunk, upto)
        run.whereabouts.add(chunk.get("call"))
        run.victims.frontier = upto
        with clock("dispatch"):
            _drain(run, _significant(result.changes), _time(upto))
        run.events += sum(t.num_rows for t in chunk.values())
        if rest is None:
            return
        start = upto
        with clock("victims"):
            tables = run.victims.filter(rest, end)


def _cut(run: _Run, start: int, end: int) -> int | None:
    """The second after the first persuasive talk ending in ``[start, end)`` whose person
    still pays before ``end`` (None: no need to cut)."""
    for at, id_number, phone in run.responders.stops_due(_time(end)):
        moment = max(int(at.timestamp()), start)
        if run.victims.pays_between(id_number, phone, moment, end):
            cut = moment + 1
            return cut if cut < end else None
    return None


def _split(
    tables: Mapping[str, pa.Table], cut: int
) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    """Each (time-sorted) table's rows before ``cut`` (epoch s), and the rest."""
    before, after = {}, {}
    for name, table in tables.items():
        ts = table.column("ts").cast(pa.int64()).to_numpy()  # µs since the epoch
        n = int(np.searchsorted(ts, cut * 1_000_000, side="left"))
        before[name], after[name] = table.slice(0, n), table.slice(n)
    return before, after


class Whereabouts:
    """Where each phone's latest call was handled (the CDR's city and county), as the call
    records stream past: routing asks for it at the moment of each dispatch."""

    def __init__(self) -> None:
        self.last: dict[str, Location] = {}
        self._rows: list[tuple[int, str, str, str | None, str]] = []  # not yet applied
        self._next = 0

    def add(self, calls: pa.Table | None) -> None:
        """A batch of call records (time-sorted), applied as time passes."""
        self.advance(None)
        if calls is None or not calls.num_rows:
            return
        cols = calls.select(["ts", "caller", "callee", "city", "county"])
        ts = cols.column("ts").cast(pa.int64()).to_numpy() // 1_000_000
        rows = zip(
            ts.tolist(), *(cols.column(c).to_pylist() for c in cols.column_names[1:]), strict=True
        )
        self._rows = [r for r in rows if r[4]]
        self._next = 0

    def advance(self, until: int | None) -> None:
        """Apply the calls made up to ``until`` (epoch s; None: all of them)."""
        rows, k = self._rows, self._next
        while k < len(rows) and (until is None or rows[k][0] <= until):
            at, caller, callee, city, county = rows[k]
            where = Location(city=city, county=county, at=_time(at))
            self.last[caller] = self.last[callee] = where
            k += 1
        self._next = k

    def of(self, phones: list[str], at: int) -> Location | None:
        """The latest place any of ``phones`` was seen by ``at``."""
        self.advance(at)
        seen = [self.last[p] for p in phones if p in self.last]
        return max(seen, key=lambda w: w.at or _time(0), default=None)


def _significant(changes: list[Change]) -> list[Change]:
    """Creations and upgrades, and of a warning's evidence-only updates the last one."""
    last_update: dict[str, int] = {}
    for k, change in enumerate(changes):
        if change.action == "updated":
            last_update[change.warning.warning_id] = k
    keep = [
        c
        for k, c in enumerate(changes)
        if not c.warning.shadow
        and (c.action != "updated" or last_update[c.warning.warning_id] == k)
    ]
    return sorted(keep, key=lambda c: c.at)


def _drain(run: _Run, changes: list[Change], until: dt.datetime) -> None:
    """Dispatch, responder steps and scheduler ticks before ``until``, in time order."""
    pending: Iterator[Change] = iter(changes)
    change = next(pending, None)
    while True:
        when = [
            (_time(change.at), 0) if change is not None else None,
            (run.next_tick, 1) if run.next_tick is not None else None,
            (at, 2) if (at := run.responders.next_at()) is not None else None,
        ]
        due = min((w for w in when if w is not None and w[0] < until), default=None)
        if due is None:
            return
        if due[1] == 0 and change is not None:
            _dispatch(run, change)
            change = next(pending, None)
        elif due[1] == 1:
            _tick(run)
        else:
            run.responders.step()
        _plan_tick(run)


def _dispatch(run: _Run, change: Change) -> None:
    w = change.warning
    run.clock.set(max(run.clock.now(), _time(change.at)))
    level = max((lvl for lvl, at in w.level_at.items() if at <= change.at), default=w.level)
    key = run.engine.subject_key(w.subject)
    id_number = key if ":" not in key else None
    # A resident's warning is keyed by ID number: the registry has the number to call.
    numbers = run.registry.phones_of.get(key, [])
    phone = key.split(":", 1)[1] if key.startswith("phone:") else next(iter(numbers), None)
    row = {
        "warning_id": w.warning_id,
        "subject": key,
        "id_number": id_number,
        "phone": phone,
        "level": level,
        "score": float(w.score),
        "fraud_type": w.fraud_type or None,
        "shadow": False,
    }
    # Only the evidence since this warning's last dispatch: the instruction has the rest.
    since = run.dispatched.get(w.warning_id, -1)
    signals = [signal_json(s) for s in w.signals() if since <= s.at <= change.at]
    run.dispatched[w.warning_id] = change.at
    phones = numbers or ([phone] if phone else [])
    where = run.whereabouts.of(phones, change.at)
    locations = {phone: where} if phone and where is not None else None
    report = run.dispatcher.dispatch_rows([row], run.registry, {w.warning_id: signals}, locations)
    run.problems.extend(str(p) for p in report.problems)
    run.responders.notice(instruction_id(w.warning_id))


def _tick(run: _Run) -> None:
    assert run.next_tick is not None
    run.clock.set(max(run.clock.now(), run.next_tick))
    run.next_tick = None
    for iid in run.dispatcher.escalate_overdue().escalated:
        run.responders.notice(iid)


def _plan_tick(run: _Run) -> None:
    """The scheduler's next run: the first tick after the earliest pending deadline."""
    due = run.repo.earliest_due()
    if due is None:
        run.next_tick = None
        return
    step = run.options.tick_s
    # A deadline passes the instant after it; one still overdue after a tick (nowhere higher
    # to send it) is looked at again a tick later.
    seconds = max(due, run.clock.now()).timestamp()
    run.next_tick = dt.datetime.fromtimestamp((seconds // step + 1) * step, dt.UTC)


def _finish(run: _Run, manifest: Mapping[str, Any]) -> None:
    """Flush detection, then let the responders finish (up to ``tail_s`` after the end)."""
    final = run.engine.flush()
    end = run.clock.now()
    if manifest.get("end"):
        end = max(end, dt.datetime.fromisoformat(str(manifest["end"])))
    changes = _significant(final.changes)
    if changes:
        end = max(end, _time(changes[-1].at))
    _drain(run, changes, end + dt.timedelta(seconds=run.options.tail_s))


def _store(app: App, run: _Run) -> None:
    warnings = SqlWarnings(app.store.sessions)
    warnings.clear()
    warnings.upsert_many(warning_rows(run.engine))
    SqlInstructions(app.store.sessions).replace_all(run.repo.all())


def _scorecard(
    run: _Run, seconds: float, cpu: float, ingest: Callable[..., None] | None
) -> Scorecard:
    instructions = run.repo.all()
    as_of = run.clock.now()
    table = kpis(instructions, as_of)
    figures = instruction_figures(instructions, as_of)
    money = run.victims.money()
    total = table.total
    by_level: dict[int, int] = {}
    for w in run.engine.scorer.warnings.values():
        by_level[w.level] = by_level.get(w.level, 0) + 1
    return Scorecard(
        victims=money.victims,
        protected_before_loss=money.protected_before_loss,
        instructions=figures.instructions,
        on_time_rate=figures.on_time_rate,
        reach_rate=total.reach_rate,
        refusal_rate=total.refusal_rate,
        dissuasion_success_rate=total.dissuasion_rate,
        money_lost_fen=money.lost_fen,
        money_saved_fen=money.saved_fen,
        seconds=seconds,
        cpu_seconds=cpu,
        events=run.events,
        windows=run.windows,
        warnings=sum(by_level.values()),
        warnings_by_level=by_level,
        escalated=figures.escalated,
        overdue_open=figures.overdue_open,
        home_visits=figures.home_visits,
        calls=total.calls,
        dissuaded=sum(n for how, n in money.stopped_by.items() if how != "sms"),
        dissuasion_outcomes=total.dissuaded,
        stopped_by=money.stopped_by,
        sms_sent=run.report.sms,
        sms_heeded=run.report.sms_heeded,
        cases_opened=run.report.cases,
        payments_removed=money.payments_removed,
        paid_after_stop=money.paid_after_stop,
        kpi=table,
        indicator_feedback=_directions(run.report.feedback),
        indicators_adjusted=run.adjusted,
        problems=[*run.problems, *run.report.problems],
        ingested=ingest is not None,
    )


def _directions(feedback: list[IndicatorFeedback]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in feedback:
        out[item.direction.value] = out.get(item.direction.value, 0) + 1
    return out


def _time(epoch_s: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC)
