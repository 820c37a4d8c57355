"""Derived event ids: identical records without source ids stay separate within an input."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from factories import transfer_row, write_csv

from fanzha.ingest.deadletter import MemoryDeadLetters
from fanzha.ingest.normalise import number_repeats
from fanzha.ingest.pipeline import Ingestor, Request
from fanzha.lake.log import Lake
from fanzha.lake.query import run_sql
from fanzha.settings import Settings


def test_number_repeats_counts_only_rows_it_applies_to() -> None:
    derived = pa.array(["a", "b", "a", "c", "a", "b"])
    applies = pa.array([True, True, True, True, False, True])
    assert number_repeats(derived, applies).to_pylist() == ["a", "b", "a#1", "c", "a", "b#1"]


def test_identical_transfers_without_ids_land_once_each_and_reingest_adds_nothing(
    tmp_path: Path,
) -> None:
    # Coarse third-party data: the same payer, payee, amount and time twice is two transfers.
    rows = [transfer_row(), transfer_row(), transfer_row(amount="1.00")]
    path = write_csv(tmp_path / "transfers.csv", rows)
    settings = Settings(data_dir=tmp_path / "data")
    lake = Lake(settings.lake_dir)
    ingestor = Ingestor(settings, lake, MemoryDeadLetters())

    first = ingestor.run(Request([path], event_type="transfer"))
    again = ingestor.run(Request([path], event_type="transfer"))

    assert (first.accepted, first.duplicates) == (3, 0)
    assert (again.accepted, again.duplicates) == (0, 3)
    ids = run_sql(lake, "SELECT event_id FROM transfer ORDER BY event_id")["event_id"].to_pylist()
    assert len(set(ids)) == 3
    assert sum(1 for i in ids if i.endswith("#1")) == 1


def test_dead_letters_keep_at_most_the_configured_bytes(tmp_path: Path) -> None:
    # A bad record longer than FANZHA_DEAD_LETTER_KEEP_BYTES is kept cut and marked so.
    settings = Settings(data_dir=tmp_path / "data", dead_letter_keep_bytes=256)
    letters = MemoryDeadLetters()
    ingestor = Ingestor(settings, Lake(settings.lake_dir), letters)
    bad = transfer_row(payer_name="x" * 2000)  # labels are at most 512 characters
    path = write_csv(tmp_path / "transfers.csv", [bad])

    report = ingestor.run(Request([path], event_type="transfer"))

    assert report.rejected == 1
    (stored,) = letters.list()
    assert len(stored.letter.raw) == 256
    assert stored.letter.truncated
    assert stored.letter.field == "payer_name"
