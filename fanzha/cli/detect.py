"""``fanzha detect`` (replay the lake through the engine, keep the warnings) and
``fanzha rules list|show|test``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fanzha.detect.engine import EngineConfig, warnings_table
from fanzha.detect.intel_view import IntelView
from fanzha.detect.rules import BY_ID, RULES, Rule
from fanzha.detect.scoring import LEVEL_ZH
from fanzha.detection import (
    DetectReport,
    build_engine,
    lake_files,
    lake_windows,
    late_letters,
    persons_table,
    run_engine,
    warning_rows,
)
from fanzha.i18n import pick
from fanzha.live import adopt, snapshots_of
from fanzha.model import values
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.store.warnings import SqlWarnings

LABELS: dict[str, tuple[str, str]] = {
    "detecting": ("正在研判", "Detecting"),
    "events": ("事件", "events"),
    "warnings": ("预警", "warnings"),
    "level": ("等级", "level"),
    "count": ("数量", "count"),
    "summary": ("研判结果", "Detection"),
    "signals": ("信号", "signals"),
    "learnt": ("新增情报", "indicators learnt"),
    "rate": ("事件/秒", "events/s"),
    "seconds": ("用时(秒)", "seconds"),
    "id": ("规则", "rule"),
    "title": ("名称", "title"),
    "kinds": ("事件", "events"),
    "weight": ("权重", "weight"),
    "family": ("证据类", "family"),
    "doc": ("说明", "description"),
    "hits": ("命中", "hits"),
    "subjects": ("涉及人员", "subjects"),
    "empty": (
        "湖中没有事件：先运行 fanzha ingest 或 fanzha demo",
        "the lake is empty: run fanzha ingest or fanzha demo first",
    ),
    "unknown_rule": ("没有这条规则：{rule}", "no such rule: {rule}"),
}

app = typer.Typer(help="Rules: list, show, test over a lake window.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


def _l(key: str, lang: str) -> str:
    return pick(LABELS, key, lang)


def _when(text: str | None, name: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return values.parse_timestamp(text)
    except values.InvalidValue as exc:
        raise typer.BadParameter(f"{name}: {exc}") from None


def _rule(rule_id: str, lang: str) -> Rule:
    found = BY_ID.get(rule_id.split("@", 1)[0])
    if found is None:
        err.print(_l("unknown_rule", lang).format(rule=rule_id))
        raise typer.Exit(2)
    return found


def _run(
    app_: App,
    config: EngineConfig,
    window_s: float,
    since: dt.datetime | None,
    until: dt.datetime | None,
    *,
    rules: tuple[Rule, ...] = RULES,
    shadow: tuple[Rule, ...] = (),
    quiet: bool = False,
    keep_signals: bool = False,
) -> tuple[Any, DetectReport, list[Path]]:
    lang = app_.settings.lang
    intel = IntelView(app_.intel_index())
    engine = build_engine(
        persons_table(app_.store.sessions), intel, config, rules=rules, shadow=shadow
    )
    engine.keep_signals = keep_signals
    files = lake_files(app_.lake)  # read exactly these: the live state names them
    windows = list(lake_windows(app_.lake, window_s, since, until, files=files))
    if not windows:
        err.print(_l("empty", lang))
        raise typer.Exit(1)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} " + _l("events", lang)),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    ) as progress:
        task = progress.add_task(_l("detecting", lang), total=sum(w.events for w in windows))
        report = run_engine(engine, windows, lambda w, n: progress.advance(task, n))
    return engine, report, files


def detect(
    since: Annotated[str | None, typer.Option(help="Start of the event-time window.")] = None,
    until: Annotated[str | None, typer.Option(help="End of the event-time window.")] = None,
    window: Annotated[float, typer.Option(help="Micro-batch length in seconds.")] = 3600.0,
    shadow: Annotated[
        list[str] | None, typer.Option(help="Run this rule id in shadow (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Replay the lake through the detection engine and store the warnings (替换旧的研判结果)."""
    settings = _settings()
    lang = settings.lang
    shadows = tuple(_rule(r, lang) for r in shadow or [])
    with App(settings) as app_:
        begin, end = _when(since, "--since"), _when(until, "--until")
        engine, report, files = _run(
            app_, EngineConfig(), window, begin, end, shadow=shadows, quiet=as_json
        )
        if report.late_rows:
            app_.store.dead_letters.add_many(late_letters(report.late_rows, engine.config.grace_s))
        store = SqlWarnings(app_.store.sessions)
        store.clear()
        rows = warning_rows(engine)
        store.upsert_many(rows)
        # The live loop of `fanzha serve` continues from this engine (the whole lake read),
        # else reads the whole lake again at its next start.
        if begin is None and end is None and not shadows:
            adopt(app_, engine, files)
        else:
            snapshots_of(app_).reset()
    live = [r for r in rows if not r["shadow"]]
    report.warnings = len(live)
    report.shadow_warnings = len(rows) - len(live)
    for r in live:
        report.by_level[r["level"]] = report.by_level.get(r["level"], 0) + 1
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return
    table = Table(title=_l("summary", lang))
    table.add_column(_l("level", lang))
    table.add_column(_l("count", lang), justify="right")
    for level in (4, 3, 2, 1):
        name = f"{level} {LEVEL_ZH[level]}" if lang != "en" else str(level)
        table.add_row(name, f"{report.by_level.get(level, 0):,}")
    console.print(table)
    rate = report.events / report.seconds if report.seconds else 0.0
    console.print(
        f"{_l('events', lang)} {report.events:,} · {_l('signals', lang)} {report.signals:,} · "
        f"{_l('learnt', lang)} {report.learnt:,} · {_l('rate', lang)} {rate:,.0f} · "
        f"{_l('seconds', lang)} {report.seconds:.1f}"
    )


