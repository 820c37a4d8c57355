"""The event log: append-only Parquet files partitioned by event type and local day.

Layout::

    <root>/<type>/day=YYYY-MM-DD/part-<txn>-<n>.parquet   visible, immutable
    <root>/_staging/<txn>/...                               being written
    <root>/_staging/<txn>/COMMITTED                         commit marker

A transaction writes every file into its staging folder, then writes the commit marker,
then renames each file into place. Readers only glob visible paths, so a crash mid-write
leaves no half file visible; on open, staged transactions with a marker are rolled forward
and the others are deleted.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fanzha.model.events import EVENT_TYPES
from fanzha.model.schema import arrow_schema

STAGING = "_staging"
MARKER = "COMMITTED"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(table: pa.Table, path: Path) -> None:
    """Write a Parquet file under a temporary name, fsync it, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=131_072)
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    tmp.replace(path)


def day_partitions(ts: pa.Array, tz: str) -> pa.Array:
    """Local calendar day (``YYYY-MM-DD``) of each timestamp in the centre's time zone."""
    local = pc.local_timestamp(ts.cast(pa.timestamp("us", tz=tz)))
    days = local.cast(pa.timestamp("us")).cast(pa.date32())
    # Format only the few distinct days, then spread them back (strftime per row is slow).
    distinct = pc.unique(days)
    labels = pa.array([d.isoformat() for d in distinct.to_pylist()], pa.string())
    return pc.take(labels, pc.index_in(days, value_set=distinct))


@dataclass
class Partition:
    """Event ids already stored in one (type, day) partition."""

    chunks: list[pa.Array]
    _merged: pa.Array | None = None

    def add(self, ids: pa.Array) -> None:
        """Remember more stored ids."""
        self.chunks.append(ids)
        self._merged = None

    def contains(self, ids: pa.Array) -> np.ndarray:
        """True where an id is already stored (one hash pass in Arrow, no per-row Python)."""
        if not self.chunks:
            return np.zeros(len(ids), dtype=bool)
        if self._merged is None:
            self._merged = pa.concat_arrays(self.chunks)
            self.chunks = [self._merged]
        found: np.ndarray = pc.is_in(ids, value_set=self._merged).to_numpy(zero_copy_only=False)
        return found


class IdIndex:
    """Which event ids each partition holds, loaded lazily and kept for recent partitions.

    Memory is bounded by ``max_partitions`` (least recently used are dropped and re-read from
    Parquet when needed), not by the size of the lake.
    """

    def __init__(self, lake: Lake, max_partitions: int = 16) -> None:
        self.lake = lake
        self.max_partitions = max_partitions
        self._cache: OrderedDict[tuple[str, str], Partition] = OrderedDict()

    def partition(self, event_type: str, day: str) -> Partition:
        """The id set of one partition (read from disk on first use)."""
        key = (event_type, day)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        part = Partition([])
        for path in self.lake.files(event_type, day):
            col = pq.read_table(path, columns=["event_id"])["event_id"]
            part.add(col.combine_chunks().cast(pa.string()))
        self._cache[key] = part
        while len(self._cache) > self.max_partitions:
            self._cache.popitem(last=False)
        return part

    def remember(self, added: dict[tuple[str, str], list[pa.Array]]) -> None:
        """Add committed ids to the partitions that are cached (others re-read later)."""
        for key, arrays in added.items():
            if key in self._cache:
                for ids in arrays:
                    self._cache[key].add(ids)

    def forget(self) -> None:
        """Drop every cached partition (after a rollback)."""
        self._cache.clear()


