"""Application services: wire the store, the lake and the ingestor for the CLI and the API.

Routers and commands call these; these call the pure code and the adapters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pyarrow as pa

from fanzha.dispatch.routing import RoutingConfig
from fanzha.ingest.deadletter import MemoryDeadLetters
from fanzha.ingest.pipeline import (
    IngestError,
    Ingestor,
    IngestReport,
    Progress,
    Request,
    layout_of,
    type_from_name,
)
from fanzha.lake import Lake
from fanzha.settings import Settings
from fanzha.store import IngestRun, OrgUnitRow, PersonRow, Store
from fanzha.store.intel import SqlIndicatorRepo
from fanzha.store.warnings import SqlWarnings

if TYPE_CHECKING:
    from fanzha.auth.service import Security
    from fanzha.bus import EventBus
    from fanzha.dispatch.org import OrgTree
    from fanzha.dispatching import Dispatcher
    from fanzha.funding import Funds
    from fanzha.funds.ledger import Ledger
    from fanzha.instructing import InstructionService
    from fanzha.intel.index import IntelIndex
    from fanzha.intel.model import IndicatorKind
    from fanzha.live import LiveLoop
    from fanzha.model.clock import Clock
    from fanzha.store.instructions import SqlInstructions
    from fanzha.webhooks import WebhookSender


def _persons(table: pa.Table) -> list[PersonRow]:
    rows = []
    for rec in table.to_pylist():
        birth = rec.get("birth_date") or _birth_from_id(rec["id_number"])
        rows.append(
            PersonRow(
                id_number=rec["id_number"],
                name=rec["name"],
                birth_date=birth,
                phones=tuple(rec.get("phones") or ()),
                accounts=tuple(rec.get("accounts") or ()),
                community=rec.get("community"),
            )
        )
    return rows


def _birth_from_id(id_number: str) -> dt.date:
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def _org_units(table: pa.Table) -> list[OrgUnitRow]:
    return [
        OrgUnitRow(
            code=rec["code"],
            name=rec["name"],
            level=rec["level"],
            parent_code=rec.get("parent_code"),
            name_en=rec.get("name_en"),
        )
        for rec in table.to_pylist()
    ]


@dataclass
class RetryResult:
    """What a dead-letter retry did."""

    retried: int
    accepted: int
    still_failing: int
    skipped: list[str]


class App:
    """One open Fanzha instance: settings, store, lake and ingestor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store.open(settings)
        self.lake = Lake(settings.lake_dir, settings.timezone)
        self.ingestor = Ingestor(settings, self.lake, self.store.dead_letters, self._reference)
        self.routing = RoutingConfig()  # the org file's routing rules (load_org)
        #: the transfer files the funds' ledger was built from (see :meth:`_lake_ledger`)
        self.ledger_files: set[Path] = set()

    def close(self) -> None:
        """Stop the live loop, deliver the queued webhooks, release the store."""
        live = self.__dict__.get("live")
        if live is not None:
            live.stop()
        sender = self.__dict__.get("webhooks")
        if sender is not None:
            sender.close()
        self.store.close()

    def __enter__(self) -> App:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @cached_property
    def intel(self) -> SqlIndicatorRepo:
        """Indicators and their audit trail (``fanzha intel``)."""
        return SqlIndicatorRepo(self.store.sessions)

    def intel_index(self, at: dt.datetime | None = None) -> IntelIndex:
        """A fresh lookup index of the indicators in force at ``at`` (default: now)."""
        from fanzha.intel.index import IntelIndex

        moment = at or dt.datetime.now(dt.UTC)
        return IntelIndex.build(self.intel.all(active_at=moment), at=moment)

    def intel_index_for(
        self, values: Sequence[tuple[IndicatorKind, str]], at: dt.datetime | None = None
    ) -> IntelIndex:
        """A lookup index for checking these (kind, raw value) pairs: only the indicators
        that could match them are read, and it answers for them as :meth:`intel_index`."""
        from fanzha.intel.candidates import index_for

        return index_for(self.intel, values, at=at)

    @cached_property
    def security(self) -> Security:
        """Logins, tokens, jurisdiction, reveals and the audit chain (see docs/security.md)."""
        from fanzha.security import open_security

        return open_security(self.settings, self.store.sessions, tree=self.load_org())

    def load_org(self) -> OrgTree | None:
        """(Re)load the org tree — the registry's units with ``org_file`` over them — and its
        routing rules (:attr:`routing`); None without units."""
        from fanzha.security import org_setup

        setup = org_setup(self.store.sessions, self.settings.org_file)
        self.routing = RoutingConfig() if setup is None else setup.routing
        return None if setup is None else setup.tree

    @cached_property
    def funds(self) -> Funds:
        """Cases, stop-payment and freeze orders, tracing, returns and appeals (docs/funds.md):
        over SQL, the lake's ledger (built on first use), banks answering through their
        liaisons, indicators into intel, every change into the audit chain."""
        from fanzha.funding import Funds
        from fanzha.funds.banks import LiaisonDesk
        from fanzha.store.funds import SqlFunds

        return Funds(
            SqlFunds(self.store.sessions),
            self.clock,
            bank=LiaisonDesk(),
            ledger=self._lake_ledger,
            intel=self.intel,
            audit=self.security,
        )

    def _lake_ledger(self) -> Ledger:
        """The ledger of the lake's transfers now; the files it read are remembered in
        :attr:`ledger_files` (the live loop feeds the funds only the files after them)."""
        from fanzha.tracing import lake_ledger

        files = self.lake.files("transfer")
        self.ledger_files = set(files)
        return lake_ledger(self.lake, files=files)

    @cached_property
    def live(self) -> LiveLoop:
        """The live loop of ``fanzha serve`` (started by the API's lifespan when
        ``settings.live``): detection of ingested events, dispatch, the scheduler."""
        from fanzha.live import LiveLoop

        return LiveLoop(self)

    @cached_property
    def warnings(self) -> SqlWarnings:
        """Warnings issued by detection (``fanzha detect``)."""
        return SqlWarnings(self.store.sessions)

    @cached_property
    def clock(self) -> Clock:
        """The platform clock of pages and actions (wall time; tests and demos set theirs)."""
        from fanzha.model.clock import SystemClock

        return SystemClock()

    @cached_property
    def bus(self) -> EventBus:
        """Instruction events for live pages (in-process), and for the webhooks when
        ``webhook_urls`` is set."""
        from fanzha.bus import EventBus

        bus = EventBus()
        sender = self.webhooks
        if sender is not None:
            bus.listen(sender)
        return bus

    @cached_property
    def webhooks(self) -> WebhookSender | None:
        """The webhook sender (None: no URLs configured); failed deliveries are kept in
        ``data_dir/webhooks-failed.jsonl``."""
        from fanzha.webhooks import WebhookSender, parse_urls

        urls = parse_urls(self.settings.webhook_urls)
        if not urls:
            return None
        if not self.settings.webhook_secret:
            raise ValueError("FANZHA_WEBHOOK_URLS needs FANZHA_WEBHOOK_SECRET (to sign events)")
        failed = self.settings.data_dir / "webhooks-failed.jsonl"
        return WebhookSender(urls, self.settings.webhook_secret, failed_path=failed).start()

    @cached_property
    def instructions(self) -> SqlInstructions:
        """Stored instructions (reads; changes go through :attr:`dispatcher`)."""
        from fanzha.store.instructions import SqlInstructions

        return SqlInstructions(self.store.sessions)

    @property
    def dispatcher(self) -> Dispatcher:
        """The Dispatcher over the current org tree (rebuilt when org units change);
        its changes are published on :attr:`bus`."""
        from fanzha.instructing import NoOrgTreeError, build_dispatcher

        tree = self.security.tree
        if tree is None:
            raise NoOrgTreeError("no org units are loaded: ingest the org_unit registry first")
        current: Dispatcher | None = self.__dict__.get("_dispatcher")
        if current is None or current.tree is not tree or current.clock is not self.clock:
            current = build_dispatcher(self, tree, self.clock)
            self.__dict__["_dispatcher"] = current
        return current

    @cached_property
    def instruction_service(self) -> InstructionService:
        """Instructions as a logged-in principal sees and works them."""
        from fanzha.instructing import InstructionService

        return InstructionService(self)

    def warnings_table(self) -> pa.Table:
        """Every stored warning as the warnings table (``fanzha evaluate``)."""
        return self.warnings.table()

    def _reference(self, type_name: str, table: pa.Table) -> int:
        if type_name == "person":
            changed = self.store.reference.upsert_persons(_persons(table))
            if "live" in self.__dict__:  # detection routes and keys by the registry
                self.live.detection.registry_changed()
            return changed
        changed = self.store.reference.upsert_org_units(_org_units(table))
        if "security" in self.__dict__:  # jurisdictions follow the new tree at once
            self.security.tree = self.load_org()
        return changed

    def ingest(self, request: Request, progress: Progress | None = None) -> IngestReport:
        """Run an ingestion and record it as a run in the store."""
        files = [request.label] if request.label else [str(p) for p in request.paths]
        run = IngestRun.new(files, event_type=request.event_type, strict=request.strict)
        return self._recorded(run, lambda: self.ingestor.run(request, progress, run_id=run.id))

    def ingest_table(self, table: pa.Table, event_type: str, *, source: str) -> IngestReport:
        """Ingest an in-memory table of one type (replay) and record it as a run."""
        run = IngestRun.new([source], event_type=event_type, strict=False)
        return self._recorded(
            run, lambda: self.ingestor.run_table(table, event_type, source=source, run_id=run.id)
        )

    def _recorded(self, run: IngestRun, work: Callable[[], IngestReport]) -> IngestReport:
        """Do ``work`` between the run's start and finish records in the store."""
        self.store.runs.start(run)
        try:
            report = work()
        except (IngestError, OSError) as exc:
            self.store.runs.finish(run.id, 0, 0, 0, status="failed", error=str(exc))
            raise
        status = "done" if report.committed else "rolled_back"
        accepted = report.accepted if report.committed else 0  # nothing landed
        self.store.runs.finish(run.id, accepted, report.rejected, report.duplicates, status=status)
        return report

    def retry(self, letter_ids: list[int]) -> RetryResult:
        """Feed dead letters through ingestion again (after a fix to settings or code)."""
        result = RetryResult(0, 0, 0, [])
        # A record that fails again stays the one open letter (attempts + 1): its new
        # rejection, at the record's place in the retry payload, is not a new letter. A whole
        # file read again records its own bad records, at their real places.
        retrier = Ingestor(self.settings, self.lake, MemoryDeadLetters(), self._reference)
        for letter_id in letter_ids:
            stored = self.store.dead_letters.get(letter_id)
            if stored is None:
                result.skipped.append(f"{letter_id}: no such dead letter")
                continue
            payload = retry_payload(stored.letter.source, stored.letter.location, stored.letter.raw)
            if isinstance(payload, str):
                result.skipped.append(f"{letter_id}: {payload}")
                continue
            data, fmt = payload
            profile, mapping = layout_of(stored.letter.layout)
            event_type = stored.letter.event_type or type_from_name(Path(stored.letter.source))
            if event_type is None:
                result.skipped.append(f"{letter_id}: the record type is unknown")
                continue
            whole_file = stored.letter.location == "file"
            report = (self.ingestor if whole_file else retrier).run_bytes(
                data,
                name=stored.letter.source,
                event_type=event_type,
                fmt=fmt,
                profile=profile,
                mapping=mapping,
            )
            result.retried += 1
            landed = report.accepted + report.duplicates
            if landed and not report.rejected:
                result.accepted += 1
                self.store.dead_letters.mark([letter_id], "retried")
            else:
                result.still_failing += 1
                self.store.dead_letters.mark([letter_id], "open")
        return result


