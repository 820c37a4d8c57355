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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

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
        array = column.combine_chunks()
        wanted = pa.array(sorted(c.upper() for c in self.channels), pa.string())
        if pa.types.is_dictionary(array.type):
            names = pc.utf8_upper(pc.utf8_trim_whitespace(_strings(array.dictionary)))
            hit_names = _filled(pc.is_in(names, value_set=wanted))
            indices = array.indices
            codes = np.asarray(indices.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
            flags: Bool = hit_names[codes] if len(hit_names) else np.zeros(len(codes), bool)
            if indices.null_count:
                flags &= _filled(pc.is_valid(indices))
            return flags
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
        if col.null_count or (len(col) and pc.min(pc.binary_length(col)).as_py() == 0):
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
        in_time = len(ts) < 2 or bool(np.all(ts[1:] >= ts[:-1]))
        # the usual case: already in time order; otherwise ties stay in seq order
        by_time = None if in_time else np.argsort(ts, kind="stable")
        out_order, payer_sorted = _grouped(payer, by_time)
        in_rows, payee_sorted = _grouped(payee, by_time)
        position = np.empty(len(ts), dtype=np.int64)
        position[out_order] = np.arange(len(ts), dtype=np.int64)
        in_perm = position[in_rows]
        run = cls(
            payer=payer_sorted,
            payee=payee[out_order],
            ts=ts[out_order],
            seq=_reordered_seq(seq, out_order),
            fen=fen[out_order],
            cash=cash[out_order],
            in_perm=in_perm,
            in_payee=payee_sorted,
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

    def successors(self, accounts: I64) -> I64:
        """Payees of every transfer paid by ``accounts`` (with repeats)."""
        if self.out_off is not None:
            top = len(self.out_off) - 1
            inside = accounts[accounts < top]
            lo, hi = self.out_off[inside], self.out_off[inside + 1]
        else:
            lo = np.searchsorted(self.payer, accounts, "left")
            hi = np.searchsorted(self.payer, accounts, "right")
        sizes = hi - lo
        total = int(sizes.sum())
        if total == 0:
            return np.zeros(0, np.int64)
        # the rows lo[k] … hi[k] - 1 of every account, in one arange: a run-length expansion
        starts = np.repeat(lo - np.cumsum(sizes) + sizes, sizes)
        rows = starts + np.arange(total, dtype=np.int64)
        out: I64 = self.payee[rows].astype(np.int64)
        return out

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


def _grouped(keys: I32, rows: I64 | None) -> tuple[I64, I32]:
    """``rows`` (all rows when None) stably reordered by ``keys[rows]``, and those keys in
    that order: one sort of (key << 32 | position), about twice as fast as NumPy's stable
    argsort of int32 (a merge sort); the sorted keys are the high halves, no gather."""
    packed = (keys if rows is None else keys[rows]).astype(np.int64)
    packed <<= 32
    packed |= np.arange(len(packed), dtype=np.int64)
    packed.sort()
    sorted_keys: I32 = (packed >> 32).astype(np.int32)
    packed &= 0xFFFFFFFF
    out: I64 = packed if rows is None else rows[packed]
    return out, sorted_keys


def _reordered_seq(seq: I64, order: I64) -> I64:
    """``seq[order]``; when ``seq`` is consecutive (a build, an append, a merge of
    consecutive runs) that is ``order`` shifted, with no random gather."""
    n = len(seq)
    if n and int(seq[-1]) - int(seq[0]) == n - 1 and bool(np.all(seq[1:] > seq[:-1])):
        out: I64 = order + seq[0]
        return out
    gathered: I64 = seq[order]
    return gathered


def _offsets(keys: I32, accounts: int) -> I64:
    counts = np.bincount(keys, minlength=accounts)
    off = np.zeros(accounts + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])
    return off


def _merge(runs: Iterable[Run], accounts: int | None) -> Run:
    runs = [r for r in runs if len(r)]
    n = sum(len(r) for r in runs)
    if n:
        base = min(int(r.seq.min()) for r in runs)
        if max(int(r.seq.max()) for r in runs) - base == n - 1:
            return _merge_consecutive(runs, base, n, accounts)
    parts = [r.rows() for r in runs]
    cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    order = np.argsort(cols[3], kind="stable")
    payer, payee, ts, seq, fen, cash = (c[order] for c in cols)
    return Run.sort(payer, payee, ts, seq, fen, cash, accounts)


def _merge_consecutive(runs: list[Run], base: int, n: int, accounts: int | None) -> Run:
    """Runs whose (distinct) seqs fill ``[base, base + n)``: every row is put back in seq
    order by scattering it to ``seq - base``, in O(n) rather than two argsorts."""
    fields = ("payer", "payee", "ts", "fen", "cash")
    cols = {f: np.empty(n, dtype=getattr(runs[0], f).dtype) for f in fields}
    for run in runs:
        at = run.seq - base
        for f in fields:
            cols[f][at] = getattr(run, f)
    seq = np.arange(base, base + n, dtype=np.int64)
    return Run.sort(
        cols["payer"], cols["payee"], cols["ts"], seq, cols["fen"], cols["cash"], accounts
    )


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


def _any_between(ts: I64, after_ts: int, until_ts: int) -> bool:
    """Whether the sorted ``ts`` holds a value in ``(after_ts, until_ts]``."""
    return bool(np.searchsorted(ts, after_ts, "right") < np.searchsorted(ts, until_ts, "right"))


# ------------------------------------------------------------------------------ accounts

U64 = npt.NDArray[np.uint64]


def _numeric(column: pa.Array) -> Bool:
    """Account numbers that are 1–19 ASCII digits without a leading zero: these fit in a
    uint64 and come back as the same text."""
    digits = _filled(pc.ascii_is_decimal(column))
    _, offsets_buf, data_buf = column.buffers()
    if data_buf is None or data_buf.size == 0:
        return np.zeros(len(column), dtype=bool)
    # length and first byte straight from the offsets and bytes: two Arrow kernels fewer
    wide = pa.types.is_large_string(column.type)
    width = 8 if wide else 4
    kind = np.int64 if wide else np.int32
    offsets = np.frombuffer(offsets_buf, kind, len(column) + 1, width * column.offset)
    data = np.frombuffer(data_buf, np.uint8)
    length = np.diff(offsets)
    first = data[np.minimum(offsets[:-1], len(data) - 1)]
    ok: Bool = digits & (length > 0) & (length <= 19) & (first != ord("0"))
    return ok


def _codes(column: pa.Array, mask: Bool) -> U64:
    """The uint64 codes of the rows where ``mask`` holds (``column`` a string array)."""
    if mask.all():
        codes: U64 = np.asarray(pc.cast(column, pa.uint64()).to_numpy(zero_copy_only=False))
        return codes
    # the other rows are marked null over the same buffers, so the cast skips them without
    # a filter copying every string
    valid = pa.array(np.concatenate([np.zeros(column.offset, bool), mask])).buffers()[1]
    masked = pa.Array.from_buffers(
        column.type, len(column), [valid, *column.buffers()[1:]], offset=column.offset
    )
    cast = pc.cast(masked, pa.uint64())
    values = np.frombuffer(cast.buffers()[1], np.uint64, len(cast), 8 * cast.offset)
    picked: U64 = values[mask]
    return picked


def _search_sorted(haystack: U64, needles: U64) -> I64:
    """``np.searchsorted(haystack, needles)``, the needles sorted first: in increasing order
    each search starts where the last one ended, about 4x faster for 60 k needles in 2 M."""
    order = np.argsort(needles)
    at = np.empty(len(needles), dtype=np.int64)
    at[order] = np.searchsorted(haystack, needles[order])
    return at


class Accounts:
    """Account numbers interned to dense ids that never change.

    Digit-only account numbers (nearly every Chinese card and account number) are held as
    sorted ``uint64`` codes, ids ``0 … len(codes) - 1``: interning them hashes integers, not
    strings, and a look-up is a binary search. Other identifiers (IBANs, ATM terminals,
    ISO 20022 ``Othr/Id``), and every account first seen after the build, get the next ids
    through a dict.
    """

    def __init__(self, codes: U64 | None = None) -> None:
        self.codes: U64 = np.zeros(0, np.uint64) if codes is None else codes
        self.names: list[str] = []  # ids len(codes) …
        self.index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.codes) + len(self.names)

    @classmethod
    def build(cls, *columns: pa.Array) -> tuple[Accounts, list[I32]]:
        """Intern the accounts of whole columns at once; their ids, column by column."""
        masks = [_numeric(c) for c in columns]
        codes = np.concatenate([_codes(c, m) for c, m in zip(columns, masks, strict=True)])
        encoded = pc.dictionary_encode(pa.array(codes, pa.uint64()))
        uniques = np.asarray(encoded.dictionary.to_numpy(), dtype=np.uint64)
        order = np.argsort(uniques)
        rank = np.empty(len(uniques), dtype=np.int32)
        rank[order] = np.arange(len(uniques), dtype=np.int32)
        numeric_ids = rank[encoded.indices.to_numpy()]  # int32 indices, no widening copy
        accounts = cls(uniques[order])
        out: list[I32] = []
        start = 0
        for column, mask in zip(columns, masks, strict=True):
            ids = np.empty(len(column), dtype=np.int32)
            taken = int(mask.sum())
            ids[mask] = numeric_ids[start : start + taken]
            start += taken
            if taken < len(column):
                ids[~mask] = accounts.intern(column.filter(pa.array(~mask)))
            out.append(ids)
        return accounts, out

    def lookup(self, values: pa.Array) -> I64:
        """Ids of account numbers (``-1`` for accounts never interned)."""
        found = np.full(len(values), -1, dtype=np.int64)
        if len(values) == 0:
            return found
        mask = _numeric(values)
        if mask.any() and len(self.codes):
            codes = _codes(values, mask)
            at = np.minimum(_search_sorted(self.codes, codes), len(self.codes) - 1)
            found[mask] = np.where(self.codes[at] == codes, at, -1)
        rest = np.flatnonzero(found < 0)
        if rest.size and self.index:
            names = values.take(pa.array(rest)).to_pylist()
            found[rest] = [self.index.get(str(name), -1) for name in names]
        return found

    def lookup_one(self, value: str) -> int:
        """The id of one account number (``-1`` if never interned), without building an
        Arrow array: tracing and the banks look accounts up one at a time."""
        numeric = value.isascii() and value.isdigit() and len(value) <= 19 and value[0] != "0"
        if numeric and len(self.codes):
            code = np.uint64(int(value))
            at = min(int(np.searchsorted(self.codes, code)), len(self.codes) - 1)
            if self.codes[at] == code:
                return at
        return self.index.get(value, -1)

    def intern(self, values: pa.Array) -> I32:
        """Ids of account numbers, giving the next ids to accounts never seen."""
        encoded = pc.dictionary_encode(values)
        uniques: pa.Array = encoded.dictionary
        ids = self.lookup(uniques)
        missing = np.flatnonzero(ids < 0)
        for i, name in zip(
            missing.tolist(), uniques.take(pa.array(missing)).to_pylist(), strict=True
        ):
            ids[i] = self.index[str(name)] = len(self)
            self.names.append(str(name))
        out: I32 = ids[np.asarray(encoded.indices.to_numpy(zero_copy_only=False))].astype(np.int32)
        return out

    def name(self, account_id: int) -> str:
        """The account number of an id."""
        if account_id < len(self.codes):
            return str(int(self.codes[account_id]))
        return self.names[account_id - len(self.codes)]