@app.command("list")
def list_rules(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every registered rule with its version, events, weight and one-line description."""
    lang = _settings().lang
    if as_json:
        print(json.dumps([_rule_json(r) for r in RULES], ensure_ascii=False))
        return
    table = Table()
    for key in ("id", "title", "kinds", "family", "weight", "doc"):
        table.add_column(_l(key, lang))
    for r in RULES:
        table.add_row(
            r.key,
            r.title_zh if lang != "en" else r.title_en,
            ",".join(k.name.lower() for k in r.kinds),
            r.family,
            f"{r.weight:g}",
            r.doc,
        )
    console.print(table)


@app.command("show")
def show_rule(rule_id: Annotated[str, typer.Argument(help="Rule id (or id@version).")]) -> None:
    """One rule: description, events, weight, floor, config with defaults."""
    r = _rule(rule_id, _settings().lang)
    print(json.dumps(_rule_json(r), ensure_ascii=False, indent=2))


@app.command("test")
def test_rule(
    rule_id: Annotated[str, typer.Argument(help="Rule id (or id@version).")],
    since: Annotated[str | None, typer.Option(help="Start of the event-time window.")] = None,
    until: Annotated[str | None, typer.Option(help="End of the event-time window.")] = None,
    window: Annotated[float, typer.Option(help="Micro-batch length in seconds.")] = 3600.0,
    config: Annotated[
        str | None, typer.Option(help='Config changes as JSON, e.g. {"min_seconds": 600}.')
    ] = None,
    limit: Annotated[int, typer.Option(help="Hits to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run one rule version over a lake window in shadow and report its hits (nothing is stored)."""
    settings = _settings()
    lang = settings.lang
    r = _rule(rule_id, lang)
    if config:
        try:
            r = r.with_config(**json.loads(config))
        except (ValueError, TypeError) as exc:
            raise typer.BadParameter(f"--config: {exc}") from None
    hits: list[dict[str, Any]] = []
    with App(settings) as app_:
        engine, report, _ = _run(
            app_,
            EngineConfig(),
            window,
            _when(since, "--since"),
            _when(until, "--until"),
            rules=(r,),
            quiet=as_json,
            keep_signals=True,
        )
    for s in engine.signals_seen:
        if s.rule != r.id:
            continue
        hits.append(
            {
                "at": dt.datetime.fromtimestamp(s.at, dt.UTC).isoformat(),
                "subject": engine.subject_key(s.subject),
                "event_id": s.event_id,
                "value": s.value,
            }
        )
    subjects = len({h["subject"] for h in hits})
    sample = sorted(hits, key=lambda h: h["at"])[:limit]
    out = {
        "rule": r.key,
        "events": report.events,
        "hits": len(hits),
        "subjects": subjects,
        "sample": sample,
    }
    if as_json:
        print(json.dumps(out, ensure_ascii=False))
        return
    console.print(
        f"{r.key} · {_l('events', lang)} {report.events:,} · {_l('hits', lang)} "
        f"{len(hits):,} · {_l('subjects', lang)} {subjects:,}"
    )
    table = Table()
    for col in ("at", "subject", "event_id", "value"):
        table.add_column(col)
    for h in sample:
        table.add_row(h["at"], h["subject"], h["event_id"], h["value"])
    console.print(table)


def _rule_json(r: Rule) -> dict[str, Any]:
    return {
        "id": r.id,
        "version": r.version,
        "title_zh": r.title_zh,
        "title_en": r.title_en,
        "doc": r.doc,
        "kinds": [k.name.lower() for k in r.kinds],
        "family": r.family,
        "weight": r.weight,
        "floor": r.floor,
        "stage": r.stage,
        "exposure": r.exposure,
        "target": r.target.value,
        "config": r.config.model_dump(mode="json"),
        "config_schema": type(r.config).model_json_schema(),
    }


__all__ = ["app", "detect", "warnings_table"]
