"""The dashboard's content: tiles, the heat grid over the org tree, and chart options.

Charts are ECharts option objects built here (JSON); the browser only draws them, so that
the page's script stays generic and the figures are tested in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fanzha.dispatch.levels import RiskLevel
from fanzha.dispatch.org import OrgTree
from fanzha.model.enums import FraudType, OrgLevel
from fanzha.store.funds_views import FundsToday, funds_today
from fanzha.store.views import (
    Figures,
    Totals,
    figures,
    fraud_types,
    period_totals,
    reports_per_hour,
    warnings_per_hour,
)
from fanzha.web.cache import cache_of
from fanzha.web.desk import rate60
from fanzha.web.labels import label

LEVEL_COLOURS = {4: "#7b2cbf", 3: "#d62828", 2: "#e9c46a", 1: "#457b9d"}
REPORT_COLOUR = "#2ec4b6"  # the reports line over the warnings' bars
HISTORY_DAYS = 7
TEXT, GRID = "#cfd8e3", "#2a3a50"  # on the pages' dark background


@dataclass(frozen=True, slots=True)
class Cell:
    """One unit of the heat grid."""

    code: str
    name: str
    open: int
    overdue: int
    heat: int  # 0..5, the CSS class


@dataclass(frozen=True, slots=True)
class Row:
    """A district and its stations."""

    district: Cell
    stations: list[Cell]


def day_start(now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """Midnight of ``now``'s day in the city's time zone."""
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def today(fz: Any, units: frozenset[str] | None) -> Figures:
    """Today's figures over ``units`` (None: the city), cached (:mod:`fanzha.web.cache`);
    without the fraud types (:func:`today_by_fraud_type`)."""
    now = fz.clock.now()
    since = day_start(now, _tz(fz))
    return cache_of(fz).get(
        ("today", units, since),
        now,
        lambda: figures(fz.store.sessions, units, since, now, fraud=False),
    )


def today_by_fraud_type(fz: Any, units: frozenset[str] | None) -> dict[str, int]:
    """Today's instructions by fraud type over ``units`` (the chart's figures), cached."""
    now = fz.clock.now()
    since = day_start(now, _tz(fz))
    return cache_of(fz).get(
        ("fraud", units, since), now, lambda: fraud_types(fz.store.sessions, units, since)
    )


def funds(fz: Any, units: frozenset[str] | None) -> FundsToday:
    """Today's stop-payments, what is held now, and today's cases over ``units`` (cached
    for a clock slot: funds changes are not on the bus)."""
    now = fz.clock.now()
    since = day_start(now, _tz(fz))
    return cache_of(fz).get(
        ("funds", units, since), now, lambda: funds_today(fz.store.sessions, units, since)
    )


def _tz(fz: Any) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(str(fz.settings.timezone))


def tiles(f: Figures, lang: str, money: FundsToday | None = None) -> list[dict[str, Any]]:
    """The tiles in order: warnings by level, overdue, dissuaded, saved, and the funds
    figures (stop-payments today, amount held, today's 60-minute stop-payment rate)."""
    out: list[dict[str, Any]] = []
    for level in sorted(RiskLevel, reverse=True):
        name = level.label_en if lang.startswith("en") else level.label_zh
        out.append(
            {
                "key": f"level{int(level)}",
                "label": f"{label('warnings_today', lang)} · {name}",
                "value": f"{f.warnings_by_level.get(int(level), 0):,}",
                "css": f"level{int(level)}",
            }
        )
    out.append(
        {
            "key": "overdue",
            "label": label("overdue_now", lang),
            "value": f"{f.overdue:,}",
            "css": "alert" if f.overdue else "",
        }
    )
    out.append(
        {
            "key": "dissuaded",
            "label": label("dissuaded_today", lang),
            "value": f"{f.dissuaded:,}",
            "css": "good",
        }
    )
    out.append(
        {
            "key": "saved",
            "label": label("saved_today", lang),
            "value": f"{f.saved_fen / 100:,.0f}",
            "css": "good",
        }
    )
    return out + _funds_tiles(money or FundsToday(), lang)


def _funds_tiles(money: FundsToday, lang: str) -> list[dict[str, Any]]:
    rate = rate60(money.cases, money.orders)
    return [
        {
            "key": "stop_payments",
            "label": label("stop_payments", lang),
            "value": f"{money.stop_payments:,}",
            "css": "funds",
        },
        {
            "key": "held",
            "label": label("held", lang),
            "value": f"{money.held_fen / 100:,.0f}",
            "css": "good",
        },
        {
            "key": "rate60",
            "label": label("rate60", lang),
            "value": "—" if rate is None else f"{rate:.0%}",
            "css": "muted" if rate is None else "good" if rate >= 0.8 else "alert",
        },
    ]


def grid(tree: OrgTree | None, f: Figures, units: frozenset[str] | None, lang: str) -> list[Row]:
    """Districts with their stations (community counts roll up into the station)."""
    if tree is None:
        return []
    rows = []
    for root in tree.roots():
        for district in tree.children(root.code):
            if district.level is not OrgLevel.DISTRICT:
                continue
            stations = [
                _cell(tree, s.code, f, lang)
                for s in tree.children(district.code)
                if units is None or s.code in units
            ]
            if units is not None and district.code not in units and not stations:
                continue
            rows.append(Row(_cell(tree, district.code, f, lang, own_only=True), stations))
    return rows


def _cell(tree: OrgTree, code: str, f: Figures, lang: str, own_only: bool = False) -> Cell:
    codes = [code] if own_only else [code, *(c.code for c in tree.children(code))]
    opened = sum(f.open_by_unit.get(c, 0) for c in codes)
    overdue = sum(f.overdue_by_unit.get(c, 0) for c in codes)
    unit = tree.unit(code)
    name = (unit.name_en or unit.name) if lang.startswith("en") else unit.name
    heat = 5 if overdue else min(4, (opened + 1) // 2)
    return Cell(code, name, opened, overdue, heat)


def history_chart(fz: Any, lang: str) -> dict[str, Any]:
    """Warnings per hour over the last days, stacked by level."""
    now = fz.clock.now()
    start = day_start(now, _tz(fz)) - dt.timedelta(days=HISTORY_DAYS - 1)
    until = now + dt.timedelta(hours=1)
    counts = cache_of(fz).get(
        ("history", start), now, lambda: warnings_per_hour(fz.store.sessions, start, until)
    )
    reports = cache_of(fz).get(
        ("reports", start), now, lambda: reports_per_hour(fz.store.sessions, start, until)
    )
    hours = []
    at = start
    while at <= now:
        hours.append(at)
        at += dt.timedelta(hours=1)
    keys = [h.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) for h in hours]
    series: list[dict[str, Any]] = []
    for level in sorted(RiskLevel):
        name = level.label_en if lang.startswith("en") else level.label_zh
        series.append(
            {
                "name": name,
                "type": "bar",
                "stack": "w",
                "itemStyle": {"color": LEVEL_COLOURS[int(level)]},
                "data": [counts.get((k, int(level)), 0) for k in keys],
            }
        )
    series.append(
        {
            "name": label("reports", lang),
            "type": "line",
            "step": "middle",
            "showSymbol": False,
            "itemStyle": {"color": REPORT_COLOUR},
            "data": [reports.get(k, 0) for k in keys],
        }
    )
    labels = [h.astimezone(_tz(fz)).strftime("%m-%d %H:00") for h in hours]
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "textStyle": {"color": TEXT}},
        "grid": {"left": 40, "right": 10, "top": 30, "bottom": 30},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {"type": "value", "minInterval": 1, "splitLine": {"lineStyle": {"color": GRID}}},
        "textStyle": {"color": TEXT},
        "series": series,
    }


