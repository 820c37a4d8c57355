"""``fanzha replay``: stream a simulation's events into the platform in event-time order, with a
live view of simulated time and events per type, and a summary at the end."""

from __future__ import annotations

import datetime as dt
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
