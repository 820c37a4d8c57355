"""The ledger index: every transfer, sorted by payer account and then time, kept current.

A transfer is ``(payer, payee, ts, fen, cash_out)`` with accounts interned to dense ints,
``ts`` in microseconds since the epoch (UTC) and ``fen`` a non-negative integer. Every
transfer also gets a ``seq``: its position in the order the ledger received it. ``(ts, seq)``
is the ledger's total order: two transfers at the same microsecond are taken in the order
they were given, so the answer never depends on how a sort broke a tie.

Storage is a small log-structured index:

- the **main run**: arrays sorted by ``(payer, ts, seq)`` with CSR offsets per payer, and
  a second permutation sorted by ``(payee, ts, seq)`` with its own offsets, so the money
  going out of and coming into one account are both contiguous slices;
- **delta runs**: each :meth:`Ledger.append` sorts only the new transfers into a run of
  their own (slices found by binary search, no offsets, so a run costs memory in proportion
  to its rows). More than :data:`MAX_DELTA_RUNS` runs are merged into one; when the deltas
  hold more than a quarter of the main run (and at least :data:`MIN_COMPACT_ROWS`), they
  are merged into the main run. Nothing already indexed is re-sorted on a normal append.

Accounts are interned to dense ids (see :class:`Accounts`) that never change, so appending
and compacting never renumber anything.

A **cash-out** transfer (ATM withdrawal, payment at a merchant's POS, a purchase of crypto
currency or gold) ends a branch of a trace: :class:`CashOutRule` marks them from the
transfer's channel, remittance note and payee name when the ledger is built.
"""

from __future__ import annotations

import mmap
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.funds import kernels

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

#: delta runs kept before they are merged into one
MAX_DELTA_RUNS: Final = 8
#: the deltas are merged into the main run only once they hold at least this many rows …
MIN_COMPACT_ROWS: Final = 1 << 20
#: … and more than this share of the main run's rows
COMPACT_SHARE: Final = 0.25

#: columns a transfer table must have
REQUIRED: Final = ("payer_account", "payee_account", "ts", "amount_fen")
_US_PER_UNIT: Final = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0}


class LedgerError(ValueError):
    """A transfer the ledger cannot take: which record, which field, and why."""

    def __init__(self, row: int, field_name: str, reason: str, event_id: str | None = None):
        where = f"row {row}" + (f" (event_id {event_id})" if event_id else "")
        super().__init__(f"{where}: {field_name}: {reason}")
        self.row = row
        self.field = field_name
        self.reason = reason
        self.event_id = event_id


@dataclass(frozen=True)
class CashOutRule:
    """Which transfers take money out of the banking system (a branch of a trace ends there).

    A transfer is a cash-out when its channel is one of :attr:`channels` (compared without
    case), or its remittance note or payee name contains one of :attr:`keywords` (so a
    crypto purchase from an over-the-counter dealer, or gold bought by transfer, counts).
    """

    channels: frozenset[str] = frozenset({"ATM", "POS", "CASH", "CDM", "取现", "现金", "柜台取现"})
    keywords: tuple[str, ...] = (
        "USDT",
        "USDC",
        "BTC",
        "ETH",
        "泰达币",
        "虚拟币",
        "数字货币",
        "比特币",
        "以太坊",
        "购金",
        "黄金",
        "金条",
        "取现",
        "提现",
    )

    def flags(self, table: pa.Table) -> Bool:
        """True for every row of ``table`` that is a cash-out."""
        n = table.num_rows
        hit = np.zeros(n, dtype=bool)
        if n == 0:
            return hit
        if "channel" in table.column_names and self.channels:
            hit |= self._channel_flags(table["channel"])
        if self.keywords:
            pattern = "|".join(_regex_escape(k) for k in self.keywords)
            for column in ("remittance", "payee_name"):
                if column in table.column_names:
                    text = _strings(table[column])
                    found = pc.match_substring_regex(text, pattern, ignore_case=True)
                    hit |= _filled(found)
        return hit

    def _channel_flags(self, column: pa.ChunkedArray) -> Bool:
        """Cash-out channels; a dictionary column (the lake's) is matched once per distinct
        value, not once per row."""
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        wanted = pa.array(sorted(c.upper() for c in self.channels), pa.string())
        if pa.types.is_dictionary(array.type):
            names = pc.utf8_upper(pc.utf8_trim_whitespace(_strings(array.dictionary)))
            hit_names = _filled(pc.is_in(names, value_set=wanted))
            # Arrow's take reads the narrow indices as they are (NumPy would widen them first)
            return _filled(pc.take(pa.array(hit_names, pa.bool_()), array.indices))
        channel = pc.utf8_upper(pc.utf8_trim_whitespace(_strings(array)))
        return _filled(pc.is_in(channel, value_set=wanted))


def _strings(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        # one chunk (a table built in memory) is taken as it is: combining copies every string
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    else:
        array = column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.string())
    return array


def _filled(mask: pa.Array | pa.ChunkedArray) -> Bool:
    out: Bool = np.asarray(mask.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    return out


def _regex_escape(text: str) -> str:
    return "".join("\\" + c if c in r".^$*+?{}[]\|()" else c for c in text)


# ------------------------------------------------------------------------------ validation


@dataclass(frozen=True)
class Columns:
    """The validated columns of a transfer table (accounts still as strings)."""

    payer: pa.Array
    payee: pa.Array
    ts: I64
    fen: I64
    cash_out: Bool

    def __len__(self) -> int:
        return len(self.ts)


def _event_id(table: pa.Table, row: int) -> str | None:
    if "event_id" not in table.column_names:
        return None
    value = table["event_id"][row].as_py()
    return None if value is None else str(value)


def _fail(table: pa.Table, bad: Bool, field_name: str, reason: str) -> None:
    rows = np.flatnonzero(bad)
    if rows.size:
        row = int(rows[0])
        more = f" ({rows.size - 1} more rows like it)" if rows.size > 1 else ""
        raise LedgerError(row, field_name, reason + more, _event_id(table, row))


def _micros(table: pa.Table) -> I64:
    """``ts`` as int64 microseconds since the epoch (timestamps of any unit, or integers)."""
    column = table["ts"]
    kind = column.type
    if column.null_count:
        _fail(table, _filled(pc.is_null(column)), "ts", "missing time")
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            raise LedgerError(0, "ts", "timestamps need a time zone (the lake stores UTC)")
        raw = column.cast(pa.int64())
        values = np.asarray(raw.to_numpy(), dtype=np.int64)
        scale = _US_PER_UNIT[kind.unit]
        if scale == 1:
            return values
        return values // 1000 if scale == 0 else values * scale
    if pa.types.is_integer(kind):
        return np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64)
    raise LedgerError(0, "ts", f"expected a timestamp or integer microseconds, got {kind}")


def validate(table: pa.Table, rule: CashOutRule) -> Columns:
    """The columns the ledger needs; a bad record raises :class:`LedgerError` (first one)."""
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise LedgerError(0, missing[0], "column missing from the transfer table")
    accounts: dict[str, pa.Array] = {}
    for name in ("payer_account", "payee_account"):
        col = _strings(table[name])
        # the usual case, no null and no empty string, is seen from the offsets alone
        if col.null_count or _any_empty(col):
            empty = pc.or_kleene(pc.is_null(col), pc.equal(pc.utf8_length(col), 0))
            _fail(table, _filled(empty), name, "missing account")
        accounts[name] = col
    fen_col = table["amount_fen"]
    if not pa.types.is_integer(fen_col.type):
        raise LedgerError(0, "amount_fen", f"expected integer fen, got {fen_col.type}")
    if fen_col.null_count:
        _fail(table, _filled(pc.is_null(fen_col)), "amount_fen", "missing amount")
    fen = np.asarray(fen_col.cast(pa.int64()).to_numpy(), dtype=np.int64)
    if len(fen) and pc.min(fen_col).as_py() < 0:  # the mask only when there is one to find
        _fail(table, fen < 0, "amount_fen", "negative amount")
    ts = _micros(table)
    return Columns(accounts["payer_account"], accounts["payee_account"], ts, fen, rule.flags(table))


