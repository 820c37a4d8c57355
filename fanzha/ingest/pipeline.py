"""The ingestion pipeline: read → map (profile) → normalise → de-duplicate → lake, with every
rejected record dead-lettered and good records landing (or, with ``strict``, all or nothing).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from fanzha.ingest import readers
from fanzha.ingest.deadletter import DeadLetter, DeadLetterStore
from fanzha.ingest.normalise import Normalised, Options, normalise
from fanzha.ingest.profiles import Profile, ProfileError, check_header, get_profile
from fanzha.ingest.readers import FileRejected, RawBatch, ReadOptions
from fanzha.lake.log import Lake, LakeTxn
from fanzha.model.events import EVENT_TYPES, REFERENCE_TYPES, Event
from fanzha.model.schema import field_specs
from fanzha.settings import Settings

ALL_TYPES: dict[str, type[BaseModel]] = {**EVENT_TYPES, **REFERENCE_TYPES}
TYPE_COLUMNS = ("event_type", "type")


class IngestError(ValueError):
    """The request itself is wrong (unknown type, profile or format; unreadable path)."""


@dataclass
class FileReport:
    """What happened to one input."""

    path: str
    format: str
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    error: str | None = None


@dataclass
class IngestReport:
    """The outcome of one ingestion run."""

    run_id: str
    strict: bool
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0
    committed: bool = True
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        """Records that landed (or would have, for a rolled-back strict run)."""
        return sum(f.accepted for f in self.files)

    @property
    def rejected(self) -> int:
        """Records dead-lettered."""
        return sum(f.rejected for f in self.files)

    @property
    def duplicates(self) -> int:
        """Records already stored (same event id): skipped."""
        return sum(f.duplicates for f in self.files)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able form (``fanzha ingest --json``)."""
        return {
            "run_id": self.run_id,
            "accepted": self.accepted if self.committed else 0,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "committed": self.committed,
            "strict": self.strict,
            "seconds": round(self.seconds, 3),
            "by_type": self.by_type,
            "files": [f.__dict__ for f in self.files],
        }


ReferenceWriter = Callable[[str, pa.Table], int]
Progress = Callable[[int], None]  # bytes advanced


@dataclass
class Request:
    """What to ingest and how."""

    paths: Sequence[Path]
    event_type: str | None = None
    format: str | None = None
    profile: str | None = None
    mapping: Mapping[str, str] | None = None
    strict: bool = False
    source: str | None = None
    label: str | None = None  # name to record instead of the path (uploads)


def _layout(request: Request) -> str | None:
    """How a request reads its input when not by canonical names (JSON), for dead letters."""
    if request.profile is None and not request.mapping:
        return None
    return json.dumps(
        {"profile": request.profile or "transfers", "map": dict(request.mapping or {})},
        ensure_ascii=False,
        sort_keys=True,
    )


def layout_of(text: str | None) -> tuple[str | None, dict[str, str]]:
    """The profile and column map a dead letter's ``layout`` names (none: canonical)."""
    if not text:
        return None, {}
    try:
        got = json.loads(text)
        profile, mapping = got.get("profile"), got.get("map") or {}
    except (ValueError, AttributeError):
        return None, {}
    if not isinstance(profile, str) or not isinstance(mapping, dict):
        return None, {}
    return profile, {str(k): str(v) for k, v in mapping.items()}


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files named, and the files inside folders named (sorted, hidden files skipped)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")
            )
        elif path.exists():
            out.append(path)
        else:
            raise IngestError(f"{path}: no such file or folder")
    return out


_PLURALS = {f"{t}s": t for t in ALL_TYPES} | {"persons": "person", "people": "person"}


def type_from_name(path: Path) -> str | None:
    """An event type named by a file (``calls-2024-05.csv`` → ``call``), if any."""
    stem = path.name.split(".")[0].lower()
    for word in re.split(r"[^a-z_]+", stem):
        if word in ALL_TYPES:
            return word
        if word in _PLURALS:
            return _PLURALS[word]
    for name in sorted(ALL_TYPES, key=len, reverse=True):
        if stem.startswith(name):
            return name
    return None


