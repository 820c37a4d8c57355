"""Where simulated rows go: per-day event buffers, deterministic files, and the manifest.

Layout (readable by ``fanzha ingest DIR/events``)::

    DIR/events/<type>/<type>-YYYY-MM-DD.parquet|ndjson   one file per type and local day, by ts
    DIR/registry/person.*, org_unit.*                      reference data
    DIR/truth/*.parquet|ndjson                             ground truth for the scorecard and tests
    DIR/manifest.json                                      counts, seed, parameters, content hash
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from fanzha.model.events import EVENT_TYPES
from fanzha.model.schema import arrow_schema
from fanzha.sim.ids import ascii_strings, digits_matrix

FORMATS = ("parquet", "ndjson")
TZ_OFFSET_S = 8 * 3600  # Asia/Shanghai has no daylight saving time

#: Letter of each event type in simulated event ids (``T7-000000042`` is a transfer).
ID_LETTERS: dict[str, str] = {
    "call": "C",
    "sms": "S",
    "web_visit": "W",
    "app_install": "A",
    "transfer": "T",
    "account_opened": "O",
    "sim_activated": "M",
    "police_report": "R",
}
SOURCES: dict[str, str] = {
    "call": "sim-cdr",
    "sms": "sim-sms",
    "web_visit": "sim-dpi",
    "app_install": "sim-appstore",
    "transfer": "sim-bank",
    "account_opened": "sim-bank",
    "sim_activated": "sim-operator",
    "police_report": "sim-police",
}


def local_day(ts: int) -> int:
    """Days since the Unix epoch of the local (UTC+8) date of epoch second ``ts``."""
    return (ts + TZ_OFFSET_S) // 86_400


class EventIds:
    """Allocates unique, deterministic event ids per type (a counter per type).

    Ids read ``<letter><tag>-<counter>``; the tag names the run (seed and a digest of the
    parameters and generator version), so two different simulations never share an id and a
    re-simulated world cannot be mistaken for duplicates of an older one in the lake.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self._next: dict[str, int] = defaultdict(int)

    def many(self, type_name: str, count: int) -> np.ndarray:
        """``count`` fresh ids for ``type_name``."""
        start = self._next[type_name]
        self._next[type_name] = start + count
        numbers = ascii_strings(digits_matrix(np.arange(start, start + count), 10))
        return np.char.add(f"{ID_LETTERS[type_name]}{self.tag}-", numbers)

    def one(self, type_name: str) -> str:
        """One fresh id for ``type_name``."""
        return str(self.many(type_name, 1)[0])


@dataclass
class DayEvents:
    """The rows of one local day, per type: columnar chunks and single rows (fraud scripts)."""

    tables: dict[str, list[pa.Table]] = field(default_factory=lambda: defaultdict(list))
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add_columns(self, type_name: str, columns: Mapping[str, Any]) -> None:
        """Append a columnar chunk; ``ts`` in epoch seconds, missing optional columns are null."""
        n = len(columns["ts"])
        if n:
            self.tables[type_name].append(_table(type_name, columns, n))

    def add_row(self, type_name: str, row: dict[str, Any]) -> None:
        """Append one row (``ts`` in epoch seconds)."""
        self.rows[type_name].append(row)

    def table(self, type_name: str) -> pa.Table:
        """All rows of a type, sorted by time (stable, so the order is deterministic)."""
        parts = list(self.tables.get(type_name, []))
        rows = self.rows.get(type_name, [])
        if rows:
            present = set().union(*rows)  # absent columns become nulls (source: its default)
            cols: dict[str, Any] = {
                name: [r.get(name) for r in rows]
                for name in arrow_schema(EVENT_TYPES[type_name]).names
                if name in present
            }
            cols["ts"] = np.array([r["ts"] for r in rows], dtype=np.int64)
            parts.append(_table(type_name, cols, len(rows)))
        if not parts:
            return arrow_schema(EVENT_TYPES[type_name]).empty_table()
        table = pa.concat_tables(parts)
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        return table.take(pa.array(np.argsort(ts, kind="stable")))

    def count(self) -> int:
        """Rows held."""
        return int(sum(t.num_rows for ts in self.tables.values() for t in ts)) + sum(
            len(r) for r in self.rows.values()
        )


def _table(type_name: str, columns: Mapping[str, Any], n: int) -> pa.Table:
    schema = arrow_schema(EVENT_TYPES[type_name])
    arrays = []
    for fld in schema:
        value = columns.get(fld.name)
        if fld.name == "ts":
            micros = np.asarray(value, dtype=np.int64) * 1_000_000
            arrays.append(pa.array(micros, pa.int64()).cast(fld.type))
        elif fld.name == "source" and value is None:
            arrays.append(pa.array([SOURCES[type_name]] * n, pa.string()))
        elif value is None:
            arrays.append(pa.nulls(n, fld.type))
        elif isinstance(value, pa.Array):
            arrays.append(value if value.type == fld.type else value.cast(fld.type))
        else:
            arrays.append(pa.array(value, fld.type))
    return pa.Table.from_arrays(arrays, schema=schema)


class Writer:
    """Writes days, registry and truth deterministically, and hashes what it wrote."""

    def __init__(self, out_dir: Path, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected parquet or ndjson")
        self.out = out_dir
        self.fmt = fmt
        self.counts: dict[str, int] = defaultdict(int)
        self.files: list[Path] = []

    def write_day(self, day_epoch: int, events: DayEvents) -> None:
        """Write every type of one local day (days since epoch) to its own file."""
        date = dt.date(1970, 1, 1) + dt.timedelta(days=day_epoch)
        for type_name in EVENT_TYPES:
            table = events.table(type_name)
            if table.num_rows == 0:
                continue
            self.counts[type_name] += table.num_rows
            self.write_table(
                self.out / "events" / type_name / f"{type_name}-{date.isoformat()}", table
            )

    def write_table(self, stem: Path, table: pa.Table) -> Path:
        """Write one table as ``stem.parquet`` or ``stem.ndjson``."""
        stem.parent.mkdir(parents=True, exist_ok=True)
        path = stem.with_suffix(f".{self.fmt}")
        if self.fmt == "parquet":
            pq.write_table(table, path, compression="zstd", write_statistics=True)
        else:
            write_ndjson(table, path)
        self.files.append(path)
        return path

    def content_hash(self) -> str:
        """SHA-256 over the relative paths and bytes of everything written (sorted)."""
        digest = hashlib.sha256()
        for path in sorted(self.files):
            digest.update(str(path.relative_to(self.out)).encode("utf-8") + b"\0")
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to NDJSON")


def write_ndjson(table: pa.Table, path: Path) -> None:
    """Write a table as NDJSON: times in local ISO 8601 with offset, nulls left out."""
    with path.open("wb") as fh:
        for batch in table.to_batches(max_chunksize=65_536):
            lines = [
                orjson.dumps(
                    {k: v for k, v in row.items() if v is not None},
                    default=_json_default,
                    option=orjson.OPT_PASSTHROUGH_DATETIME,  # so times are written in local time
                )
                for row in batch.to_pylist()
            ]
            fh.write(b"\n".join(lines) + b"\n")


def write_manifest(out_dir: Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest.json`` (sorted keys, so equal runs give equal bytes)."""
    path = out_dir / "manifest.json"
    path.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8"
    )
    return path


def rows_table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """A truth table from row mappings with an explicit schema."""
    return pa.Table.from_pylist(list(rows), schema=schema)
