"""The contact index for retro-correlation (关联回溯): who was in touch with which counterparty,
and when, kept for the look-back window.

Keyed by counterparty, not by scanning events: each processed batch adds one chunk sorted by
counterparty id; a lookup is a binary search per chunk. Small chunks are merged with the one
before them while that one is no more than twice their size, the two hold at most
``MERGE_MAX`` contacts and span at most a 32nd of the look-back (live streaming adds a tiny
chunk every call: without merging, lookups and memory would grow with the number of batches,
not of contacts). The newest contacts wait unsorted in a *tail* until it holds ``TAIL_MAX`` of
them or would span more than a merge may: then they become a chunk (a live call adds a few
contacts; sorting and merging them each time was most of its cost here). A lookup reads the
tail as the chunk it will become. Chunks older than
the look-back window are dropped whole. Contacts with registered residents' own numbers and
accounts are not indexed (resident-to-resident calls are most of the traffic and are not fraud
infrastructure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from fanzha.detect.kernels import I64, NEVER, NONE, Column, strings_at, take_utf8, utf8_at
from fanzha.intel.keyset import Strings
from fanzha.jit import kernel

#: Merged chunks stay below this many contacts: a merge costs well under a millisecond, so a
#: live worker never stalls on one (hourly batches of a city make bigger chunks by themselves).
MERGE_MAX = 16_384
#: The tail becomes a chunk once it holds this many contacts.
TAIL_MAX = 2_048
#: Each counterparty's first and last contact are kept (16 bytes an id, by id) while ids stay
#: below this (frame keys are dense: 4 M in a city's day).
BOUNDED_IDS = 1 << 24


@dataclass
class Chunk:
    """Contacts of one batch, sorted by counterparty."""

    cp: npt.NDArray[np.int32]
    subject: npt.NDArray[np.int32]
    at: I64
    kind: npt.NDArray[np.int8]
    event_id: pa.Array
    max_at: int
    min_at: int | None = field(default=None, compare=False)  # found when a look-up asks
    _ids: Strings | None = field(default=None, repr=False, compare=False)  # viewed likewise

    def event_ids(self, idx: I64) -> list[str]:
        """The event ids at ``idx``, decoded from the chunk's buffers (viewed once)."""
        if self._ids is None:
            if self.event_id.null_count or not pa.types.is_string(self.event_id.type):
                return utf8_at(self.event_id, idx)
            self._ids = Strings.of(self.event_id)
        return strings_at(self._ids, idx)

    def lowest(self) -> int:
        """The earliest ``at`` of the chunk."""
        if self.min_at is None:
            self.min_at = int(self.at.min()) if self.at.size else self.max_at
        return self.min_at


