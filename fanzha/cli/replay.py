"""``fanzha replay``: stream a simulation's events into the platform in event-time order, with a
live view of simulated time and events per type, and a summary at the end; with
``--responders simulated``, run it through the whole platform (:mod:`fanzha.replaying`) and
print the scorecard."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fanzha.i18n import pick, t
from fanzha.ingest.pipeline import IngestReport
from fanzha.model.events import EVENT_TYPES
from fanzha.replaying import ReplayError, ReplayOptions, Scorecard, replay_with_responders
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.sim.stream import REPLAY_ORDER, ReplayStats, Window, event_files, replay

MAX_SPEED = 100_000.0
_Show = Callable[[Window], None]

# Labels only this command shows (zh-CN, en); the shared ones come from fanzha.i18n.
LABELS: dict[str, tuple[str, str]] = {
    "replaying": ("正在回放", "Replaying"),
    "replay_summary": ("回放结果", "Replay summary"),
    "events": ("事件", "events"),
    "windows": ("批次", "windows"),
    "simulated": ("模拟时长(秒)", "simulated seconds"),
    "speed": ("实际倍速", "actual speed"),
    "scorecard": ("全流程回放评分(模拟民警)", "Scorecard (whole platform, simulated responders)"),
    "victims": ("受骗人(原本会损失)", "victims (would have lost money)"),
    "protected": ("损失前成功保护", "protected before any loss"),
    "instructions": ("预警指令", "instructions"),
    "on_time": ("按时联系率", "contacted on time"),
    "reach": ("电话/上门接通率", "reach rate (calls, visits)"),
    "refusal": ("接通后拒听率", "refused once answered"),
    "dissuasion": ("劝阻成功率", "dissuasion success rate"),
    "lost": ("实际损失(元)", "money lost (yuan)"),
    "saved": ("避免损失(元)", "money saved (yuan)"),
    "warnings": ("预警", "warnings"),
    "escalated": ("超时升级的指令", "instructions escalated"),
    "visits": ("派警上门", "home visits"),
    "calls": ("劝阻电话", "calls"),
    "dissuaded": ("民警劝阻成功(起)", "scams stopped by officers"),
    "sms": ("预警短信", "warning SMS"),
    "heeded": ("看短信后停止", "stopped on reading an SMS"),
    "cases": ("已被骗转立案", "cases opened (already defrauded)"),
    "late": ("劝阻后仍付款(同一批次)", "paid after being stopped (same window)"),
    "feedback": ("情报反馈(上调/下调)", "indicator feedback (raise / lower)"),
    "adjusted": ("已调整情报置信度", "stored indicator confidences moved"),
    "cpu": ("CPU秒", "CPU seconds"),
    "replaying_platform": ("全流程回放", "Replaying through the platform"),
    "problems": ("问题", "problems"),
}


def _label(key: str, lang: str) -> str:
    return pick(LABELS, key, lang)


@dataclass
class _Totals:
    """Per type: events sent and what ingestion made of them."""

    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0

    def add(self, rows: int, report: IngestReport) -> None:
        self.sent += rows
        self.accepted += report.accepted
        self.rejected += report.rejected
        self.duplicates += report.duplicates


def parse_speed(speed: float | None) -> float | None:
    """The speed, checked to lie in (0, 100000]; None (as fast as possible) passes."""
    if speed is not None and not 0 < speed <= MAX_SPEED:
        raise typer.BadParameter(
            f"must be in (0, {MAX_SPEED:,.0f}], got {speed}", param_hint="--speed"
        )
    return speed


def parse_time(text: str | None, tz: str, option: str) -> dt.datetime | None:
    """An ISO 8601 time; without an offset it is read in the configured zone."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 time: {text!r}", param_hint=option) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(tz))


def _check_types(types: Collection[str] | None) -> list[str] | None:
    unknown = sorted(set(types or ()) - set(EVENT_TYPES))
    if unknown:
        known = ", ".join(EVENT_TYPES)
        raise typer.BadParameter(f"unknown {unknown}; known: {known}", param_hint="--type")
    return list(types) if types else None


