"""The contact index for retro-correlation (关联回溯): who was in touch with which counterparty,
and when, kept for the look-back window.

Keyed by counterparty, not by scanning events: each processed batch adds one chunk sorted by
counterparty id; a lookup is a binary search per chunk. Small chunks are merged with the one
before them while that one is no more than twice their size, the two hold at most
``MERGE_MAX`` contacts and span at most a 32nd of the look-back (live streaming adds a tiny
chunk every call: without merging, lookups and memory would grow with the number of batches,
not of contacts). Chunks older than
the look-back window are dropped whole. Contacts with registered residents' own numbers and
accounts are not indexed (resident-to-resident calls are most of the traffic and are not fraud
infrastructure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from fanzha.detect.kernels import I64

#: Merged chunks stay below this many contacts: a merge costs well under a millisecond, so a
#: live worker never stalls on one (hourly batches of a city make bigger chunks by themselves).
MERGE_MAX = 16_384


@dataclass
class Chunk:
    """Contacts of one batch, sorted by counterparty."""

    cp: npt.NDArray[np.int32]
    subject: npt.NDArray[np.int32]
    at: I64
    kind: npt.NDArray[np.int8]
    event_id: pa.Array
    max_at: int


@dataclass(frozen=True, slots=True)
class Contact:
    """One indexed contact."""

    cp: int
    subject: int
    at: int
    kind: int
    event_id: str


class ContactIndex:
    """Counterparty → (subject, time, event) for the look-back window."""

    def __init__(self, lookback_s: int = 30 * 86_400) -> None:
        self.lookback_s = lookback_s
        self.chunks: list[Chunk] = []
        self.merge_span_s = lookback_s // 32

    def __len__(self) -> int:
        return sum(c.cp.size for c in self.chunks)

    def add(self, cp: I64, subject: I64, at: I64, kind: I64, event_id: pa.Array, rows: I64) -> None:
        """Index a batch of contacts (the event of contact ``i`` is ``event_id[rows[i]]``:
        the ids are taken once, for the contacts kept)."""
        keep = (cp >= 0) & (subject >= 0)
        if not keep.any():
            return
        idx = np.flatnonzero(keep)
        order = idx[np.argsort(cp[idx], kind="stable")]
        self.chunks.append(
            Chunk(  # ids are below 2**31 (pair keys rely on it), kinds below 128: 17 bytes
                cp=cp[order].astype(np.int32),
                subject=subject[order].astype(np.int32),
                at=at[order],
                kind=kind[order].astype(np.int8),
                event_id=event_id.take(pa.array(rows[order], pa.int64())),
                max_at=int(at[idx].max()),
            )
        )
        self._merge()

    def _merge(self) -> None:
        """Merge the last chunk into the one before while it is no more than twice as big and
        the two span at most ``merge_span_s`` (sizes grow geometrically: few chunks)."""
        chunks = self.chunks
        while len(chunks) >= 2:
            a, b = chunks[-2], chunks[-1]
            if (
                a.cp.size > 2 * b.cp.size
                or a.cp.size + b.cp.size > MERGE_MAX
                or b.max_at - int(a.at.min()) > self.merge_span_s
            ):
                return
            chunks[-2:] = [_merged(a, b)]

    def prune(self, now: int) -> None:
        """Drop chunks entirely older than the look-back window."""
        cutoff = now - self.lookback_s
        if any(c.max_at < cutoff for c in self.chunks):
            self.chunks = [c for c in self.chunks if c.max_at >= cutoff]

    def counterparties(self, since: int) -> I64:
        """The distinct counterparties of the contacts of chunks reaching ``since`` or later."""
        # a chunk is sorted by counterparty: its distinct ones in one pass, no sort of them all
        parts = [_distinct_sorted(c.cp) for c in self.chunks if c.max_at >= since]
        if not parts:
            return np.empty(0, np.int64)
        return np.unique(np.concatenate(parts)).astype(np.int64)

    def contacts(self, cps: Iterable[int], since: int) -> list[Contact]:
        """Every indexed contact with one of ``cps`` at or after ``since``."""
        wanted = np.unique(np.fromiter(cps, np.int64))
        out: list[Contact] = []
        if wanted.size == 0:
            return out
        for c in self.chunks:
            if c.max_at < since:
                continue
            keys = wanted.astype(c.cp.dtype)  # the chunk's own type: no copy of the chunk
            lo = np.searchsorted(c.cp, keys, "left")
            hi = np.searchsorted(c.cp, keys, "right")
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                for i in range(a, b):
                    if c.at[i] >= since:
                        out.append(
                            Contact(
                                int(c.cp[i]),
                                int(c.subject[i]),
                                int(c.at[i]),
                                int(c.kind[i]),
                                str(c.event_id[i].as_py()),
                            )
                        )
        return out

    def nbytes(self) -> int:
        """Memory held by the index."""
        return sum(
            c.cp.nbytes + c.subject.nbytes + c.at.nbytes + c.kind.nbytes + c.event_id.nbytes
            for c in self.chunks
        )


def _distinct_sorted(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """The distinct values of a sorted array, in order."""
    if values.size == 0:
        return values
    keep = np.empty(values.size, np.bool_)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _merged(a: Chunk, b: Chunk) -> Chunk:
    """One chunk with the contacts of ``a`` then ``b``, sorted by counterparty (stable: a
    counterparty's contacts keep their order)."""
    cp = np.concatenate([a.cp, b.cp])
    order = np.argsort(cp, kind="stable")
    return Chunk(
        cp=cp[order],
        subject=np.concatenate([a.subject, b.subject])[order],
        at=np.concatenate([a.at, b.at])[order],
        kind=np.concatenate([a.kind, b.kind])[order],
        event_id=pa.concat_arrays([a.event_id, b.event_id]).take(pa.array(order, pa.int64())),
        max_at=max(a.max_at, b.max_at),
    )
