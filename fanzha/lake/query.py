"""SQL over the event lake with DuckDB: one view per event type (``call``, ``transfer`` …)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from fanzha.lake.log import Lake
from fanzha.model.events import EVENT_TYPES
from fanzha.model.schema import arrow_schema


class QueryError(ValueError):
    """A query DuckDB refused, with its message."""


def _empty_view(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    empty = schema.empty_table()
    con.register(f"__empty_{name}", empty)
    con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM "__empty_{name}"')


def connect(lake: Lake, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view for every event type over the lake."""
    config: dict[str, str | bool | int | float | list[str]] = {}
    if threads:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    con.execute(f"SET TimeZone = '{lake.tz}'")
    for event_type in EVENT_TYPES:
        files = lake.files(event_type)
        if not files:
            _empty_view(con, event_type, arrow_schema(EVENT_TYPES[event_type]))
            continue
        glob = (lake.root / event_type / "day=*" / "*.parquet").as_posix().replace("'", "''")
        con.execute(
            f'CREATE OR REPLACE VIEW "{event_type}" AS SELECT * FROM read_parquet('
            f"'{glob}', hive_partitioning = true, union_by_name = true)"
        )
    return con


def run_sql(lake: Lake, query: str, *, limit: int | None = None) -> pa.Table:
    """Run one query over the lake and return its result as an Arrow table."""
    con = connect(lake)
    try:
        relation = con.sql(query)
        if relation is None:
            return pa.table({})
        reader = relation.to_arrow_reader(65_536)
        if limit is None:
            return reader.read_all()
        batches, rows = [], 0
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            if rows >= limit:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
        return table.slice(0, limit)
    except duckdb.Error as exc:
        raise QueryError(str(exc).strip()) from None
    finally:
        con.close()
