"""The dashboard's SQL (hour grouping, period totals, JSON sums) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fanzha.funds.orders import Case
from fanzha.funds.report import parse_report
from fanzha.store import Store
from fanzha.store.funds import SqlFunds
from fanzha.store.views import period_totals, reports_per_hour, warnings_per_hour
from fanzha.store.warnings import SqlWarnings

DAY = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
CST = dt.timezone(dt.timedelta(hours=8))


def _warning(warning_id: str, at: dt.datetime, level: int, shadow: bool = False) -> dict[str, Any]:
    return {
        "warning_id": warning_id,
        "subject": "500101198610030001",
        "id_number": "500101198610030001",
        "phone": None,
        "level": level,
        "first_at": at,
        "updated_at": at,
        "level3_at": at if level >= 3 else None,
        "level4_at": at if level >= 4 else None,
        "shadow": shadow,
        "fraud_type": None,
        "score": 20.0 * level,
        "explanation_zh": "",
        "explanation_en": "",
        "signals": [],
    }


def test_warnings_are_counted_per_utc_hour_and_level(store: Store) -> None:
    rows = [
        _warning("W1", DAY.replace(hour=1, minute=10), 3),
        _warning("W2", DAY.replace(hour=1, minute=50), 3),
        _warning("W3", DAY.replace(hour=1, minute=59), 4),
        # 11:05 in Beijing is 03:05 UTC: grouped by the UTC hour whatever the offset given
        _warning("W4", dt.datetime(2026, 3, 2, 11, 5, tzinfo=CST), 3),
        _warning("W5", DAY.replace(hour=5), 3, shadow=True),  # shadow: never counted
        _warning("W6", DAY + dt.timedelta(days=1), 3),  # outside the window
    ]
    SqlWarnings(store.sessions).upsert_many(rows)
    counts = warnings_per_hour(store.sessions, DAY, DAY + dt.timedelta(days=1))
    assert counts == {
        (DAY.replace(hour=1), 3): 2,
        (DAY.replace(hour=1), 4): 1,
        (DAY.replace(hour=3), 3): 1,
    }


def test_period_totals_count_live_warnings_in_the_range(store: Store) -> None:
    rows = [_warning(f"W{i}", DAY + dt.timedelta(hours=i), 3) for i in range(5)]
    rows.append(_warning("S1", DAY + dt.timedelta(hours=1), 3, shadow=True))
    SqlWarnings(store.sessions).upsert_many(rows)
    totals = period_totals(store.sessions, None, DAY, DAY + dt.timedelta(hours=3))
    assert totals.warnings == 3
    assert totals.instructions == totals.dissuaded == totals.saved_fen == 0


def test_reports_are_counted_per_utc_hour(store: Store) -> None:
    repo = SqlFunds(store.sessions)
    moments = [DAY.replace(hour=1, minute=5), DAY.replace(hour=1, minute=55)]
    moments += [dt.datetime(2026, 3, 2, 11, 5, tzinfo=CST), DAY + dt.timedelta(days=1)]
    for k, at in enumerate(moments):
        report = {"report_id": f"R{k}", "unit": "50010101", "received_at": at}
        report |= {"taken_by": "desk", "fraud_type": "other", "loss_fen": 100, "payments": []}
        repo.create_case(Case.open(f"C{k}", parse_report(report), "desk", at))
    counts = reports_per_hour(store.sessions, DAY, DAY + dt.timedelta(days=1))
    assert counts == {DAY.replace(hour=1): 2, DAY.replace(hour=3): 1}