class LakeTxn:
    """One transaction: files staged now, visible together on commit."""

    def __init__(self, lake: Lake, txn_id: str) -> None:
        self.lake = lake
        self.txn_id = txn_id
        self.dir = lake.root / STAGING / txn_id
        self.staged: list[tuple[Path, Path]] = []  # (staging path, final path)
        self.added: dict[tuple[str, str], list[pa.Array]] = {}
        self.rows = 0

    def append(self, event_type: str, table: pa.Table) -> None:
        """Stage the rows of one event table, split into day partitions."""
        if table.num_rows == 0:
            return
        days = day_partitions(table["ts"].combine_chunks(), self.lake.tz)
        for day in pc.unique(days).to_pylist():
            part = table.filter(pc.equal(days, day))
            name = f"part-{self.txn_id}-{len(self.staged):05d}.parquet"
            rel = Path(event_type) / f"day={day}" / name
            staged = self.dir / rel
            _write_atomic(part.cast(arrow_schema(EVENT_TYPES[event_type])), staged)
            self.staged.append((staged, self.lake.root / rel))
            ids = part["event_id"].combine_chunks()
            self.added.setdefault((event_type, day), []).append(ids)
            self.rows += part.num_rows

    def commit(self) -> None:
        """Make every staged file visible (marker first, so a crash rolls forward)."""
        if not self.staged:
            self.abort()
            return
        marker = self.dir / MARKER
        marker.write_text("\n".join(str(f.relative_to(self.lake.root)) for _, f in self.staged))
        _fsync_dir(self.dir)
        for staged, final in self.staged:
            final.parent.mkdir(parents=True, exist_ok=True)
            staged.replace(final)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.lake.index.remember(self.added)

    def abort(self) -> None:
        """Drop every staged file; nothing becomes visible."""
        shutil.rmtree(self.dir, ignore_errors=True)
        self.staged.clear()
        self.added.clear()


class Lake:
    """The append-only event log under one folder."""

    def __init__(self, root: Path, tz: str = "Asia/Shanghai") -> None:
        self.root = root
        self.tz = tz
        self.root.mkdir(parents=True, exist_ok=True)
        self.index = IdIndex(self)
        self.recover()

    def recover(self) -> list[str]:
        """Finish committed transactions and delete unfinished ones; return what was done."""
        done: list[str] = []
        staging = self.root / STAGING
        if not staging.exists():
            return done
        for txn in sorted(p for p in staging.iterdir() if p.is_dir()):
            marker = txn / MARKER
            if marker.exists():
                for rel in marker.read_text().splitlines():
                    src, dst = txn / rel, self.root / rel
                    if src.exists():
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        src.replace(dst)
                done.append(f"rolled forward {txn.name}")
            else:
                done.append(f"discarded {txn.name}")
            shutil.rmtree(txn, ignore_errors=True)
        for tmp in self.root.glob("*/day=*/.*.tmp"):
            tmp.unlink(missing_ok=True)
        return done

    def begin(self) -> LakeTxn:
        """Start a transaction."""
        return LakeTxn(self, uuid.uuid4().hex[:12])

    def files(self, event_type: str, day: str | None = None) -> list[Path]:
        """Visible Parquet files of an event type (optionally one day)."""
        base = self.root / event_type
        pattern = f"day={day}/*.parquet" if day else "day=*/*.parquet"
        return sorted(p for p in base.glob(pattern) if not p.name.startswith("."))

    def event_types(self) -> list[str]:
        """Event types that have at least one visible file."""
        return [t for t in EVENT_TYPES if self.files(t)]

    def split_new(
        self, event_type: str, table: pa.Table, txn: LakeTxn | None = None
    ) -> tuple[pa.Table, int]:
        """Drop rows whose event id is already stored, staged in ``txn``, or repeated."""
        if table.num_rows == 0:
            return table, 0
        ids = table["event_id"].combine_chunks()
        days = day_partitions(table["ts"].combine_chunks(), self.tz)
        keep = _first_occurrence(ids)
        for day in pc.unique(days).to_pylist():
            known = Partition(list(txn.added.get((event_type, day), []))) if txn else None
            for part in (self.index.partition(event_type, day), known):
                if part is None or not part.chunks:
                    continue
                in_day = pc.equal(days, day).to_numpy(zero_copy_only=False)
                keep &= ~(in_day & part.contains(ids))
        kept = table.filter(pa.array(keep))
        return kept, table.num_rows - kept.num_rows


def _first_occurrence(ids: pa.Array) -> np.ndarray:
    """True for the first row of every distinct id."""
    encoded = pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(encoded, return_index=True)
    keep = np.zeros(len(ids), dtype=bool)
    keep[first] = True
    return keep
