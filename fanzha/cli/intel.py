"""``fanzha intel``: import indicator feeds, check values, export, show the audit trail, add
and allow by hand.

Labels are Chinese by default and English with ``FANZHA_LANG=en``. Exit codes: 0 done, 1
nothing valid to import (or an unknown indicator for ``show``), 2 usage errors.
"""

from __future__ import annotations

import datetime as dt
import getpass
import io
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from fanzha.i18n import pick
from fanzha.ingest import sheets
from fanzha.intel.feeds import (
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    KIND_WORDS,
    FeedError,
    FeedOptions,
    FeedReader,
    FeedStats,
    Problem,
    detect_encoding,
    export_lines,
    guess_format,
    guess_kind,
    iter_lines,
    parse_verdict,
)
from fanzha.intel.model import Indicator, IndicatorKind, Verdict, normalise_value
from fanzha.intel.repo import Change, UpsertReport
from fanzha.model.values import InvalidValue
from fanzha.service import App
from fanzha.settings import Settings

app = typer.Typer(
    help="Threat intelligence: import feeds, check values, export, audit trail.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

LABELS: dict[str, tuple[str, str]] = {
    "importing": ("正在导入", "Importing"),
    "import_title": ("情报导入结果", "Indicator import"),
    "file": ("文件", "file"),
    "format": ("格式", "format"),
    "read": ("读取", "read"),
    "added": ("新增", "added"),
    "upgraded": ("更新", "upgraded"),
    "unchanged": ("未变", "unchanged"),
    "refused": ("拒绝降级", "refused"),
    "problems": ("问题", "problems"),
    "unsupported": ("不支持", "unsupported"),
    "total": ("合计", "total"),
    "seconds": ("耗时 {s:.2f} 秒", "{s:.2f} s"),
    "first_problems": ("前 {n} 个问题", "First {n} problems"),
    "where": ("位置", "where"),
    "field": ("字段", "field"),
    "reason": ("原因", "reason"),
    "text": ("内容", "text"),
    "nothing": ("没有可导入的有效情报。", "nothing valid to import."),
    "check_title": ("情报核查", "Indicator check"),
    "value": ("值", "value"),
    "kind": ("类型", "kind"),
    "verdict": ("结论", "verdict"),
    "matched": ("命中", "matched"),
    "source": ("来源", "source"),
    "confidence": ("置信度", "confidence"),
    "first_seen": ("首次发现", "first seen"),
    "last_seen": ("最近发现", "last seen"),
    "expires": ("有效期至", "expires"),
    "note": ("备注", "note"),
    "history": ("变更记录", "History"),
    "at": ("时间", "at"),
    "actor": ("操作人", "actor"),
    "action": ("动作", "action"),
    "change": ("变更", "change"),
    "not_found": ("没有这条情报:{kind} {value}", "no such indicator: {kind} {value}"),
    "exported": ("已导出 {n} 条情报到 {path}", "exported {n} indicators to {path}"),
    "stored": (
        "新增 {added} · 更新 {upgraded} · 未变 {unchanged} · 拒绝降级 {refused}",
        "added {added} · upgraded {upgraded} · unchanged {unchanged} · refused {refused}",
    ),
    "expired_ok": ("已设为过期:{kind} {value}", "expired: {kind} {value}"),
    "expired_no": ("没有变化:{kind} {value}", "nothing changed: {kind} {value}"),
    "skipped_files": ("跳过的文件", "skipped files"),
}
VERDICT_EN = {"fraud": "fraud", "suspicious": "suspicious", "allow": "allow"}
VERDICT_ZH = {
    "fraud": "涉诈",
    "suspicious": "可疑",
    "allow": "白名单",
    "none": "未命中",
    "invalid": "无效",
}
# Files in a folder that are never feeds.
NOT_FEEDS = ("license", "licence", "copying", "readme", "source.txt", "notice", "changelog")
PROBLEMS_SHOWN = 10
BATCH = 20_000
BAR_BYTES = 4 * 1024 * 1024  # a progress bar for files at least this big


def label(key: str, lang: str, **kwargs: object) -> str:
    """An intel label in the chosen language."""
    return pick(LABELS, key, lang, **kwargs)


def _settings() -> Settings:
    return Settings()


def _usage(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _kind(text: str | None) -> IndicatorKind | None:
    if text is None:
        return None
    found = KIND_WORDS.get(text.strip().lower()) or KIND_WORDS.get(text.strip())
    if found is None:
        kinds = ", ".join(k.value for k in IndicatorKind)
        raise _usage(f"unknown kind {text!r}; expected one of {kinds} (or 号码, 域名, 网址 …)")
    return found


def _verdict(text: str | None) -> Verdict | None:
    if text is None:
        return None
    found = parse_verdict(text)
    if found is None:
        raise _usage(f"unknown verdict {text!r}; expected fraud, suspicious or allow")
    return found


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for group in pairs:
        for pair in group.split(","):
            name, sep, column = pair.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise _usage(f"--map expects field=column[,field=column…], got {pair!r}")
            mapping[name.strip()] = column.strip()
    return mapping


def _actor() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "cli"
    return f"manual:{who}"


def _dump(item: Any) -> Any:
    if isinstance(item, dt.datetime):
        return item.isoformat()
    return getattr(item, "value", item)


# --------------------------------------------------------------------------- import


@dataclass
class FileResult:
    """What importing one file did."""

    path: str
    format: str = ""
    stats: FeedStats | None = None
    report: UpsertReport = field(default_factory=UpsertReport)
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        stats = self.stats
        return {
            "path": self.path,
            "format": self.format,
            "encoding": stats.encoding if stats else None,
            "read": stats.records if stats else 0,
            "indicators": stats.indicators if stats else 0,
            **self.report.as_dict(),
            "problems": stats.problems if stats else 0,
            "unsupported": stats.unsupported if stats else 0,
            "skipped": stats.skipped if stats else 0,
            "error": self.error,
        }


def feed_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """The files to import (a folder gives its files, sorted) and the ones left out."""
    files: list[Path] = []
    left_out: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if not child.is_file():
                    continue
                name = child.name.lower()
                if name.startswith(".") or name.startswith(NOT_FEEDS) or name.endswith(".md"):
                    left_out.append(child)
                else:
                    files.append(child)
        elif path.is_file():
            files.append(path)
        else:
            raise _usage(f"{path} does not exist")
    return files, left_out


def _open_lines(fh: IO[bytes], encoding: str) -> Iterator[bytes]:
    if encoding == "utf-16":  # two-byte line ends: decode whole, then read as UTF-8
        data = fh.read().decode("utf-16", errors="replace").encode("utf-8")
        return iter_lines(io.BytesIO(data).readline)
    return iter_lines(fh.readline)


@dataclass(frozen=True)
class Defaults:
    """The command line's options for every file of one import."""

    kind: IndicatorKind | None
    verdict: Verdict | None
    confidence: float | None
    source: str | None
    mapping: dict[str, str]
    timezone: str


def import_file(
    fz: App, path: Path, defaults: Defaults, fmt: str | None, bar: Progress | None
) -> list[FileResult]:
    """Read one feed file (a workbook: each sheet with data) and store its indicators in
    batches; one result per file or sheet."""
    if sheets.is_workbook(path):
        return import_workbook(fz, path, defaults, fmt)
    result = FileResult(str(path))
    with path.open("rb") as fh:
        head = fh.read(65_536)
        fh.seek(0)
        encoding = detect_encoding(head)
        result.format = fmt or guess_format(head, has_mapping=bool(defaults.mapping))
        reader = _feed_reader(result, defaults, path.name, encoding)
        if reader is None:
            return [result]
        size = path.stat().st_size
        task = (
            bar.add_task(path.name, total=size) if bar is not None and size >= BAR_BYTES else None
        )

        def progress() -> None:
            if task is not None and bar is not None:
                bar.update(task, completed=fh.tell())

        _store(fz, result, reader, reader.read(_open_lines(fh, encoding)), path.name, progress)
        if task is not None and bar is not None:
            bar.update(task, completed=size)
    return [result]


def import_workbook(fz: App, path: Path, defaults: Defaults, fmt: str | None) -> list[FileResult]:
    """Each sheet of a workbook with data as a feed of its own (``FILE:SHEET``), its rows
    as CSV lines numbered as in the sheet; the format is guessed per sheet."""
    results: list[FileResult] = []
    try:
        for sheet in sheets.read_workbook(path):
            result = FileResult(f"{path}:{sheet.name}")
            results.append(result)
            entries = _sheet_entries(sheet)
            head = list(itertools.islice(entries, 200))  # the lines the format is guessed from
            text = "\n".join(e[1] for e in head if not isinstance(e, Problem)).encode()
            result.format = fmt or guess_format(text, has_mapping=bool(defaults.mapping))
            reader = _feed_reader(result, defaults, path.name, "utf-8")
            if reader is not None:
                items = reader.read_texts(itertools.chain(head, entries))
                _store(fz, result, reader, items, path.name, lambda: None)
    except sheets.WorkbookError as exc:
        failed = FileResult(str(path), format="sheet", error=str(exc))
        return [*results, failed]
    if not results:
        return [FileResult(str(path), format="sheet", error="the workbook has no sheet with data")]
    return results


def _sheet_entries(sheet: sheets.Sheet) -> Iterator[tuple[int, str] | Problem]:
    """The header and the rows as numbered CSV lines (a row's line breaks become spaces:
    one row, one line); a row with a cell that cannot be read is a problem."""
    yield sheet.header_row, sheets.csv_line(sheet.header)
    for row in sheet.rows:
        if row.problem is not None:
            yield Problem(row.number, None, row.problem, row.csv_line()[:80])
        else:
            cells = [" ".join(c.splitlines()) for c in row.cells]
            yield row.number, sheets.csv_line(cells)


def _feed_reader(
    result: FileResult, defaults: Defaults, name: str, encoding: str
) -> FeedReader | None:
    """The reader of one feed with the command line's options (None, with the error in
    ``result``, when they cannot describe it)."""
    try:
        options = FeedOptions(
            format=result.format,
            kind=defaults.kind,
            verdict=defaults.verdict,
            confidence=defaults.confidence,
            source=(defaults.source or name)[:256],
            mapping=defaults.mapping,
            timezone=defaults.timezone,
        )
    except FeedError as exc:
        result.error = str(exc)
        return None
    reader = FeedReader(options, encoding=encoding)
    result.stats = reader.stats
    return reader


def _store(
    fz: App,
    result: FileResult,
    reader: FeedReader,
    items: Iterator[Indicator | Problem],
    name: str,
    progress: Callable[[], None],
) -> None:
    """Store a feed's indicators in batches; keep its first 100 problems."""
    batch: list[Indicator] = []
    actor = f"import:{reader.options.source}"[:256]
    why = f"fanzha intel import {name}"
    for item in items:
        if isinstance(item, Problem):
            if len(result.problems) < 100:
                result.problems.append(item)
            continue
        batch.append(item)
        if len(batch) >= BATCH:
            result.report.add(fz.intel.upsert_many(batch, actor=actor, reason=why))
            batch = []
            progress()
    if batch:
        result.report.add(fz.intel.upsert_many(batch, actor=actor, reason=why))


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Feed files or folders.")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", "-k", help="phone, domain, url, account, app or device (police: optional)."
        ),
    ] = None,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", help=f"{', '.join(IMPORT_FORMATS)} (default: from the content)."
        ),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="csv columns: value=域名,verdict=结论,confidence=置信度 … (repeatable)."
        ),
    ] = None,
    verdict: Annotated[
        str | None, typer.Option(help="fraud, suspicious or allow (rows without one).")
    ] = None,
    confidence: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="0–1 (rows without one).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Source name (default: the file name).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
) -> None:
    """Import indicator feeds: plain lists, hosts files, adblock lists, CSV, police feeds."""
    settings = _settings()
    lang = settings.lang
    if format_ is not None and format_ not in IMPORT_FORMATS:
        raise _usage(f"unknown format {format_!r}; expected one of {', '.join(IMPORT_FORMATS)}")
    defaults = Defaults(
        kind=_kind(kind),
        verdict=_verdict(verdict),
        confidence=confidence,
        source=source,
        mapping=_checked_mapping(map_ or []),
        timezone=settings.timezone,
    )
    files, left_out = feed_files(paths)
    started = time.perf_counter()
    results: list[FileResult] = []
    with App(settings) as fz:
        columns = (
            TextColumn("[bold]" + label("importing", lang) + "[/bold] {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
            for path in files:
                results.extend(import_file(fz, path, defaults, format_, bar))
    seconds = time.perf_counter() - started
    indicators = sum(r.stats.indicators for r in results if r.stats)
    if as_json:
        out = {
            "files": [r.as_dict() for r in results],
            "skipped_files": [str(p) for p in left_out],
            "totals": _totals(results),
            "problems": [
                {
                    "file": r.path,
                    "line": p.line,
                    "field": p.field,
                    "reason": p.reason,
                    "text": p.text,
                }
                for r in results
                for p in r.problems
            ][:100],
            "seconds": round(seconds, 3),
        }
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        _print_import(results, left_out, seconds, lang)
    if results and all(r.error for r in results):
        raise typer.Exit(2)  # every file failed for its options (e.g. a plain list, no --kind)
    if indicators == 0:
        if not as_json:
            err.print(f"[yellow]{label('nothing', lang)}[/yellow]")
        raise typer.Exit(1)


def _problem_record(path: str, p: Problem) -> dict[str, Any]:
    return {"file": path, "line": p.line, "field": p.field, "reason": p.reason, "text": p.text}


def _checked_mapping(pairs: list[str]) -> dict[str, str]:
    mapping = _mapping(pairs)
    try:
        FeedOptions(format="csv", kind=IndicatorKind.DOMAIN, mapping=mapping)
    except FeedError as exc:
        raise _usage(str(exc)) from None
    return mapping


def _totals(results: list[FileResult]) -> dict[str, int]:
    keys = ("read", "indicators", "added", "upgraded", "unchanged", "refused", "problems")
    rows = [r.as_dict() for r in results]
    return {k: sum(int(row[k]) for row in rows) for k in (*keys, "unsupported", "skipped")}


def _print_import(
    results: list[FileResult], left_out: list[Path], seconds: float, lang: str
) -> None:
    table = Table(title=label("import_title", lang))
    keys = ("read", "added", "upgraded", "unchanged", "refused", "problems")
    table.add_column(label("file", lang), overflow="fold")
    table.add_column(label("format", lang))
    for key in keys:
        table.add_column(label(key, lang), justify="right")
    names = [Path(r.path).name for r in results]
    for r, name in zip(results, names, strict=True):
        display = name if names.count(name) == 1 else r.path
        row = r.as_dict()
        if r.error:
            error = f"[red]{escape(r.error)}[/red]"
            table.add_row(escape(display), r.format, *[""] * (len(keys) - 1), error)
            continue
        table.add_row(escape(display), r.format, *(f"{int(row[k]):,}" for k in keys))
    if len(results) > 1:
        totals = _totals(results)
        table.add_row(label("total", lang), "", *(f"{totals[k]:,}" for k in keys), style="bold")
    console.print(table)
    unsupported = sum(r.stats.unsupported for r in results if r.stats)
    extra = f" · {label('unsupported', lang)} {unsupported:,}" if unsupported else ""
    console.print(label("seconds", lang, s=seconds) + extra)
    if left_out:
        skipped = ", ".join(escape(p.name) for p in left_out)
        console.print(f"{label('skipped_files', lang)}: {skipped}")
    shown = [(r.path, p) for r in results for p in r.problems][:PROBLEMS_SHOWN]
    if shown:
        problems = Table(title=label("first_problems", lang, n=len(shown)))
        for key in ("where", "field", "reason", "text"):
            problems.add_column(label(key, lang), overflow="fold")
        for path, p in shown:
            problems.add_row(
                escape(f"{Path(path).name}:{p.line}"),
                escape(p.field or ""),
                escape(p.reason),
                escape(p.text),
            )
        console.print(problems)


# --------------------------------------------------------------------------- check


@app.command()
def check(
    values: Annotated[list[str] | None, typer.Argument(help="Values to check.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read values from a file, one a line.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", "-k", help="Kind of every value (default: guessed).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Check values against the indicators: verdict, matched indicator and why."""
    settings = _settings()
    lang = settings.lang
    chosen = _kind(kind)
    wanted = list(values or [])
    if file is not None:
        if not file.is_file():
            raise _usage(f"{file} does not exist")
        with file.open("rb") as fh:
            head = fh.read(65_536)
            fh.seek(0)
            encoding = detect_encoding(head)
            for raw in _open_lines(fh, encoding):
                text = (
                    raw.rstrip(b"\r\n")
                    .decode("utf-8" if encoding != "gb18030" else "gb18030", errors="replace")
                    .lstrip("\ufeff")
                    .strip()
                )
                if text and not text.startswith("#"):
                    wanted.append(text)
    if not wanted:
        raise _usage("give values to check, or --file PATH")
    kinds = [chosen or guess_kind(v) for v in wanted]
    with App(settings) as fz:
        index = fz.intel_index_for(list(zip(kinds, wanted, strict=True)))
    answers: list[Any] = [None] * len(wanted)
    for k in dict.fromkeys(kinds):
        positions = [i for i, kk in enumerate(kinds) if kk is k]
        for i, explained in zip(
            positions, index.check(k, [wanted[i] for i in positions]), strict=True
        ):
            answers[i] = explained
    if as_json:
        for e in answers:
            typer.echo(json.dumps(_check_record(e, lang), ensure_ascii=False))
        return
    table = Table(title=label("check_title", lang))
    for key in ("value", "kind", "verdict", "matched", "reason"):
        table.add_column(label(key, lang), overflow="fold")
    for e in answers:
        rec = _check_record(e, lang)
        verdict = str(rec["verdict"])
        shown = VERDICT_ZH.get(verdict, verdict) if not lang.lower().startswith("en") else verdict
        colour = {"fraud": "red", "suspicious": "yellow", "allow": "green"}.get(verdict)
        cell = f"[{colour}]{escape(shown)}[/{colour}]" if colour else escape(shown)
        kind_shown = str(rec["kind"])
        if not lang.lower().startswith("en") and kind_shown in set(IndicatorKind):
            kind_shown = IndicatorKind(kind_shown).label_zh
        table.add_row(
            escape(str(rec["value"])),
            escape(kind_shown),
            cell,
            escape(str(rec["matched"] or "")),
            escape(str(rec["reason"])),
        )
    console.print(table)


def _check_record(e: Any, lang: str) -> dict[str, Any]:
    english = lang.lower().startswith("en")
    return {
        "value": e.value,
        "verdict": _dump(e.verdict),
        "matched": e.matched,
        "reason": e.reason if english else e.reason_zh,
        "kind": _dump(e.kind),
        "normalised": e.normalised,
        "source": e.source,
        "confidence": e.confidence,
    }


# --------------------------------------------------------------------------- export


@app.command()
def export(
    kind: Annotated[str | None, typer.Option("--kind", "-k", help="Only this kind.")] = None,
    format_: Annotated[
        str, typer.Option("--format", "-f", help=f"{', '.join(EXPORT_FORMATS)}.")
    ] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (default: stdout).")
    ] = None,
    include_expired: Annotated[
        bool, typer.Option("--include-expired", help="Also indicators no longer in force.")
    ] = False,
) -> None:
    """Export the indicators in force, with every field."""
    settings = _settings()
    chosen = _kind(kind)
    if format_ not in EXPORT_FORMATS:
        raise _usage(f"unknown format {format_!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    now = dt.datetime.now(dt.UTC)
    with App(settings) as fz:
        indicators = fz.intel.all(chosen, active_at=None if include_expired else now)
    lines = export_lines(indicators, format_)
    if out is None:
        for chunk in lines:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as fh:
        for chunk in lines:
            fh.write(chunk)
    partial.replace(out)
    err.print(label("exported", settings.lang, n=len(indicators), path=escape(str(out))))


# --------------------------------------------------------------------------- one indicator


def _value(kind: IndicatorKind, raw: str) -> str:
    try:
        return normalise_value(kind, raw)
    except InvalidValue as exc:
        raise _usage(f"{kind.value} {raw!r}: {exc.reason}") from None


@app.command()
def show(
    kind: Annotated[str, typer.Argument(help="phone, domain, url, account, app or device.")],
    value: Annotated[str, typer.Argument(help="The value (normalised here).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One indicator and its audit trail."""
    settings = _settings()
    lang = settings.lang
    chosen = _kind(kind)
    assert chosen is not None
    normal = _value(chosen, value)
    with App(settings) as fz:
        found = fz.intel.get(chosen, normal)
        history = fz.intel.history(chosen, normal)
    if found is None:
        err.print(label("not_found", lang, kind=chosen.value, value=escape(normal)))
        raise typer.Exit(1)
    if as_json:
        record = {name: _dump(getattr(found, name)) for name in type(found).model_fields}
        record["history"] = [_change_record(c) for c in history]
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    facts = Table(show_header=False, title=escape(f"{chosen.value} {normal}"))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    for name in ("verdict", "confidence", "source", "first_seen", "last_seen", "expires", "note"):
        item = _dump(getattr(found, name))
        if name == "verdict" and not lang.lower().startswith("en"):
            item = VERDICT_ZH.get(str(item), item)
        facts.add_row(label(name, lang), escape("" if item is None else str(item)))
    console.print(facts)
    trail = Table(title=label("history", lang))
    for key in ("at", "actor", "action", "change", "reason"):
        trail.add_column(label(key, lang), overflow="fold")
    for c in history:
        trail.add_row(
            c.at.isoformat(timespec="seconds"),
            escape(c.actor),
            c.action.value,
            escape(_describe(c)),
            escape(c.reason),
        )
    console.print(trail)


def _change_record(c: Change) -> dict[str, Any]:
    return {
        "seq": c.seq,
        "at": c.at.isoformat(),
        "actor": c.actor,
        "action": c.action.value,
        "old": c.old,
        "new": c.new,
        "reason": c.reason,
    }


def _describe(c: Change) -> str:
    if c.old is None:
        return ", ".join(f"{k}={v}" for k, v in (c.new or {}).items() if v is not None)
    return ", ".join(f"{k}: {c.old.get(k)} → {(c.new or {}).get(k)}" for k in c.old)


def _store_one(
    kind: str,
    value: str,
    verdict: Verdict,
    reason: str,
    confidence: float,
    note: str | None,
    source: str,
) -> None:
    settings = _settings()
    chosen = _kind(kind)
    assert chosen is not None
    normal = _value(chosen, value)
    indicator = Indicator(
        kind=chosen,
        value=normal,
        verdict=verdict,
        confidence=confidence,
        source=source,
        note=note,
    )
    with App(settings) as fz:
        report = fz.intel.upsert_many([indicator], actor=_actor(), reason=reason)
    console.print(
        escape(f"{chosen.value} {normal}: ") + label("stored", settings.lang, **report.as_dict())
    )


@app.command()
def add(
    kind: Annotated[str, typer.Argument(help="phone, domain, url, account, app or device.")],
    value: Annotated[str, typer.Argument(help="The value.")],
    verdict: Annotated[str, typer.Option(help="fraud, suspicious or allow.")] = "fraud",
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "added by hand",
    confidence: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.9,
    note: Annotated[str | None, typer.Option(help="A note kept with the indicator.")] = None,
) -> None:
    """Add (or change) one indicator by hand; a person's verdict replaces a feed's."""
    chosen = _verdict(verdict)
    assert chosen is not None
    _store_one(kind, value, chosen, reason, confidence, note, "manual")


@app.command()
def allow(
    kind: Annotated[str, typer.Argument(help="phone, domain, url, account, app or device.")],
    value: Annotated[str, typer.Argument(help="The value.")],
    reason: Annotated[str, typer.Option(help="Why it is allowed (required).")],
    note: Annotated[str | None, typer.Option(help="A note kept with the indicator.")] = None,
) -> None:
    """Put a value on the allow list; feeds can no longer block it."""
    _store_one(kind, value, Verdict.ALLOW, reason, 0.9, note, "manual")


@app.command()
def expire(
    kind: Annotated[str, typer.Argument(help="phone, domain, url, account, app or device.")],
    value: Annotated[str, typer.Argument(help="The value.")],
    reason: Annotated[str, typer.Option(help="Why it is retired (required).")],
) -> None:
    """Retire an indicator now (it stays in the store with its history)."""
    settings = _settings()
    chosen = _kind(kind)
    assert chosen is not None
    normal = _value(chosen, value)
    with App(settings) as fz:
        changed = fz.intel.expire(
            chosen, normal, at=dt.datetime.now(dt.UTC), actor=_actor(), reason=reason
        )
    key = "expired_ok" if changed else "expired_no"
    console.print(label(key, settings.lang, kind=chosen.value, value=escape(normal)))
    if not changed:
        raise typer.Exit(1)
