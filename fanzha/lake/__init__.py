"""The event lake: append-only Parquet partitions and DuckDB queries over them."""

from fanzha.lake.log import Lake, LakeTxn

__all__ = ["Lake", "LakeTxn"]