def run_replay(
    settings: Settings,
    folder: Path,
    *,
    speed: float | None,
    window_s: float,
    since: str | None,
    until: str | None,
    types: Collection[str] | None,
    console: Console,
    err: Console,
) -> None:
    """Replay ``folder/events`` into the platform and print a summary."""
    if window_s <= 0:
        raise typer.BadParameter(f"must be positive, got {window_s}", param_hint="--window")
    speed = parse_speed(speed)
    start = parse_time(since, settings.timezone, "--since")
    stop = parse_time(until, settings.timezone, "--until")
    wanted = _check_types(types)
    events_dir = folder / "events"
    if not events_dir.is_dir():
        err.print(f"[red]error:[/red] {events_dir}: no such folder (expected a simulation)")
        raise typer.Exit(1)
    totals: dict[str, _Totals] = {}
    with App(settings) as fz, _live(settings, events_dir, start, stop, wanted, totals, err) as show:

        def sink(event_type: str, table: pa.Table) -> None:
            report = fz.ingest_table(table, event_type, source=str(events_dir / event_type))
            totals.setdefault(event_type, _Totals()).add(table.num_rows, report)

        stats = replay(
            events_dir,
            sink,
            speed=speed,
            window_s=window_s,
            since=start,
            until=stop,
            types=wanted,
            progress=show,
            tz=settings.timezone,
        )
    _summary(stats, totals, settings.lang, console)


@contextmanager
def _live(
    settings: Settings,
    events_dir: Path,
    since: dt.datetime | None,
    until: dt.datetime | None,
    types: list[str] | None,
    totals: dict[str, _Totals],
    err: Console,
) -> Iterator[_Show]:
    """A progress bar over simulated time, with the events sent per type so far."""
    zone = ZoneInfo(settings.timezone)
    first, last = _span(events_dir, types, zone, since, until)
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[now]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        total = (last - first).total_seconds() if first and last else None
        task = bar.add_task(_label("replaying", settings.lang), total=total, now="", counts="")

        def show(window: Window) -> None:
            done = (window.end - first).total_seconds() if first else None
            counts = " · ".join(f"{k} {v.sent:,}" for k, v in _ordered(totals))
            now = window.end.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            bar.update(task, completed=done, now=now, counts=counts)

        yield show


