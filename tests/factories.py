"""Tiny builders for the ingestion, lake, CLI and API tests (no fixtures, no mocks).

Import as ``from factories import ...``: pytest puts ``tests/`` on ``sys.path`` because it has
no ``__init__.py`` (the same way ``tests/store/conftest.py`` imports ``conftest_pg``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa

from fanzha.ingest.deadletter import DeadLetter, MemoryDeadLetters
from fanzha.ingest.pipeline import Ingestor
from fanzha.lake.log import Lake
from fanzha.lake.query import run_sql
from fanzha.settings import Settings

Row = dict[str, Any]


def phone(i: int) -> str:
    """A valid China Mobile number, different for every ``i`` below 10^8."""
    return f"138{i:08d}"


def call_row(**overrides: Any) -> Row:
    """A valid call record in canonical column names."""
    row: Row = {
        "caller": "13800138000",
        "callee": "13900139000",
        "ts": "2024-05-01 10:00:00",
        "duration_s": "30",
        "source": "operator-a",
    }
    row.update(overrides)
    return row


def sms_row(**overrides: Any) -> Row:
    """A valid SMS record."""
    row: Row = {
        "sender": "13800138000",
        "recipient": "13900139000",
        "ts": "2024-05-01 10:00:00",
        "text": "您的快递已到",
        "source": "operator-a",
    }
    row.update(overrides)
    return row


def transfer_row(**overrides: Any) -> Row:
    """A valid transfer with the amount in yuan (``amount``)."""
    row: Row = {
        "payer_account": "6222021001123456789",
        "payee_account": "6217000010012345678",
        "amount": "1234.56",
        "ts": "2024-05-01 10:00:00",
        "source": "bank-a",
    }
    row.update(overrides)
    return row


def calls(n: int, start: int = 0, **overrides: Any) -> list[Row]:
    """``n`` distinct valid calls (different callers)."""
    return [call_row(caller=phone(start + i), **overrides) for i in range(n)]


def ndjson_bytes(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """NDJSON text of ``rows`` (UTF-8, one object per line, final newline)."""
    lines = [json.dumps(dict(r), ensure_ascii=False) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV text with a header line (columns of the first row unless given), ``\\n`` endings."""
    names = list(columns if columns is not None else rows[0].keys())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for r in rows:
        writer.writerow(["" if r.get(n) is None else str(r.get(n)) for n in names])
    return out.getvalue()


def write_ndjson(path: Path, rows: Iterable[Mapping[str, Any]], encoding: str = "utf-8") -> Path:
    """Write ``rows`` as NDJSON in ``encoding``."""
    lines = [json.dumps(dict(r), ensure_ascii=False) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def write_csv(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    encoding: str = "utf-8",
    columns: Sequence[str] | None = None,
) -> Path:
    """Write ``rows`` as CSV with a header line in ``encoding``."""
    path.write_bytes(csv_text(rows, columns).encode(encoding))
    return path


def ingestor(tmp_path: Path, **settings: Any) -> tuple[Ingestor, Lake, MemoryDeadLetters]:
    """An ingestor over a fresh lake in ``tmp_path`` and an in-memory dead-letter store."""
    conf = Settings(data_dir=tmp_path / "data", **settings)
    lake = Lake(conf.lake_dir, conf.timezone)
    letters = MemoryDeadLetters()
    return Ingestor(conf, lake, letters), lake, letters


def letters_of(store: MemoryDeadLetters) -> list[DeadLetter]:
    """Every open letter, oldest first."""
    return [s.letter for s in reversed(store.list(limit=1_000_000))]


def rows(lake: Lake, query: str) -> list[dict[str, Any]]:
    """Rows of a SQL query over the lake, as dicts."""
    result: list[dict[str, Any]] = run_sql(lake, query).to_pylist()
    return result


def count(lake: Lake, event_type: str) -> int:
    """How many events of one type the lake holds."""
    table: pa.Table = run_sql(lake, f'SELECT count(*) AS n FROM "{event_type}"')
    n: int = table["n"][0].as_py()
    return n


def workbook(path: Path, sheets: dict[str, Sequence[Sequence[Any]]], *, title: str = "") -> Path:
    """Write ``sheets`` (name → rows) to ``path``; ``title`` merged over the first row of
    the first sheet when given."""
    book = openpyxl.Workbook()
    first = True
    for name, rows in sheets.items():
        sheet = book.active if first else book.create_sheet()
        assert sheet is not None
        sheet.title = name
        if first and title:
            sheet.append([title])
            sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=4)
        for row in rows:
            sheet.append(list(row))
        first = False
    book.save(path)
    return path
