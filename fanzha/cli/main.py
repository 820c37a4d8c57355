"""The ``fanzha`` command: ingest, dead letters, SQL over the lake, docs, demo and serve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from fanzha.cli.case import case_app, orders_app
from fanzha.cli.detect import app as rules_app
from fanzha.cli.detect import detect
from fanzha.cli.intel import app as intel_app
from fanzha.cli.kpi import kpi
from fanzha.cli.org import app as org_app
from fanzha.cli.security import audit_app, ensure_admin, tokens_app, users_app
from fanzha.cli.trace import trace_command
from fanzha.i18n import status_label, t
from fanzha.ingest.pipeline import IngestError, IngestReport, Request, expand_paths
from fanzha.ingest.profiles import BUILTIN
from fanzha.ingest.readers import FORMATS
from fanzha.lake.query import QueryError, run_sql
from fanzha.memory import use_process_policy
from fanzha.model.events import EVENT_TYPES, REFERENCE_TYPES
from fanzha.service import App
from fanzha.settings import Settings

app = typer.Typer(
    help="Fanzha (反诈): warn, dissuade, stop payments, trace the money.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _process_policy() -> None:
    # Every command runs with the process memory policy (fanzha.memory): small pages.
    use_process_policy()


deadletters_app = typer.Typer(help="Rejected records: list, show, retry.", no_args_is_help=True)
docs_app = typer.Typer(help="Generated documentation.", no_args_is_help=True)
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(docs_app, name="docs")
app.add_typer(intel_app, name="intel")
app.add_typer(rules_app, name="rules")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
app.add_typer(org_app, name="org")
app.add_typer(case_app, name="case")
app.add_typer(orders_app, name="orders")
app.command("detect")(detect)
app.command("trace")(trace_command)
app.command("kpi")(kpi)

console = Console()
err = Console(stderr=True)

TYPES_HELP = ", ".join([*EVENT_TYPES, *REFERENCE_TYPES])


def _settings() -> Settings:
    return Settings()


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise typer.BadParameter(f"--map expects field=column, got {pair!r}")
        mapping[field.strip()] = column.strip()
    return mapping


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    type_: Annotated[
        str | None, typer.Option("--type", "-t", help=f"Record type: {TYPES_HELP}.")
    ] = None,
    format_: Annotated[
        str | None, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(help=f"Column layout: {', '.join([*BUILTIN, 'transfers'])}."),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="field=column for the transfers profile (repeatable)."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Land the whole batch or nothing.")] = False,
    source: Annotated[str | None, typer.Option(help="Source name when records lack one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate, normalise and store events; rejected records become dead letters."""
    settings = _settings()
    request = Request(
        paths=paths,
        event_type=type_,
        format=format_,
        profile=profile,
        mapping=_parse_map(map_ or []) or None,
        strict=strict,
        source=source,
    )
    try:
        expand_paths(paths)  # a missing path fails before the store is opened
        with App(settings) as fz:
            report = ingest_with_progress(fz, request, quiet=as_json)
    except IngestError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        _print_report(report, settings.lang)
    if not report.committed:
        raise typer.Exit(2)


def ingest_with_progress(
    fz: App, request: Request, *, quiet: bool = False, rows: int | None = None
) -> IngestReport:
    """Ingest with a Rich bar of rows on stderr; ``rows``, when known, is the bar's total.

    Without a total (``fanzha ingest`` cannot know it before reading) the bar pulses and the
    row count still moves; the demo knows its total from the simulation's manifest.
    """
    if quiet:
        return fz.ingest(request)
    lang = fz.settings.lang
    of = f" / {rows:,}" if rows else ""
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:,}" + of + " " + t("rows", lang)),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(t("ingesting", lang), total=rows or None, rows=0)

        def advance(n: int) -> None:
            done = int(bar.tasks[0].fields["rows"]) + n
            bar.update(task, completed=done, rows=done)

        return fz.ingest(request, progress=advance)


def _print_report(report: IngestReport, lang: str) -> None:
    table = Table(title=t("ingest_summary", lang))
    for key in ("file", "format", "accepted", "rejected", "duplicates", "error"):
        table.add_column(t(key, lang), justify="right" if key in {"accepted"} else "left")
    for f in report.files:
        table.add_row(
            f.path,
            f.format,
            f"{f.accepted:,}",
            f"{f.rejected:,}",
            f"{f.duplicates:,}",
            f.error or "",
        )
    console.print(table)
    totals = (
        f"{t('accepted', lang)} {report.accepted:,} · {t('rejected', lang)} {report.rejected:,}"
        f" · {t('duplicates', lang)} {report.duplicates:,} · {t('seconds', lang)} "
        f"{report.seconds:.2f}"
    )
    console.print(totals)
    if not report.committed:
        console.print(f"[red]{t('rolled_back', lang)}[/red]")
    elif report.rejected:
        console.print(f"[yellow]{t('some_rejected', lang)}[/yellow]")


