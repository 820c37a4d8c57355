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

Accounts are interned with a :class:`~fanzha.intel.keyset.KeySet` over the main run's
accounts plus a dict for accounts first seen in an append.

A **cash-out** transfer (ATM withdrawal, payment at a merchant's POS, a purchase of crypto
currency or gold) ends a branch of a trace: :class:`CashOutRule` marks them from the
transfer's channel, remittance note and payee name when the ledger is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.intel.keyset import KeySet

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
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
            channel = pc.utf8_upper(pc.utf8_trim_whitespace(_strings(table["channel"])))
            wanted = pa.array(sorted(c.upper() for c in self.channels), pa.string())
            hit |= _filled(pc.is_in(channel, value_set=wanted))
        if self.keywords:
            pattern = "|".join(_regex_escape(k) for k in self.keywords)
            for column in ("remittance", "payee_name"):
                if column in table.column_names:
                    text = _strings(table[column])
                    found = pc.match_substring_regex(text, pattern, ignore_case=True)
                    hit |= _filled(found)
        return hit


def _strings(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
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
    _fail(table, _filled(pc.is_null(column)), "ts", "missing time")
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            raise LedgerError(0, "ts", "timestamps need a time zone (the lake stores UTC)")
        raw = column.cast(pa.int64())
        values = np.asarray(raw.to_numpy(), dtype=np.int64)
        scale = _US_PER_UNIT[kind.unit]
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
        empty = pc.or_kleene(pc.is_null(col), pc.equal(pc.utf8_length(col), 0))
        _fail(table, _filled(empty), name, "missing account")
        accounts[name] = col
    fen_col = table["amount_fen"]
    if not pa.types.is_integer(fen_col.type):
        raise LedgerError(0, "amount_fen", f"expected integer fen, got {fen_col.type}")
    _fail(table, _filled(pc.is_null(fen_col)), "amount_fen", "missing amount")
    fen = np.asarray(fen_col.cast(pa.int64()).to_numpy(), dtype=np.int64)
    _fail(table, fen < 0, "amount_fen", "negative amount")
    ts = _micros(table)
    return Columns(accounts["payer_account"], accounts["payee_account"], ts, fen, rule.flags(table))


# ------------------------------------------------------------------------------ runs


@dataclass
class Run:
    """Transfers sorted by ``(payer, ts, seq)``, with a permutation sorted by ``(payee, ts, seq)``.

    ``out_off`` / ``in_off`` are CSR offsets per account id (main run only); delta runs find
    an account's slice by binary search in ``payer`` / ``in_payee``.
    """

    payer: I32
    payee: I32
    ts: I64
    seq: I64
    fen: I64
    cash: Bool
    in_perm: I64  # positions of this run's rows in (payee, ts, seq) order
    in_payee: I32  # payee[in_perm], for binary search
    out_off: I64 | None = None
    in_off: I64 | None = None

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def sort(
        cls, payer: I32, payee: I32, ts: I64, seq: I64, fen: I64, cash: Bool, accounts: int | None
    ) -> Run:
        """Index rows given in ``seq`` order (``accounts``: build CSR offsets for that many)."""
        by_time = np.argsort(ts, kind="stable")  # ties stay in seq order
        out_order = by_time[np.argsort(payer[by_time], kind="stable")]
        in_rows = by_time[np.argsort(payee[by_time], kind="stable")]
        position = np.empty(len(ts), dtype=np.int64)
        position[out_order] = np.arange(len(ts), dtype=np.int64)
        in_perm = position[in_rows]
        run = cls(
            payer=payer[out_order],
            payee=payee[out_order],
            ts=ts[out_order],
            seq=seq[out_order],
            fen=fen[out_order],
            cash=cash[out_order],
            in_perm=in_perm,
            in_payee=payee[in_rows],
        )
        if accounts is not None:
            run.out_off = _offsets(run.payer, accounts)
            run.in_off = _offsets(run.in_payee, accounts)
        return run

    def out_slice(self, account: int) -> tuple[int, int]:
        """Rows ``[lo, hi)`` paid by ``account``."""
        if self.out_off is not None:
            if account + 1 >= len(self.out_off):
                return 0, 0
            return int(self.out_off[account]), int(self.out_off[account + 1])
        lo = int(np.searchsorted(self.payer, account, "left"))
        return lo, int(np.searchsorted(self.payer, account, "right"))

    def in_slice(self, account: int) -> tuple[int, int]:
        """Positions ``[lo, hi)`` of ``in_perm`` paid to ``account``."""
        if self.in_off is not None:
            if account + 1 >= len(self.in_off):
                return 0, 0
            return int(self.in_off[account]), int(self.in_off[account + 1])
        lo = int(np.searchsorted(self.in_payee, account, "left"))
        return lo, int(np.searchsorted(self.in_payee, account, "right"))

    def rows(self) -> tuple[I32, I32, I64, I64, I64, Bool]:
        """Every row back in ``seq`` order (for merging runs)."""
        order = np.argsort(self.seq, kind="stable")
        return (
            self.payer[order],
            self.payee[order],
            self.ts[order],
            self.seq[order],
            self.fen[order],
            self.cash[order],
        )


def _offsets(keys: I32, accounts: int) -> I64:
    counts = np.bincount(keys, minlength=accounts)
    off = np.zeros(accounts + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])
    return off