@dataclass(frozen=True, slots=True)
class _Piece:
    """One batch's contacts in the tail, as given."""

    cp: I64
    subject: I64
    at: I64
    kind: I64
    event_id: pa.Array  # contact i's event


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
        self._chunks: list[Chunk] = []
        self._oldest = 0  # the least ``max_at`` of the chunks (0: none): prune's check
        self.merge_span_s = lookback_s // 32
        self.tail_max = TAIL_MAX
        self._tail: list[_Piece] = []  # the newest batches' contacts, unsorted
        self._tail_n = 0
        self._tail_span = (0, 0)  # the tail's least and greatest ``at``
        self._tail_chunk: Chunk | None = None  # the tail as a chunk, made for a lookup
        # Each counterparty's first and last indexed contact (bounds: a pruned chunk's
        # contacts may be gone): a look-up searches only the chunks between them.
        self._first = Column(np.int64, NEVER)
        self._last = Column(np.int64, NONE)
        self._bounded = True

    @property
    def chunks(self) -> list[Chunk]:
        """The chunks, oldest first (the tail made into one first)."""
        self._seal()
        return self._chunks

    @chunks.setter
    def chunks(self, chunks: list[Chunk]) -> None:
        self._tail, self._tail_n, self._tail_chunk = [], 0, None
        self._chunks = chunks
        self._oldest = min((c.max_at for c in chunks), default=0)
        self._first, self._last = Column(np.int64, NEVER), Column(np.int64, NONE)
        self._bounded = True
        for c in chunks:
            self._bound(c.cp.astype(np.int64), c.at)

    def parts(self) -> tuple[list[Chunk], Chunk | None]:
        """The chunks, and the tail as the chunk it will become (None: empty), as they are:
        for a snapshot, which must not change what later batches do."""
        return self._chunks, self._sorted_tail()

    def load(self, chunks: list[Chunk], tail: Chunk | None) -> None:
        """Take the state :meth:`parts` gave."""
        self.chunks = chunks
        if tail is not None and tail.cp.size:
            piece = _Piece(
                tail.cp.astype(np.int64),
                tail.subject.astype(np.int64),
                tail.at,
                tail.kind.astype(np.int64),
                tail.event_id,
            )
            self._tail, self._tail_n = [piece], tail.cp.size
            self._tail_span = (int(tail.at.min()), tail.max_at)
            self._bound(piece.cp, piece.at)

    def __len__(self) -> int:
        return sum(c.cp.size for c in self._chunks) + self._tail_n

    def add(self, cp: I64, subject: I64, at: I64, kind: I64, event_id: pa.Array, rows: I64) -> None:
        """Index a batch of contacts (the event of contact ``i`` is ``event_id[rows[i]]``)."""
        keep = (cp >= 0) & (subject >= 0)
        if not keep.all():
            if not keep.any():
                return
            idx = np.flatnonzero(keep)
            cp, subject, at, kind, rows = cp[idx], subject[idx], at[idx], kind[idx], rows[idx]
        if cp.size == 0:
            return
        low, high = int(at.min()), int(at.max())
        if self._tail:
            low, high = min(low, self._tail_span[0]), max(high, self._tail_span[1])
            if high - low > self.merge_span_s:  # a chunk spans at most what a merge may
                self._seal()
                low, high = int(at.min()), int(at.max())
        self._tail_span = (low, high)
        self._tail.append(_Piece(cp, subject, at, kind, take_utf8(event_id, rows)))
        self._bound(cp, at)
        self._tail_n += cp.size
        self._tail_chunk = None
        if self._tail_n >= self.tail_max:
            self._seal()

    def _sorted_tail(self) -> Chunk | None:
        """The tail as one chunk sorted by counterparty (None: empty)."""
        if not self._tail:
            return None
        if self._tail_chunk is None:
            t = self._tail
            cp = _joined([c.cp for c in t])
            order = np.argsort(cp, kind="stable")
            self._tail_chunk = Chunk(  # ids are below 2**31 (pair keys rely on it), kinds
                cp=cp[order].astype(np.int32),  # below 128: 17 bytes a contact
                subject=_joined([c.subject for c in t])[order].astype(np.int32),
                at=_joined([c.at for c in t])[order],
                kind=_joined([c.kind for c in t])[order].astype(np.int8),
                event_id=take_utf8(self._tail_ids(), order),
                max_at=self._tail_span[1],
                min_at=self._tail_span[0],
            )
        return self._tail_chunk

    def _bound(self, cp: I64, at: I64) -> None:
        """Widen the counterparties' first and last contact times to take in these (kept
        by id: none once an id passes ``BOUNDED_IDS``, and look-ups search every chunk)."""
        if not self._bounded or cp.size == 0:
            return
        if int(cp.max()) >= BOUNDED_IDS:
            self._bounded = False
            return
        self._first.min_so_far(cp, at)
        self._last.max_so_far(cp, at, np.ones(cp.size, np.bool_))

    def _tail_ids(self) -> pa.Array:
        """The tail's event ids, in the order its contacts came."""
        t = self._tail
        return t[0].event_id if len(t) == 1 else pa.concat_arrays([c.event_id for c in t])

    def _seal(self) -> None:
        """Make the tail a chunk and merge it in."""
        chunk = self._sorted_tail()
        if chunk is None:
            return
        self._tail, self._tail_n, self._tail_chunk = [], 0, None
        self._chunks.append(chunk)
        self._merge()
        self._oldest = min(c.max_at for c in self._chunks)

    def _merge(self) -> None:
        """Merge the last chunk into the one before while it is no more than twice as big and
        the two span at most ``merge_span_s`` (sizes grow geometrically: few chunks)."""
        chunks = self._chunks
        while len(chunks) >= 2:
            a, b = chunks[-2], chunks[-1]
            if (
                a.cp.size > 2 * b.cp.size
                or a.cp.size + b.cp.size > MERGE_MAX
                or b.max_at - int(a.at.min()) > self.merge_span_s
            ):
                return
            chunks[-2:] = [_merged(a, b)]

    def _all(self) -> list[Chunk]:
        """The chunks and the tail as one, oldest first."""
        tail = self._sorted_tail()
        return self._chunks if tail is None else [*self._chunks, tail]

    def prune(self, now: int) -> None:
        """Drop chunks entirely older than the look-back window."""
        cutoff = now - self.lookback_s
        if self._chunks and self._oldest < cutoff:  # the tail stays: it is the newest
            self._chunks = [c for c in self._chunks if c.max_at >= cutoff]
            self._oldest = min((c.max_at for c in self._chunks), default=0)

    def counterparties(self, since: int) -> I64:
        """The distinct counterparties of the contacts of chunks reaching ``since`` or later."""
        # a chunk is sorted by counterparty: its distinct ones in one pass, no sort of them all
        parts = [_distinct_sorted(c.cp) for c in self._all() if c.max_at >= since]
        if not parts:
            return np.empty(0, np.int64)
        return np.unique(np.concatenate(parts)).astype(np.int64)

    def contacts(self, cps: Iterable[int], since: int) -> list[Contact]:
        """Every indexed contact with one of ``cps`` at or after ``since``."""
        wanted = np.unique(np.fromiter(cps, np.int64))
        if wanted.size == 0:
            return []
        return self._chunk_contacts(wanted, since) + self._tail_contacts(wanted, since)

    def _chunk_contacts(self, wanted: I64, since: int) -> list[Contact]:
        """:meth:`contacts` in the chunks (``wanted``: distinct, ascending)."""
        # Only chunks that overlap the wanted counterparties' first to last contact.
        first, last = since, NEVER
        if self._bounded and int(wanted[-1]) < BOUNDED_IDS:
            met = wanted[wanted < min(self._first.data.size, self._last.data.size)]
            if met.size == 0:  # never indexed (ids past the columns never were)
                return []
            first = max(since, int(self._first.data[met].min()))
            last = int(self._last.data[met].max())
            if last < first:
                return []
        # Each key's first place and the next key's, in one search per chunk (a live call
        # looks up a few learnt counterparties in every chunk: the calls, not the work, cost);
        # the keys in the chunks' own type (int32) when they fit, so no chunk is copied.
        n = wanted.size
        both_keys = np.concatenate([wanted, wanted + 1])
        typed: dict[np.dtype[Any], npt.NDArray[Any]] = {}
        searched, places = [], []
        for c in self._chunks:
            if c.max_at < first or c.lowest() > last:
                continue
            keys = typed.get(c.cp.dtype)
            if keys is None:
                fits = both_keys[-1] <= np.iinfo(c.cp.dtype).max
                keys = typed[c.cp.dtype] = both_keys.astype(c.cp.dtype) if fits else both_keys
            searched.append(c)
            places.append(np.searchsorted(c.cp, keys))
        out: list[Contact] = []
        if not searched:
            return out
        # The chunks holding any of the keys, found for all chunks at once (nearly always
        # none or one of ~20: the steps per chunk, not their work, cost a live call).
        both = np.stack(places)
        sizes = both[:, n:] - both[:, :n]
        totals = sizes.sum(axis=1)
        for j in np.flatnonzero(totals).tolist():
            c = searched[j]
            idx = np.empty(int(totals[j]), np.int64)
            idx = idx[: _positions(both[j, :n], sizes[j], c.at, since, idx)]
            out += map(
                Contact,
                c.cp[idx].tolist(),
                c.subject[idx].tolist(),
                c.at[idx].tolist(),
                c.kind[idx].tolist(),
                c.event_ids(idx),
            )
        return out

    def _tail_contacts(self, wanted: I64, since: int) -> list[Contact]:
        """:meth:`contacts` in the tail, found by a scan of it rather than by sorting it
        first (a live call adds to the tail, and a look-up follows in one call of three):
        in the order the sorted tail would give them (by counterparty, then as they came)."""
        t = self._tail
        if not t or self._tail_span[1] < since:
            return []
        cp, at = _joined([c.cp for c in t]), _joined([c.at for c in t])
        idx = np.flatnonzero(np.isin(cp, wanted) & (at >= since))
        if idx.size == 0:
            return []
        idx = idx[np.argsort(cp[idx], kind="stable")]
        return list(
            map(
                Contact,
                cp[idx].tolist(),
                _joined([c.subject for c in t])[idx].tolist(),
                at[idx].tolist(),
                _joined([c.kind for c in t])[idx].tolist(),
                utf8_at(self._tail_ids(), idx),
            )
        )

    def nbytes(self) -> int:
        """Memory held by the index."""
        parts: list[Chunk | _Piece] = [*self._chunks, *self._tail]
        return sum(
            c.cp.nbytes + c.subject.nbytes + c.at.nbytes + c.kind.nbytes + c.event_id.nbytes
            for c in parts
        )


@kernel
def _positions(lo: I64, size: I64, at: I64, since: int, out: I64) -> int:
    """Places ``lo[k]`` to ``lo[k] + size[k] - 1`` of each key in turn, those whose ``at`` is
    ``since`` or later, into ``out``; how many."""
    n = 0
    for k in range(lo.size):
        for p in range(lo[k], lo[k] + size[k]):
            if at[p] >= since:
                out[n] = p
                n += 1
    return n


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


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
    order = np.argsort(cp, kind="stable")  # two sorted runs: the stable sort merges them
    return Chunk(
        cp=cp[order],
        subject=np.concatenate([a.subject, b.subject])[order],
        at=np.concatenate([a.at, b.at])[order],
        kind=np.concatenate([a.kind, b.kind])[order],
        event_id=take_utf8(pa.concat_arrays([a.event_id, b.event_id]), order),
        max_at=max(a.max_at, b.max_at),
        min_at=min(a.lowest(), b.lowest()),
    )
