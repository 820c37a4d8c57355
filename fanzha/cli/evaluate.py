"""``fanzha evaluate``: score warnings against a simulation's ground truth and show the
scorecard as Rich tables (zh-CN by default) or as one JSON object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol, cast

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table

from fanzha.i18n import pick
from fanzha.model.enums import FraudType
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.sim.evaluate import EvaluationError, Scorecard, conform_warnings, evaluate

# Labels only this command shows (zh-CN, en).
LABELS: dict[str, tuple[str, str]] = {
    "title": ("预警评估", "Warning scorecard"),
    "shadow_title": ("影子规则预警评估", "Shadow-rule warning scorecard"),
    "victims": ("受骗人(有损失)", "victims (lost money)"),
    "warned": ("已预警", "warned"),
    "warned_level3": ("已高危预警(≥3级)", "warned at level ≥ 3"),
    "recall_before_loss": ("损失前预警率", "recall before first loss"),
    "recall_level3_before_loss": ("损失前高危预警率", "recall at level ≥ 3 before first loss"),
    "precision_level3plus": ("≥3级预警准确率", "precision at level ≥ 3"),
    "false_per_10k_day": ("误报(每万人每天)", "false warnings per 10k residents per day"),
    "false_level3_per_10k_day": (
        "≥3级误报(每万人每天)",
        "false warnings at level ≥ 3 per 10k residents per day",
    ),
    "median_lead_minutes": ("预警提前量中位数(分钟)", "median lead time (minutes)"),
    "warnings": ("预警条数", "warnings"),
    "warned_subjects": ("预警对象", "warned subjects"),
    "residents": ("居民", "residents"),
    "days": ("天数", "days"),
    "levels_title": ("按预警等级", "By warning level"),
    "level": ("等级", "level"),
    "subjects": ("对象", "subjects"),
    "targeted": ("确为诈骗目标", "targeted"),
    "precision": ("准确率", "precision"),
    "false": ("误报条数", "false warnings"),
    "types_title": ("按诈骗类型", "By fraud type"),
    "type": ("类型", "type"),
    "t_victims": ("受骗人", "victims"),
    "t_before": ("损失前预警", "before loss"),
    "t_recall": ("预警率", "recall"),
    "lead": ("提前分钟", "lead min"),
    "lost": ("损失万元", "lost 10k¥"),
    "lost_after": ("预警后损失万元", "after warning 10k¥"),
    "no_warnings_source": (
        "平台尚不能提供预警表(检测引擎未就绪);请用 --warnings 指定 Parquet 文件",
        "the platform cannot list warnings yet (no detection engine); pass --warnings FILE",
    ),
}

LEVEL_NAMES: dict[int, tuple[str, str]] = {
    4: ("4 特危", "4 critical"),
    3: ("3 高危", "3 high"),
    2: ("2 中危", "2 medium"),
    1: ("1 低危", "1 low"),
}


def label(key: str, lang: str) -> str:
    """A label of this command in the chosen language."""
    return pick(LABELS, key, lang)


class WarningsSource(Protocol):
    """What ``App`` offers once the detection engine is in: every warning it issued."""

    def warnings_table(self) -> pa.Table: ...


def resolve_out_dir(truth: Path) -> Path:
    """The simulation folder for ``--truth``: the parent of ``DIR/truth`` (``DIR`` also works)."""
    if truth.name != "truth" and (truth / "truth").is_dir():
        return truth
    if not truth.is_dir():
        raise EvaluationError(f"{truth}: no such folder (expected a simulation's truth folder)")
    return truth.parent


def read_warnings(path: Path) -> pa.Table:
    """A warnings Parquet file, checked against the warnings schema."""
    if not path.is_file():
        raise EvaluationError(f"{path}: no such file")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise EvaluationError(f"{path} is not a Parquet file: {exc}") from None
    return conform_warnings(table)


def platform_warnings(settings: Settings) -> pa.Table:
    """Every warning the platform issued (``App.warnings_table``)."""
    with App(settings) as fz:
        source = cast(WarningsSource, fz)
        try:
            method = source.warnings_table
        except AttributeError:
            raise EvaluationError(label("no_warnings_source", settings.lang)) from None
        return method()


def run_evaluate(
    settings: Settings,
    truth: Path,
    warnings_path: Path | None,
    *,
    as_json: bool,
    console: Console,
    err: Console,
) -> Scorecard:
    """Read the warnings, score them against the truth, print; usage problems exit with 2."""
    try:
        out_dir = resolve_out_dir(truth)
        if not (out_dir / "manifest.json").is_file():
            raise EvaluationError(f"no manifest.json in {out_dir} (expected a simulation folder)")
        if warnings_path is not None:
            table = read_warnings(warnings_path)
        else:
            table = platform_warnings(settings)
        card = evaluate(table, out_dir)
    except EvaluationError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(card.to_json(), ensure_ascii=False, indent=2))
    else:
        print_scorecard(card, console, settings.lang)
    return card


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _wan(fen: int) -> str:
    """Fen as 万元 (10,000 yuan), one decimal."""
    return f"{fen / 1_000_000:,.1f}"


def _type_name(kind: str, lang: str) -> str:
    if lang.lower().startswith("en"):
        return kind
    try:
        return FraudType(kind).label_zh
    except ValueError:
        return kind


def print_scorecard(card: Scorecard, console: Console, lang: str, *, shadow: bool = False) -> None:
    """The headline, a table per level and a table per fraud type; then the shadow scorecard."""
    head = Table(title=label("shadow_title" if shadow else "title", lang), show_header=False)
    head.add_column(justify="left")
    head.add_column(justify="right")
    head.add_row(label("victims", lang), f"{card.victims:,}")
    head.add_row(label("recall_before_loss", lang), _pct(card.recall_before_loss))
    head.add_row(label("recall_level3_before_loss", lang), _pct(card.recall_level3_before_loss))
    head.add_row(label("precision_level3plus", lang), _pct(card.precision_level3plus))
    head.add_row(label("false_per_10k_day", lang), _num(card.false_per_10k_day, 2))
    head.add_row(label("false_level3_per_10k_day", lang), _num(card.false_level3_per_10k_day, 2))
    head.add_row(label("median_lead_minutes", lang), _num(card.median_lead_minutes))
    head.add_row(label("warned", lang), f"{card.warned:,}")
    head.add_row(label("warned_level3", lang), f"{card.warned_level3:,}")
    head.add_row(label("warnings", lang), f"{card.warnings:,}")
    head.add_row(label("warned_subjects", lang), f"{card.warned_subjects:,}")
    head.add_row(label("residents", lang), f"{card.residents:,}")
    head.add_row(label("days", lang), f"{card.days:g}")
    console.print(head)

    levels = Table(title=label("levels_title", lang))
    levels.add_column(label("level", lang))
    for key in ("subjects", "targeted", "precision", "warnings", "false"):
        levels.add_column(label(key, lang), justify="right")
    en = lang.lower().startswith("en")
    for lvl in sorted(card.levels, reverse=True):
        row = card.levels[lvl]
        levels.add_row(
            LEVEL_NAMES[lvl][1 if en else 0],
            f"{row.subjects:,}",
            f"{row.targeted_subjects:,}",
            _pct(row.precision),
            f"{row.warnings:,}",
            f"{row.false_warnings:,}",
        )
    console.print(levels)

    if card.by_type:
        types = Table(title=label("types_title", lang))
        types.add_column(label("type", lang), no_wrap=True)
        keys = ("t_victims", "t_before", "t_recall", "lead", "lost", "lost_after")
        for key in keys:
            types.add_column(label(key, lang), justify="right", overflow="fold")
        for kind, score in card.by_type.items():
            types.add_row(
                _type_name(kind, lang),
                f"{score.victims:,}",
                f"{score.warned_before_first_loss:,}",
                _pct(score.recall_before_loss, 0),
                _num(score.median_lead_minutes),
                _wan(score.lost_fen),
                _wan(score.lost_fen_after_warning),
            )
        console.print(types)
    if card.shadow is not None:
        print_scorecard(card.shadow, console, lang, shadow=True)