@deadletters_app.command("list")
def deadletters_list(
    status: Annotated[str, typer.Option(help="open, retried, discarded or all.")] = "open",
    source: Annotated[str | None, typer.Option(help="Only this source file.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List dead letters, newest first."""
    settings = _settings()
    with App(settings) as fz:
        rows = fz.store.dead_letters.list(
            status=None if status == "all" else status, source=source, limit=limit
        )
    if as_json:
        out = [
            {
                "id": r.id,
                "status": r.status,
                "attempts": r.attempts,
                "source": r.letter.source,
                "location": r.letter.location,
                "event_type": r.letter.event_type,
                "field": r.letter.field,
                "reason": r.letter.reason,
            }
            for r in rows
        ]
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    lang = settings.lang
    if not rows:
        console.print(t("no_dead_letters", lang))
        return
    table = Table(title=t("dead_letters", lang))
    for key in ("id", "status", "source", "location", "type", "reason"):
        table.add_column(t(key, lang), overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id),
            status_label(r.status, lang),
            r.letter.source,
            r.letter.location,
            r.letter.event_type or "",
            r.letter.reason,
        )
    console.print(table)


@deadletters_app.command("show")
def deadletters_show(
    letter_id: Annotated[int, typer.Argument(help="Dead-letter id.")],
    raw: Annotated[bool, typer.Option("--raw", help="Write only the original bytes.")] = False,
) -> None:
    """Show one dead letter with its original bytes."""
    with App(_settings()) as fz:
        stored = fz.store.dead_letters.get(letter_id)
    if stored is None:
        err.print(f"[red]error:[/red] no dead letter {letter_id}")
        raise typer.Exit(1)
    letter = stored.letter
    if raw:
        typer.echo(letter.raw, nl=False)  # bytes pass through untouched
        return
    console.print(f"[bold]#{stored.id}[/bold] {stored.status} (attempts {stored.attempts})")
    console.print(f"source:   {letter.source}")
    console.print(f"location: {letter.location}")
    console.print(f"type:     {letter.event_type or '-'}   field: {letter.field or '-'}")
    console.print(f"reason:   {letter.reason}")
    shown = letter.raw[:2000].decode("utf-8", errors="backslashreplace")
    cut = " (truncated)" if letter.truncated or len(letter.raw) > 2000 else ""
    console.print(f"raw{cut}:", markup=False)
    console.print(shown, markup=False, highlight=False)


@deadletters_app.command("retry")
def deadletters_retry(
    letter_ids: Annotated[list[int] | None, typer.Argument(help="Ids to retry.")] = None,
    all_open: Annotated[bool, typer.Option("--all", help="Retry every open letter.")] = False,
) -> None:
    """Feed dead letters through ingestion again (after fixing settings or code)."""
    settings = _settings()
    with App(settings) as fz:
        ids = list(letter_ids or [])
        if all_open:
            ids += [r.id for r in fz.store.dead_letters.list(status="open", limit=1_000_000)]
        if not ids:
            err.print("[red]error:[/red] name dead-letter ids or pass --all")
            raise typer.Exit(1)
        result = fz.retry(ids)
    console.print(
        t(
            "retry_done",
            settings.lang,
            n=result.retried,
            ok=result.accepted,
            bad=result.still_failing,
        )
    )
    for line in result.skipped:
        console.print(f"[yellow]skipped[/yellow] {line}")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL over the views call, sms, transfer, …")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Most rows shown.")] = 1000,
) -> None:
    """Query the event lake with DuckDB (one view per event type)."""
    settings = _settings()
    from fanzha.lake import Lake

    lake = Lake(settings.lake_dir, settings.timezone)
    try:
        result = run_sql(lake, query, limit=limit)
    except QueryError as exc:
        err.print(f"[red]SQL error:[/red] {exc}")
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(orjson.dumps(result.to_pylist(), default=str).decode())
        return
    console.print(_rich_table(result))


def _rich_table(result: pa.Table) -> Table:
    table = Table(show_lines=False)
    for name in result.column_names:
        table.add_column(name, overflow="fold")
    for row in result.to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    table.caption = f"{result.num_rows} rows"
    return table