class Ingestor:
    """Runs ingestion requests against a lake, a dead-letter store and a reference writer."""

    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        dead_letters: DeadLetterStore,
        reference: ReferenceWriter | None = None,
    ) -> None:
        self.settings = settings
        self.lake = lake
        self.dead_letters = dead_letters
        self.reference = reference
        self.read_opts = ReadOptions(
            batch_rows=settings.batch_size,
            max_record_bytes=settings.max_record_bytes,
            keep_bytes=settings.dead_letter_keep_bytes,
        )
        self.keep = settings.dead_letter_keep_bytes

    # ------------------------------------------------------------------ entry points

    def run(
        self, request: Request, progress: Progress | None = None, run_id: str | None = None
    ) -> IngestReport:
        """Ingest every file of a request."""
        self._check(request)
        report = IngestReport(run_id=run_id or uuid.uuid4().hex, strict=request.strict)
        started = time.perf_counter()
        txn = self.lake.begin() if request.strict else None
        pending: list[pa.Table] = []  # reference rows of a strict run, written on commit
        for path in expand_paths(request.paths):
            fmt = request.format or readers.guess_format(path)
            file_report = FileReport(request.label or str(path), fmt)  # uploads: no temp names
            report.files.append(file_report)
            batches = self._read(path, fmt, request, file_report, report.run_id)
            try:
                self._consume(batches, request, file_report, report, txn, pending, progress)
            except FileRejected as exc:  # the profile's columns are not in the header
                self._reject_file(path, request, file_report, report.run_id, exc.reason)
        report.committed = self._finish(request, report, txn, pending)
        report.seconds = time.perf_counter() - started
        return report

    def run_bytes(
        self,
        data: bytes,
        *,
        name: str,
        event_type: str,
        fmt: str,
        strict: bool = False,
        source: str | None = None,
        run_id: str | None = None,
        profile: str | None = None,
        mapping: Mapping[str, str] | None = None,
    ) -> IngestReport:
        """Ingest one in-memory payload (the HTTP API, retries) through a temporary file."""
        import tempfile

        tmp_root = self.settings.data_dir / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=tmp_root, suffix=f".{fmt}") as tmp:
            tmp.write(data)
            tmp.flush()
            request = Request(
                [Path(tmp.name)],
                event_type,
                fmt,
                profile=profile,
                mapping=mapping or None,
                strict=strict,
                source=source,
                label=name,
            )
            report = self.run(request, run_id=run_id)
        for file_report in report.files:
            file_report.path = name
        return report

    def run_table(
        self, table: pa.Table, event_type: str, *, source: str, run_id: str | None = None
    ) -> IngestReport:
        """Ingest an in-memory Arrow table of one type (the simulator's replay), like a file.

        ``source`` names the table in the report and in dead letters (rows are located by
        1-based record number) and is the default ``source`` of rows that lack one.
        """
        request = Request([], event_type, label=source)
        self._check(request)
        report = IngestReport(run_id=run_id or uuid.uuid4().hex, strict=False)
        started = time.perf_counter()
        file_report = FileReport(source, "arrow")
        report.files.append(file_report)
        batches = iter([_table_batch(table, source)])
        self._consume(batches, request, file_report, report, None, [], None)
        report.seconds = time.perf_counter() - started
        return report

    # ------------------------------------------------------------------ steps

    def _check(self, request: Request) -> None:
        if request.event_type and request.event_type not in ALL_TYPES:
            known = ", ".join(ALL_TYPES)
            raise IngestError(f"unknown type {request.event_type!r}; known types: {known}")
        if request.format and request.format not in readers.FORMATS:
            known = ", ".join(readers.FORMATS)
            raise IngestError(f"unknown format {request.format!r}; known formats: {known}")
        if request.profile or request.mapping:
            try:
                profile = get_profile(request.profile or "transfers", request.mapping)
            except ProfileError as exc:
                raise IngestError(str(exc)) from None
            if request.event_type and request.event_type != profile.event_type:
                raise IngestError(
                    f"profile {profile.name!r} reads {profile.event_type} records, "
                    f"not {request.event_type}"
                )

    def _profile(self, request: Request) -> Profile | None:
        if request.profile is None and not request.mapping:
            return None
        return get_profile(request.profile or "transfers", request.mapping)

    def _columns(self, request: Request) -> frozenset[str] | None:
        profile = self._profile(request)
        if profile is not None:
            return None if not profile.columns else frozenset(profile.columns)
        if request.event_type is None:
            return None
        names = {s.name for s in field_specs(ALL_TYPES[request.event_type])}
        return frozenset(names | {"amount", "loss", *TYPE_COLUMNS})

    def _read(
        self, path: Path, fmt: str, request: Request, report: FileReport, run_id: str
    ) -> Iterator[RawBatch]:
        source = request.label or str(path)
        profile = self._profile(request)
        opts = ReadOptions(
            batch_rows=self.read_opts.batch_rows,
            chunk_bytes=max(1 << 16, min(1 << 26, self.read_opts.batch_rows * 128)),
            max_record_bytes=self.read_opts.max_record_bytes,
            keep_bytes=self.read_opts.keep_bytes,
            columns=self._columns(request),
            rename_duplicates=profile is not None and profile.name == "transfers",
        )
        try:
            if readers.file_size(path) == 0:
                raise FileRejected("file is empty")
            if fmt == "iso20022":
                yield from self._read_iso(path, source)
            elif fmt == "ndjson":
                yield from readers.read_ndjson(path, opts, source)
            elif fmt == "csv":
                yield from readers.read_csv(path, opts, source)
            elif fmt == "sheet":
                yield from readers.read_sheets(path, opts, source)
            else:
                yield from readers.read_parquet(path, opts, source)
        except FileRejected as exc:
            self._reject_file(path, request, report, run_id, exc.reason)
        except OSError as exc:
            report.error = f"cannot read file: {exc.strerror or exc}"
            raise IngestError(f"{path}: {report.error}") from None

    def _reject_file(
        self, path: Path, request: Request, report: FileReport, run_id: str, reason: str
    ) -> None:
        """Dead-letter a whole file (its head) with the reason it cannot be read."""
        report.error = reason
        raw = _head(path, self.read_opts.keep_bytes)
        letter = DeadLetter(
            request.label or str(path),
            "file",
            request.event_type,
            None,
            reason,
            raw,
            truncated=readers.file_size(path) > len(raw),
            run_id=run_id,
            layout=_layout(request),
        )
        report.rejected += 1
        self.dead_letters.add_many([letter])

    def _read_iso(self, path: Path, source: str) -> Iterator[RawBatch]:
        from fanzha.ingest.iso_reader import read_iso20022

        yield from read_iso20022(path, source, self.settings)

    def _consume(
        self,
        batches: Iterator[RawBatch],
        request: Request,
        file_report: FileReport,
        report: IngestReport,
        txn: LakeTxn | None,
        pending: list[pa.Table],
        progress: Progress | None,
    ) -> None:
        profile = self._profile(request)
        header_checked = False
        for batch in batches:
            letters = [_stamp(letter, request.event_type, report.run_id) for letter in batch.early]
            if batch.table.num_rows:
                table = batch.table
                if profile is not None:
                    if not header_checked:
                        self._check_profile_header(profile, table)
                        header_checked = True
                    table, problems = profile.apply(table)
                    letters += [
                        _letter(batch, row, profile.event_type, fld, why, report.run_id, self.keep)
                        for row, fld, why in problems
                    ]
                    skip = {row for row, _, _ in problems}
                    table, keep_rows = _drop_rows(table, skip)
                    batch = _subset(batch, keep_rows)
                    batch.table = table
                letters += self._land(batch, request, profile, file_report, report, txn, pending)
            file_report.rejected += len(letters)
            if letters:
                layout = _layout(request)
                if layout is not None:
                    letters = [dataclasses.replace(x, layout=layout) for x in letters]
                self.dead_letters.add_many(letters)
            if progress is not None:
                progress(batch.table.num_rows + len(batch.early))

    def _check_profile_header(self, profile: Profile, table: pa.Table) -> None:
        try:
            check_header(profile, [n for n in table.column_names if n != "__empty__"])
        except ProfileError as exc:
            raise FileRejected(str(exc)) from None

    def _land(
        self,
        batch: RawBatch,
        request: Request,
        profile: Profile | None,
        file_report: FileReport,
        report: IngestReport,
        txn: LakeTxn | None,
        pending: list[pa.Table],
    ) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        for type_name, part in self._split_types(batch, request, profile, report.run_id, letters):
            model = ALL_TYPES[type_name]
            opts = Options(
                tz=self.settings.timezone,
                max_field_bytes=self.settings.max_field_bytes,
                default_source=request.source
                or (profile.default_source if profile else None)
                or part.source,
            )
            result = normalise(part.table, model, opts)
            bad_rows = _group_failures(part, result)
            letters += _letters_for(part, bad_rows, type_name, report.run_id, self.keep)
            good = result.table
            if part.groups is not None and bad_rows:
                ok = ~np.isin(part.groups[result.rows], part.groups[list(bad_rows)])
                good = good.filter(pa.array(ok))
            if issubclass(model, Event):
                self._land_events(type_name, good, file_report, report, txn)
            else:
                file_report.accepted += good.num_rows
                report.by_type[type_name] = report.by_type.get(type_name, 0) + good.num_rows
                if request.strict:
                    pending.append(
                        good.append_column(
                            "__type__", pa.array([type_name] * good.num_rows, pa.string())
                        )
                    )
                elif self.reference is not None and good.num_rows:
                    self.reference(type_name, good)
        return letters

    def _land_events(
        self,
        type_name: str,
        table: pa.Table,
        file_report: FileReport,
        report: IngestReport,
        txn: LakeTxn | None,
    ) -> None:
        fresh, dupes = self.lake.split_new(type_name, table, txn)
        file_report.duplicates += dupes
        file_report.accepted += fresh.num_rows
        report.by_type[type_name] = report.by_type.get(type_name, 0) + fresh.num_rows
        if txn is not None:
            txn.append(type_name, fresh)
        else:
            own = self.lake.begin()
            own.append(type_name, fresh)
            own.commit()

    def _split_types(
        self,
        batch: RawBatch,
        request: Request,
        profile: Profile | None,
        run_id: str,
        letters: list[DeadLetter],
    ) -> Iterator[tuple[str, RawBatch]]:
        """One sub-batch per event type (a file may mix types in an ``event_type`` column)."""
        if profile is not None:
            yield profile.event_type, batch
            return
        if request.event_type:
            yield request.event_type, batch
            return
        column = next((c for c in TYPE_COLUMNS if c in batch.table.column_names), None)
        if column is None:
            named = type_from_name(Path(batch.source))
            if named is None:
                known = ", ".join(ALL_TYPES)
                raise IngestError(
                    f"{batch.source}: cannot tell the record type; pass --type ({known}) "
                    "or add an event_type column"
                )
            yield named, batch
            return
        types = pc.utf8_lower(
            pc.utf8_trim_whitespace(batch.table[column].combine_chunks().cast(pa.string()))
        )
        for value in pc.unique(types).to_pylist():
            mask = (
                pc.fill_null(pc.equal(types, value), False)
                if value is not None
                else (types.is_null())
            )
            rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
            if value not in ALL_TYPES:
                why = f"{column} {value!r} is not a known type ({', '.join(ALL_TYPES)})"
                letters += [
                    _letter(batch, int(r), None, column, why, run_id, self.keep) for r in rows
                ]
                continue
            yield value, _subset(batch, rows)

    def _finish(
        self,
        request: Request,
        report: IngestReport,
        txn: LakeTxn | None,
        pending: list[pa.Table],
    ) -> bool:
        if txn is None:
            return True
        if report.rejected:
            txn.abort()
            return False
        txn.commit()
        for table in pending:
            type_name = table["__type__"][0].as_py()
            if self.reference is not None:
                self.reference(type_name, table.drop_columns(["__type__"]))
        return True