def _merge(runs: Iterable[Run], accounts: int | None) -> Run:
    parts = [r.rows() for r in runs]
    cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    order = np.argsort(cols[3], kind="stable")
    payer, payee, ts, seq, fen, cash = (c[order] for c in cols)
    return Run.sort(payer, payee, ts, seq, fen, cash, accounts)


# ------------------------------------------------------------------------------ events


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

    def signed(self) -> I64:
        """Money in (positive) and out (negative), in order."""
        signed: I64 = np.where(self.out, -self.fen, self.fen)
        return signed


Key = tuple[int, int]
NEVER: Final = -(2**62)
FOREVER: Final = 2**62


def _window(ts: I64, seq: I64, after: Key, before: Key) -> tuple[int, int]:
    """``[lo, hi)`` of rows with ``after < (ts, seq) < before`` in a slice sorted by both."""
    lo = int(np.searchsorted(ts, after[0], "left"))
    hi_t = int(np.searchsorted(ts, after[0], "right"))
    lo += int(np.searchsorted(seq[lo:hi_t], after[1], "right"))
    hi = int(np.searchsorted(ts, before[0], "left"))
    hi_t = int(np.searchsorted(ts, before[0], "right"))
    hi += int(np.searchsorted(seq[hi:hi_t], before[1], "left"))
    return lo, max(lo, hi)


# ------------------------------------------------------------------------------ the ledger


