"""``fanzha demo``: simulate a city with fraud in it (or reuse the simulation already on disk),
run it through the whole platform (:mod:`fanzha.demoing`), print the scorecard, create the demo
users and serve the pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fanzha.cli.simulate import build_params, run_with_progress
from fanzha.demoing import STAGES, DemoCard, DemoProgress
from fanzha.demoing import run_demo as run_platform
from fanzha.i18n import pick, t
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.sim.engine import SimResult
from fanzha.sim.params import SimParams

# Labels only the demo shows (zh-CN, en); the shared ones come from fanzha.i18n.
LABELS: dict[str, tuple[str, str]] = {
    "reusing": (
        "沿用已有模拟 {path}(manifest.json 参数相同,无需重新模拟)",
        "reusing the simulation in {path} (its manifest.json has the same parameters)",
    ),
    "folder_taken": (
        "{path} 里不是这次的模拟(没有 manifest.json,或参数不同,可能来自另一版本):"
        "请删除它或换一个 --folder",
        "{path} holds something other than this simulation (no manifest.json, or other "
        "parameters, perhaps from another version): delete it or choose another --folder",
    ),
    "stage_replay": (
        "全流程回放(导入·预警·指令·劝阻)",
        "Replay (ingest, warn, dispatch, dissuade)",
    ),
    "stage_funds": ("止付·冻结·资金追踪", "Stop-payments, freezes, tracing"),
    "stage_evaluate": ("对照真相评估预警", "Scoring the warnings against the truth"),
    "stage_users": ("创建演示用户", "Creating the demo users"),
    "overall": ("演示", "Demo"),
    "card": ("演示评分", "Demo scorecard"),
    "people": ("受骗人与资金", "Victims and money"),
    "victims": ("受骗人(无人干预会损失)", "victims (would lose money unhelped)"),
    "protected": ("损失前成功保护", "protected before any loss"),
    "lost": ("实际损失(元)", "money lost (yuan)"),
    "saved": ("避免损失(元)", "money saved (yuan)"),
    "frozen": ("止付冻结(元)", "money frozen (yuan)"),
    "frozen_share": ("被骗资金冻结比例", "share of stolen money frozen"),
    "sp60": ("60分钟止付率", "stop-payment within 60 minutes"),
    "to_order": ("报案到首个止付(中位,秒)", "report to first order (median, s)"),
    "cashed": ("已被取现(元)", "cashed out (yuan)"),
    "cases": ("止付案件", "stop-payment cases"),
    "levels": ("预警(按等级)", "Warnings by level"),
    "level": ("等级", "level"),
    "warnings": ("预警", "warnings"),
    "subjects": ("对象", "subjects"),
    "precision": ("准确率", "precision"),
    "level3plus": ("3级及以上", "level 3 and up"),
    "recall": ("损失前预警召回率", "warned before first loss (recall)"),
    "dispatch": ("指令与劝阻", "Dispatch"),
    "instructions": ("预警指令", "instructions"),
    "on_time": ("按时联系率", "contacted on time"),
    "reach": ("电话/上门接通率", "reach rate (calls, visits)"),
    "dissuasion": ("劝阻成功率", "dissuasion success rate"),
    "escalated": ("超时升级", "escalated"),
    "visits": ("派警上门", "home visits"),
    "sms": ("预警短信", "warning SMS"),
    "time": ("用时", "Time"),
    "stage": ("阶段", "stage"),
    "cpu": ("CPU秒", "CPU s"),
    "wall": ("总用时(秒)", "wall seconds"),
    "users": ("演示用户(密码只显示这一次)", "Demo users (passwords shown this once)"),
    "user": ("用户名", "username"),
    "role": ("角色", "role"),
    "where": ("单位/银行", "unit or bank"),
    "password": ("密码", "password"),
    "serving": (
        "界面:http://{host}:{port}/ (用上面的用户登录;Ctrl+C 退出)",
        "pages: http://{host}:{port}/ (log in as a user above; Ctrl+C to stop)",
    ),
}


def label(key: str, lang: str, **kwargs: object) -> str:
    """A demo label in the chosen language."""
    return pick(LABELS, key, lang, **kwargs)


def default_folder(settings: Settings, params: SimParams) -> Path:
    """Where the demo keeps a preset's simulation: one folder per preset and seed."""
    return settings.data_dir / "sim" / f"{params.preset}-{params.seed}"


def run_demo(
    settings: Settings,
    preset_name: str,
    seed: int | None,
    folder: Path | None,
    console: Console,
    *,
    as_json: bool = False,
) -> DemoCard:
    """Simulate (or reuse), run through the platform, print the scorecard (or its JSON)."""
    lang = settings.lang
    params = build_params(preset_name, seed, None, None)
    folder = folder or default_folder(settings, params)
    reusable = reusable_manifest(params, folder, lang)
    err = Console(stderr=True, quiet=as_json)
    if not as_json:
        console.rule(t("demo_title", lang))
    simulation(params, folder, reusable, err, lang)
    with App(settings) as fz, _bars(err, lang) as bars:
        card = run_platform(fz, folder, bars)
    if as_json:
        typer.echo(json.dumps(card.to_json(), ensure_ascii=False))
    else:
        print_card(card, console, lang)
    return card


# ------------------------------------------------------------------------- simulate or reuse


