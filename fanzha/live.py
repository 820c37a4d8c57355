"""The live loop of ``fanzha serve``: detection of every ingested event, dispatch of the warnings
it finds, and the scheduler (escalation, bank answers, order expiry, extended stop-payment).

**Detection.** Every lake commit (ingestion through the API, :meth:`App.ingest`,
:meth:`App.ingest_table`, a dead-letter retry) tells :class:`LiveDetection` its files, and the
loop's thread wakes at once. The new files are read back from the lake and go through one
long-lived :class:`~fanzha.detect.engine.Engine` in event-time windows by
:func:`~fanzha.detection.lake_windows` — the same reader, windows and engine as
``fanzha detect``. Every new or upgraded warning is stored (upsert by warning id, the row
``fanzha detect`` writes) and dispatched at once through the app's Dispatcher (instructions,
bus events for the SSE pages and webhooks, the SMS outbox for 低危). Rows later than the
engine's grace are dead-lettered, as in ``fanzha detect``.

**Watermark.** ``newest`` is the latest moment any accepted event became known (its ``ts``;
a call's end). The engine runs every row before

    watermark = max(newest - hold, min(clock - hold, newest)) + 1        (hold = live_hold_s)

so a row waits until an event ``hold`` seconds newer arrives (rows from several providers
get ``hold`` seconds to line up) or until the platform clock is ``hold`` seconds past it (a
quiet stream still runs its last rows). The clock never pushes the watermark beyond the
newest event: events replayed from the past (a simulation, a backlog) are not declared late
because wall time is ahead of them.

**State.** The engine's snapshot and the set of lake files it has read are written to
``data_dir/live`` every ``live_snapshot_s`` seconds and at shutdown; a start restores them and
reads every lake file not in the set first (what was committed after the last snapshot, or by
another process), so a pattern split across a restart still fires. Without a snapshot the
whole lake is read (a first start; changes older than ``live_max_age_s`` are stored, not
dispatched). ``fanzha detect`` over the whole lake writes its final engine as the snapshot.

**Scheduler.** Every ``live_tick_s`` seconds of wall time, deciding on the platform clock:
escalate overdue instructions, apply the banks' answers, lapse orders past their legal term
(a stop-payment's 48 h), and feed the transfers detection has newly read to the funds' ledger
(appended, no rebuild), which extends every open case (orders or one-click proposals).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.detect.engine import BatchResult, Engine
from fanzha.detect.intel_view import IntelView
from fanzha.detect.registry import Registry as DetectRegistry
from fanzha.detect.scoring import Change
from fanzha.detection import (
    build_engine,
    lake_files,
    lake_windows,
    late_letters,
    persons_table,
    restore_engine,
    warning_row,
)
from fanzha.dispatch.scheduler import SCHEDULER
from fanzha.dispatching import Registry, call_locations
from fanzha.intel.index import IntelIndex
from fanzha.intel.repo import rewind
from fanzha.warming import warm_kernels

if TYPE_CHECKING:
    from fanzha.dispatching import Dispatcher
    from fanzha.service import App

log = logging.getLogger(__name__)

LIVE_DIR = "live"
STATE_NAME = "state.json"
#: event-time windows of a catch-up (the ``fanzha detect`` default)
WINDOW_S = 3600.0


# ---------------------------------------------------------------------- the snapshot on disk


@dataclass
class Saved:
    """A live snapshot: the engine, the lake files it has read, the newest event time."""

    engine: bytes
    files: set[str]
    newest: int | None
    #: the indicators' latest audit row the engine had taken (None: an older snapshot)
    intel_seq: int | None = None


class LiveSnapshots:
    """The live engine's snapshot in one folder: the engine's bytes first, then
    ``state.json`` naming them (each renamed into place), so a crash leaves the last pair."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self) -> Saved | None:
        """The last snapshot (None: none, or unreadable)."""
        state = self.folder / STATE_NAME
        if not state.is_file():
            return None
        try:
            meta = json.loads(state.read_text("utf-8"))
            data = (self.folder / meta["engine"]).read_bytes()
            return Saved(data, set(meta["files"]), meta.get("newest"), meta.get("intel_seq"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("live snapshot in %s is unreadable, starting over: %s", self.folder, exc)
            return None

    def save(
        self, engine: bytes, files: Iterable[str], newest: int | None, intel_seq: int | None
    ) -> None:
        """Write a snapshot (and drop the previous one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"engine-{time.time_ns()}.snap"
        _write_atomic(self.folder / name, engine)
        meta = {"engine": name, "files": sorted(files), "newest": newest, "intel_seq": intel_seq}
        _write_atomic(self.folder / STATE_NAME, json.dumps(meta).encode())
        for old in self.folder.glob("engine-*.snap"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def reset(self) -> None:
        """Forget the snapshot (the next start reads the whole lake)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def snapshots_of(app: App) -> LiveSnapshots:
    """The live snapshot folder of an app (``data_dir/live``)."""
    return LiveSnapshots(app.settings.data_dir / LIVE_DIR)


def adopt(app: App, engine: Engine, files: Sequence[Path]) -> None:
    """Make a batch engine that has read ``files`` (all of the lake) the live state: what
    ``fanzha detect`` does, so that ``fanzha serve`` continues where the batch ended."""
    rel = [_rel(app, p) for p in files]
    seq = app.intel.latest_change()
    snapshots_of(app).save(engine.snapshot(), rel, engine.watermark, seq)


def _rel(app: App, path: Path) -> str:
    return path.relative_to(app.lake.root).as_posix()


# ---------------------------------------------------------------------- times


def live_watermark(newest: int | None, now: int, hold_s: int) -> int | None:
    """The engine runs every row known before this (epoch s): see the module docstring."""
    if newest is None:
        return None
    return max(newest - hold_s, min(now - hold_s, newest)) + 1


def newest_known(tables: Mapping[str, pa.Table]) -> int | None:
    """The latest moment (epoch s) any row became known: its ``ts``, a call's end."""
    found: list[int] = []
    for event_type, table in tables.items():
        if table.num_rows == 0:
            continue
        micros = table["ts"].combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
        if event_type == "call":
            talk = pc.fill_null(table["duration_s"], 0).combine_chunks().cast(pa.int64())
            micros = micros + talk.to_numpy(zero_copy_only=False) * 1_000_000
        found.append(int(np.max(micros)) // 1_000_000)
    return max(found) if found else None


# ---------------------------------------------------------------------- detection


@dataclass
class StepReport:
    """What one live detection step did."""

    files: int = 0
    events: int = 0
    late: int = 0
    warnings: int = 0  # warnings stored (new or changed)
    dispatched: int = 0  # instructions issued or updated
    too_old: int = 0  # changes stored but older than live_max_age_s: not dispatched
    problems: list[str] = field(default_factory=list)


@dataclass
class _Outcome:
    """What the engine's batches of one step produced: the last change of each warning,
    and the rows set aside as late."""

    latest: dict[str, Change] = field(default_factory=dict)
    late_rows: list[tuple[str, str, int]] = field(default_factory=list)

    def add(self, result: BatchResult) -> None:
        self.late_rows += result.late_rows
        for change in (*result.changes, *result.shadow_changes):
            self.latest[change.warning.warning_id] = change


class LiveDetection:
    """One long-lived engine fed the lake's new files as they are committed."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.settings = app.settings
        self.snapshots = snapshots_of(app)
        self.engine: Engine | None = None
        self.fed: set[str] = set()  # lake files read, relative to the lake root
        self.newest: int | None = None
        #: transfer files read since the funds last took them
        self.new_transfers: list[Path] = []
        self.scan_due = True  # look for files no commit told us of (start, other processes)
        self._offered: list[Path] = []
        self._offer_lock = threading.Lock()
        self._lock = threading.RLock()
        self._stale = False
        self._intel_seq = 0
        self._carry = _Outcome()  # what the engine produced that is not stored yet
        self.routing = Registry({})

    def offer(self, files: Iterable[Path]) -> None:
        """Files a commit made visible (any thread; read at the next step)."""
        with self._offer_lock:
            self._offered.extend(files)

    def registry_changed(self) -> None:
        """Residents changed: the next refresh gives the engine the new registry."""
        self._stale = True

    # ------------------------------------------------------------------ state

    def open(self) -> None:
        """Restore the engine from the last snapshot, else build a fresh one."""
        with self._lock:
            persons = persons_table(self.app.store.sessions)
            self._intel_seq = self.app.intel.latest_change()
            intel = IntelView(self.app.intel_index())
            saved = self.snapshots.load()
            engine = None
            if saved is not None:
                try:
                    engine = restore_engine(saved.engine, persons, intel)
                    engine.relook_pending()  # the intelligence may have changed meanwhile
                    self.fed, self.newest = saved.files, saved.newest
                except (ValueError, KeyError) as exc:  # another format: read the lake again
                    log.warning("live snapshot not restored (%s): reading the whole lake", exc)
                else:
                    self._look_back_since(engine, saved.intel_seq)
            self.engine = engine or build_engine(persons, intel)
            self._registry(persons)
            self.scan_due = True

    def _look_back_since(self, engine: Engine, seq: int | None) -> None:
        """Indicators that changed while the engine was down look back as a reload would:
        the old base is today's with those audit rows undone."""
        if seq is None or seq >= self._intel_seq:
            return
        now = self.app.clock.now()
        before = rewind(self.app.intel.all(), self.app.intel.changes_since(seq))
        old = IntelIndex.build(before, at=now)
        self._carry.add(engine.look_back_intel(old, int(now.timestamp())))

    def snapshot(self) -> None:
        """Write the engine and the files it has read to ``data_dir/live``."""
        with self._lock:
            if self.engine is not None:
                self.snapshots.save(self.engine.snapshot(), self.fed, self.newest, self._intel_seq)

    def refresh(self, *, intel: bool = True) -> bool:
        """Take what changed since the engine was built: new residents or, with ``intel``, new
        indicators (a new base, then a look back over the contacts); True when something did."""
        with self._lock:
            if self.engine is None:
                return False
            seq = self.app.intel.latest_change() if intel else self._intel_seq
            if not self._stale and seq == self._intel_seq:
                return False
            old = self.engine.intel.base
            # Rows waiting for the watermark carry verdicts (and indicator numbers) of the old
            # base: they run now, a little early (within the grace, as any late row would).
            self._carry.add(self.engine.flush())
            if self._stale:  # new residents, in place
                persons = persons_table(self.app.store.sessions)
                self.engine.use_registry(DetectRegistry(persons))
                self._registry(persons)
            if seq != self._intel_seq:  # a new base, in place (verdicts looked up again),
                self.engine.use_intel(self.app.intel_index())  # then who was in touch
                now = int(self.app.clock.now().timestamp())
                self._carry.add(self.engine.look_back_intel(old, now))
            self._stale, self._intel_seq = False, seq
            return True

    def _registry(self, persons: pa.Table) -> None:
        self.routing = Registry.from_table(persons)

    # ------------------------------------------------------------------ steps

    def step(self) -> StepReport:
        """Read the new files through the engine, then let the clock release held rows;
        store and dispatch what changed (each warning once, as it stands at the end)."""
        with self._lock:
            if self.engine is None:
                self.open()
            self.refresh(intel=False)  # residents first: the new rows may be theirs
            # Changes a failed step could not store or dispatch are handled now (idempotent).
            report, out = StepReport(), self._carry
            files = self._take()
            if files:
                self._run_files(files, report, out)
            self._release(out)
            self._handle(out, report)
            self._carry = _Outcome()
            return report

    def _take(self) -> list[Path]:
        with self._offer_lock:
            offered, self._offered = self._offered, []
        if self.scan_due:
            self.scan_due = False
            offered += lake_files(self.app.lake)
        fresh: dict[str, Path] = {}
        for path in offered:
            rel = _rel(self.app, path)
            if rel not in self.fed and path.is_file():
                fresh[rel] = path
        return list(fresh.values())

    def _run_files(self, files: list[Path], report: StepReport, out: _Outcome) -> None:
        engine = self._engine()
        report.files += len(files)
        for window in lake_windows(self.app.lake, WINDOW_S, files=files):
            seen = newest_known(window.tables)
            if seen is not None:
                self.newest = seen if self.newest is None else max(self.newest, seen)
            mark = self._watermark()
            end = int(window.end.timestamp())
            out.add(engine.process(window.tables, end if mark is None else min(end, mark)))
            report.events += window.events
        self.fed.update(_rel(self.app, p) for p in files)
        root = self.app.lake.root
        self.new_transfers += [p for p in files if p.relative_to(root).parts[0] == "transfer"]

    def _release(self, out: _Outcome) -> None:
        """Advance the watermark on the clock (a quiet stream's last rows run)."""
        engine = self._engine()
        mark = self._watermark()
        if mark is not None and (engine.watermark is None or mark > engine.watermark):
            out.add(engine.process({}, mark))

    def _watermark(self) -> int | None:
        now = int(self.app.clock.now().timestamp())
        return live_watermark(self.newest, now, self.settings.live_hold_s)

    def ready(self) -> Engine:
        """The engine, restored from the last snapshot (or built) if not yet open."""
        return self._engine()

    def _engine(self) -> Engine:
        if self.engine is None:
            self.open()
        assert self.engine is not None
        return self.engine

    # ------------------------------------------------------------------ results

    def _handle(self, out: _Outcome, report: StepReport) -> None:
        engine = self._engine()
        if out.late_rows:
            self.app.store.dead_letters.add_many(late_letters(out.late_rows, engine.config.grace_s))
            report.late += len(out.late_rows)
        if not out.latest:
            return
        titles = engine.titles()
        rows = {wid: warning_row(engine, c.warning, titles) for wid, c in out.latest.items()}
        self.app.warnings.upsert_many(list(rows.values()))
        report.warnings += len(rows)
        cutoff = int(self.app.clock.now().timestamp()) - self.settings.live_max_age_s
        due = [wid for wid, c in out.latest.items() if not c.warning.shadow]
        fresh = [rows[wid] for wid in due if out.latest[wid].at >= cutoff]
        report.too_old += len(due) - len(fresh)
        if fresh:
            self._dispatch(fresh, report)

    def _dispatch(self, rows: list[dict[str, Any]], report: StepReport) -> None:
        dispatcher = _dispatcher(self.app)
        if dispatcher is None:
            report.problems.append("no org units are loaded: warnings stored, not dispatched")
            return
        # A resident's warning is keyed by ID number: the registry has the number to call.
        call = self.routing.phone_to_call
        ready = [{**r, "phone": r["phone"] or call(r["id_number"])} for r in rows]
        evidence = {r["warning_id"]: r["signals"] for r in ready}
        # Where each person was last seen (the latest call's county, within a day): someone
        # away from home brings in the local duty desk (routing rules of the org file).
        since = self.app.clock.now() - dt.timedelta(days=1)
        phones = [r["phone"] for r in ready if r["phone"]]
        where = call_locations(self.app.lake, phones, since) if phones else {}
        done = dispatcher.dispatch_rows(ready, self.routing, evidence, where)
        report.dispatched += done.issued + done.updated
        report.problems += [str(p) for p in done.problems]


def _dispatcher(app: App) -> Dispatcher | None:
    from fanzha.instructing import NoOrgTreeError

    try:
        return app.dispatcher
    except NoOrgTreeError:
        return None


# ---------------------------------------------------------------------- the scheduler


@dataclass
class TickReport:
    """What one scheduler tick did."""

    detection: StepReport = field(default_factory=StepReport)
    escalated: list[str] = field(default_factory=list)
    answers: int = 0
    expired: list[str] = field(default_factory=list)
    extended: int = 0  # extended orders or proposals placed on new transfers


class LiveLoop:
    """The background thread of ``fanzha serve``: detection as commits arrive, the scheduler
    every ``live_tick_s`` seconds, a snapshot every ``live_snapshot_s`` and at the end."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.detection = LiveDetection(app)
        self.ticks = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def attach(self) -> None:
        """Listen to the lake's commits (without the thread, a caller steps and ticks)."""
        if self._committed not in self.app.lake.listeners:
            self.app.lake.listeners.append(self._committed)

    def start(self) -> None:
        """Listen to the lake's commits and start the thread."""
        if self.running:
            return
        self._stop.clear()
        self.attach()
        self._thread = threading.Thread(target=self._run, name="fanzha-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (after the step in hand) and write the snapshot."""
        if self._committed in self.app.lake.listeners:
            self.app.lake.listeners.remove(self._committed)
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join()
        if self.detection.engine is not None:
            self.detection.snapshot()

    def _committed(self, files: list[Path]) -> None:
        self.detection.offer(files)
        self._wake.set()

    def _run(self) -> None:
        warm_kernels()  # the first batch or trace should not wait for the compiled loops
        # The state loaded (and readied for small calls) before traffic.
        settings = self.app.settings
        ahead = settings.live_residents_ahead
        _guarded("live start", lambda: self.detection.ready().prepare_live(residents=ahead))
        settle_heap()
        next_tick = time.monotonic()
        next_snapshot = next_tick + settings.live_snapshot_s
        while not self._stop.is_set():
            self._wake.wait(max(0.0, next_tick - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                return
            now = time.monotonic()
            if now >= next_tick:
                _guarded("scheduler tick", self.tick)
                next_tick = time.monotonic() + settings.live_tick_s
            else:
                _guarded("live detection", self.detection.step)
            if now >= next_snapshot:
                _guarded("live snapshot", self.detection.snapshot)
                settle_heap()  # what the calls since made: out of later collections too
                self.detection.scan_due = True
                next_snapshot = time.monotonic() + settings.live_snapshot_s

    def tick(self) -> TickReport:
        """One scheduler tick on the platform clock (the thread calls it; tests may too)."""
        report = TickReport()
        self.detection.refresh()
        report.detection = self.detection.step()
        dispatcher = _dispatcher(self.app)
        if dispatcher is not None:
            report.escalated = dispatcher.escalate_overdue().escalated
        funds = self.app.funds
        report.answers = funds.poll()
        report.expired = [o.order_id for o in funds.expire()]
        report.extended = self._feed_funds(first=self.ticks == 0)
        self.ticks += 1
        return report

    def _feed_funds(self, *, first: bool) -> int:
        """The transfers detection read since the last tick into the ledger; open cases are
        extended over them. The first tick extends open cases once (a restart)."""
        funds = self.app.funds
        files, self.detection.new_transfers = self.detection.new_transfers, []
        if not files and not first:
            return 0
        if not funds.cases(open_only=True, limit=1):
            return 0  # nothing to extend; a ledger built later reads these from the lake
        # A ledger not built yet is built from the lake now, with every file committed so far.
        if not funds.ledger_built and funds.ledger is None:
            return 0
        from fanzha.tracing import lake_transfers

        new = [p for p in files if p not in self.app.ledger_files]
        self.app.ledger_files.update(new)
        return funds.feed(lake_transfers(self.app.lake, new), actor=SCHEDULER)


def settle_heap() -> None:
    """Collect garbage once, then leave the objects alive now out of later collections
    (:func:`gc.freeze`): an engine's state is hundreds of thousands of Python objects that
    a full collection walks (about 0.2 s on the demo), and a full collection falling in a live
    call would hold its warnings that long. Objects made later are collected as usual."""
    gc.collect()
    gc.freeze()


def _guarded(what: str, work: Callable[[], object]) -> None:
    """Run one chore; a failure is logged and the loop goes on (the next tick retries)."""
    try:
        work()
    except Exception:  # the loop must outlive any one failure
        log.exception("%s failed", what)


__all__ = [
    "LiveDetection",
    "LiveLoop",
    "LiveSnapshots",
    "StepReport",
    "TickReport",
    "adopt",
    "live_watermark",
    "newest_known",
]