@app.command()
def runs(limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """Recent ingestion runs."""
    settings = _settings()
    lang = settings.lang
    with App(settings) as fz:
        rows = fz.store.runs.list(limit)
    table = Table(title=t("runs", lang))
    for key in ("id", "status", "accepted", "rejected", "duplicates", "created", "files"):
        table.add_column(t(key, lang), overflow="fold")
    for r in rows:
        table.add_row(
            r.id[:8],
            status_label(r.status, lang),
            str(r.accepted),
            str(r.rejected),
            str(r.duplicates),
            r.started_at.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M:%S"),
            ", ".join(r.files)[:120],
        )
    console.print(table)


@docs_app.command("events")
def docs_events(
    output: Annotated[Path, typer.Option(help="Where to write.")] = Path("docs/events.md"),
    check: Annotated[bool, typer.Option(help="Fail if the file is stale.")] = False,
) -> None:
    """Write docs/events.md from the event model (``--check``: fail when stale)."""
    from fanzha.ingest.profiles import transfers_markdown
    from fanzha.model.docs import events_markdown

    text = events_markdown(transfers_markdown())
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            err.print(f"[red]{output} is stale:[/red] run `fanzha docs events`")
            raise typer.Exit(1)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


@docs_app.command("simulation")
def docs_simulation(
    output: Annotated[Path, typer.Option(help="Where to write.")] = Path("docs/simulation.md"),
    check: Annotated[bool, typer.Option(help="Fail if the file is stale.")] = False,
) -> None:
    """Regenerate the parameter reference in docs/simulation.md (``--check``: fail when stale).

    Only the part after the generated-parameters marker is rewritten; the hand-written
    description of the model above it is kept.
    """
    from fanzha.sim.docs import check_simulation_doc, write_simulation_doc

    if check:
        if not check_simulation_doc(output):
            err.print(f"[red]{output} is stale:[/red] run `fanzha docs simulation`")
            raise typer.Exit(1)
        return
    changed = write_simulation_doc(output)
    console.print(f"wrote {output}" if changed else f"{output} is up to date")


@docs_app.command("detection")
def docs_detection(
    output: Annotated[Path, typer.Option(help="Where to write.")] = Path("docs/detection.md"),
    check: Annotated[bool, typer.Option(help="Fail if the file is stale.")] = False,
) -> None:
    """Regenerate the rule reference in docs/detection.md (``--check``: fail when stale).

    Only the part after the generated-rules marker is rewritten; the hand-written description
    of the engine above it is kept.
    """
    from fanzha.detect.docs import render

    current = output.read_text(encoding="utf-8") if output.exists() else None
    text = render(current)
    if check:
        if current != text:
            err.print(f"[red]{output} is stale:[/red] run `fanzha docs detection`")
            raise typer.Exit(1)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}" if current != text else f"{output} is up to date")