# ------------------------------------------------------------------------------ the ledger


@dataclass
class Ledger:
    """The time-sorted index of transfers (see the module docstring)."""

    rule: CashOutRule = field(default_factory=CashOutRule)
    main: Run | None = None
    deltas: list[Run] = field(default_factory=list)
    names: Accounts = field(default_factory=Accounts)
    _next_seq: int = 0
    _seen: Bool = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)

    @classmethod
    def build(cls, table: pa.Table, rule: CashOutRule | None = None) -> Ledger:
        """Index every transfer of ``table`` (rows are taken in order for ties in time)."""
        ledger = cls(rule=rule or CashOutRule())
        cols = validate(table, ledger.rule)
        ledger.names, (payer, payee) = Accounts.build(cols.payer, cols.payee)
        n = len(cols)
        seq = np.arange(n, dtype=np.int64)
        ledger.main = Run.sort(
            payer, payee, cols.ts, seq, cols.fen, cols.cash_out, len(ledger.names)
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
            for account in accounts:
                lo, hi = run.out_slice(account)
                if hi > lo and _any_between(run.ts[lo:hi], after_ts, until_ts):
                    return False
                if paying_only:
                    continue
                lo, hi = run.in_slice(account)
                if hi > lo and _any_between(run.ts[run.in_perm[lo:hi]], after_ts, until_ts):
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
        self._next_seq += n
        self.deltas.append(Run.sort(payer, payee, cols.ts, seq, cols.fen, cols.cash_out, None))
        if len(self.deltas) > MAX_DELTA_RUNS:
            self.deltas = [_merge(self.deltas, None)]
        delta_rows = sum(len(r) for r in self.deltas)
        main_rows = len(self.main) if self.main is not None else 0
        if delta_rows >= MIN_COMPACT_ROWS and delta_rows > COMPACT_SHARE * main_rows:
            self.compact()
        return n

    def compact(self) -> None:
        """Merge every delta run into the main run (account ids do not change)."""
        if not self.deltas:
            return
        self.main = _merge(self.runs, len(self.names))
        self.deltas = []

    # -------------------------------------------------------------- queries

    def reachable(self, account: int, hops: int) -> I64:
        """Accounts reachable from ``account`` within ``hops`` transfers, ignoring time and
        amount (``account`` itself only through a cycle), sorted: breadth first over the
        payer-sorted runs, with a visited mask kept between calls and cleared after each,
        so a call costs what it reaches, not the number of accounts."""
        if len(self._seen) < self.accounts:
            self._seen = np.zeros(self.accounts, dtype=bool)
        seen = self._seen
        found: list[I64] = []
        frontier = np.array([account], dtype=np.int64)
        try:
            for _ in range(hops):
                step = np.unique(np.concatenate([r.successors(frontier) for r in self.runs]))
                frontier = step[~seen[step]]
                if not len(frontier):
                    break
                seen[frontier] = True
                found.append(frontier)
        finally:
            for part in found:
                seen[part] = False
        out: I64 = np.sort(np.concatenate(found)) if found else np.zeros(0, np.int64)
        return out

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
