"""Tracing as a service: the ledger built from the lake's transfers, and traces over it.
Used by ``fanzha trace`` and the benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fanzha.funds.ledger import CashOutRule, Ledger
from fanzha.lake import Lake

#: the transfer columns the ledger reads (the cash-out rule reads the last three)
COLUMNS = (
    "event_id",
    "ts",
    "payer_account",
    "payee_account",
    "amount_fen",
    "channel",
    "remittance",
    "payee_name",
)


def lake_transfers(lake: Lake, files: Sequence[Path] | None = None) -> pa.Table:
    """Every transfer in the lake (or in ``files`` of it), sorted by time and then event id
    (so that transfers at the same moment are taken in an order that does not depend on how
    files were written)."""
    files = lake.files("transfer") if files is None else list(files)
    if not files:
        return (
            pa.table({c: pa.array([], pa.string()) for c in COLUMNS})
            .set_column(1, "ts", pa.array([], pa.timestamp("us", tz="UTC")))
            .set_column(4, "amount_fen", pa.array([], pa.int64()))
        )
    parts = [pq.read_table(f, columns=list(COLUMNS)) for f in files]
    table = pa.concat_tables(parts, promote_options="permissive")
    order = pc.sort_indices(table, sort_keys=[("ts", "ascending"), ("event_id", "ascending")])
    return table.take(order)


def lake_ledger(
    lake: Lake, rule: CashOutRule | None = None, files: Sequence[Path] | None = None
) -> Ledger:
    """The ledger index of every transfer in the lake (or in ``files`` of it)."""
    return Ledger.build(lake_transfers(lake, files), rule)