# ------------------------------------------------------------------------------ events


Key = tuple[int, int]
NEVER: Final = -(2**62)
FOREVER: Final = 2**62


@dataclass(frozen=True)
class Events:
    """One account's transfers in ``(ts, seq)`` order: ``out`` is True where it paid."""

    ts: I64
    seq: I64
    out: Bool
    other: I32
    fen: I64
    cash: Bool

    def __len__(self) -> int:
        return len(self.ts)

    def split(self, key: Key) -> tuple[Events, Events]:
        """The events before ``key`` and those after it (an event at ``key`` in neither)."""
        lo, hi = _window(self.ts, self.seq, (NEVER, 0), key)
        after, _ = _window(self.ts, self.seq, key, (FOREVER, 0))
        return self.take(slice(lo, hi)), self.take(slice(after, len(self.ts)))

    def take(self, rows: slice) -> Events:
        """A slice of the events."""
        return Events(
            self.ts[rows], self.seq[rows], self.out[rows], self.other[rows], self.fen[rows],
            self.cash[rows],
        )  # fmt: skip

    def signed(self) -> I64:
        """Money in (positive) and out (negative), in order."""
        signed: I64 = np.where(self.out, -self.fen, self.fen)
        return signed


def _window(ts: I64, seq: I64, after: Key, before: Key) -> tuple[int, int]:
    """``[lo, hi)`` of rows with ``after < (ts, seq) < before`` in a slice sorted by both."""
    lo = int(np.searchsorted(ts, after[0], "left"))
    hi_t = int(np.searchsorted(ts, after[0], "right"))
    lo += int(np.searchsorted(seq[lo:hi_t], after[1], "right"))
    hi = int(np.searchsorted(ts, before[0], "left"))
    hi_t = int(np.searchsorted(ts, before[0], "right"))
    hi += int(np.searchsorted(seq[hi:hi_t], before[1], "left"))
    return lo, max(lo, hi)


# ------------------------------------------------------------------------------ runs

#: the largest window of :meth:`Ledger.windows`
MAX_WINDOW: Final = 1 << 16
#: entries per block of the per-block least balances (the cut search skips whole blocks)
BLOCK: Final = 256
#: entries per step of a build's passes that would otherwise need a scratch array as long as
#: the entries (a scratch of 8 MB stays in the caches' reach and costs no page faults)
CHUNK: Final = 1 << 18
#: entries per bucket of a build's partition, about (one bucket is put in order in the cache)
BUCKET: Final = 1 << 14


class Busy(NamedTuple):
    """The busiest payers of the main run (:func:`busy_of`) and the accounts each reaches
    within 1, 2 … :data:`~fanzha.funds.kernels.COVER` steps, a bitmap row each
    (``rows[depth - 1, payer]``)."""

    accounts: I64
    rows: U64


class Payers(NamedTuple):
    """The payers of each account (:meth:`Run.payers`; see :func:`fanzha.funds.kernels.payers`):
    its first two (the account itself for none), whether it has others (a bitmap), and the
    others by CSR offsets."""

    first: I32
    second: I32
    more: U64
    off: I64
    rest: I32