@app.command()
def demo(
    preset_name: Annotated[
        str,
        typer.Option(
            "--preset", help="Size: tiny (2k residents, 2 days), demo (50k, 14), city (1M, 30)."
        ),
    ] = "demo",
    seed: Annotated[
        int | None, typer.Option(min=0, help="Random seed (default: the preset's).")
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option(
            help="Simulation folder (default: <data_dir>/sim/<preset>-<seed>); "
            "reused when its manifest has the same parameters."
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="TCP port of the pages (127.0.0.1).")] = 8000,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Exit after the scorecard (serve nothing).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the scorecard as one JSON object (no tables).")
    ] = False,
) -> None:
    """Simulate a city with fraud in it and run it through the whole platform (warnings,
    dispatch, dissuasion, stop-payments, tracing); print the scorecard, create demo users
    and serve the pages."""
    from fanzha.cli.demo import run_demo, serve

    if preset_name not in ("tiny", "demo", "city"):
        err.print(f"[red]unknown preset {preset_name!r}[/red]: expected tiny, demo or city")
        raise typer.Exit(2)
    settings = _settings()
    run_demo(settings, preset_name, seed, folder, console, as_json=as_json)
    if not no_serve:
        serve(settings, "127.0.0.1", port, err if as_json else console)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (must be empty or new).")],
    preset_name: Annotated[
        str,
        typer.Option(
            "--preset", help="Size: tiny (2k residents, 2 days), demo (50k, 14), city (1M, 30)."
        ),
    ] = "demo",
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same bytes).")] = None,
    residents: Annotated[
        int | None, typer.Option(min=100, help="Override the preset's number of residents.")
    ] = None,
    days: Annotated[
        int | None, typer.Option(min=1, max=366, help="Override the preset's number of days.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or ndjson.")] = "parquet",
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Simulate a synthetic city and its fraud ecosystem, with ground truth, into a folder."""
    from fanzha.cli.simulate import build_params, print_summary, run_with_progress

    if preset_name not in ("tiny", "demo", "city"):
        err.print(f"[red]unknown preset {preset_name!r}[/red]: expected tiny, demo or city")
        raise typer.Exit(2)
    if fmt not in ("parquet", "ndjson"):
        err.print(f"[red]unknown format {fmt!r}[/red]: expected parquet or ndjson")
        raise typer.Exit(2)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        err.print(f"[red]{out} is not an empty folder[/red]: choose a new one")
        raise typer.Exit(2)
    lang = _settings().lang
    params = build_params(preset_name, seed, residents, days)
    quiet = Console(stderr=True) if as_json else console
    result = run_with_progress(params, out, fmt, quiet, lang)
    if as_json:
        print(json.dumps(result.manifest, ensure_ascii=False, indent=2, sort_keys=True))
        return
    print_summary(result, console, lang)


@app.command()
def replay(
    folder: Annotated[Path, typer.Argument(help="Simulation folder (the one holding events/).")],
    speed: Annotated[
        float | None,
        typer.Option(help="Simulated seconds per wall second, up to 100000; omit: no waiting."),
    ] = None,
    window: Annotated[
        float,
        typer.Option(
            help="Simulated seconds per batch; larger batches keep up with higher speeds"
            " (each batch costs tens of milliseconds to land)."
        ),
    ] = 600.0,
    since: Annotated[
        str | None, typer.Option(help="Start here (ISO 8601; local if no offset).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Stop before this time (ISO 8601).")] = None,
    type_: Annotated[
        list[str] | None, typer.Option("--type", "-t", help="Only this event type (repeatable).")
    ] = None,
    responders: Annotated[
        str | None,
        typer.Option(
            help="'simulated': run the whole platform (detection, dispatch, simulated officers,"
            " victims who stop paying) in accelerated event time and print the scorecard."
        ),
    ] = None,
    ingest_events: Annotated[
        bool,
        typer.Option(
            "--ingest/--no-ingest",
            help="With --responders: also land the events in the lake (slower);"
            " by default detection reads the simulation's files directly.",
        ),
    ] = False,
    seed: Annotated[
        int | None, typer.Option(help="With --responders: their seed (default: the simulation's).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --responders: the scorecard as one JSON object.")
    ] = False,
) -> None:
    """Stream a simulation's events into the platform in event-time order at a chosen speed;
    with --responders simulated, run it through the whole platform and score it."""
    from fanzha.cli.replay import ResponderRun, run_replay, run_replay_responders

    if responders is not None:
        run_replay_responders(
            _settings(),
            folder,
            ResponderRun(
                mode=responders,
                window_s=window,
                ingest=ingest_events,
                seed=seed,
                as_json=as_json,
                conflicting=_conflicting(speed=speed, since=since, until=until, type=type_),
            ),
            console=console,
            err=err,
        )
        return
    if as_json or seed is not None or ingest_events:
        raise typer.BadParameter("--json, --seed and --ingest need --responders simulated")
    run_replay(
        _settings(),
        folder,
        speed=speed,
        window_s=window,
        since=since,
        until=until,
        types=type_,
        console=console,
        err=err,
    )


def _conflicting(**options: object) -> list[str]:
    """The options given that a replay with responders does not take."""
    return [f"--{name}" for name, value in options.items() if value]


@app.command()
def evaluate(
    truth: Annotated[
        Path, typer.Option("--truth", help="The simulation's truth folder (DIR/truth).")
    ],
    warnings: Annotated[
        Path | None,
        typer.Option(help="Warnings Parquet file (default: the platform's own warnings)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scorecard as JSON.")] = False,
) -> None:
    """Score warnings against a simulation's truth: recall before loss, precision, false alarms."""
    from fanzha.cli.evaluate import run_evaluate

    run_evaluate(_settings(), truth, warnings, as_json=as_json, console=console, err=err)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Run the HTTP API (embedded profile); the first start creates the admin user."""
    import uvicorn

    from fanzha.api.app import create_app

    settings = _settings()
    with App(settings) as fz:
        ensure_admin(fz, settings.lang)  # the password goes to this terminal, not to a log
    uvicorn.run(create_app(settings), host=host, port=port)


if __name__ == "__main__":  # pragma: no cover
    app()
