"""Detection as a service: replay the lake (or a live stream of windows) through the engine and
keep the warnings in the store. Used by ``fanzha detect``, ``fanzha rules test`` and the demo.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from fanzha.detect.engine import Engine, EngineConfig, warnings_table
from fanzha.detect.intel_view import IntelView
from fanzha.detect.registry import Registry
from fanzha.detect.rules import RULES, Rule
from fanzha.detect.scoring import Warning, explain, signal_json
from fanzha.ingest.deadletter import DeadLetter
from fanzha.lake import Lake
from fanzha.model.events import EVENT_TYPES
from fanzha.sim.stream import DayFiles, Window, iter_day_windows
from fanzha.store.tables import PersonRecord

_PERSONS = PersonRecord.__table__


@dataclass
class DetectReport:
    """What a detection run did."""

    events: int = 0
    windows: int = 0
    signals: int = 0
    learnt: int = 0
    late: int = 0
    late_rows: list[tuple[str, str, int]] = field(default_factory=list)
    warnings: int = 0
    shadow_warnings: int = 0
    by_level: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "events": self.events,
            "windows": self.windows,
            "signals": self.signals,
            "learnt_indicators": self.learnt,
            "late": self.late,
            "warnings": self.warnings,
            "shadow_warnings": self.shadow_warnings,
            "by_level": {str(k): v for k, v in sorted(self.by_level.items())},
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events / self.seconds) if self.seconds else None,
        }


def lake_days(
    lake: Lake, types: Iterable[str] | None = None, files: Iterable[Path] | None = None
) -> dict[dt.date, DayFiles]:
    """The lake's Parquet files (or ``files`` of it) by local day, then type."""
    days: dict[dt.date, DayFiles] = {}
    wanted = frozenset(types or EVENT_TYPES)
    for path in sorted(lake_files(lake) if files is None else files):
        event_type = path.parent.parent.name
        if event_type in wanted:
            day = dt.date.fromisoformat(path.parent.name.removeprefix("day="))
            days.setdefault(day, {}).setdefault(event_type, []).append(path)
    return dict(sorted(days.items()))


def lake_files(lake: Lake) -> list[Path]:
    """Every visible file of the lake, all event types."""
    return [p for t in EVENT_TYPES for p in lake.files(t)]


def lake_windows(
    lake: Lake,
    window_s: float = 3600.0,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    types: Iterable[str] | None = None,
    files: Iterable[Path] | None = None,
) -> Iterator[Window]:
    """Event-time windows over the lake (or ``files`` of it), every event once, in order."""
    return iter_day_windows(lake_days(lake, types, files), window_s, since, until, tz=lake.tz)


def persons_table(sessions: Any) -> pa.Table:
    """The registry's residents as the Arrow table the engine's Registry reads."""
    cols = ("id_number", "birth_date", "phones", "accounts", "community")
    with sessions() as session:
        rows = session.execute(select(*(_PERSONS.c[c] for c in cols))).all()
    return pa.table(
        {
            "id_number": pa.array([r[0] for r in rows], pa.string()),
            "birth_date": pa.array([r[1] for r in rows], pa.date32()),
            "phones": pa.array([list(r[2] or []) for r in rows], pa.list_(pa.string())),
            "accounts": pa.array([list(r[3] or []) for r in rows], pa.list_(pa.string())),
            "community": pa.array([r[4] for r in rows], pa.string()),
        }
    )


def run_engine(
    engine: Engine,
    windows: Iterable[Window],
    on_window: Callable[[Window, int], None] | None = None,
) -> DetectReport:
    """Feed windows through the engine (watermark = window end), then flush."""
    report = DetectReport()
    start = time.perf_counter()
    for window in windows:
        result = engine.process(window.tables, int(window.end.timestamp()))
        report.windows += 1
        report.events += window.events
        report.signals += result.signals
        report.learnt += len(result.learnt)
        report.late += result.late
        report.late_rows += result.late_rows
        if on_window is not None:
            on_window(window, window.events)
    final = engine.flush()
    report.signals += final.signals
    report.learnt += len(final.learnt)
    report.seconds = time.perf_counter() - start
    return report


def late_letters(rows: Iterable[tuple[str, str, int]], grace_s: int) -> list[DeadLetter]:
    """Dead letters for events the engine set aside as later than its grace period (they are
    in the lake; detection did not run them in order)."""
    return [
        DeadLetter(
            source="detect",
            location=f"event {event_id}",
            event_type=event_type,
            field="ts",
            reason=(
                f"到达时已晚于水位线超过 {grace_s} 秒,未参与研判 / later than the watermark "
                f"by more than the {grace_s} s grace: not run by detection "
                f"(known at {dt.datetime.fromtimestamp(at, dt.UTC).isoformat()})"
            ),
            raw=event_id.encode(),
        )
        for event_type, event_id, at in rows
    ]


def warning_rows(engine: Engine) -> list[dict[str, Any]]:
    """Store rows of every warning the engine issued (live and shadow)."""
    titles = engine.titles()
    out = []
    scorers = [engine.scorer] + ([engine.shadow_scorer] if engine.shadow_scorer else [])
    for scorer in scorers:
        for w in scorer.warnings.values():
            out.append(warning_row(engine, w, titles))
    return out


def warning_row(engine: Engine, w: Warning, titles: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The store row of one warning (``titles``: :meth:`Engine.titles`)."""
    key = engine.subject_key(w.subject)
    zh, en = explain(w, titles)

    def when(s: int | None) -> dt.datetime | None:
        return None if s is None else dt.datetime.fromtimestamp(s, dt.UTC)

    return {
        "warning_id": w.warning_id,
        "subject": key,
        "id_number": key if ":" not in key else None,
        "phone": key.split(":", 1)[1] if key.startswith("phone:") else None,
        "level": w.level,
        "score": float(w.score),
        "first_at": when(w.first_at),
        "updated_at": when(w.updated_at),
        "level3_at": when(w.level_at.get(3)),
        "level4_at": when(w.level_at.get(4)),
        "fraud_type": w.fraud_type or None,
        "shadow": w.shadow,
        "explanation_zh": zh,
        "explanation_en": en,
        "signals": [signal_json(s) for s in w.signals()],
    }


def build_engine(
    persons: pa.Table,
    intel: IntelView,
    config: EngineConfig | None = None,
    *,
    rules: Iterable[Rule] = RULES,
    shadow: Iterable[Rule] = (),
) -> Engine:
    """An engine over the registry and the intelligence."""
    return Engine(Registry(persons), intel, config, rules=rules, shadow=shadow)


def restore_engine(
    data: bytes,
    persons: pa.Table,
    intel: IntelView,
    *,
    rules: Iterable[Rule] = RULES,
    shadow: Iterable[Rule] = (),
) -> Engine:
    """An engine in the state of ``data`` (:meth:`Engine.snapshot`) over the registry and
    the intelligence as they are now (the snapshot's configuration)."""
    return Engine.restore(data, Registry(persons), intel, rules=rules, shadow=shadow)


__all__ = [
    "DetectReport",
    "build_engine",
    "lake_files",
    "lake_windows",
    "late_letters",
    "persons_table",
    "restore_engine",
    "run_engine",
    "warning_row",
    "warning_rows",
    "warnings_table",
]
