"""同比 / 环比 on the dashboard from hand-made instructions: this month to date against the
previous month and the same month last year over the same elapsed days, "—" without data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from api.helpers import settings_for
from fastapi.testclient import TestClient
from webworld import issue, populate

from fanzha.api.app import create_app
from fanzha.model.clock import ManualClock
from fanzha.store.views import warnings_per_hour
from fanzha.web.dashboard import change, comparison_windows
from web.test_pages import NANPING_ID, fz_of, log_in

CST = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path)), follow_redirects=False) as c:
        populate(fz_of(c))
        yield c


def _at(fz: object, when: dt.datetime) -> None:
    fz.__dict__["clock"] = ManualClock(when)


def test_windows_and_change() -> None:
    now = dt.datetime(2026, 3, 31, 12, tzinfo=CST)
    (cur, _), (prev, prev_end), (last, last_end) = comparison_windows(now, CST)
    assert cur == dt.datetime(2026, 3, 1, tzinfo=CST)
    assert (prev, prev_end) == (
        dt.datetime(2026, 2, 1, tzinfo=CST),
        dt.datetime(2026, 3, 1, tzinfo=CST),
    )
    assert (last, last_end) == (
        dt.datetime(2025, 3, 1, tzinfo=CST),
        dt.datetime(2025, 3, 31, 12, tzinfo=CST),
    )
    assert change(3, 2) == "+50.0%" and change(1, 2) == "-50.0%" and change(5, 0) == "—"


def test_month_on_month_and_year_on_year(client: TestClient) -> None:
    fz = fz_of(client)
    made = [
        ("W1", dt.datetime(2025, 3, 5, 10, tzinfo=CST)),  # same month last year
        ("W2", dt.datetime(2026, 2, 3, 10, tzinfo=CST)),  # previous month, to date
        ("W3", dt.datetime(2026, 2, 5, 10, tzinfo=CST)),
        ("W4", dt.datetime(2026, 2, 20, 10, tzinfo=CST)),  # previous month, after "to date"
        ("W5", dt.datetime(2026, 3, 2, 10, tzinfo=CST)),
        ("W6", dt.datetime(2026, 3, 8, 10, tzinfo=CST)),
        ("W7", dt.datetime(2026, 3, 9, 10, tzinfo=CST)),
    ]
    for warning_id, when in made:
        _at(fz, when)
        issue(fz, warning_id, 3, NANPING_ID, at=when)
    _at(fz, dt.datetime(2026, 3, 10, 12, tzinfo=CST))
    log_in(client, "admin1")
    html = client.get("/dashboard").text
    for key in ("warnings", "instructions"):
        row = html.split(f'id="trend-{key}"')[1].split("</tr>")[0]
        assert "<td>3</td>" in row and "+50.0%" in row and "+200.0%" in row, row
    row = html.split('id="trend-dissuaded"')[1].split("</tr>")[0]
    assert row.count("—") == 2


def test_warnings_per_hour_groups_by_the_utc_hour(client: TestClient) -> None:
    fz = fz_of(client)
    for warning_id, minute_hour in (("W1", (10, 1)), ("W2", (50, 1)), ("W3", (5, 3))):
        minute, hour = minute_hour
        when = dt.datetime(2026, 3, 2, hour, minute, tzinfo=dt.UTC)
        _at(fz, when)
        issue(fz, warning_id, 3, NANPING_ID, at=when)
    day = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    counts = warnings_per_hour(fz.store.sessions, day, day + dt.timedelta(days=1))
    assert counts == {(day.replace(hour=1), 3): 2, (day.replace(hour=3), 3): 1}