@dataclass
class Ledger:
    """The time-sorted index of transfers (see the module docstring)."""

    rule: CashOutRule = field(default_factory=CashOutRule)
    main: Run | None = None
    deltas: list[Run] = field(default_factory=list)
    names: list[pa.Array] = field(default_factory=list)  # account names by id, in blocks
    _keyset: KeySet | None = None
    _main_accounts: int = 0
    _new: dict[str, int] = field(default_factory=dict)  # accounts interned since the keyset
    _next_seq: int = 0

    @classmethod
    def build(cls, table: pa.Table, rule: CashOutRule | None = None) -> Ledger:
        """Index every transfer of ``table`` (rows are taken in order for ties in time)."""
        ledger = cls(rule=rule or CashOutRule())
        cols = validate(table, ledger.rule)
        both = pa.concat_arrays([cols.payer.cast(pa.string()), cols.payee.cast(pa.string())])
        encoded = pc.dictionary_encode(both)
        ids = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int32)
        n = len(cols)
        ledger.names = [encoded.dictionary]
        ledger._main_accounts = len(encoded.dictionary)
        seq = np.arange(n, dtype=np.int64)
        ledger.main = Run.sort(
            ids[:n], ids[n:], cols.ts, seq, cols.fen, cols.cash_out, ledger._main_accounts
        )
        ledger._next_seq = n
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
        return sum(len(b) for b in self.names)

    def account(self, account_id: int) -> str:
        """The account number of an interned id."""
        for block in self.names:
            if account_id < len(block):
                return str(block[account_id].as_py())
            account_id -= len(block)
        raise IndexError(account_id)

    def account_id(self, account: str) -> int | None:
        """The interned id of an account number, or None when the ledger never saw it."""
        found = self.lookup(pa.array([account], pa.string()))[0]
        return None if found < 0 else int(found)

    def lookup(self, accounts: pa.Array) -> I64:
        """Interned ids of account numbers (``-1`` for unknown ones)."""
        found = np.full(len(accounts), -1, dtype=np.int64)
        if self.names:
            found = self._keys().lookup(accounts)
        missing = np.flatnonzero(found < 0)
        if self._new and missing.size:
            names = accounts.take(pa.array(missing)).to_pylist()
            found[missing] = [self._new.get(str(name), -1) for name in names]
        return found

    def _keys(self) -> KeySet:
        if self._keyset is None:
            self._keyset = KeySet.build(self.names[0])
        return self._keyset

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
        payer, payee = self._intern(cols.payer), self._intern(cols.payee)
        seq = np.arange(self._next_seq, self._next_seq + n, dtype=np.int64)
        self._next_seq += n
        self.deltas.append(Run.sort(payer, payee, cols.ts, seq, cols.fen, cols.cash_out, None))
        if len(self.deltas) > MAX_DELTA_RUNS:
            self.deltas = [_merge(self.deltas, None)]
        delta_rows = sum(len(r) for r in self.deltas)
        main_rows = len(self.main) if self.main is not None else 0
        if delta_rows >= MIN_COMPACT_ROWS and delta_rows > COMPACT_SHARE * main_rows:
            self.compact()
        return n

    def _intern(self, accounts: pa.Array) -> I32:
        """Ids of account numbers, giving new ids to accounts never seen."""
        encoded = pc.dictionary_encode(accounts.cast(pa.string()))
        uniques: pa.Array = encoded.dictionary
        ids = self.lookup(uniques)
        missing = np.flatnonzero(ids < 0)
        if missing.size:
            fresh = uniques.take(pa.array(missing))
            start = self.accounts
            for k, name in enumerate(fresh.to_pylist()):
                self._new[str(name)] = start + k
            ids[missing] = np.arange(start, start + missing.size)
            self.names.append(fresh)
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        out: I32 = ids[indices].astype(np.int32)
        return out

    def compact(self) -> None:
        """Merge every delta run into the main run (and rebuild the account key set)."""
        if not self.deltas:
            return
        if len(self.names) > 1:
            self.names = [pa.concat_arrays([b.cast(pa.string()) for b in self.names])]
        self._main_accounts = self.accounts
        self.main = _merge(self.runs, self._main_accounts)
        self.deltas = []
        self._keyset = None
        self._new = {}

    # -------------------------------------------------------------- queries

    def events(self, account: int, after: Key = (NEVER, 0), before: Key = (FOREVER, 0)) -> Events:
        """The transfers of ``account`` with ``after < (ts, seq) < before``, in that order.

        Transfers from an account to itself are left out: they move no money.
        """
        parts: list[tuple[Any, ...]] = []
        for run in self.runs:
            lo, hi = run.out_slice(account)
            if hi > lo:
                a, b = _window(run.ts[lo:hi], run.seq[lo:hi], after, before)
                rows = np.arange(lo + a, lo + b)
                parts.append((run, rows, True))
            lo, hi = run.in_slice(account)
            if hi > lo:
                pos = run.in_perm[lo:hi]
                a, b = _window(run.ts[pos], run.seq[pos], after, before)
                parts.append((run, pos[a:b], False))
        return _gather(parts, account)

    def inflows(self, account: int, lo_ts: int, hi_ts: int) -> Events:
        """Transfers into ``account`` with ``lo_ts <= ts <= hi_ts``."""
        found = self.events(account, (lo_ts - 1, 2**62), (hi_ts + 1, -1))
        keep = ~found.out
        return Events(*(np.asarray(getattr(found, f))[keep] for f in _FIELDS))


_FIELDS: Final = ("ts", "seq", "out", "other", "fen", "cash")


def _gather(parts: list[tuple[Any, ...]], account: int) -> Events:
    ts, seq, out, other, fen, cash = [], [], [], [], [], []
    for run, rows, paid in parts:
        if len(rows) == 0:
            continue
        ts.append(run.ts[rows])
        seq.append(run.seq[rows])
        out.append(np.full(len(rows), paid))
        other.append(run.payee[rows] if paid else run.payer[rows])
        fen.append(run.fen[rows])
        cash.append(run.cash[rows])
    if not ts:
        empty = np.zeros(0, dtype=np.int64)
        return Events(
            empty, empty, np.zeros(0, bool), np.zeros(0, np.int32), empty, np.zeros(0, bool)
        )
    cat = [np.concatenate(x) for x in (ts, seq, out, other, fen, cash)]
    keep = cat[3] != account  # self-transfers move nothing
    order = np.lexsort((cat[1][keep], cat[0][keep]))
    return Events(*(c[keep][order] for c in cat))
