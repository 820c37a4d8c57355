"""Pieces of the headless replay: where people were last seen, and cutting windows."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from fanzha.replaying import Whereabouts, _split

T0 = 1_714_550_400  # 2024-05-01 08:00 UTC, epoch s
TS = pa.timestamp("us", tz="UTC")


def calls(*rows: tuple[int, str, str, str | None]) -> pa.Table:
    """Call records (seconds after T0, caller, callee, county), time-sorted."""
    return pa.table(
        {
            "ts": pa.array([(T0 + r[0]) * 1_000_000 for r in rows], TS),
            "caller": [r[1] for r in rows],
            "callee": [r[2] for r in rows],
            "city": ["江州市"] * len(rows),
            "county": pa.array([r[3] for r in rows], pa.string()),
        }
    )


def test_whereabouts_answer_as_of_the_moment_asked() -> None:
    where = Whereabouts()
    where.add(calls((10, "A", "B", "南岸区"), (20, "C", "A", "江北区"), (30, "A", "D", None)))
    assert where.of(["A"], T0 + 5) is None  # no call yet
    first = where.of(["A"], T0 + 15)
    assert first is not None and first.county == "南岸区"
    assert first.at == dt.datetime.fromtimestamp(T0 + 10, dt.UTC)
    later = where.of(["A"], T0 + 40)  # a call without a county tells nothing
    assert later is not None and later.county == "江北区"
    where.add(calls((50, "X", "Y", "高新区")))  # the previous batch is applied in full first
    callee = where.of(["B"], T0 + 50)  # both ends of a call are placed
    assert callee is not None and callee.county == "南岸区"
    both = where.of(["A", "X"], T0 + 60)  # a person's phones: the latest place wins
    assert both is not None and both.county == "高新区"
    where.add(None)
    assert where.of(["nobody"], T0 + 99) is None


def test_split_cuts_every_table_at_the_same_second() -> None:
    table = calls((0, "A", "B", "x"), (9, "A", "B", "x"), (10, "A", "B", "x"), (11, "A", "B", "x"))
    empty = table.slice(0, 0)
    before, after = _split({"call": table, "sms": empty}, T0 + 10)
    assert before["call"].num_rows == 2 and after["call"].num_rows == 2
    assert before["sms"].num_rows == after["sms"].num_rows == 0
    assert pa.concat_tables([before["call"], after["call"]]).equals(table)