def fraud_chart(counts: dict[str, int], lang: str) -> dict[str, Any]:
    """Today's instructions by fraud type (``counts``: fraud type → instructions)."""
    data = []
    for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        try:
            ft = FraudType(key)
            name = ft.value if lang.startswith("en") else ft.label_zh
        except ValueError:
            name = "未分类" if not lang.startswith("en") else "unclassified"
        data.append({"name": name, "value": n})
    return {
        "animation": False,
        "tooltip": {"trigger": "item"},
        "textStyle": {"color": TEXT},
        "series": [
            {
                "type": "pie",
                "radius": ["35%", "65%"],
                "label": {"color": TEXT, "textBorderWidth": 0},
                "data": data,
            }
        ],
    }


# ---------------------------------------------------------------------- 同比 / 环比


def month_start(at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """Midnight of the first of ``at``'s month in the city's time zone."""
    return day_start(at, tz).replace(day=1)


def shift_months(start: dt.datetime, months: int) -> dt.datetime:
    """The first of the month ``months`` away from ``start`` (a first of a month)."""
    years, month = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + years, month=month + 1)


def comparison_windows(
    now: dt.datetime, tz: dt.tzinfo
) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """This month to date, the previous month and the same month last year over the same
    elapsed time (each bounded by its month's end)."""
    start = month_start(now, tz)
    elapsed = now - start
    windows = [(start, now)]
    for back in (1, 12):
        other = shift_months(start, -back)
        windows.append((other, min(other + elapsed, shift_months(other, 1))))
    return tuple(windows)


def month_totals(fz: Any, units: frozenset[str] | None) -> tuple[Totals, Totals, Totals]:
    """(this month, previous month, same month last year) to date, cached."""
    now = fz.clock.now()
    windows = comparison_windows(now, _tz(fz))

    def compute() -> tuple[Totals, Totals, Totals]:
        cur, prev, last = (period_totals(fz.store.sessions, units, a, b) for a, b in windows)
        return cur, prev, last

    return cache_of(fz).get(("months", units, windows[0][0]), now, compute)


def change(current: int, base: int) -> str:
    """The relative change as a signed percentage, "—" without data for the base period."""
    if base == 0:
        return "—"
    return f"{(current - base) / base:+.1%}"


def trends(totals: tuple[Totals, Totals, Totals], lang: str) -> list[dict[str, str]]:
    """The 同比/环比 rows: warnings, instructions, dissuaded, money saved (yuan)."""
    cur, prev, last = totals
    rows = []
    for key, name in (
        ("warnings", "month_warnings"),
        ("instructions", "month_instructions"),
        ("dissuaded", "dissuaded"),
        ("saved_fen", "saved"),
    ):
        value = getattr(cur, key)
        shown = f"{value / 100:,.0f}" if key == "saved_fen" else f"{value:,}"
        rows.append(
            {
                "key": key,
                "label": label(name, lang),
                "value": shown,
                "mom": change(value, getattr(prev, key)),
                "yoy": change(value, getattr(last, key)),
            }
        )
    return rows