def _head(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(limit)
    except OSError:
        return b""


def _table_batch(table: pa.Table, source: str) -> RawBatch:
    """A raw batch over an in-memory table; a row's original bytes are its NDJSON form."""

    def raw_of(row: int) -> bytes:
        return orjson.dumps(table.slice(row, 1).to_pylist()[0], default=str)

    locations = np.arange(1, table.num_rows + 1, dtype=np.int64)
    return RawBatch(table, source, "record", locations, raw_of)


def _stamp(letter: DeadLetter, event_type: str | None, run_id: str) -> DeadLetter:
    return DeadLetter(
        letter.source,
        letter.location,
        letter.event_type or event_type,
        letter.field,
        letter.reason,
        letter.raw,
        letter.truncated,
        run_id,
    )


def _letter(
    batch: RawBatch,
    row: int,
    event_type: str | None,
    fld: str | None,
    why: str,
    run_id: str,
    keep: int,
) -> DeadLetter:
    """A dead letter for one row, keeping at most ``keep`` original bytes."""
    raw = batch.raw_of(row)
    reason = f"{fld}: {why}" if fld and not why.startswith(fld) else why
    return DeadLetter(
        source=batch.source,
        location=batch.location(row),
        event_type=event_type,
        field=fld,
        reason=reason,
        raw=raw[:keep],
        truncated=len(raw) > keep,
        run_id=run_id,
    )


def _letters_for(
    batch: RawBatch,
    bad: dict[int, tuple[str | None, str]],
    event_type: str,
    run_id: str,
    keep: int,
) -> list[DeadLetter]:
    """Dead letters for bad rows; rows of one all-or-nothing group give one letter."""
    letters: list[DeadLetter] = []
    seen: set[int] = set()
    for row, (fld, why) in sorted(bad.items()):
        if batch.groups is not None:
            group = int(batch.groups[row])
            if group in seen:
                continue
            seen.add(group)
        letters.append(_letter(batch, row, event_type, fld, why, run_id, keep))
    return letters


def _drop_rows(table: pa.Table, skip: set[int]) -> tuple[pa.Table, np.ndarray]:
    keep = np.ones(table.num_rows, dtype=bool)
    if skip:
        keep[list(skip)] = False
    return table.filter(pa.array(keep)), np.flatnonzero(keep)


def _subset(batch: RawBatch, rows: np.ndarray) -> RawBatch:
    """The same batch restricted to ``rows`` (locations and raw bytes follow)."""
    if len(rows) == batch.table.num_rows:
        return batch
    parent = batch.raw_of

    def raw_of(row: int) -> bytes:
        return parent(int(rows[row]))

    return RawBatch(
        batch.table.take(pa.array(rows, pa.int64())),
        batch.source,
        batch.unit,
        batch.locations[rows],
        raw_of,
        [],
        batch.groups[rows] if batch.groups is not None else None,
    )


def _group_failures(batch: RawBatch, result: Normalised) -> dict[int, tuple[str | None, str]]:
    """Row problems, widened to every row of a group that must land whole (a bank message)."""
    bad = dict(result.problems.rows)
    if batch.groups is None or not bad:
        return bad
    groups = batch.groups
    failed = set(groups[list(bad)].tolist())
    for row in np.flatnonzero(np.isin(groups, list(failed))):
        if int(row) not in bad:
            first = min(r for r in bad if groups[r] == groups[row])
            fld, why = bad[first]
            bad[int(row)] = (fld, f"message rejected whole: {batch.location(first)}: {why}")
    return bad