def reusable_manifest(params: SimParams, folder: Path, lang: str) -> dict[str, Any] | None:
    """The manifest of a finished simulation of ``params`` in ``folder``, None if it is empty.

    The manifest is written last, so its presence means the run completed. A folder holding
    anything else is refused (exit 2) rather than cleared: it may be the user's.
    """
    manifest = read_manifest(folder)
    if manifest is not None and manifest.get("parameters") == json.loads(params.model_dump_json()):
        return manifest
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise typer.BadParameter(label("folder_taken", lang, path=folder), param_hint="--folder")
    return None


def simulation(
    params: SimParams,
    folder: Path,
    reusable: dict[str, Any] | None,
    console: Console,
    lang: str,
) -> SimResult:
    """The reused simulation (said so), or a new one run with the progress bar."""
    if reusable is None:
        return run_with_progress(params, folder, "parquet", console, lang)
    console.print(label("reusing", lang, path=folder), markup=False)
    return SimResult(folder, reusable, 0.0)  # how long it once took is not recorded


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's ``manifest.json``, or None when it is missing or unreadable."""
    try:
        data = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------------- progress


class _Bars(DemoProgress):
    """One bar over the stages, one within the current stage."""

    def __init__(self, bar: Progress, lang: str) -> None:
        self.bar, self.lang = bar, lang
        self.overall = bar.add_task(label("overall", lang), total=len(STAGES), note="")
        self.current: Any = None

    def stage(self, name: str, total: float | None) -> None:
        if self.current is not None:
            self.bar.remove_task(self.current)
            self.bar.advance(self.overall)
        self.current = self.bar.add_task(label(f"stage_{name}", self.lang), total=total, note="")

    def advance(self, completed: float, note: str = "") -> None:
        self.bar.update(self.current, completed=completed, note=note)


@contextmanager
def _bars(err: Console, lang: str) -> Iterator[_Bars]:
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=err.quiet) as bar:
        yield _Bars(bar, lang)


# --------------------------------------------------------------------------------- scorecard


def _yuan(fen: int | float | None) -> str:
    return "—" if fen is None else f"{fen / 100:,.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def print_card(card: DemoCard, console: Console, lang: str) -> None:
    """The scorecard as Rich tables: money, warnings by level, dispatch, time, users."""
    console.rule(label("card", lang))
    for table in (
        _money(card, lang),
        _levels(card, lang),
        _dispatch(card, lang),
        _time(card, lang),
    ):
        console.print(table)
    if card.users:
        _print_users(card, console, lang)


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    for key, value in rows:
        table.add_row(key, value)
    return table


def _money(card: DemoCard, lang: str) -> Table:
    r, f = card.replay, card.funds
    rows = [
        ("victims", f"{r.victims:,}"),
        ("protected", f"{r.protected_before_loss:,}"),
        ("lost", _yuan(r.money_lost_fen)),
        ("saved", _yuan(r.money_saved_fen)),
        ("cases", f"{f.get('cases', 0):,}"),
        ("frozen", _yuan(card.money_frozen_fen)),
        ("frozen_share", _pct(f.get("frozen_share"))),
        ("cashed", _yuan(f.get("cashed_out_fen"))),
        ("sp60", _pct(f.get("stop_payment_60min_rate"))),
        ("to_order", str(f.get("median_report_to_first_order_s", "—"))),
    ]
    return _pairs(label("people", lang), [(label(k, lang), v) for k, v in rows])


def _levels(card: DemoCard, lang: str) -> Table:
    e = card.evaluation
    table = Table(title=label("levels", lang))
    for key in ("level", "warnings", "subjects", "precision"):
        table.add_column(label(key, lang), justify="right")
    for level, n in sorted(card.replay.warnings_by_level.items()):
        score = e.levels.get(level)
        subjects = f"{score.subjects:,}" if score is not None else "—"
        table.add_row(str(level), f"{n:,}", subjects, _pct(e.precision_by_level.get(level)))
    table.add_row(label("level3plus", lang), "", "", _pct(e.precision_level3plus))
    table.caption = f"{label('recall', lang)}: {_pct(e.recall_before_loss)}"
    return table


def _dispatch(card: DemoCard, lang: str) -> Table:
    r = card.replay
    rows = [
        ("instructions", f"{r.instructions:,}"),
        ("on_time", _pct(r.on_time_rate)),
        ("reach", _pct(r.reach_rate)),
        ("dissuasion", _pct(r.dissuasion_success_rate)),
        ("escalated", f"{r.escalated:,}"),
        ("visits", f"{r.home_visits:,}"),
        ("sms", f"{r.sms_sent:,}"),
    ]
    return _pairs(label("dispatch", lang), [(label(k, lang), v) for k, v in rows])


def _time(card: DemoCard, lang: str) -> Table:
    table = Table(title=label("time", lang))
    table.add_column(label("stage", lang))
    table.add_column(label("cpu", lang), justify="right")
    for stage, seconds in card.cpu_by_stage.items():
        table.add_row(stage, f"{seconds:.1f}")
    table.add_row(label("cpu", lang), f"{card.cpu_seconds:.1f}")
    table.add_row(label("wall", lang), f"{card.seconds:.1f}")
    return table


def _print_users(card: DemoCard, console: Console, lang: str) -> None:
    """One line per user (whole, never cut: the passwords must be copied as they are)."""
    console.rule(label("users", lang))
    english = lang.lower().startswith("en")
    for u in card.users:
        role = u.role.value if english else u.role.label_zh
        line = f"{u.username:<20} {role:<20} {u.where} {u.where_name}  {u.password}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def serve(settings: Settings, host: str, port: int, console: Console) -> None:
    """Serve the pages and the API (until Ctrl+C)."""
    import uvicorn

    from fanzha.api.app import create_app

    console.print(label("serving", settings.lang, host=host, port=port), markup=False)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
