"""The event log: atomic commits, crash recovery, local-day partitions, de-duplication, SQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import call_row, count, phone, rows

from fanzha.ingest.normalise import Options, normalise
from fanzha.lake.log import MARKER, STAGING, Lake, day_partitions
from fanzha.lake.query import QueryError, connect, run_sql
from fanzha.model.events import EVENT_TYPES, CallRecord
from fanzha.model.schema import arrow_schema


def call_table(*records: dict[str, object]) -> pa.Table:
    """Normalised call events, as the pipeline hands them to the lake."""
    names = list(records[0])
    raw = pa.table({n: pa.array([str(r[n]) for r in records], pa.string()) for n in names})
    out = normalise(raw, CallRecord, Options())
    assert not out.problems.rows, out.problems.rows
    return out.table


def calls_at(*times: str) -> pa.Table:
    return call_table(*(call_row(caller=phone(i), ts=t) for i, t in enumerate(times)))


def visible(lake: Lake) -> list[str]:
    """Paths of the visible Parquet files, relative to the lake root."""
    return sorted(str(p.relative_to(lake.root)) for p in lake.files("call"))


# --------------------------------------------------------------------------- atomic commits


def test_files_are_visible_only_after_commit(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    txn = lake.begin()
    txn.append("call", calls_at("2024-05-01 10:00:00", "2024-05-02 10:00:00"))
    assert visible(lake) == []
    assert count(lake, "call") == 0
    assert len(list((lake.root / STAGING / txn.txn_id).rglob("*.parquet"))) == 2
    txn.commit()
    assert [p.split("/")[1] for p in visible(lake)] == ["day=2024-05-01", "day=2024-05-02"]
    assert count(lake, "call") == 2
    assert not (lake.root / STAGING / txn.txn_id).exists()
    assert lake.event_types() == ["call"]


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    txn = lake.begin()
    txn.append("call", calls_at("2024-05-01 10:00:00"))
    txn.abort()
    assert visible(lake) == [] and count(lake, "call") == 0
    assert not (lake.root / STAGING / txn.txn_id).exists()
    empty = lake.begin()
    empty.append("call", calls_at("2024-05-01 10:00:00").slice(0, 0))
    empty.commit()  # nothing staged: nothing to do
    assert visible(lake) == []


def test_a_staged_transaction_without_marker_is_discarded_on_open(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    txn = lake.begin()
    txn.append("call", calls_at("2024-05-01 10:00:00", "2024-05-03 10:00:00"))
    # The process dies here: no commit. A half-written marker counts as none.
    (txn.dir / f".{MARKER}.tmp").write_text("call/day=2024-05-01/")
    (lake.root / "call" / "day=2024-05-01").mkdir(parents=True)
    (lake.root / "call" / "day=2024-05-01" / ".part-x.parquet.tmp").write_bytes(b"PAR1 half")
    reopened = Lake(tmp_path / "lake")
    assert not (reopened.root / STAGING / txn.txn_id).exists()
    assert visible(reopened) == []
    assert list(reopened.root.rglob("*.tmp")) == []
    assert count(reopened, "call") == 0
    assert reopened.recover() == []  # nothing left to do


def test_a_staged_transaction_with_marker_is_rolled_forward_on_open(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    txn = lake.begin()
    txn.append("call", calls_at("2024-05-01 10:00:00", "2024-05-02 10:00:00"))
    finals = [final for _, final in txn.staged]
    # The process dies after writing the marker, having moved only the first file.
    (txn.dir / MARKER).write_text("\n".join(str(f.relative_to(lake.root)) for f in finals))
    staged_first, final_first = txn.staged[0]
    final_first.parent.mkdir(parents=True)
    staged_first.replace(final_first)
    reopened = Lake(tmp_path / "lake")
    assert sorted(p for p in reopened.root.rglob("*.parquet")) == sorted(finals)
    assert count(reopened, "call") == 2
    assert not (reopened.root / STAGING / txn.txn_id).exists()


def test_recover_reports_what_it_did(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    kept, dropped = lake.begin(), lake.begin()
    kept.append("call", calls_at("2024-05-01 10:00:00"))
    dropped.append("call", calls_at("2024-05-02 10:00:00"))
    (kept.dir / MARKER).write_text(str(kept.staged[0][1].relative_to(lake.root)))
    done = sorted(lake.recover())
    assert done == sorted([f"rolled forward {kept.txn_id}", f"discarded {dropped.txn_id}"])
    assert [p.split("/")[1] for p in visible(lake)] == ["day=2024-05-01"]


def test_stored_files_have_the_model_schema(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    txn = lake.begin()
    txn.append("call", calls_at("2024-05-01 10:00:00"))
    txn.commit()
    [path] = lake.files("call")
    assert pq.read_schema(path).remove_metadata() == arrow_schema(CallRecord)


# --------------------------------------------------------------------------- partitions


def test_days_are_local_to_the_centre(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")  # Asia/Shanghai
    late = "2024-05-01T23:30:00+08:00"  # 15:30 UTC, same day
    early = "2024-05-01T00:30:00+08:00"  # 16:30 UTC on 30 April, but 1 May in Shanghai
    txn = lake.begin()
    txn.append("call", calls_at(late, early))
    txn.commit()
    [path] = lake.files("call")
    assert path.parent.name == "day=2024-05-01"
    assert len(lake.files("call", "2024-05-01")) == 1
    assert lake.files("call", "2024-04-30") == []
    got = rows(lake, "SELECT day, ts FROM call ORDER BY ts")
    assert [str(r["day"]) for r in got] == ["2024-05-01", "2024-05-01"]

    utc_lake = Lake(tmp_path / "utc-lake", tz="UTC")
    txn = utc_lake.begin()
    txn.append("call", calls_at(late, early))
    txn.commit()
    days = sorted(p.parent.name for p in utc_lake.files("call"))
    assert days == ["day=2024-04-30", "day=2024-05-01"]


def test_day_partitions_function() -> None:
    ts = pa.array(
        [
            dt.datetime(2024, 4, 30, 16, 0, tzinfo=dt.UTC),
            dt.datetime(2024, 4, 30, 15, 59, 59, tzinfo=dt.UTC),
            dt.datetime(2024, 12, 31, 16, 0, tzinfo=dt.UTC),
        ],
        pa.timestamp("us", tz="UTC"),
    )
    assert day_partitions(ts, "Asia/Shanghai").to_pylist() == [
        "2024-05-01",
        "2024-04-30",
        "2025-01-01",
    ]


# --------------------------------------------------------------------------- de-duplication


def test_dedup_across_batches_and_lake_instances(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    first = calls_at("2024-05-01 10:00:00", "2024-05-02 10:00:00")
    fresh, dupes = lake.split_new("call", first)
    assert (fresh.num_rows, dupes) == (2, 0)
    txn = lake.begin()
    txn.append("call", fresh)
    txn.commit()
    again, dupes = lake.split_new("call", first)
    assert (again.num_rows, dupes) == (0, 2)
    # A new process reads the ids back from the files.
    _, dupes = Lake(tmp_path / "lake").split_new("call", first)
    assert dupes == 2
    # Mixed: one old, one new.
    mixed = calls_at("2024-05-01 10:00:00", "2024-05-05 10:00:00")
    kept, dupes = lake.split_new("call", mixed)
    assert dupes == 1 and kept["ts"].to_pylist() == [dt.datetime(2024, 5, 5, 2, tzinfo=dt.UTC)]


def test_dedup_within_a_batch_and_within_a_transaction(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    table = calls_at("2024-05-01 10:00:00")
    doubled = pa.concat_tables([table, table, calls_at("2024-05-02 10:00:00")])
    kept, dupes = lake.split_new("call", doubled)
    assert (kept.num_rows, dupes) == (2, 1)
    txn = lake.begin()
    txn.append("call", kept)
    # Staged but not committed: the same transaction sees it, others do not.
    assert lake.split_new("call", table, txn)[1] == 1
    assert lake.split_new("call", table)[1] == 0
    txn.abort()
    assert lake.split_new("call", table)[1] == 0


def test_dedup_survives_index_eviction(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.index.max_partitions = 2
    days = [f"2024-05-{d:02d} 10:00:00" for d in range(1, 8)]
    table = calls_at(*days)
    for i in range(table.num_rows):  # one transaction (and partition) at a time
        txn = lake.begin()
        txn.append("call", table.slice(i, 1))
        txn.commit()
    kept, dupes = lake.split_new("call", table)
    assert (kept.num_rows, dupes) == (0, 7)


def test_same_id_on_another_day_is_a_different_partition(tmp_path: Path) -> None:
    """Ids are unique per (type, day): a source reusing an id on another day is kept."""
    lake = Lake(tmp_path / "lake")
    one = call_table(call_row(event_id="op-1", ts="2024-05-01 10:00:00"))
    other = call_table(call_row(event_id="op-1", ts="2024-05-02 10:00:00"))
    txn = lake.begin()
    txn.append("call", one)
    txn.commit()
    assert lake.split_new("call", one)[1] == 1
    assert lake.split_new("call", other)[1] == 0


# --------------------------------------------------------------------------- SQL


def test_every_event_type_has_a_view_even_when_empty(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    for name, model in EVENT_TYPES.items():
        result = run_sql(lake, f'SELECT * FROM "{name}"')
        assert result.num_rows == 0
        assert result.column_names == arrow_schema(model).names


def test_views_read_the_stored_events(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    txn = lake.begin()
    txn.append("call", calls_at("2024-05-01 10:00:00", "2024-05-02 10:00:00"))
    txn.commit()
    result = run_sql(lake, "SELECT caller, day FROM call ORDER BY caller")
    assert result.to_pylist() == [
        {"caller": "+8613800000000", "day": dt.date(2024, 5, 1)},
        {"caller": "+8613800000001", "day": dt.date(2024, 5, 2)},
    ]
    assert run_sql(lake, "SELECT * FROM call", limit=1).num_rows == 1
    joined = run_sql(lake, "SELECT count(*) AS n FROM call JOIN sms USING (event_id)")
    assert joined.to_pylist() == [{"n": 0}]
    con = connect(lake)
    try:
        setting = con.execute("SELECT current_setting('TimeZone')").fetchone()
        assert setting == ("Asia/Shanghai",)
    finally:
        con.close()


@pytest.mark.parametrize(
    "query",
    ["SELEC 1", "SELECT * FROM no_such_table", "SELECT no_such_column FROM call", ""],
)
def test_bad_queries_raise_query_error(tmp_path: Path, query: str) -> None:
    lake = Lake(tmp_path / "lake")
    if query == "":
        assert run_sql(lake, query).num_rows == 0
        return
    with pytest.raises(QueryError) as info:
        run_sql(lake, query)
    assert str(info.value)