@dataclass
class Run:
    """Transfers in ``(ts, seq)`` order (a transfer's *row*), and every transfer twice as an
    *entry* of its payer (side 0) and of its payee (side 1).

    ``entry`` is sorted ``account << shift | row << 1 | side``: one account's entries are a
    contiguous slice in ``(ts, seq)`` order, its money out and in merged. Along it, per
    entry: ``low``, the account's least balance after the entry counted from zero at the
    run's first entry of the account (a Lindley pass: the balance never goes below zero);
    ``rel``, the plain running sum (delta runs only: from a balance ``x`` at the run's start
    the balance is ``max(x + rel, low)``); ``cin``, a running total of money in (only
    differences within one account's slice mean anything). A transfer from an account to
    itself counts as zero on both sides: it moves no money. ``off`` holds CSR offsets into
    ``entry`` per account (main run only; delta runs are searched).
    """

    payer: I32
    payee: I32
    ts: I64
    seq: I64
    fen: I64
    cash: Bool
    shift: int
    entry: I64
    low: I64
    cin: I64
    low_min: I64  # least ``low`` per block of BLOCK entries
    rel: I64 | None = None
    rel_min: I64 | None = None
    off: I64 | None = None
    _payees: tuple[I64, I32] | None = field(default=None, repr=False)
    _payers: Payers | None = field(default=None, repr=False)
    _busy: Busy | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def index(
        cls,
        payer: I32,
        payee: I32,
        ts: I64,
        seq: I64,
        fen: I64,
        cash: Bool,
        *,
        accounts: int | None,
        first: bool,
    ) -> Run:
        """Index rows given in ``seq`` order (``accounts``: build CSR offsets for that many;
        ``first``: the first run of the ledger, whose balances start at zero)."""
        n = len(ts)
        if n > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
            # the usual input is already in time order; otherwise ties stay in seq order
            order = np.argsort(ts, kind="stable")
            payer, payee, ts, seq = payer[order], payee[order], ts[order], seq[order]
            fen, cash = fen[order], cash[order]
        shift = max(1, (n - 1).bit_length()) + 1
        top = (
            accounts
            if accounts is not None
            else int(max(payer.max(initial=0), payee.max(initial=0))) + 1
        )
        if top.bit_length() + shift > 63:
            raise LedgerError(0, "payer_account", "too many transfers and accounts for one run")
        entry = _entries(payer, payee, shift)
        owner = entry >> shift
        if accounts is not None:  # CSR offsets; the first entry of each account present
            counts = np.bincount(owner, minlength=accounts)
            off = np.zeros(len(counts) + 1, dtype=np.int64)
            np.cumsum(counts, out=off[1:])
            starts = off[:-1][counts > 0]
        else:
            off = None
            starts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
        del owner
        # each transfer's money out of its payer (at 2 row) and into its payee (at 2 row + 1):
        # one gather by the entries' low bits gives the signed amount of every entry
        moved = np.where(payer == payee, 0, fen)  # self-transfers move nothing
        both = np.empty(2 * n, dtype=np.int64)
        np.negative(moved, out=both[0::2])
        both[1::2] = moved
        signed = both[entry & ((1 << shift) - 1)]
        del both
        low, rel, cin = _balances(starts, signed, 4 * int(moved.sum()) + 1, first)
        run = cls(payer, payee, ts, seq, fen, cash, shift, entry, low, cin, _block_min(low))
        if rel is not None:
            run.rel, run.rel_min = rel, _block_min(rel)
        run.off = off
        return run

    def segment(self, account: int) -> tuple[int, int]:
        """Entries ``[lo, hi)`` of ``account``."""
        if self.off is not None:
            if account + 1 >= len(self.off):
                return 0, 0
            return int(self.off[account]), int(self.off[account + 1])
        base = account << self.shift
        lo = int(self.entry.searchsorted(base, "left"))
        return lo, int(self.entry.searchsorted(base + (1 << self.shift), "left"))

    def rows_before(self, key: Key) -> int:
        """Number of rows with ``(ts, seq) < key``."""
        lo = int(self.ts.searchsorted(key[0], "left"))
        hi = int(self.ts.searchsorted(key[0], "right"))
        return lo + int(self.seq[lo:hi].searchsorted(key[1], "left"))

    def at_row(self, account: int, lo: int, hi: int, row: int) -> int:
        """Position of ``account``'s first entry at or after ``row`` in ``[lo, hi)``."""
        key = (account << self.shift) + (row << 1)  # row may be one past the last
        return lo + int(self.entry[lo:hi].searchsorted(key, "left"))

    def row(self, j: int) -> int:
        """The row of entry ``j``."""
        return (int(self.entry[j]) >> 1) & ((1 << (self.shift - 1)) - 1)

    def balance(self, j: int, x: int) -> int:
        """The balance after entry ``j`` from ``x`` at the run's start."""
        if self.rel is None:
            return int(self.low[j])
        return max(x + int(self.rel[j]), int(self.low[j]))

    def below(self, lo: int, hi: int, claim: int, x: int) -> int:
        """The first entry in ``[lo, hi)`` after which the balance (from ``x``) is below
        ``claim``, or ``hi``: the partial block directly, then whole blocks by their least
        balance (exact for the first run, a lower bound for deltas)."""
        edge = min(hi, (lo // BLOCK + 1) * BLOCK)
        found = self._scan(lo, edge, claim, x)
        if found < edge or edge == hi:
            return found
        b0, b1 = edge // BLOCK, hi // BLOCK
        if b1 > b0:
            bound = self.low_min[b0:b1]
            if self.rel_min is not None:
                bound = np.maximum(bound, x + self.rel_min[b0:b1])
            for b in np.flatnonzero(bound < claim).tolist():
                found = self._scan((b0 + b) * BLOCK, (b0 + b + 1) * BLOCK, claim, x)
                if found < (b0 + b + 1) * BLOCK:
                    return found
        return self._scan(max(edge, b1 * BLOCK), hi, claim, x)

    def _scan(self, lo: int, hi: int, claim: int, x: int) -> int:
        if hi <= lo:
            return hi
        values = self.low[lo:hi]
        if self.rel is not None:
            values = np.maximum(values, x + self.rel[lo:hi])
        hit = values < claim
        k = int(hit.argmax())  # the method: np.argmax adds a wrapper call per scan
        return lo + k if hit[k] else hi

    def successors(self, accounts: I32 | I64) -> I32 | I64:
        """Payees of the transfers paid by ``accounts`` (the main run: each payee once per
        payer, from :meth:`payees`; a delta run: with repeats)."""
        if self.off is not None:
            off, to = self.payees()
            inside = accounts[accounts < len(off) - 1]
            if len(inside) == 1:
                return to[int(off[inside[0]]) : int(off[inside[0] + 1])]
            found: I32 = to[_ranges(off[inside], off[inside + 1])]
            return found
        wide = accounts.astype(np.int64)
        lo = np.searchsorted(self.entry, wide << self.shift, "left")
        hi = np.searchsorted(self.entry, (wide + 1) << self.shift, "left")
        entries = self.entry[_ranges(lo, hi)]
        paid = entries[(entries & 1) == 0]
        out: I32 = self.payee[(paid >> 1) & ((1 << (self.shift - 1)) - 1)]
        return out

    def payees(self) -> tuple[I64, I32]:
        """CSR offsets per account and the distinct payees of each payer, sorted (main run
        only: made at the first call, for reachability, which reads no payee entries)."""
        if self._payees is None:
            assert self.off is not None
            pairs = self.payer.astype(np.int64)
            pairs <<= 32
            pairs |= self.payee
            pairs.sort()
            if len(pairs):
                pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
            off = np.zeros(len(self.off), dtype=np.int64)
            np.cumsum(np.bincount(pairs >> 32, minlength=len(off) - 1), out=off[1:])
            self._payees = off, (pairs & 0xFFFFFFFF).astype(np.int32)
        return self._payees

    def busy(self) -> Busy:
        """The busiest payers and what they reach as bitmap rows (:func:`busy_of` of
        :meth:`payees`; main run only: made at the first call, for reachability)."""
        if self._busy is None:
            self._busy = busy_of(*self.payees(), self.payers())
        return self._busy

    def payers(self) -> Payers:
        """The payers of each account (:func:`payers_of` of :meth:`payees`; main run only: made
        at the first call, for reachability's bottom-up steps)."""
        if self._payers is None:
            self._payers = payers_of(*self.payees())
        return self._payers

    def rows(self) -> tuple[I32, I32, I64, I64, I64, Bool]:
        """Every row (for merging runs)."""
        return self.payer, self.payee, self.ts, self.seq, self.fen, self.cash


def busy_of(off: I64, to: I32, back: Payers) -> Busy:
    """The payers in the CSR ``off``/``to`` paying more than 1/:data:`~kernels.BUSY` of the
    accounts (the :data:`~kernels.BUSY_ROWS` busiest at most), in account order, and the
    accounts each reaches within 1, 2 … :data:`~kernels.COVER` steps as bitmap rows: its
    payees, then each depth searched with the rows of the depths before (``back``: the
    payers, :func:`payers_of`)."""
    n = len(off) - 1
    count = off[1:] - off[:-1]
    busy = np.flatnonzero(count > n // kernels.BUSY)
    busy = np.sort(busy[np.argsort(-count[busy], kind="stable")[: kernels.BUSY_ROWS]])
    words = (n + 63) // 64
    rows = np.zeros((kernels.COVER, len(busy), words), np.uint64)
    for r, u in enumerate(busy):
        mask = np.zeros(64 * words, np.bool_)
        mask[to[off[u] : off[u + 1]]] = True
        rows[0, r] = np.packbits(mask, bitorder="little").view(np.uint64)
    accounts = busy.astype(np.int64)
    if len(busy):
        front, cover = np.zeros(words, np.uint64), np.zeros(words, np.uint64)
        found, at = np.empty(n + 9, np.int64), np.empty(n + 9, np.int64)
        for depth in range(2, kernels.COVER + 1):
            for r, payer in enumerate(accounts.tolist()):
                kernels.reach(off, to, accounts, rows[: depth - 1], *back, payer, depth, n // 64,
                              kernels.BOTTOM_UP, rows[depth - 1, r], front, cover, found,
                              at)  # fmt: skip
    return Busy(accounts, rows)


def payers_of(off: I64, to: I32) -> Payers:
    """The payers of each account in the CSR ``off``/``to`` (each account's payees), the
    accounts paying the most first (:func:`fanzha.funds.kernels.payers`)."""
    n = len(off) - 1
    order = np.argsort(off[:-1] - off[1:], kind="stable")
    others = np.maximum(np.bincount(to, minlength=n) - 2, 0)
    roff = np.zeros(n + 1, np.int64)  # where each account's others begin, one on
    np.cumsum(others[:-1], out=roff[2:])
    first, second = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
    rest = np.empty(int(others.sum()), np.int32)
    more = np.zeros((n + 63) // 64, np.uint64)
    kernels.payers(off, to, order, first, second, roff, rest, more)
    return Payers(first, second, more, roff, rest)


def _ranges(lo: I64, hi: I64) -> I64:
    """The positions ``lo[k] … hi[k] - 1`` of every ``k``, in order: one ``cumsum`` of ones
    with a jump at each range's start (a run-length expansion without ``np.repeat``)."""
    sizes = hi - lo
    keep = sizes > 0
    if not keep.all():
        lo, sizes = lo[keep], sizes[keep]
    ends = np.cumsum(sizes)
    if not len(ends):
        return np.zeros(0, np.int64)
    step = np.ones(int(ends[-1]), dtype=np.int64)
    step[0] = lo[0]
    step[ends[:-1]] = lo[1:] - lo[:-1] - sizes[:-1] + 1
    return np.cumsum(step, out=step)


def _entries(payer: I32 | I64, payee: I32 | I64, shift: int) -> I64:
    """Sorted ``account << shift | row << 1 | side`` of both sides of every row."""
    n = len(payer)
    entry = np.empty(2 * n, dtype=np.int64)
    rows = np.arange(n, dtype=np.int64)
    rows <<= 1
    np.left_shift(payer, shift, out=entry[:n], dtype=np.int64)
    entry[:n] |= rows
    np.left_shift(payee, shift, out=entry[n:], dtype=np.int64)
    rows |= 1
    entry[n:] |= rows
    entry.sort()
    return entry


def _balances(
    starts: I64, signed: I64, width: int, first: bool, out: tuple[I64, I64] | None = None
) -> tuple[I64, I64 | None, I64]:
    """``low``, ``rel`` (unless ``first``) and ``cin`` along sorted entries (see :class:`Run`),
    given the first entry of each account present (``starts``) and the signed amounts.

    Running sums per account are one ``cumsum`` of the amounts with, at each account's first
    entry, the last account's total taken off. ``low`` is that sum less its least value so
    far (zero included): one ``minimum.accumulate`` over the sums lowered by ``width`` (more
    than any account's range) per account, so that no account's minimum reaches into the
    next one. The accounts are taken a group of about :data:`CHUNK` entries at a time (the
    temporaries stay small). ``out``: the memory of ``low`` and ``cin``; ``cin`` may be
    ``signed`` itself, made last and in place (a build writes over its spent arrays rather
    than fault in fresh pages).
    """
    m = len(signed)
    low, cin = out or (np.empty(m, np.int64), np.empty(m, np.int64))
    rel = None if first else signed.copy()
    if m:
        if rel is not None:
            rel[starts[1:]] -= np.add.reduceat(signed, starts)[:-1]  # each account's net
            np.cumsum(rel, out=rel)
        most = max(1, (1 << 62) // width)  # accounts per pass without overflowing int64
        g0 = 0
        while g0 < len(starts):
            near = int(starts.searchsorted(starts[g0] + CHUNK, "right"))
            g1 = min(len(starts), g0 + most, max(g0 + 1, near))
            lo, hi = int(starts[g0]), (int(starts[g1]) if g1 < len(starts) else m)
            at = starts[g0:g1] - lo
            nets = np.add.reduceat(signed[lo:hi], at)[:-1]  # of each account but the last
            _lows(low[lo:hi], signed[lo:hi], at, nets, width)
            # then money in (over signed itself, when cin is signed: read already)
            part = np.maximum(signed[lo:hi], 0, out=cin[lo:hi])
            np.cumsum(part, out=part)
            part += int(cin[lo - 1]) if lo else 0
            g0 = g1
    return low, rel, cin


def _lows(part: I64, signed: I64, at: I64, sums: I64, width: int) -> None:
    """``low`` of the accounts starting at ``at`` in ``part`` (see :func:`_balances`)."""
    part[:] = signed
    part[at[1:]] -= sums + width  # from the last account's sum to the floor
    np.cumsum(part, out=part)
    floor = -np.arange(len(at), dtype=np.int64) * width  # each account's zero, lowered
    first_values = part[at]
    # the balance starts at zero: an account's least sum so far includes its zero
    part[at] = np.minimum(first_values, floor)
    part -= np.minimum.accumulate(part)
    part[at] += first_values - np.minimum(first_values, floor)


def _block_min(values: I64) -> I64:
    if len(values) == 0:
        return np.zeros(0, np.int64)
    out: I64 = np.minimum.reduceat(values, np.arange(0, len(values), BLOCK))
    return out


def _merge(runs: Iterable[Run], accounts: int | None, first: bool) -> Run:
    """One run of every row of ``runs`` (re-indexed)."""
    parts = [r.rows() for r in runs if len(r)]
    if not parts:
        empty = np.zeros(0, np.int64)
        i32 = np.zeros(0, np.int32)
        return Run.index(i32, i32, empty, empty, empty, np.zeros(0, bool), accounts=accounts,
                         first=first)  # fmt: skip
    cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    ts, seq = cols[2], cols[3]
    ordered = len(ts) < 2 or bool(
        np.all((ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (seq[1:] > seq[:-1])))
    )
    if not ordered:  # runs that overlap in time: back to (ts, seq) order
        order = np.lexsort((seq, ts))
        cols = [c[order] for c in cols]
    payer, payee, ts, seq, fen, cash = cols
    return Run.index(payer, payee, ts, seq, fen, cash, accounts=accounts, first=first)


# ------------------------------------------------------------------------------ the build


def _fresh(n: int, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """An array for a build, mapped for it in small pages and faulted in by the kernel in one
    call (``MAP_POPULATE``), zeroed.

    Faulting in fresh memory is the largest cost of a first build on the VM the goals are
    measured on: 2.2–3.2 s per GB in transparent huge pages (which NumPy asks for on every
    large array and Arrow's default pool uses there) against 0.55–0.65 s in 4 KiB pages
    touched one by one, 0.5 s populated at once."""
    kind = np.dtype(dtype)
    if n * kind.itemsize < 1 << 22 or not hasattr(mmap, "MAP_ANONYMOUS"):
        # small (the allocator's memory is as good), or no POSIX mmap (Windows)
        return np.zeros(n, kind)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    block = mmap.mmap(-1, n * kind.itemsize, flags=flags)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        block.madvise(mmap.MADV_NOHUGEPAGE)
    out: npt.NDArray[Any] = np.frombuffer(block, kind, n)
    return out


def _chunks(n: int) -> range:
    return range(0, n, CHUNK)


def _first_run(cols: Columns) -> tuple[Accounts, Run]:
    """The accounts and the main run of a build, put in account order by a counting
    partition (no sort of the entries).

    Each side of every transfer (a *slot*, ``2 row + side``) gets a *key* (:func:`_keys`).
    The entries go to buckets by their keys' top bits, in slot order
    (:func:`fanzha.funds.kernels.partition`: the keys and amounts are read along the rows),
    and each bucket is put in key order in the cache, its accounts numbered in key order
    (:func:`fanzha.funds.kernels.number`): ids are given in key order (no dictionary of the
    accounts). Four arrays as long as the entries do the work and become the run's ``entry``
    (the slots, numbered in place), ``cin`` (the signed amounts), ``low`` (the partitioned
    keys) and the accounts' keys (the keys by slot); memory touched is the cost (see
    :func:`_fresh`).
    """
    n = len(cols)
    names = Accounts()
    ts, fen, cash, seq = cols.ts, cols.fen, cols.cash_out, _arange(n)
    shift = max(1, (n - 1).bit_length()) + 1
    bits = 62 - shift
    m = 2 * n
    keys = _fresh(m, np.uint64)
    numeric = _fresh(m, np.bool_)
    for side, column in enumerate((cols.payer, cols.payee)):  # keys[2 row + side]
        _keys(column, names, keys[side::2], numeric[side::2])
    if bits < 1 or len(names) >> bits:
        raise LedgerError(0, "payer_account", "too many transfers and accounts for one run")
    if n == 0:
        i32 = np.zeros(0, np.int32)
        return names, Run.index(i32, i32, ts, seq, fen, cash, accounts=0, first=True)
    if not bool(np.all(ts[1:] >= ts[:-1])):  # rows to (ts, seq) order; the usual input is
        order = np.argsort(ts, kind="stable")  # ties stay in the order given
        ts, fen, cash, seq = ts[order], fen[order], cash[order], order
        for both in (keys.reshape(n, 2), numeric.reshape(n, 2)):
            both[:] = both[order]
    # buckets of about BUCKET entries by the keys' top bits, then the other identifiers'
    top = 64 - min(16, (m // BUCKET).bit_length())
    first_other = 1 << (64 - top)
    bounds = np.zeros(first_other + (len(names) >> kernels.OTHER_BITS) + 2, np.int64)
    kernels.bucket_sizes(keys, numeric, top, first_other, bounds[1:])
    np.cumsum(bounds, out=bounds)
    packed = _fresh(2 * m, np.int64)  # the key and slot of each entry; then entry and low
    signed = _fresh(m, np.int64)  # then cin
    moved = kernels.partition(keys, numeric, fen, top, first_other, bounds[:-1].copy(),
                              packed.view(np.uint64), packed, signed)  # fmt: skip
    del numeric
    ids = _fresh(m, np.int32)  # by slot: payers and payees are views of it, no copies
    off = np.empty(m + 1, np.int64)  # as long as there could be accounts: touched as used
    largest = int(np.diff(bounds).max())
    table = np.zeros(1 << (2 * largest - 1).bit_length(), np.int32)
    # the keys by slot are read: each account's key is written over them
    count = kernels.number(
        bounds, first_other, shift, packed.view(np.uint64), packed, signed, ids, keys, off,
        table, np.empty(largest, np.uint64), np.empty(largest, np.int64),
        np.empty(largest, np.int32), np.empty(largest, np.int64), np.empty(largest, np.int64),
    )  # fmt: skip
    off = off[: count + 1].copy()
    off[-1] = m
    accounts = Accounts(keys[: count - len(names.names)].copy(), names.names)
    del keys
    entry = packed[:m]
    low, _, cin = _balances(off[:-1], signed, 4 * moved + 1, True, (packed[m:], signed))
    run = Run(ids[0::2], ids[1::2], ts, seq, fen, cash, shift, entry, low, cin,
              _block_min(low), off=off)  # fmt: skip
    return accounts, run


def _arange(n: int) -> I64:
    """``0 … n - 1`` in fresh small pages (see :func:`_fresh`)."""
    out: I64 = _fresh(n, np.int64)
    first = np.arange(min(n, CHUNK), dtype=np.int64)
    for c0 in _chunks(n):
        np.add(first[: min(CHUNK, n - c0)], c0, out=out[c0 : c0 + CHUNK])
    return out


def _keys(column: pa.Array, names: Accounts, out: U64, numeric: Bool) -> None:
    """The keys of a column of account numbers, in ``out``: the mixed code (:func:`_mix`) of
    a digit-only number, else (``numeric`` false) the id ``names`` interns the identifier as.
    A chunk of rows at a time: the codes never take memory as long as the column."""
    scratch = np.empty(min(len(column), CHUNK), np.uint64)
    rest = []
    for c0 in _chunks(len(column)):
        part = column.slice(c0, CHUNK)
        codes, mask = _codes(part, _numeric(part))
        _mix(codes, scratch[: len(codes)], out[c0 : c0 + len(codes)])
        numeric[c0 : c0 + len(mask)] = mask
        if not mask.all():
            rest.append(np.flatnonzero(~mask) + c0)
    if rest:  # the other identifiers, interned in the order of the rows
        at = np.concatenate(rest)
        out[at] = names.intern(column.take(pa.array(at)))


# ------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class _Piece:
    run: Run
    lo: int  # entries [lo, hi) of the run
    hi: int
    x: int  # the balance before them
    start: int  # the view position of ``lo``


class View:
    """One account's entries across the runs, up to a time, in ``(ts, seq)`` order, with its
    least balance after each (counted from zero at the ledger's start): a *position* is an
    index into them. Only for accounts whose entries in each run come after those in the runs
    before (see :meth:`Ledger.view`)."""

    def __init__(self, account: int, pieces: list[_Piece]) -> None:
        self.account = account
        self.pieces = pieces
        self.size = pieces[-1].start + pieces[-1].hi - pieces[-1].lo if pieces else 0

    def __len__(self) -> int:
        return self.size

    def _at(self, k: int) -> tuple[_Piece, int]:
        for piece in reversed(self.pieces):
            if k >= piece.start:
                return piece, piece.lo + k - piece.start
        raise IndexError(k)

    def balance(self, k: int) -> int:
        """The balance after position ``k`` (0 before the first, ``k = -1``)."""
        if k < 0:
            return 0
        piece, j = self._at(k)
        return piece.run.balance(j, piece.x)

    def below(self, k: int, claim: int) -> int:
        """The first position from ``k`` on after which the balance is below ``claim``
        (``len(self)``: none)."""
        for piece in self.pieces:
            end = piece.start + piece.hi - piece.lo
            if end <= k:
                continue
            lo = piece.lo + max(0, k - piece.start)
            found = piece.run.below(lo, piece.hi, claim, piece.x)
            if found < piece.hi:
                return piece.start + found - piece.lo
        return self.size

    def find(self, key: Key) -> int:
        """The number of positions before ``key`` (the position of the transfer at ``key``)."""
        for piece in self.pieces:
            run = piece.run
            j = run.at_row(self.account, piece.lo, piece.hi, run.rows_before(key))
            if j < piece.hi:
                return piece.start + j - piece.lo
        return self.size

    def at(self, run: Run, row: int) -> int:
        """The position of the transfer at ``row`` of ``run`` (the payee's side of it)."""
        for piece in self.pieces:
            if piece.run is run:
                return piece.start + run.at_row(self.account, piece.lo, piece.hi, row) - piece.lo
        raise KeyError(row)

    def until(self, ts: int) -> int:
        """The number of positions at or before ``ts``."""
        return self.find((ts + 1, NEVER))

    def money_in(self, k: int) -> int:
        """Money in over positions ``0 … k`` (``k = -1``: none)."""
        total = 0
        for piece in self.pieces:
            if k < piece.start:
                break
            j = piece.lo + min(k - piece.start, piece.hi - 1 - piece.lo)
            cin = piece.run.cin
            total += int(cin[j]) - (int(cin[piece.lo - 1]) if piece.lo else 0)
        return total

    def event(self, k: int) -> tuple[Run, int, bool]:
        """The run and row of position ``k``, and whether the account paid."""
        piece, j = self._at(k)
        code = int(piece.run.entry[j])
        return piece.run, (code >> 1) & ((1 << (piece.run.shift - 1)) - 1), not code & 1


@dataclass(frozen=True)
class Joined:
    """The delta runs' columns, the runs one after another (for the compiled LIBR walk over
    runs, :func:`fanzha.funds.kernels.libr_runs`): per entry ``entry``, ``low``, ``rel``,
    ``cin``; per block ``low_min``, ``rel_min``; per row ``ts`` … ``cash``. ``bases``: a row
    per delta run (the kernel's ``R_SHIFT`` … ``R_ROW`` columns: its shift, its entries
    ``[lo, hi)``, its first block and its first row here)."""

    entry: I64
    low: I64
    rel: I64
    cin: I64
    low_min: I64
    rel_min: I64
    ts: I64
    seq: I64
    fen: I64
    payee: I32
    cash: Bool
    bases: I64

    @classmethod
    def of(cls, runs: list[Run]) -> Joined:
        """The delta runs ``runs`` joined."""
        bases = np.zeros((len(runs), 5), np.int64)
        entries = rows = blocks = 0
        for i, run in enumerate(runs):
            bases[i] = run.shift, entries, entries + len(run.entry), blocks, rows
            entries += len(run.entry)
            rows += len(run)
            blocks += len(run.low_min)

        def cat(name: str) -> Any:
            parts = [getattr(run, name) for run in runs]
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)

        return cls(
            cat("entry"), cat("low"), cat("rel"), cat("cin"), cat("low_min"), cat("rel_min"),
            cat("ts"), cat("seq"), cat("fen"), np.ascontiguousarray(cat("payee"), np.int32),
            np.ascontiguousarray(cat("cash"), np.bool_), bases,
        )  # fmt: skip


# ------------------------------------------------------------------------------ accounts

_M64: Final = (1 << 64) - 1
_K1: Final = 0x9E3779B97F4A7C15
_K2: Final = 0xBF58476D1CE4E5B9
_K1_INV: Final = pow(_K1, -1, 1 << 64)
_K2_INV: Final = pow(_K2, -1, 1 << 64)


def _mix(codes: U64, scratch: U64 | None = None, out: U64 | None = None) -> U64:
    """A bijection of ``uint64`` codes whose top bits depend on every bit (multiply, xor-shift,
    multiply): the keys of digit-only accounts, sorted by the build with the entries
    (in ``out``; ``scratch``: memory as long as ``codes`` to work in)."""
    key: U64 = np.multiply(codes, np.uint64(_K1), out=out)
    key ^= np.right_shift(key, np.uint64(32), out=scratch)
    key *= np.uint64(_K2)
    return key


def _mix_one(code: int) -> int:
    """:func:`_mix` of one code, in Python integers."""
    h = (code * _K1) & _M64
    h ^= h >> 32
    return (h * _K2) & _M64


def _unmix(key: int) -> int:
    """The code of a key: :func:`_mix` undone."""
    h = (key * _K2_INV) & _M64
    h ^= h >> 32
    return (h * _K1_INV) & _M64


def _unmixed(keys: U64) -> U64:
    """The codes of keys: :func:`_unmix` of every one."""
    codes: U64 = keys * np.uint64(_K2_INV)
    codes ^= codes >> np.uint64(32)
    codes *= np.uint64(_K1_INV)
    return codes


def _offsets(column: pa.Array) -> npt.NDArray[np.int32] | I64:
    """The offsets of a string array's rows (``len + 1``, over Arrow's buffer)."""
    wide = pa.types.is_large_string(column.type)
    kind: type[np.signedinteger[Any]] = np.int64 if wide else np.int32
    out: npt.NDArray[np.int32] | I64 = np.frombuffer(
        column.buffers()[1], kind, len(column) + 1, np.dtype(kind).itemsize * column.offset
    )
    return out


def _any_empty(column: pa.Array) -> bool:
    """Whether a string array holds an empty string (read from the offsets, a chunk at a
    time: Arrow's length kernel would make an array of every length)."""
    if len(column) == 0:
        return False
    offsets = _offsets(column)
    for c0 in _chunks(len(column)):
        bounds = offsets[c0 : c0 + CHUNK + 1]
        if bool(np.any(bounds[1:] == bounds[:-1])):
            return True
    return False


def _numeric(column: pa.Array) -> Bool:
    """Account numbers that are 1–19 ASCII digits without a leading zero: these fit in a
    uint64 and come back as the same text."""
    data_buf = column.buffers()[2]
    if data_buf is None or data_buf.size == 0:
        return np.zeros(len(column), dtype=bool)
    # length and first byte straight from the offsets and bytes: two Arrow kernels fewer
    offsets = _offsets(column)
    data = np.frombuffer(data_buf, np.uint8)
    ok: Bool = _fresh(len(column), np.bool_)
    for c0 in _chunks(len(column)):  # a chunk at a time: no temporaries as long as the column
        bounds = offsets[c0 : c0 + CHUNK + 1]
        length = bounds[1:] - bounds[:-1]
        first = data[np.minimum(bounds[:-1], len(data) - 1)]
        part = np.logical_and(length > 0, length <= 19, out=ok[c0 : c0 + CHUNK])
        part &= first >= ord("1")
        part &= first <= ord("9")
    if column.null_count:
        ok &= _filled(pc.is_valid(column))
    return ok


def _codes(column: pa.Array, mask: Bool) -> tuple[U64, Bool]:
    """The ``uint64`` codes of a string array, one per row (arbitrary where ``mask``, from
    :func:`_numeric`, is false), and ``mask`` narrowed to the rows that are all digits."""
    try:
        return _cast(column, mask), mask
    except pa.ArrowInvalid:  # a row with a non-digit after the first: the full check
        mask = mask & _filled(pc.ascii_is_decimal(column))
        return _cast(column, mask), mask


def _cast(column: pa.Array, mask: Bool) -> U64:
    # a string starting with 1–9 parses as decimal digits or not at all (no sign, no space;
    # Arrow's hexadecimal needs "0x"), so the cast is the digit check
    if mask.all():
        cast = pc.cast(column, pa.uint64())
        codes: U64 = np.asarray(cast.to_numpy(zero_copy_only=False))
        return codes
    # the other rows are marked null over the same buffers, so the cast skips them without
    # a filter copying every string (a slice's offsets are cut to start within a byte of it,
    # so the validity bits cost the rows, not the offset)
    _, offsets, data = column.buffers()
    skip = column.offset % 8
    width = 8 if pa.types.is_large_string(column.type) else 4
    valid = pa.array(np.concatenate([np.zeros(skip, bool), mask])).buffers()[1]
    masked = pa.Array.from_buffers(
        column.type,
        len(column),
        [valid, offsets.slice((column.offset - skip) * width), data],
        offset=skip,
    )
    cast = pc.cast(masked, pa.uint64())
    values: U64 = np.frombuffer(cast.buffers()[1], np.uint64, len(cast), 8 * cast.offset)
    return values


def _search_sorted(haystack: U64, needles: U64) -> I64:
    """``np.searchsorted(haystack, needles)``, the needles sorted first: in increasing order
    each search starts where the last one ended (about 4x faster for 60 k needles in 2 M)."""
    order = np.argsort(needles)
    at = np.empty(len(needles), dtype=np.int64)
    at[order] = np.searchsorted(haystack, needles[order])
    return at


def _distinct(values: pa.Array) -> tuple[list[str], I64]:
    """The distinct strings of ``values`` and where each row's is among them."""
    encoded = pc.dictionary_encode(values)
    names = [str(name) for name in encoded.dictionary.to_pylist()]
    at: I64 = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return names, at


class Accounts:
    """Account numbers interned to dense ids that never change.

    Digit-only account numbers (nearly every Chinese card and account number) are held as
    ``keys``, their ``uint64`` codes mixed by :func:`_mix` (a bijection), sorted, ids
    ``0 … len(keys) - 1``: interning them hashes integers, not strings (the build sorts them
    with the entries, :func:`_first_run`), and a look-up is a binary search. Other
    identifiers (IBANs, ATM terminals, ISO 20022 ``Othr/Id``), and every account first seen
    after the build, get the next ids through a dict.
    """

    def __init__(self, keys: U64 | None = None, names: list[str] | None = None) -> None:
        self.keys: U64 = np.zeros(0, np.uint64) if keys is None else keys
        self.names: list[str] = names or []  # ids len(keys) …
        first = len(self.keys)
        self.index: dict[str, int] = {name: first + i for i, name in enumerate(self.names)}
        self._codes: U64 | None = None  # the codes of the keys, by id

    def __len__(self) -> int:
        return len(self.keys) + len(self.names)

    def lookup(self, values: pa.Array) -> I64:
        """Ids of account numbers (``-1`` for accounts never interned)."""
        found = np.full(len(values), -1, dtype=np.int64)
        if len(values) == 0:
            return found
        mask = _numeric(values)
        if mask.any() and len(self.keys):
            codes, mask = _codes(values, mask)
            keys = _mix(codes[mask])
            at = np.minimum(_search_sorted(self.keys, keys), len(self.keys) - 1)
            found[mask] = np.where(self.keys[at] == keys, at, -1)
        rest = np.flatnonzero(found < 0)
        if rest.size and self.index:  # each distinct other name once
            names, at = _distinct(values.take(pa.array(rest)))
            ids = np.array([self.index.get(name, -1) for name in names], dtype=np.int64)
            found[rest] = ids[at]
        return found

    def lookup_one(self, value: str) -> int:
        """The id of one account number (``-1`` if never interned), without building an
        Arrow array: tracing and the banks look accounts up one at a time."""
        numeric = value.isascii() and value.isdigit() and len(value) <= 19 and value[0] != "0"
        if numeric and len(self.keys):
            key = _mix_one(int(value))
            at = min(int(np.searchsorted(self.keys, np.uint64(key))), len(self.keys) - 1)
            if int(self.keys[at]) == key:
                return at
        return self.index.get(value, -1)

    def intern(self, values: pa.Array) -> I32:
        """Ids of account numbers, giving the next ids to accounts never seen."""
        ids = self.lookup(values)
        missing = np.flatnonzero(ids < 0)
        if missing.size:  # the next ids, in one step
            fresh, at = _distinct(values.take(pa.array(missing)))
            first = len(self)
            self.index.update(zip(fresh, range(first, first + len(fresh)), strict=True))
            self.names.extend(fresh)
            ids[missing] = at + first
        out: I32 = ids.astype(np.int32)
        return out

    def name(self, account_id: int) -> str:
        """The account number of an id."""
        if account_id < len(self.keys):
            if self._codes is None:  # made at the first name: traces name every node
                self._codes = _unmixed(self.keys)
            return str(int(self._codes[account_id]))
        return self.names[account_id - len(self.keys)]


# ------------------------------------------------------------------------------ lent answers

#: answers of at least this many accounts are written into a lent buffer (smaller: a fresh array)
LEND_MIN: Final = 1 << 16
#: how many buffers: one answer the caller still holds while the next is computed
LENT_BUFFERS: Final = 2
#: no buffers lent on a ledger of more accounts than this (each holds 4 bytes an account)
LEND_MAX_ACCOUNTS: Final = 1 << 24


def _refs(buffers: list[I32], i: int) -> int:
    """The reference count of ``buffers[i]`` as :meth:`Lender.buffer` sees it (one code path
    for the count of an idle buffer and of the one tested)."""
    return sys.getrefcount(buffers[i])


class Lender:
    """Buffers for large answers, faulted in once and lent again once no answer views them.

    On the machines measured, touching fresh memory costs more than writing it: a page fault
    is ~4.7 µs per 4 KiB page, 5.7 ms for an answer of 1.25 M accounts, more than the search
    that found them. A service answers one query after another and drops each answer once
    sent, so the same pages can serve again. An answer is a view of its buffer: while any
    array views it (a view of a view counts: NumPy points it at the buffer), the buffer's
    reference count says so and it is not lent; with every buffer held, a fresh array is
    made, as without buffers."""

    def __init__(self, size: int, count: int = LENT_BUFFERS) -> None:
        self._buffers = [np.ones(size, np.int32) for _ in range(count)]  # ones: faulted in now
        self._idle = _refs(self._buffers, 0)

    def buffer(self, need: int) -> I32:
        """An array of at least ``need`` places: an idle buffer large enough, else fresh."""
        for i in range(len(self._buffers)):
            if _refs(self._buffers, i) == self._idle and len(self._buffers[i]) >= need:
                return self._buffers[i]
        return np.empty(need, np.int32)

    @property
    def nbytes(self) -> int:
        """Memory held by the buffers."""
        return sum(b.nbytes for b in self._buffers)


# ------------------------------------------------------------------------------ the ledger


@dataclass
class Ledger:
    """The time-sorted index of transfers (see the module docstring)."""

    rule: CashOutRule = field(default_factory=CashOutRule)
    main: Run | None = None
    deltas: list[Run] = field(default_factory=list)
    names: Accounts = field(default_factory=Accounts)
    #: accounts with an appended transfer earlier than one already indexed (until the next
    #: compaction their entries are not in time order across runs: no :meth:`view`)
    late: set[int] = field(default_factory=set)
    _next_seq: int = 0
    _seen: Bool = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    _fresh: Bool = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    _mark: I32 = field(default_factory=lambda: np.zeros(0, dtype=np.int32), repr=False)
    # the compiled search's scratch (main run alone): reached bitmap, step mask, what the
    # busiest payers' rows cover, order reached
    _bits: U64 = field(default_factory=lambda: np.zeros(0, dtype=np.uint64), repr=False)
    _front: U64 = field(default_factory=lambda: np.zeros(0, dtype=np.uint64), repr=False)
    _cover: U64 = field(default_factory=lambda: np.zeros(0, dtype=np.uint64), repr=False)
    _found: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    _at: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    _lender: Lender | None = field(default=None, repr=False)  # buffers for large answers
    _last_ts: I64 | None = field(default=None, repr=False)  # per account, made at the first append
    # the delta runs joined (:meth:`joined`), and which runs they are
    _joined: tuple[tuple[Run, ...], Joined] | None = field(default=None, repr=False)
    # :meth:`late_mask`, and which late set (identity, size) and account count it was made for
    _late_mask: tuple[tuple[int, int, int], Bool] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, table: pa.Table, rule: CashOutRule | None = None) -> Ledger:
        """Index every transfer of ``table`` (rows are taken in order for ties in time)."""
        ledger = cls(rule=rule or CashOutRule())
        cols = validate(table, ledger.rule)
        ledger.names, ledger.main = _first_run(cols)
        ledger._next_seq = len(cols)
        return ledger

    def __repr__(self) -> str:
        runs = len(self.deltas)
        return f"Ledger({len(self):,} transfers, {self.accounts:,} accounts, {runs} delta runs)"

    # -------------------------------------------------------------- size and names

    def __len__(self) -> int:
        return sum(len(r) for r in self.runs)

    @property
    def runs(self) -> list[Run]:
        """The main run (if any) and the delta runs."""
        return ([self.main] if self.main is not None else []) + self.deltas

    @property
    def accounts(self) -> int:
        """Number of distinct accounts seen."""
        return len(self.names)

    def account(self, account_id: int) -> str:
        """The account number of an interned id."""
        return self.names.name(account_id)

    def account_id(self, account: str) -> int | None:
        """The interned id of an account number, or None when the ledger never saw it."""
        found = self.names.lookup_one(account)
        return None if found < 0 else found

    def quiet(
        self, accounts: Iterable[int], after_ts: int, until_ts: int, *, paying_only: bool = False
    ) -> bool:
        """True when none of ``accounts`` paid (or, unless ``paying_only``, was paid) with
        ``after_ts < ts <= until_ts`` (µs): what a trace over them up to ``after_ts`` found
        still holds at ``until_ts``."""
        if until_ts <= after_ts:
            return True
        for run in self.runs:
            ra = int(np.searchsorted(run.ts, after_ts, "right"))
            rb = int(np.searchsorted(run.ts, until_ts, "right"))
            if ra == rb:
                continue
            for account in accounts:
                lo, hi = run.segment(account)
                j0, j1 = run.at_row(account, lo, hi, ra), run.at_row(account, lo, hi, rb)
                if j1 > j0 and not (paying_only and bool(np.all(run.entry[j0:j1] & 1))):
                    return False
        return True

    # -------------------------------------------------------------- appending

    def append(self, table: pa.Table) -> int:
        """Add the transfers of ``table`` without re-sorting what is indexed; rows added.

        The whole table is validated first: a bad record raises :class:`LedgerError` and
        leaves the ledger as it was.
        """
        cols = validate(table, self.rule)
        n = len(cols)
        if n == 0:
            return 0
        payer, payee = self.names.intern(cols.payer), self.names.intern(cols.payee)
        seq = np.arange(self._next_seq, self._next_seq + n, dtype=np.int64)
        run = Run.index(
            payer, payee, cols.ts, seq, cols.fen, cols.cash_out, accounts=None, first=False
        )
        self._mark_late(run)
        self._next_seq += n
        self.deltas.append(run)
        if len(self.deltas) > MAX_DELTA_RUNS:
            self.deltas = [_merge(self.deltas, None, first=False)]
        delta_rows = sum(len(r) for r in self.deltas)
        main_rows = len(self.main) if self.main is not None else 0
        if delta_rows >= MIN_COMPACT_ROWS and delta_rows > COMPACT_SHARE * main_rows:
            self.compact()
        return n

    def _mark_late(self, run: Run) -> None:
        """Accounts of ``run`` whose first transfer in it is earlier than their last one
        already indexed go into :attr:`late`; the last times move on."""
        last = self._last_ts
        if last is None:  # made at the first append, so that a build does not pay for it
            last = np.full(self.accounts, NEVER, dtype=np.int64)
            for old in self.runs:
                accounts, _, until = _spans(old)
                last[accounts] = np.maximum(last[accounts], until)
        if len(last) < self.accounts:
            last = np.concatenate([last, np.full(self.accounts - len(last), NEVER, np.int64)])
        accounts, since, until = _spans(run)
        self.late.update(accounts[since < last[accounts]].tolist())
        last[accounts] = np.maximum(last[accounts], until)
        self._last_ts = last

    def compact(self) -> None:
        """Merge every delta run into the main run (account ids do not change)."""
        if not self.deltas:
            return
        self.main = _merge(self.runs, len(self.names), first=True)
        self.deltas = []
        self.late = set()

    # -------------------------------------------------------------- queries

    def reachable(self, account: int, hops: int) -> I32:
        """Accounts reachable from ``account`` within ``hops`` transfers, ignoring time and
        amount (``account`` itself only through a cycle), sorted, as 32-bit account ids (an
        account id is one: half the memory of a large answer). A ledger of one main run
        is searched compiled (:meth:`_reach_main`); with delta runs, breadth first over each
        run's payees (:meth:`Run.successors`), with a visited mask and scratch arrays kept
        between calls, so a small call costs what it reaches, not the number of accounts.

        A large answer from the main run is a view of a buffer the ledger lends again once no
        array views it (:class:`Lender`): the answer is the caller's (to keep or write
        into) until dropped."""
        if not self.deltas and self.main is not None:
            return self._reach_main(self.main, account, hops)
        n = self.accounts
        if len(self._seen) < n:
            self._seen, self._fresh = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
            self._mark = np.zeros(n, dtype=np.int32)
        found: list[I32 | I64] = []  # what the sparse steps found (the dense ones: the mask)
        dense = False
        frontier: I32 | I64 = np.array([account], dtype=np.int64)
        try:
            for hop in range(hops):
                parts = [run.successors(frontier) for run in self.runs]
                step = parts[0] if len(parts) == 1 else _cat(parts)
                if len(step) > n // 8:
                    dense = True
                    frontier = self._dense_step(step, last=hop == hops - 1)
                else:
                    frontier = self._sparse_step(step)
                    found.append(frontier)
                if not len(frontier):
                    break
            dense = dense or sum(len(part) for part in found) > n // 8
            if dense:  # a scan of the mask is cheaper than a sort
                return np.flatnonzero(self._seen).astype(np.int32)  # sorted already
            return (
                np.sort(np.concatenate(found)).astype(np.int32) if found else np.zeros(0, np.int32)
            )
        finally:
            if dense:
                self._seen.fill(False)
            else:
                for part in found:
                    self._seen[part] = False

    def _reach_main(self, run: Run, account: int, hops: int) -> I32:
        """:meth:`reachable` over the main run alone: one compiled breadth-first search
        (:func:`fanzha.funds.kernels.reach`) over its distinct payees, a step from a frontier
        that pays many accounts taken bottom up over their payers (:meth:`Run.payers`), the
        accounts reached kept in a bitmap (a quarter of a megabyte at two million accounts:
        it stays in the core's cache), and read back from it in order."""
        off, to = run.payees()
        busy, back = run.busy(), run.payers()
        n = len(off) - 1
        if len(self._found) < n + 9:
            self._bits = np.zeros((n + 63) // 64, np.uint64)
            self._front = np.zeros((n + 63) // 64, np.uint64)
            self._cover = np.zeros((n + 63) // 64, np.uint64)
            self._found, self._at = np.empty(n + 9, np.int64), np.empty(n + 9, np.int64)
            self._lender = Lender(n + 3) if n <= LEND_MAX_ACCOUNTS else None
        count = kernels.reach(off, to, busy.accounts, busy.rows, *back, account, hops, n // 64,
                              kernels.BOTTOM_UP, self._bits, self._front, self._cover,
                              self._found, self._at)  # fmt: skip
        # account ids are 32-bit: half the memory; a large answer in a lent buffer (3 spare
        # places: take_bits may write them)
        lender = self._lender if count >= LEND_MIN else None
        out = lender.buffer(count + 3) if lender is not None else np.empty(count + 3, np.int32)
        kernels.take_bits(self._bits, out, count)
        return out[:count]

    def _dense_step(self, step: I32 | I64, *, last: bool) -> I64:
        """Mark the accounts of a large step seen; the new ones, sorted (none for the last
        step: nothing expands them)."""
        fresh, seen = self._fresh, self._seen
        fresh[step] = True
        np.greater(fresh, seen, out=fresh)  # new: not seen before
        np.logical_or(seen, fresh, out=seen)
        frontier = np.zeros(0, np.int64) if last else np.flatnonzero(fresh)
        fresh.fill(False)
        return frontier

    def _sparse_step(self, step: I32 | I64) -> I32 | I64:
        """Mark the accounts of a small step seen; the new ones, each once."""
        seen, mark = self._seen, self._mark
        step = step[~seen[step]]
        # distinct without a sort: the last position that wrote each account keeps it
        at = np.arange(len(step), dtype=np.int32)
        mark[step] = at
        frontier: I32 | I64 = step[mark[step] == at]
        seen[frontier] = True
        return frontier

    def late_mask(self) -> Bool:
        """:attr:`late` as a mask over the accounts, made again when it changes (it only
        grows between compactions, which replace it)."""
        key = (id(self.late), len(self.late), self.accounts)
        cached = self._late_mask
        if cached is None or cached[0] != key:
            mask = np.zeros(self.accounts, np.bool_)
            mask[[a for a in self.late if 0 <= a < self.accounts]] = True
            cached = self._late_mask = (key, mask)
        return cached[1]

    def joined(self) -> Joined:
        """The delta runs joined (:class:`Joined`), made once for the runs there are now."""
        cached = self._joined
        # the same runs (the cache holds them: their ids are not reused)
        if cached is None or list(map(id, cached[0])) != list(map(id, self.deltas)):
            cached = self._joined = (tuple(self.deltas), Joined.of(self.deltas))
        return cached[1]

    def view(self, account: int, until: int) -> View | None:
        """``account``'s transfers with ``ts <= until`` and its balance after each, or None
        for an account in :attr:`late` (its runs overlap in time)."""
        if account in self.late:
            return None
        pieces: list[_Piece] = []
        x = start = 0
        for run in self.runs:
            lo, hi = run.segment(account)
            if hi > lo:
                hi = run.at_row(account, lo, hi, int(run.ts.searchsorted(until, "right")))
            if hi > lo:
                pieces.append(_Piece(run, lo, hi, x, start))
                start += hi - lo
                x = run.balance(hi - 1, x)
        return View(account, pieces)

    def events(self, account: int, after: Key = (NEVER, 0), before: Key = (FOREVER, 0)) -> Events:
        """The transfers of ``account`` with ``after < (ts, seq) < before``, in that order.

        Transfers from an account to itself are left out: they move no money.
        """
        parts: list[tuple[Run, I64]] = []
        for run in self.runs:
            lo, hi = run.segment(account)
            if hi > lo:
                j0 = run.at_row(account, lo, hi, run.rows_before((after[0], after[1] + 1)))
                j1 = run.at_row(account, lo, hi, run.rows_before(before))
                if j1 > j0:
                    parts.append((run, run.entry[j0:j1]))
        return _gather(parts, account)

    def windows(self, account: int, after: Key, before: Key, size: int) -> Iterator[Events]:
        """:meth:`events` read a window at a time as the caller goes on (windows of
        ``size`` entries, doubling up to :data:`MAX_WINDOW`; some may be empty: transfers to
        itself are left out), so a busy account costs what is used of it. An account in
        :attr:`late` (its runs overlap in time) comes in one window."""
        if account in self.late:
            yield self.events(account, after, before)
            return
        for run in self.runs:  # the account's entries in each run come after the last run's
            lo, hi = run.segment(account)
            if hi <= lo:
                continue
            j0 = run.at_row(account, lo, hi, run.rows_before((after[0], after[1] + 1)))
            j1 = run.at_row(account, lo, hi, run.rows_before(before))
            while j0 < j1:
                j = min(j1, j0 + size)
                yield _gather([(run, run.entry[j0:j])], account)
                j0, size = j, min(2 * size, MAX_WINDOW)

    def inflows(self, account: int, lo_ts: int, hi_ts: int) -> Events:
        """Transfers into ``account`` with ``lo_ts <= ts <= hi_ts``."""
        found = self.events(account, (lo_ts - 1, 2**62), (hi_ts + 1, -1))
        keep = ~found.out
        return Events(*(np.asarray(getattr(found, f))[keep] for f in _FIELDS))


def _cat(parts: list[I32 | I64]) -> I64:
    out: I64 = np.concatenate(parts).astype(np.int64, copy=False)
    return out


def _spans(run: Run) -> tuple[I64, I64, I64]:
    """The accounts of ``run`` and the times of their first and last transfer in it."""
    owner = run.entry >> run.shift
    if len(owner) == 0:
        return owner, owner, owner
    starts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
    ends = np.append(starts[1:], len(owner)) - 1
    mask = (1 << (run.shift - 1)) - 1
    since = run.ts[(run.entry[starts] >> 1) & mask]
    until = run.ts[(run.entry[ends] >> 1) & mask]
    return owner[starts], since, until


_FIELDS: Final = ("ts", "seq", "out", "other", "fen", "cash")


def _gather(parts: list[tuple[Run, I64]], account: int) -> Events:
    cols: list[list[Any]] = [[], [], [], [], [], []]
    for run, entries in parts:
        rows = (entries >> 1) & ((1 << (run.shift - 1)) - 1)
        out = (entries & 1) == 0
        for col, values in zip(
            cols,
            (run.ts[rows], run.seq[rows], out, np.where(out, run.payee[rows], run.payer[rows]),
             run.fen[rows], run.cash[rows]),
            strict=True,
        ):  # fmt: skip
            col.append(values)
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Events(
            empty, empty, np.zeros(0, bool), np.zeros(0, np.int32), empty, np.zeros(0, bool)
        )
    cat = [np.concatenate(c) for c in cols]
    keep = cat[3] != account  # self-transfers move nothing
    if len(parts) == 1:
        return Events(*(c[keep] for c in cat))
    order = np.lexsort((cat[1][keep], cat[0][keep]))
    return Events(*(c[keep][order] for c in cat))
