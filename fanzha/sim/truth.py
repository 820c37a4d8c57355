"""Ground truth: what really happened, in tables the scorecard and the invariant tests read.

Times are ``timestamp[us, UTC]`` like the events; money is integer fen. Every table is written
to ``DIR/truth/<name>.parquet|ndjson``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from fanzha.sim.output import Writer, rows_table

_TS = pa.timestamp("us", tz="UTC")
_STR = pa.string()
_STRS = pa.list_(pa.string())

SCHEMAS: dict[str, pa.Schema] = {
    "gangs": pa.schema(
        [
            ("gang_id", _STR),
            ("name", _STR),
            ("base", _STR),
            ("overseas", pa.bool_()),
            ("typologies", _STRS),
        ]
    ),
    "entities": pa.schema(
        [
            ("value", _STR),
            ("kind", _STR),
            ("gang_id", _STR),
            ("role", _STR),
            ("detail", _STR),
        ]
    ),
    "dealers": pa.schema(
        [
            ("dealer_id", _STR),
            ("name", _STR),
            ("id_number", _STR),
            ("phone", _STR),
            ("gang_id", _STR),
        ]
    ),
    "farmers": pa.schema(
        [
            ("farmer_id", _STR),
            ("id_number", _STR),
            ("name", _STR),
            ("occupation", _STR),
            ("local", pa.bool_()),
            ("dealer_id", _STR),
        ]
    ),
    "mules": pa.schema(
        [
            ("account", _STR),
            ("gang_id", _STR),
            ("role", _STR),
            ("layer", pa.int8()),
            ("farmer_id", _STR),
            ("dealer_id", _STR),
            ("bank", _STR),
            ("branch", _STR),
            ("opened_event_id", _STR),
            ("opened_ts", _TS),
        ]
    ),
    "sims": pa.schema(
        [
            ("msisdn", _STR),
            ("gang_id", _STR),
            ("farmer_id", _STR),
            ("store", _STR),
            ("activated_event_id", _STR),
            ("activated_ts", _TS),
        ]
    ),
    "branches": pa.schema(
        [
            ("code", _STR),
            ("name", _STR),
            ("bank", _STR),
            ("district", _STR),
            ("lax", pa.bool_()),
        ]
    ),
    "stores": pa.schema(
        [
            ("code", _STR),
            ("name", _STR),
            ("carrier", _STR),
            ("district", _STR),
            ("lax", pa.bool_()),
        ]
    ),
    "victims": pa.schema(
        [
            ("victim_id", _STR),
            ("id_number", _STR),
            ("name", _STR),
            ("phone", _STR),
            ("age", pa.int16()),
            ("occupation", _STR),
            ("community", _STR),
            ("fraud_type", _STR),
            ("gang_id", _STR),
            ("first_contact_ts", _TS),
            ("hooked", pa.bool_()),
            ("outcome", _STR),
            ("payments", pa.int16()),
            ("loss_fen", pa.int64()),
            ("rebates_fen", pa.int64()),
            ("reported", pa.bool_()),
            ("report_event_id", _STR),
            ("report_ts", _TS),
        ]
    ),
    "timeline": pa.schema(
        [
            ("victim_id", _STR),
            ("ts", _TS),
            ("step", _STR),
            ("event_type", _STR),
            ("event_id", _STR),
        ]
    ),
    "payments": pa.schema(
        [
            ("victim_id", _STR),
            ("payment_no", pa.int16()),
            ("event_id", _STR),
            ("ts", _TS),
            ("payer_account", _STR),
            ("payee_account", _STR),
            ("amount_fen", pa.int64()),
        ]
    ),
    "flows": pa.schema(
        [
            ("root_event_id", _STR),
            ("event_id", _STR),
            ("ts", _TS),
            ("from_account", _STR),
            ("to_account", _STR),
            ("amount_fen", pa.int64()),
            ("hop", pa.int8()),
            ("kind", _STR),
        ]
    ),
    "transfer_roles": pa.schema([("event_id", _STR), ("role", _STR), ("gang_id", _STR)]),
    "reports": pa.schema(
        [
            ("event_id", _STR),
            ("victim_id", _STR),
            ("ts", _TS),
            ("unit", _STR),
            ("channel", _STR),
            ("traditional", pa.bool_()),
            ("true_accounts", _STRS),
            ("named_accounts", _STRS),
            ("named_phones", _STRS),
            ("named_urls", _STRS),
        ]
    ),
}


class Truth:
    """Collects truth rows by table while the simulation runs."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(self, table: str, **row: Any) -> None:
        """Record one row of ``table`` (times as aware datetimes or epoch microseconds)."""
        if table not in SCHEMAS:
            raise KeyError(f"unknown truth table {table!r}")
        self.rows[table].append(row)

    def table(self, name: str) -> pa.Table:
        """One truth table, in the order rows were recorded."""
        return rows_table(self.rows.get(name, []), SCHEMAS[name])

    def write(self, writer: Writer) -> dict[str, int]:
        """Write every table under ``truth/``; returns row counts."""
        counts = {}
        for name in SCHEMAS:
            table = self.table(name)
            writer.write_table(writer.out / "truth" / name, table)
            counts[name] = table.num_rows
        return counts


def read_truth(out_dir: Path, name: str) -> pa.Table:
    """Read one truth table of a simulation folder, whichever format it was written in."""
    fmt = json.loads((out_dir / "manifest.json").read_text("utf-8"))["format"]
    path = out_dir / "truth" / f"{name}.{fmt}"
    if fmt == "parquet":
        return pq.read_table(path)
    if path.stat().st_size <= 1:  # an empty table is written as a lone newline
        return SCHEMAS[name].empty_table()
    options = pj.ParseOptions(explicit_schema=SCHEMAS[name], unexpected_field_behavior="error")
    return pj.read_json(path, parse_options=options).select(SCHEMAS[name].names)
