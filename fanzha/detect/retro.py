"""The contact index for retro-correlation (关联回溯): who was in touch with which counterparty,
and when, kept for the look-back window.

Keyed by counterparty, not by scanning events: each processed batch adds one chunk sorted by
counterparty id; a lookup is a binary search per chunk. Chunks older than the look-back window
are dropped whole. Contacts with registered residents' own numbers and accounts are not indexed
(resident-to-resident calls are most of the traffic and are not fraud infrastructure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fanzha.detect.kernels import I64


@dataclass
class Chunk:
    """Contacts of one batch, sorted by counterparty."""

    cp: I64
    subject: I64
    at: I64
    kind: I64
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

    def __len__(self) -> int:
        return sum(c.cp.size for c in self.chunks)

    def add(self, cp: I64, subject: I64, at: I64, kind: I64, event_id: pa.Array) -> None:
        """Index a batch of contacts."""
        keep = (cp >= 0) & (subject >= 0)
        if not keep.any():
            return
        idx = np.flatnonzero(keep)
        order = idx[np.argsort(cp[idx], kind="stable")]
        self.chunks.append(
            Chunk(
                cp=cp[order],
                subject=subject[order],
                at=at[order],
                kind=kind[order],
                event_id=event_id.take(pa.array(order, pa.int64())),
                max_at=int(at[idx].max()),
            )
        )

    def prune(self, now: int) -> None:
        """Drop chunks entirely older than the look-back window."""
        self.chunks = [c for c in self.chunks if now - c.max_at <= self.lookback_s]

    def contacts(self, cps: Iterable[int], since: int) -> list[Contact]:
        """Every indexed contact with one of ``cps`` at or after ``since``."""
        wanted = np.unique(np.fromiter(cps, np.int64))
        out: list[Contact] = []
        if wanted.size == 0:
            return out
        for c in self.chunks:
            if c.max_at < since:
                continue
            lo = np.searchsorted(c.cp, wanted, "left")
            hi = np.searchsorted(c.cp, wanted, "right")
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