def _span(
    events_dir: Path,
    types: list[str] | None,
    zone: ZoneInfo,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Simulated time the files cover (local days), narrowed by ``since`` and ``until``."""
    days = list(event_files(events_dir, types))
    if not days:
        return None, None
    first = dt.datetime.combine(days[0], dt.time(), zone)
    last = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), zone)
    return max(first, since) if since else first, min(last, until) if until else last


def _ordered(totals: dict[str, _Totals]) -> list[tuple[str, _Totals]]:
    return [(k, totals[k]) for k in REPLAY_ORDER if k in totals]


def _summary(stats: ReplayStats, totals: dict[str, _Totals], lang: str, console: Console) -> None:
    table = Table(title=_label("replay_summary", lang))
    for key, label in (
        ("type", t("type", lang)),
        ("events", _label("events", lang)),
        ("accepted", t("accepted", lang)),
        ("rejected", t("rejected", lang)),
        ("duplicates", t("duplicates", lang)),
    ):
        table.add_column(label, justify="left" if key == "type" else "right")
    for name, row in _ordered(totals):
        cells = (row.sent, row.accepted, row.rejected, row.duplicates)
        table.add_row(name, *(f"{n:,}" for n in cells))
    console.print(table)
    actual = stats.simulated_s / stats.wall_s if stats.wall_s > 0 else 0.0
    console.print(
        f"{_label('events', lang)} {stats.total:,} · {_label('windows', lang)} {stats.windows:,}"
        f" · {_label('simulated', lang)} {stats.simulated_s:,.0f} · {t('seconds', lang)}"
        f" {stats.wall_s:.2f} · {_label('speed', lang)} ×{actual:,.0f}"
    )
    if any(row.rejected for row in totals.values()):
        console.print(f"[yellow]{t('some_rejected', lang)}[/yellow]")


# ---------------------------------------------------------------------- with responders


@dataclass(frozen=True)
class ResponderRun:
    """The command-line choices of a replay with responders."""

    mode: str
    window_s: float
    ingest: bool
    seed: int | None
    as_json: bool
    conflicting: list[str]


def run_replay_responders(
    settings: Settings, folder: Path, run: ResponderRun, *, console: Console, err: Console
) -> Scorecard:
    """Replay ``folder`` through the whole platform with simulated responders and print the
    scorecard (usage problems exit with 2, a folder that is not a simulation with 1)."""
    if run.mode != "simulated":
        raise typer.BadParameter(
            f"only 'simulated' exists, got {run.mode!r}", param_hint="--responders"
        )
    if run.conflicting:
        raise typer.BadParameter(
            f"{', '.join(run.conflicting)} cannot be used with --responders",
            param_hint="--responders",
        )
    if run.window_s <= 0:
        raise typer.BadParameter(f"must be positive, got {run.window_s}", param_hint="--window")
    options = ReplayOptions(window_s=run.window_s, ingest=run.ingest, seed=run.seed)
    try:
        with App(settings) as fz, _platform_bar(settings, folder, err, quiet=run.as_json) as show:
            card = replay_with_responders(fz, folder, options, show)
    except ReplayError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    if run.as_json:
        typer.echo(json.dumps(card.to_json(), ensure_ascii=False))
    else:
        print_scorecard(card, console, settings.lang)
    return card


@contextmanager
def _platform_bar(
    settings: Settings, folder: Path, err: Console, *, quiet: bool
) -> Iterator[Callable[[Window, int], None]]:
    """A progress bar over simulated time (from the manifest's start to its end)."""
    start = end = None
    try:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        start = dt.datetime.fromisoformat(manifest["start"])
        end = dt.datetime.fromisoformat(manifest["end"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # the replay itself reports what is wrong with the folder
    zone = ZoneInfo(settings.timezone)
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[now]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[events]}"),
    )
    with Progress(*columns, console=err, transient=True, disable=quiet) as bar:
        total = (end - start).total_seconds() if start and end else None
        label = _label("replaying_platform", settings.lang)
        task = bar.add_task(label, total=total, now="", events="")

        def show(window: Window, events: int) -> None:
            done = max(0.0, (window.end - start).total_seconds()) if start else None
            now = window.end.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            bar.update(task, completed=done, now=now, events=f"{events:,}")

        yield show


def print_scorecard(card: Scorecard, console: Console, lang: str) -> None:
    """The headline figures as one table (then the per-level KPIs with ``fanzha kpi``)."""
    table = Table(title=_label("scorecard", lang), show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    rows = (
        ("victims", f"{card.victims:,}"),
        ("protected", f"{card.protected_before_loss:,}"),
        ("instructions", f"{card.instructions:,}"),
        ("on_time", pct(card.on_time_rate)),
        ("reach", pct(card.reach_rate)),
        ("refusal", pct(card.refusal_rate)),
        ("dissuasion", pct(card.dissuasion_success_rate)),
        ("lost", f"{card.money_lost_fen / 100:,.0f}"),
        ("saved", f"{card.money_saved_fen / 100:,.0f}"),
        ("warnings", f"{card.warnings:,}"),
        ("escalated", f"{card.escalated:,}"),
        ("calls", f"{card.calls:,}"),
        ("dissuaded", f"{card.dissuaded:,}"),
        ("visits", f"{card.home_visits:,}"),
        ("sms", f"{card.sms_sent:,}"),
        ("heeded", f"{card.sms_heeded:,}"),
        ("cases", f"{card.cases_opened:,}"),
        ("late", f"{card.paid_after_stop:,}"),
        (
            "feedback",
            f"{card.indicator_feedback.get('raise', 0):,} / "
            f"{card.indicator_feedback.get('lower', 0):,}",
        ),
        ("adjusted", f"{card.indicators_adjusted:,}"),
        ("events", f"{card.events:,}"),
        ("windows", f"{card.windows:,}"),
    )
    for key, value in rows:
        table.add_row(_label(key, lang), value)
    table.add_row(t("seconds", lang), f"{card.seconds:.1f}")
    table.add_row(_label("cpu", lang), f"{card.cpu_seconds:.1f}")
    console.print(table)
    if card.problems:
        console.print(f"[yellow]{_label('problems', lang)}:[/yellow] {len(card.problems)}")
        for line in card.problems[:5]:
            console.print(f"  {line}", markup=False)