def retry_payload(source: str, location: str, raw: bytes) -> tuple[bytes, str] | str:
    """The bytes and format to re-ingest a dead letter, or why it cannot be retried."""
    path = Path(source)
    suffix = path.suffix.lower()
    if location == "file":
        if not path.exists():
            return f"source file {source} no longer exists"
        return path.read_bytes(), _format_of(path)
    if location.startswith("row"):  # Parquet rows are kept as JSON
        return raw, "ndjson"
    if location.startswith("transaction"):
        return raw, "iso20022"
    if location.startswith("sheet ") and " row " in location:
        return _sheet_payload(path, location.removeprefix("sheet ").rsplit(" row ", 1)[0], raw)
    if suffix in (".csv", ".tsv", ".txt"):
        header = _first_line(path)
        if header is None:
            return f"source file {source} is gone; its CSV header cannot be recovered"
        return header + b"\n" + raw, "csv"
    return raw, "ndjson"


def _sheet_payload(path: Path, sheet: str, raw: bytes) -> tuple[bytes, str] | str:
    """A workbook row as CSV under its sheet's header, read from the workbook again."""
    from fanzha.ingest.sheets import csv_line, sheet_header

    header = sheet_header(path, sheet)
    if header is None:
        return f"workbook {path} or its sheet {sheet!r} is gone; its header cannot be recovered"
    return csv_line(header).encode() + b"\n" + raw, "csv"


def _format_of(path: Path) -> str:
    from fanzha.ingest.readers import guess_format

    return guess_format(path)


def _first_line(path: Path) -> bytes | None:
    try:
        with path.open("rb") as fh:
            return fh.readline().rstrip(b"\r\n")
    except OSError:
        return None
