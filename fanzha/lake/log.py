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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
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


_HASHER = duckdb.connect(config={"threads": 1})


def hash_ids(ids: pa.Array) -> np.ndarray:
    """64-bit hashes of event ids, for a compact in-memory index (verified on every hit)."""
    if len(ids) == 0:
        return np.zeros(0, dtype=np.uint64)
    cursor = _HASHER.cursor()
    cursor.register("ids", pa.table({"id": ids.cast(pa.string())}))
    hashes = cursor.sql("SELECT hash(id) AS h FROM ids").to_arrow_table()["h"]
    out: np.ndarray = hashes.to_numpy().astype(np.uint64, copy=False)
    return out


@dataclass
class Partition:
    """Event ids stored in one (type, day) partition, as sorted runs of 64-bit hashes.

    Eight bytes per stored event instead of the id strings. A hash hit is confirmed against
    the real ids in the partition's files, so a collision can never drop a new event.
    """

    files: Callable[[], list[Path]]
    runs: list[np.ndarray] = field(default_factory=list)

    def add(self, hashes: np.ndarray) -> None:
        """Remember the hashes of more stored ids."""
        if hashes.size:
            self.runs.append(np.sort(hashes))
        if len(self.runs) > 8:  # merge runs so that lookups stay a few binary searches
            self.runs = [np.sort(np.concatenate(self.runs))]

    def contains(self, ids: pa.Array, hashes: np.ndarray) -> np.ndarray:
        """True where an id is already stored here."""
        hit = np.zeros(len(hashes), dtype=bool)
        for run in self.runs:
            pos = np.minimum(np.searchsorted(run, hashes), len(run) - 1)
            hit |= run[pos] == hashes
        if not hit.any():
            return hit
        candidates = ids.filter(pa.array(hit))
        confirmed = np.zeros(len(candidates), dtype=bool)
        for path in self.files():
            stored = pq.read_table(path, columns=["event_id"])["event_id"].combine_chunks()
            confirmed |= pc.is_in(candidates, value_set=stored).to_numpy(zero_copy_only=False)
        hit[hit] = confirmed
        return hit


class IdIndex:
    """Which event ids each partition holds, loaded lazily and kept for recent partitions.

    Memory is eight bytes per stored event of the ``max_partitions`` most recently used
    partitions (others are dropped and re-read from Parquet when needed).
    """

    def __init__(self, lake: Lake, max_partitions: int = 16) -> None:
        self.lake = lake
        self.max_partitions = max_partitions
        self._cache: OrderedDict[tuple[str, str], Partition] = OrderedDict()

    def partition(self, event_type: str, day: str) -> Partition:
        """The index of one partition (read from disk on first use)."""
        key = (event_type, day)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        part = Partition(lambda: self.lake.files(event_type, day))
        for path in self.lake.files(event_type, day):
            col = pq.read_table(path, columns=["event_id"])["event_id"]
            part.add(hash_ids(col.combine_chunks()))
        self._cache[key] = part
        while len(self._cache) > self.max_partitions:
            self._cache.popitem(last=False)
        return part

    def remember(self, added: dict[tuple[str, str], Partition]) -> None:
        """Add committed ids to the partitions that are cached (others re-read later)."""
        for key, staged in added.items():
            if key in self._cache:
                for run in staged.runs:
                    self._cache[key].add(run)

    def forget(self) -> None:
        """Drop every cached partition."""
        self._cache.clear()


class LakeTxn:
    """One transaction: files staged now, visible together on commit."""

    def __init__(self, lake: Lake, txn_id: str) -> None:
        self.lake = lake
        self.txn_id = txn_id
        self.dir = lake.root / STAGING / txn_id
        self.staged: list[tuple[Path, Path]] = []  # (staging path, final path)
        self.added: dict[tuple[str, str], Partition] = {}
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
            key = (event_type, day)
            if key not in self.added:
                self.added[key] = Partition(self._staged_files(event_type, day))
            self.added[key].add(hash_ids(part["event_id"].combine_chunks()))
            self.rows += part.num_rows

    def _staged_files(self, event_type: str, day: str) -> Callable[[], list[Path]]:
        folder = self.dir / event_type / f"day={day}"
        return lambda: sorted(folder.glob("*.parquet"))

    def commit(self) -> None:
        """Make every staged file visible (marker first, so a crash rolls forward)."""
        if not self.staged:
            self.abort()
            return
        # The marker appears whole or not at all: a half-written list would commit half.
        marker = self.dir / f".{MARKER}.tmp"
        with marker.open("w") as fh:
            fh.write("\n".join(str(f.relative_to(self.lake.root)) for _, f in self.staged))
            fh.flush()
            os.fsync(fh.fileno())
        marker.replace(self.dir / MARKER)
        _fsync_dir(self.dir)
        for staged, final in self.staged:
            final.parent.mkdir(parents=True, exist_ok=True)
            staged.replace(final)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.lake.index.remember(self.added)
        self.lake.committed([final for _, final in self.staged])

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
        #: told the files of every commit, once they are visible (the live loop listens)
        self.listeners: list[Callable[[list[Path]], None]] = []
        self.recover()

    def committed(self, files: list[Path]) -> None:
        """Tell the listeners which files a commit made visible."""
        for listener in self.listeners:
            listener(files)

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
        hashes = hash_ids(ids)
        for day in pc.unique(days).to_pylist():
            staged = txn.added.get((event_type, day)) if txn else None
            in_day = pc.equal(days, day).to_numpy(zero_copy_only=False)
            rows = np.flatnonzero(in_day & keep)
            day_ids = ids.take(pa.array(rows))
            for part in (self.index.partition(event_type, day), staged):
                if part is None or not part.runs or rows.size == 0:
                    continue
                known = part.contains(day_ids, hashes[rows])
                keep[rows[known]] = False
        kept = table.filter(pa.array(keep))
        return kept, table.num_rows - kept.num_rows


def _first_occurrence(ids: pa.Array) -> np.ndarray:
    """True for the first row of every distinct id."""
    encoded = pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(encoded, return_index=True)
    keep = np.zeros(len(ids), dtype=bool)
    keep[first] = True
    return keep
