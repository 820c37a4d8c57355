"""Ingesting in-memory Arrow tables (the simulator's replay): the same normalisation, dead
letters and idempotent lake path as files, on a real lake and a real store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from factories import call_row, count, ingestor, letters_of, phone, rows

from fanzha.ingest.pipeline import IngestError
from fanzha.model.events import EVENT_TYPES
from fanzha.model.schema import arrow_schema
from fanzha.service import App
from fanzha.settings import Settings

UTC = dt.UTC
SOURCE = "replay:test/call"


def typed_calls(n: int, start: int = 0) -> pa.Table:
    """``n`` valid calls with the stored Arrow types (what the simulator writes)."""
    base = dt.datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    records = [
        {
            "event_id": f"call-{start + i}",
            "source": "sim-operator",
            "ts": base + dt.timedelta(seconds=start + i),
            "caller": f"+86{phone(start + i)}",
            "callee": "+8613900139000",
            "duration_s": 30 + i,
        }
        for i in range(n)
    ]
    schema = arrow_schema(EVENT_TYPES["call"])
    return pa.Table.from_pylist(records, schema=schema)


def test_typed_rows_land_with_their_values(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    report = ing.run_table(typed_calls(3), "call", source=SOURCE)
    assert (report.accepted, report.rejected, report.duplicates) == (3, 0, 0)
    assert report.by_type == {"call": 3} and report.committed
    assert [(f.path, f.format) for f in report.files] == [(SOURCE, "arrow")]
    landed = rows(lake, "SELECT event_id, source, ts, duration_s FROM call ORDER BY event_id")
    assert [r["event_id"] for r in landed] == ["call-0", "call-1", "call-2"]
    assert {r["source"] for r in landed} == {"sim-operator"}
    assert landed[1]["ts"] == dt.datetime(2024, 5, 1, 2, 0, 1, tzinfo=UTC)
    assert [r["duration_s"] for r in landed] == [30, 31, 32]
    assert letters_of(dead) == []


def test_a_bad_row_is_dead_lettered_with_its_record_number(tmp_path: Path) -> None:
    ing, lake, dead = ingestor(tmp_path)
    records = [call_row(caller=phone(1)), call_row(caller="not-a-phone"), call_row(caller=phone(3))]
    table = pa.Table.from_pylist(records)  # all strings, as a loose export would be
    report = ing.run_table(table, "call", source=SOURCE, run_id="run-1")
    assert (report.run_id, report.accepted, report.rejected) == ("run-1", 2, 1)
    assert count(lake, "call") == 2
    [letter] = letters_of(dead)
    assert (letter.source, letter.location, letter.field) == (SOURCE, "record 2", "caller")
    assert (letter.event_type, letter.run_id) == ("call", "run-1")
    assert orjson.loads(letter.raw) == records[1]  # the row as NDJSON
    # Rows without a source take the table's name, as file rows take the file's.
    assert rows(lake, "SELECT DISTINCT source FROM call") == [{"source": "operator-a"}]
    bare = pa.Table.from_pylist(
        [{k: v for k, v in call_row(caller=phone(9)).items() if k != "source"}]
    )
    ing.run_table(bare, "call", source=SOURCE)
    assert rows(lake, f"SELECT source FROM call WHERE caller = '+86{phone(9)}'") == [
        {"source": SOURCE}
    ]


def test_the_same_table_again_adds_nothing(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    table = typed_calls(4)
    assert ing.run_table(table, "call", source=SOURCE).accepted == 4
    again = ing.run_table(table, "call", source=SOURCE)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 4, 0)
    overlap = ing.run_table(typed_calls(3, start=2), "call", source=SOURCE)
    assert (overlap.accepted, overlap.duplicates) == (1, 2)
    assert count(lake, "call") == 5


def test_an_empty_table_or_an_unknown_type(tmp_path: Path) -> None:
    ing, lake, _ = ingestor(tmp_path)
    empty = ing.run_table(typed_calls(0), "call", source=SOURCE)
    assert (empty.accepted, empty.rejected) == (0, 0)
    assert "call" not in lake.event_types()
    with pytest.raises(IngestError, match="unknown type 'calls'"):
        ing.run_table(typed_calls(1), "calls", source=SOURCE)


def test_the_app_records_a_table_ingestion_as_a_run(tmp_path: Path) -> None:
    with App(Settings(data_dir=tmp_path / "data")) as fz:
        report = fz.ingest_table(typed_calls(2), "call", source=SOURCE)
        [run] = fz.store.runs.list(1)
        assert run.id == report.run_id
        assert (run.status, run.accepted, run.rejected, run.files) == ("done", 2, 0, (SOURCE,))
        assert count(fz.lake, "call") == 2
        with pytest.raises(IngestError):
            fz.ingest_table(typed_calls(1), "nope", source=SOURCE)
        assert fz.store.runs.list(1)[0].status == "failed"
