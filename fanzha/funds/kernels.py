"""Compiled loops of the funds ledger (see :mod:`fanzha.jit`): the LIBR tracer's walk over the
main run's least balances, one compiled call per trace instead of a few NumPy calls per cut,
the breadth-first search of :meth:`fanzha.funds.ledger.Ledger.reachable`, and the build's
counting partition of the entries by account (:func:`partition`, :func:`number`).

The walk (:func:`libr_runs`) is :class:`fanzha.funds.trace._LibrTracer` over the main run and
the delta runs: each followed account's view is its slice of each run (the main run's by CSR
offsets), its balance after each entry the run's ``low`` (``max(x + rel, low)`` in a delta run
from the balance ``x`` before it). Its state is a table of rows, one per account the money
reached (columns ``N_*``), a heap of the next cut of each followed account and the edges; the
caller allocates them and, when one is too small, calls again with larger ones.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fanzha.jit import kernel, native

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Bool = npt.NDArray[np.bool_]
U64 = npt.NDArray[np.uint64]

# columns of the node table (one row per account the money reached, in the order reached)
N_ACCOUNT: Final = 0
N_PIECES: Final = 1  # how many pieces its view has (see "over runs" below)
N_SIZE: Final = 2  # the view's size
N_CLAIM: Final = 3  # the victim's claim on it (holdable at the end)
N_START: Final = 4  # view position of the transfer that began the period; -1: not followed
N_GIFTS: Final = 5  # the victim's fen received in the period after its start
N_VERSION: Final = 6  # bumped when the next cut is searched again
N_HOP: Final = 7
N_FIRST_TS: Final = 8
N_ATTRIBUTED: Final = 9
N_CASH_OUT: Final = 10
N_UNTRACED: Final = 11
N_OUT: Final = 12
N_INNOCENT: Final = 13
N_COLUMNS: Final = 14

# columns of the heap (the next cut of a followed account) and of the edges
H_TS, H_SEQ, H_NODE, H_VERSION, H_POS = 0, 1, 2, 3, 4
E_SOURCE, E_TARGET, E_TS, E_FEN, E_SEQ = 0, 1, 2, 3, 4

#: what :func:`libr_runs` returns when a table is too small (the caller doubles them all)
FULL: Final = -1
#: what :func:`libr_runs` returns when the money reaches an account with late appends (its
#: runs overlap in time: no view of it): the caller traces another way
LATE: Final = -2


@kernel
def lower(values: I64, lo: int, hi: int, key: int) -> int:
    """The first position in ``[lo, hi)`` of sorted ``values`` with ``values[j] >= key``
    (``hi``: none): ``lo + searchsorted(values[lo:hi], key, "left")``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def first_below(low: I64, low_min: I64, block: int, lo: int, hi: int, claim: int) -> int:
    """The first entry in ``[lo, hi)`` with ``low < claim`` (``hi``: none), whole blocks of
    ``block`` entries skipped by their least ``low`` (``low_min``)."""
    j = lo
    while j < hi:
        if j % block == 0 and j + block <= hi and low_min[j // block] >= claim:
            j += block
            continue
        if low[j] < claim:
            return j
        j += 1
    return hi


@kernel
def _slot(index: I64, nodes: I64, count: int, account: int) -> int:
    """The node row of ``account`` (``-1 - free``: none, ``free`` the index's empty slot)."""
    mask = len(index) - 1
    i = ((account * 0x9E3779B1) >> 16) & mask  # no overflow: accounts are int32
    while index[i] != 0:
        if nodes[index[i] - 1, N_ACCOUNT] == account:
            return int(index[i] - 1)
        i = (i + 1) & mask
    return -1 - i


@kernel
def _push(heap: I64, size: int, ts: int, seq: int, node: int, version: int, pos: int) -> int:
    """Push a cut onto the heap of ``size`` entries (ordered by time, then ``seq``); the new
    size (``FULL``: no room)."""
    if size == len(heap):
        return FULL
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        p_ts, p_seq = heap[parent, H_TS], heap[parent, H_SEQ]
        if p_ts < ts or (p_ts == ts and p_seq < seq):
            break
        heap[i] = heap[parent]
        i = parent
    heap[i, H_TS], heap[i, H_SEQ], heap[i, H_NODE] = ts, seq, node
    heap[i, H_VERSION], heap[i, H_POS] = version, pos
    return size + 1


@kernel
def _pop(heap: I64, size: int) -> None:
    """Take the first entry off the heap of ``size`` entries (read it from ``heap[0]``
    first)."""
    size -= 1
    ts, seq = heap[size, H_TS], heap[size, H_SEQ]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        other = child + 1
        if other < size and (
            heap[other, H_TS] < heap[child, H_TS]
            or (heap[other, H_TS] == heap[child, H_TS] and heap[other, H_SEQ] < heap[child, H_SEQ])
        ):
            child = other
        c_ts, c_seq = heap[child, H_TS], heap[child, H_SEQ]
        if ts < c_ts or (ts == c_ts and seq < c_seq):
            break
        heap[i] = heap[child]
        i = child
    heap[i] = heap[size]


# ------------------------------------------------------------------------------ over runs
#
# An account's view is its slice of the main run, then its slice of each delta run in order (see
# :class:`fanzha.funds.ledger.View`), each a *piece* of the node (a row of ``pieces``; node
# ``i``'s are rows ``i * runs … i * runs + N_PIECES - 1``). The delta runs come as one array
# per column, the runs one after another (:class:`fanzha.funds.ledger.Joined`); the main
# run's arrays as they are. A row of ``runs`` per run (the main run first) says where.

# columns of a piece: its run, entries [lo, hi) there, the balance before them (``x``) and
# the view position of ``lo``
P_RUN, P_LO, P_HI, P_X, P_START = 0, 1, 2, 3, 4
P_COLUMNS: Final = 5
# columns of a run: its shift, entries [lo, hi) and first block in its arrays, its first row
# there; the rows (counted in the run) before ``until``, the horizon's end, the traced money
R_SHIFT, R_LO, R_HI, R_BLOCK, R_ROW, R_UNTIL, R_HORIZON, R_KEY = 0, 1, 2, 3, 4, 5, 6, 7
R_COLUMNS: Final = 8


@kernel
def below_from(
    low: I64, rel: I64, low_min: I64, rel_min: I64, block: int, base: int, first: int, lo: int,
    hi: int, claim: int, x: int,
) -> int:  # fmt: skip
    """The first entry in ``[lo, hi)`` of a delta run (its entries from ``base``, its blocks
    from ``first``) after which the balance from ``x`` (``max(x + rel, low)``) is below
    ``claim`` (``hi``: none), whole blocks skipped by a lower bound of their balances."""
    j = lo
    while j < hi:
        at = j - base
        if at % block == 0 and j + block <= hi:
            b = first + at // block
            if max(low_min[b], x + rel_min[b]) >= claim:
                j += block
                continue
        if max(low[j], x + rel[j]) < claim:
            return j
        j += 1
    return hi


@kernel
def _balance(pieces: I64, p: int, j: int, low_m: I64, low_d: I64, rel_d: I64) -> int:
    """The balance after entry ``j`` of piece ``p``."""
    if pieces[p, P_RUN] == 0:
        return int(low_m[j])
    return int(max(pieces[p, P_X] + rel_d[j], low_d[j]))


@kernel
def _piece_of(pieces: I64, first: int, count: int, k: int) -> int:
    """The piece of view position ``k`` among ``count`` pieces from ``first``."""
    p = first + count - 1
    while p > first and pieces[p, P_START] > k:
        p -= 1
    return p


@kernel
def _find(
    nodes: I64, pieces: I64, node: int, runs: I64, column: int, entry_m: I64, entry_d: I64,
) -> int:  # fmt: skip
    """The first view position of ``node`` whose row is at or after the run's
    ``runs[run, column]`` (its size: none): :meth:`View.find`."""
    account, n = nodes[node, N_ACCOUNT], nodes[node, N_PIECES]
    first = node * len(runs)
    for p in range(first, first + n):
        r, lo, hi = pieces[p, P_RUN], pieces[p, P_LO], pieces[p, P_HI]
        entry = entry_m if r == 0 else entry_d
        j = lower(entry, lo, hi, (account << runs[r, R_SHIFT]) + (runs[r, column] << 1))
        if j < hi:
            return int(pieces[p, P_START] + j - lo)
    return int(nodes[node, N_SIZE])


@kernel
def _at(
    nodes: I64, pieces: I64, node: int, runs: I64, r: int, row: int, entry_m: I64, entry_d: I64
) -> int:
    """The view position of ``node``'s entry at ``row`` of run ``r``: :meth:`View.at`."""
    account, n = nodes[node, N_ACCOUNT], nodes[node, N_PIECES]
    first = node * len(runs)
    for p in range(first, first + n):
        if pieces[p, P_RUN] == r:
            lo, hi = pieces[p, P_LO], pieces[p, P_HI]
            entry = entry_m if r == 0 else entry_d
            j = lower(entry, lo, hi, (account << runs[r, R_SHIFT]) + (row << 1))
            return int(pieces[p, P_START] + j - lo)
    return int(nodes[node, N_SIZE])  # never: the transfer is in the payee's view


@kernel
def _reach_runs(
    index: I64, nodes: I64, pieces: I64, count: int, account: int, runs: I64, off: I64,
    entry_m: I64, low_m: I64, entry_d: I64, low_d: I64, rel_d: I64, ts: int, hop: int,
) -> int:  # fmt: skip
    """The node row of ``account``, reached at ``ts`` over ``hop`` transfers: a new row on the
    first reach (``FULL``: no room), its pieces the account's entries in each run up to the
    run's ``R_UNTIL`` row, each piece's balance before it the last one's after."""
    found = _slot(index, nodes, count, account)
    if found >= 0:
        nodes[found, N_HOP] = min(nodes[found, N_HOP], hop)
        return found
    if count == len(nodes) or 2 * (count + 1) > len(index):
        return FULL
    index[-1 - found] = count + 1
    first = p = count * len(runs)
    x = start = 0
    for r in range(len(runs)):
        shift = runs[r, R_SHIFT]
        if r == 0:
            lo = hi = 0
            if account + 1 < len(off):
                lo, hi = off[account], off[account + 1]
        else:
            lo = lower(entry_d, runs[r, R_LO], runs[r, R_HI], account << shift)
            hi = lower(entry_d, lo, runs[r, R_HI], (account + 1) << shift)
        if hi > lo:
            entry = entry_m if r == 0 else entry_d
            hi = lower(entry, lo, hi, (account << shift) + (runs[r, R_UNTIL] << 1))
        if hi > lo:
            pieces[p, P_RUN], pieces[p, P_LO], pieces[p, P_HI] = r, lo, hi
            pieces[p, P_X], pieces[p, P_START] = x, start
            x = _balance(pieces, p, hi - 1, low_m, low_d, rel_d)
            start += hi - lo
            p += 1
    row = nodes[count]
    row[:] = 0
    row[N_ACCOUNT], row[N_PIECES], row[N_SIZE], row[N_START] = account, p - first, start, -1
    row[N_HOP], row[N_FIRST_TS] = hop, ts
    return count


@kernel
def _money_in(
    pieces: I64, first: int, count: int, k: int, runs: I64, cin_m: I64, cin_d: I64
) -> int:
    """Money in over view positions ``0 … k``: :meth:`View.money_in`."""
    total = 0
    for p in range(first, first + count):
        start, lo, hi = pieces[p, P_START], pieces[p, P_LO], pieces[p, P_HI]
        if k < start:
            break
        r = pieces[p, P_RUN]
        cin = cin_m if r == 0 else cin_d
        j = lo + min(k - start, hi - 1 - lo)
        total += cin[j] - (cin[lo - 1] if lo > runs[r, R_LO] else 0)
    return int(total)


@kernel
def _end_runs(
    nodes: I64, pieces: I64, node: int, k: int, runs: I64, entry_m: I64, entry_d: I64,
    cin_m: I64, cin_d: I64,
) -> int:  # fmt: skip
    """:func:`_end` over runs."""
    start = nodes[node, N_START]
    last = min(k, _find(nodes, pieces, node, runs, R_HORIZON, entry_m, entry_d) - 1)
    if last > start:
        first, n = node * len(runs), nodes[node, N_PIECES]
        money = _money_in(pieces, first, n, last, runs, cin_m, cin_d) - _money_in(
            pieces, first, n, start, runs, cin_m, cin_d
        )
        nodes[node, N_INNOCENT] += money - nodes[node, N_GIFTS]
    nodes[node, N_START] = -1
    nodes[node, N_VERSION] += 1
    return int(k - start)


@kernel
def _search_runs(
    heap: I64, size: int, nodes: I64, pieces: I64, node: int, k: int, runs: I64, block: int,
    entry_m: I64, low_m: I64, low_min_m: I64, ts_m: I64, seq_m: I64,
    entry_d: I64, low_d: I64, rel_d: I64, low_min_d: I64, rel_min_d: I64, ts_d: I64, seq_d: I64,
) -> int:  # fmt: skip
    """:func:`_search` over runs: the first piece with a cut from ``k`` on
    (:meth:`View.below`)."""
    nodes[node, N_VERSION] += 1
    claim = nodes[node, N_CLAIM]
    first = node * len(runs)
    for p in range(first, first + nodes[node, N_PIECES]):
        r, lo, hi, start = pieces[p, P_RUN], pieces[p, P_LO], pieces[p, P_HI], pieces[p, P_START]
        if start + hi - lo <= k:
            continue
        lo_k = lo + max(0, k - start)
        if r == 0:
            j = first_below(low_m, low_min_m, block, lo_k, hi, claim)
        else:
            j = below_from(low_d, rel_d, low_min_d, rel_min_d, block, runs[r, R_LO],
                           runs[r, R_BLOCK], lo_k, hi, claim, pieces[p, P_X])  # fmt: skip
        if j < hi:
            entry = entry_m if r == 0 else entry_d
            row = (entry[j] >> 1) & ((1 << (runs[r, R_SHIFT] - 1)) - 1)
            if r == 0:
                when, seq = ts_m[row], seq_m[row]
            else:
                when, seq = ts_d[runs[r, R_ROW] + row], seq_d[runs[r, R_ROW] + row]
            return _push(heap, size, when, seq, node, nodes[node, N_VERSION], start + j - lo)
    return size


@kernel
def libr_runs(
    entry_m: I64, low_m: I64, cin_m: I64, low_min_m: I64, off: I64, ts_m: I64, seq_m: I64,
    fen_m: I64, payee_m: I32, cash_m: Bool,
    entry_d: I64, low_d: I64, rel_d: I64, cin_d: I64, low_min_d: I64, rel_min_d: I64, ts_d: I64,
    seq_d: I64, fen_d: I64, payee_d: I32, cash_d: Bool,
    runs: I64, late: Bool, block: int, root: int, root_ts: int, amount: int, depth: int,
    horizon_end: int, nodes: I64, index: I64, pieces: I64, heap: I64, edges: I64, out: I64,
) -> int:  # fmt: skip
    """A LIBR trace over the main run (``*_m``, CSR offsets ``off``) and delta runs
    (``*_d``, joined; ``runs``: a row per run, the main run's first). The money came into
    ``root`` at ``root_ts`` by the transfer at each run's ``R_KEY`` row, the first of them in
    the root's view. ``pieces``: ``len(runs)`` rows per node row. ``late``: the accounts
    with late appends (:data:`LATE` when the money reaches one)."""
    count = edges_n = touched = heap_n = 0
    account, r_in, row, victim, moved, hop = root, -1, 0, amount, amount, 0
    arrival_ts = root_ts
    n_runs = len(runs)
    while True:
        if account < len(late) and late[account]:
            return LATE
        node = _reach_runs(index, nodes, pieces, count, account, runs, off, entry_m, low_m,
                           entry_d, low_d, rel_d, arrival_ts, hop)  # fmt: skip
        if node == FULL:
            return FULL
        count = max(count, node + 1)
        if r_in < 0:
            k = _find(nodes, pieces, node, runs, R_KEY, entry_m, entry_d)
        else:
            k = _at(nodes, pieces, node, runs, r_in, row, entry_m, entry_d)
        first, n = node * n_runs, nodes[node, N_PIECES]
        if nodes[node, N_START] < 0:  # followed from here: what it held before is innocent
            nodes[node, N_START], nodes[node, N_GIFTS] = k, 0
            before = 0
            if k > 0:
                p = _piece_of(pieces, first, n, k - 1)
                j = pieces[p, P_LO] + k - 1 - pieces[p, P_START]
                before = _balance(pieces, p, j, low_m, low_d, rel_d)
            nodes[node, N_INNOCENT] += before + moved - victim
        else:  # the transfer's fen counts with the period's money in: take the victim's out
            nodes[node, N_GIFTS] += victim
        nodes[node, N_CLAIM] += victim
        nodes[node, N_ATTRIBUTED] += victim
        heap_n = _search_runs(heap, heap_n, nodes, pieces, node, k + 1, runs, block, entry_m,
                              low_m, low_min_m, ts_m, seq_m, entry_d, low_d, rel_d, low_min_d,
                              rel_min_d, ts_d, seq_d)  # fmt: skip
        if heap_n == FULL:
            return FULL
        # the next cut, in (ts, seq) order: a payment after which the balance is below the claim
        account = -1
        while heap_n and account < 0:
            node, version, k = heap[0, H_NODE], heap[0, H_VERSION], heap[0, H_POS]
            _pop(heap, heap_n)
            heap_n -= 1
            if version != nodes[node, N_VERSION]:
                continue
            p = _piece_of(pieces, node * n_runs, nodes[node, N_PIECES], k)
            r = pieces[p, P_RUN]
            j = pieces[p, P_LO] + k - pieces[p, P_START]
            entry = entry_m if r == 0 else entry_d
            local = (entry[j] >> 1) & ((1 << (runs[r, R_SHIFT] - 1)) - 1)
            if r == 0:
                when, seq, fen = ts_m[local], seq_m[local], fen_m[local]
                payee, cash = payee_m[local], cash_m[local]
            else:
                at = runs[r, R_ROW] + local
                when, seq, fen = ts_d[at], seq_d[at], fen_d[at]
                payee, cash = payee_d[at], cash_d[at]
            left = _balance(pieces, p, j, low_m, low_d, rel_d)
            victim = nodes[node, N_CLAIM] - left
            nodes[node, N_CLAIM] = left
            if cash:
                nodes[node, N_CASH_OUT] += victim
            elif when > horizon_end or nodes[node, N_HOP] >= depth:
                nodes[node, N_UNTRACED] += victim
            else:
                nodes[node, N_OUT] += victim
                if edges_n == len(edges):
                    return FULL
                edge = edges[edges_n]
                edge[E_SOURCE], edge[E_TARGET], edge[E_TS] = node, payee, when
                edge[E_FEN], edge[E_SEQ] = victim, seq
                edges_n += 1
                account, moved, hop = int(payee), fen, nodes[node, N_HOP] + 1
                r_in, row, arrival_ts = r, local, when
            if left == 0:
                touched += _end_runs(nodes, pieces, node, k, runs, entry_m, entry_d, cin_m, cin_d)
            else:
                heap_n = _search_runs(heap, heap_n, nodes, pieces, node, k + 1, runs, block,
                                      entry_m, low_m, low_min_m, ts_m, seq_m, entry_d, low_d,
                                      rel_d, low_min_d, rel_min_d, ts_d, seq_d)  # fmt: skip
                if heap_n == FULL:
                    return FULL
        if account < 0:
            break
    for node in range(count):  # still followed at the end
        if nodes[node, N_START] >= 0:
            size = nodes[node, N_SIZE]
            touched += _end_runs(nodes, pieces, node, size - 1, runs, entry_m, entry_d, cin_m,
                                 cin_d)  # fmt: skip
            nodes[node, N_START] = size
    out[0], out[1], out[2] = count, edges_n, touched
    return count


# ------------------------------------------------------------------------------ reachability
#
# Breadth first over the main run's distinct payees, in either direction (Beamer, Asanović and
# Patterson 2012, "direction-optimizing" search). A step from a frontier that pays few
# accounts goes *top down*: the frontier's payees are marked in the bitmap of accounts seen.
# A step from a frontier that pays many goes *bottom up*: each account not yet seen looks for
# a payer among the accounts seen, and needs no frontier list: the only accounts seen that
# can pay one not yet seen are the frontier's (an account seen a step earlier had its payees
# seen in the step after). Its cost is a pass over the accounts rather than over the
# frontier's payees: on the 10 M bench ledger a last step from 300 k accounts reads 4.2 M
# payees top down, 1.3 M first payers bottom up.
#
# The payers (:func:`payers`) are ordered by how many accounts they pay, most first: those
# are the most often in a frontier (the payment platforms, and the busiest accounts), so
# that an account reached this step is mostly found by its first or second payer. These two
# have arrays of their own (``first``, ``second``), read in one pass in account order; the
# others (``rest``, CSR offsets ``roff``) are read only for the accounts whose first two
# missed, in rounds (a branch per payer would be mispredicted as often as it is taken).
#
# The busiest payers (the platforms) are also known by what they reach: rows of the accounts
# each reaches within 1, 2 … COVER steps. A platform in a frontier with that many steps left
# is not expanded at all: its row is the answer's part through it. On the bench ledger a big
# seed's third step reaches a platform paying 231 k accounts, whose payees made the fourth
# step's frontier 296 k accounts; covered by the platform's row of two steps, that frontier
# is 12 k accounts.

#: a step goes bottom up when its frontier pays more accounts (counting an account each
#: time it is paid) than this many times the accounts not yet seen (:func:`reach`'s ``wide``)
BOTTOM_UP: Final = 1
#: a payer paying more than 1/BUSY of the accounts has its payees as a bitmap row too, the
#: BUSY_ROWS busiest at most: a top-down last step marks a row a word at a time, not a payee
#: at a time (a platform's 230 k payees, in order: each mark waits on the last one's in the
#: word)
BUSY: Final = 128
BUSY_ROWS: Final = 16
#: each of those has rows of the accounts it reaches within 1, 2 … COVER steps: a step from a
#: frontier holding it, with 2 … COVER steps left, takes its row instead of expanding it and
#: its payees (their successors, then theirs, … found one at a time)
COVER: Final = 3
#: the rounds of :func:`_bottom_up` stop at this many rounds, or accounts left, whichever first
ROUNDS: Final = 8
ROUND_MIN: Final = 64
# every other bit, pair and nibble: a word's set bits counted in place
_M1, _M2, _M4 = (np.uint64(m * 0x0101010101010101) for m in (0x55, 0x33, 0x0F))


@kernel
def payers(off: I64, to: I32, order: I64, first: I32, second: I32, roff: I64, rest: I32,
           more: U64) -> None:  # fmt: skip
    """The payers of each account (the CSR ``off``/``to`` reversed), taken in ``order`` (most
    payees first): account ``v``'s first two in ``first[v]`` and ``second[v]`` (all -1 at
    first; ``v`` itself for none: a bottom-up step tests ``v``'s own bit, never set while
    ``v`` is looked for), the others in ``rest[roff[v]:roff[v + 1]]``, bit ``v`` of ``more``
    (clear at first) set when there are others. ``roff[v + 1]`` holds where ``v``'s others
    begin when called, where they end on return."""
    one = np.uint64(1)
    n = len(off) - 1
    for i in range(n):
        u = order[i]
        for j in range(off[u], off[u + 1]):
            v = to[j]
            if first[v] < 0:
                first[v] = u
            elif second[v] < 0:
                second[v] = u
            else:
                rest[roff[v + 1]] = u
                roff[v + 1] += 1
    for v in range(n):
        if first[v] < 0:
            first[v] = v
        if second[v] < 0:
            second[v] = v
        if roff[v + 1] > roff[v]:
            more[v >> 6] |= one << np.uint64(v & 63)


def _trailing_zeros_compiled() -> Any:
    """The machine's count of trailing zeros (``tzcnt``), as a Numba function."""
    import numba
    from numba.cpython.unsafe import numbers

    trailing_zeros: Any = numbers.trailing_zeros  # an intrinsic: its typing is Numba's

    @numba.njit(cache=True, nogil=True)
    def count(x: np.uint64) -> np.uint64:
        return trailing_zeros(x)  # type: ignore[no-any-return]

    return count


@native(_trailing_zeros_compiled)
def _trailing_zeros(x: np.uint64) -> int:
    """How many zero bits ``x`` ends with (64 for 0)."""
    value = int(x)
    return (value & -value).bit_length() - 1 if value else 64


@kernel
def _positions(bits: np.uint64, base: int, out: I64 | I32, n: int) -> int:
    """The positions (plus ``base``) of the set bits of one word appended to ``out`` from
    ``n`` on, in increasing order; the new ``n``. A step per set bit: the lowest one's
    position by the machine's count of trailing zeros, then that bit cleared."""
    one = np.uint64(1)
    while bits:
        out[n] = base + np.int64(_trailing_zeros(bits))
        n += 1
        bits &= bits - one
    return n


@kernel
def _bottom_up(first: I32, second: I32, more: U64, roff: I64, rest: I32, seen: U64, new: U64,
               pend: I64, at: I64) -> None:  # fmt: skip
    """One step bottom up (see above): the accounts not in ``seen`` with a payer in it set
    in ``new`` (clear at first). ``pend`` and ``at``: scratch as long as the accounts."""
    one = np.uint64(1)
    n = len(first)
    m = 0
    for w in range(len(seen)):
        word = seen[w]
        base = w * 64
        hit = np.uint64(0)
        for b in range(min(64, n - base)):  # branch-free: both payers tested
            p, q = first[base + b], second[base + b]
            bit = (seen[p >> 6] >> np.uint64(p & 63)) | (seen[q >> 6] >> np.uint64(q & 63))
            hit |= (bit & one) << np.uint64(b)
        hit &= ~word
        new[w] = hit
        m = _positions(more[w] & ~(word | hit), base, pend, m)
    # the accounts with more payers, their first two missed: the others, one a round, in
    # three passes (where, gathered, tested), so that the reads of a pass do not wait on
    # each other; ``at`` holds where, then the payer and whether it is the account's last
    r = 0
    while m > ROUND_MIN and r < ROUNDS:
        for i in range(m):
            v = pend[i]
            j = roff[v] + r
            at[i] = (j << 1) | int(j + 1 == roff[v + 1])
        for i in range(m):
            x = at[i]
            at[i] = (np.int64(rest[x >> 1]) << 1) | (x & 1)
        k = 0
        for i in range(m):
            v, x = pend[i], at[i]
            p = x >> 1
            bit = (seen[p >> 6] >> np.uint64(p & 63)) & one
            new[v >> 6] |= bit << np.uint64(v & 63)
            pend[k] = v
            k += int(bit == 0) & int((x & 1) == 0)
        m = k
        r += 1
    for i in range(m):  # a few left (many payers each): one at a time
        v = pend[i]
        for j in range(roff[v] + r, roff[v + 1]):
            p = rest[j]
            if (seen[p >> 6] >> np.uint64(p & 63)) & one:
                new[v >> 6] |= one << np.uint64(v & 63)
                break


@kernel
def _ones(x: np.uint64) -> int:
    """How many bits of ``x`` are set (in place: no multiplication, no overflow)."""
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    x = x + (x >> np.uint64(8))
    x = x + (x >> np.uint64(16))
    x = x + (x >> np.uint64(32))
    return int(x & np.uint64(127))


@kernel
def _merge(seen: U64, new: U64, last: bool) -> int:
    """Add ``new`` to ``seen`` (and clear it when ``last``); how many bits ``new`` has."""
    count = 0
    for w in range(len(seen)):
        x = new[w]
        seen[w] |= x
        if last:
            new[w] = 0
        count += _ones(x)
    return count


@kernel
def _count(bits: U64) -> int:
    """How many bits are set."""
    count = 0
    for w in range(len(bits)):
        count += _ones(bits[w])
    return count


@kernel
def _pays_many(
    off: I64, busy: I64, least: int, skip: bool, found: I64, begin: int, end: int, limit: int
) -> bool:  # fmt: skip
    """Whether the accounts ``found[begin:end]`` pay more than ``limit`` accounts in all (the
    busiest payers ``busy`` left out when ``skip``: their reach is covered by rows)."""
    total = 0
    for i in range(begin, end):
        u = found[i]
        payees = off[u + 1] - off[u]
        if skip and _row_of(busy, least, u, payees) >= 0:
            continue
        total += payees
        if total > limit:
            return True
    return False


@kernel
def _row_of(busy: I64, least: int, u: int, payees: int) -> int:
    """The bitmap row of account ``u``, paying ``payees`` accounts, among the busiest payers
    ``busy`` (paying at least ``least`` each); -1: none."""
    if payees >= least:
        for r in range(len(busy)):
            if busy[r] == u:
                return r
    return -1


@kernel
def _expand(
    off: I64, to: I32, busy: I64, least: int, skip: bool, found: I64, begin: int, end: int,
    seen: U64, n: int,
) -> int:  # fmt: skip
    """Mark the successors of the accounts ``found[begin:end]`` seen, the new ones appended to
    ``found`` from ``n`` on; the new ``n``. Branch-free: every successor is written at ``n``,
    and ``n`` moves on past the new ones only (a branch on "seen before" is mispredicted half
    the time). One loop over the accounts, not a call per account (calls are not inlined).
    The busiest payers ``busy`` are passed over when ``skip`` (their rows covered them)."""
    one = np.uint64(1)
    for i in range(begin, end):
        u = found[i]
        if skip and _row_of(busy, least, u, off[u + 1] - off[u]) >= 0:
            continue
        for j in range(off[u], off[u + 1]):
            v = to[j]
            bit = one << np.uint64(v & 63)
            old = seen[v >> 6]
            found[n] = v
            n += int((old & bit) == 0)
            seen[v >> 6] = old | bit
    return n


@kernel
def _cover(
    rows: U64, step: I64, when: int, within: int, seen: U64, cover: U64, front: U64
) -> int:  # fmt: skip
    """The busiest payers first seen at step ``when`` (``step``: each one's), covered: the
    accounts each reaches within ``within`` steps into ``cover``, its payees into ``seen``
    and out of ``front`` (nothing expands them: what they reach is covered); how many of
    these were not seen, -1 when no payer was covered."""
    count = -1
    for r in range(len(step)):
        if step[r] != when:
            continue
        count = max(count, 0)
        for w in range(len(seen)):
            x = rows[0, r, w]
            cover[w] |= rows[within - 1, r, w]
            count += _ones(x & ~seen[w])
            seen[w] |= x
            front[w] &= ~x
    return count


@kernel
def _hubs_seen(busy: I64, seen: U64, step: I64, hop: int) -> None:
    """The step at which each busiest payer was first seen (-1: not yet): ``hop`` for those
    seen now."""
    for r in range(len(busy)):
        u = busy[r]
        if step[r] < 0 and (seen[u >> 6] >> np.uint64(u & 63)) & np.uint64(1):
            step[r] = hop


@kernel
def _mark(
    off: I64, to: I32, busy: I64, rows: U64, least: int, found: I64, begin: int, end: int,
    seen: U64,
) -> None:  # fmt: skip
    """Mark the successors of the accounts ``found[begin:end]`` seen: the last step's, which
    nothing lists or counts (counting them as they come costs a third more than counting
    the bitmap's bits after). One of the busiest payers a word of its row at a time (``rows``:
    as :func:`reach`'s)."""
    one = np.uint64(1)
    for i in range(begin, end):
        u = found[i]
        r = _row_of(busy, least, u, off[u + 1] - off[u])
        if r >= 0:
            for w in range(len(seen)):
                seen[w] |= rows[0, r, w]
            continue
        for j in range(off[u], off[u + 1]):
            v = to[j]
            seen[v >> 6] |= one << np.uint64(v & 63)


@kernel
def _in_order(found: I64, begin: int, end: int, front: U64) -> None:
    """Put the distinct accounts ``found[begin:end]`` in increasing order, through the bitmap
    ``front`` (clear, left clear); ``found`` has room for 3 more after ``end``."""
    one = np.uint64(1)
    for i in range(begin, end):
        v = found[i]
        front[v >> 6] |= one << np.uint64(v & 63)
    take_bits(front, found[begin:], end - begin)


@kernel
def reach(
    off: I64, to: I32, busy: I64, rows: U64, first: I32, second: I32, more: U64, roff: I64,
    rest: I32, seed: int, hops: int, dense: int, wide: int, seen: U64, front: U64,
    cover: U64, found: I64, at: I64,
) -> int:  # fmt: skip
    """Breadth first from ``seed`` over ``hops`` steps of the CSR ``off``/``to`` (each
    account's successors; ``first`` … ``rest``: the reverse, from :func:`payers`): the
    accounts reached are set in the bitmap ``seen`` (all clear at first; the seed is set
    only when a cycle leads back to it); how many. ``found`` and ``at`` (9 longer than the
    accounts) are scratch, ``front`` and ``cover`` bitmaps left clear.

    ``busy``: the busiest payers, in order; ``rows[k, r]`` the accounts ``busy[r]`` reaches
    within ``k + 1`` steps, a bitmap row each. A busiest payer in a frontier with ``s``
    steps left, ``2 <= s <= len(rows)``, is not expanded: its row of ``s`` steps goes into
    ``cover`` (set in ``seen`` at the end) and its payees are seen but not listed (what they
    reach in ``s - 1`` steps is in that row). A payee so seen may still pay an account found
    bottom up later, a step late; what that account reaches on time is covered all the same.

    A step goes bottom up (see above) when its frontier pays more accounts (one each time it
    is paid) than ``wide`` times the accounts not yet seen (:data:`BOTTOM_UP`), else top
    down. Top down, ``found`` lists the seed, then each step's new accounts after the
    last's, but for the last step's, which are only marked; a step from more than ``dense``
    accounts first puts them in account order (through ``front``), so that their
    successors are read along ``off`` and ``to`` instead of at random. Bottom up, the new
    accounts are set in ``front`` and, but for the last step, listed in order from
    ``found[0]`` for the next."""
    if seed + 1 >= len(off) or hops <= 0:
        return 0
    n = len(off) - 1
    least = n + 1  # the fewest accounts a busiest payer pays
    for u in busy:
        least = min(least, off[u + 1] - off[u])
    step = np.full(len(busy), -1, np.int64)  # when each busiest payer was first seen
    for r in range(len(busy)):
        if busy[r] == seed:
            step[r] = 0
    covered = False
    found[0] = seed
    begin, end = 0, 1
    unseen = n
    ordered = True
    for hop in range(1, hops + 1):
        last = hop == hops
        left = hops - hop + 1  # the steps left, this one's included
        skip = 2 <= left <= len(rows)  # the frontier's busiest payers covered by rows
        # never the first step: the seed is not in ``seen``
        if hop > 1 and _pays_many(off, busy, least, skip, found, begin, end, wide * unseen):
            _bottom_up(first, second, more, roff, rest, seen, front, found, at)
            if skip:  # after the step: a payee covered is not a payer of this step's
                new = _cover(rows, step, hop - 1, left, seen, cover, front)
                unseen -= max(new, 0)
                covered |= new >= 0
            count = _merge(seen, front, last)
            unseen -= count
            if not last:
                _hubs_seen(busy, seen, step, hop)
                take_bits(front, found, count)
                begin, end, ordered = 0, count, True
            continue
        if skip:
            new = _cover(rows, step, hop - 1, left, seen, cover, front)
            unseen -= max(new, 0)
            covered |= new >= 0
        if end - begin > dense and not ordered:
            _in_order(found, begin, end, front)
        if last:
            _mark(off, to, busy, rows, least, found, begin, end, seen)
            unseen = n - _count(seen)
        else:
            begin, end = end, _expand(off, to, busy, least, skip, found, begin, end, seen, end)
            unseen -= end - begin
            _hubs_seen(busy, seen, step, hop)
            ordered = False
    if not covered:
        return n - unseen
    for w in range(len(seen)):
        seen[w] |= cover[w]
        cover[w] = 0
    return _count(seen)


@kernel
def take_bits(seen: U64, out: I64 | I32, count: int) -> None:
    """The positions of the ``count`` set bits of ``seen`` into ``out`` (3 longer) in
    increasing order, clearing them: a step per set bit, its position by the machine's
    count of trailing zeros, then the bit cleared; four steps a round, so that only the
    end of a word is a branch to guess (the last round's extra steps write past the word's
    bits: positions the next word overwrites, or the 3 spare places)."""
    n = 0
    one = np.uint64(1)
    for w in range(len(seen)):
        x = seen[w]
        if x:
            seen[w] = 0
            base = w * 64
            end = n + _ones(x)
            while n < end:
                out[n] = base + np.int64(_trailing_zeros(x))
                x = x & (x - one) if x else x  # 0 stays 0 (plain NumPy would warn)
                out[n + 1] = base + np.int64(_trailing_zeros(x))
                x = x & (x - one) if x else x
                out[n + 2] = base + np.int64(_trailing_zeros(x))
                x = x & (x - one) if x else x
                out[n + 3] = base + np.int64(_trailing_zeros(x))
                x = x & (x - one) if x else x
                n += 4
            n = end


# ------------------------------------------------------------------------------ the build
#
# The build puts the entries in account order by counting, not by a sort: every entry goes
# to the bucket of its key's top bits (accounts with other identifiers, whose key is their
# interned id, to buckets after those, by id), read and written in slot order (``2 row +
# side``), so the keys and amounts are read along the rows instead of gathered at random;
# then each bucket, in the core's cache, is counted into order by its keys' next bits and
# its accounts are numbered in key order as they come.

#: an identifier's bucket holds this many ids (``id >> OTHER_BITS``)
OTHER_BITS: Final = 10


@kernel
def bucket_of(key: np.uint64, numeric: bool, top: int, first_other: int) -> np.int64:
    """The bucket of an entry: a digit-only account's by its key's top bits (``64 - top``
    of them; ``top`` 64: all in bucket 0), another's (``key`` its id) from ``first_other`` on."""
    if not numeric:
        return np.int64(first_other) + np.int64(key >> np.uint64(OTHER_BITS))
    if top >= 64:
        return np.int64(0)
    return np.int64(key >> np.uint64(top))  # int() of a uint64 stays unsigned in Numba


@kernel
def bucket_sizes(keys: U64, numeric: Bool, top: int, first_other: int, sizes: I64) -> None:
    """Add each entry (keys and digit-only flags by slot) to the size of its bucket."""
    for slot in range(len(keys)):
        sizes[bucket_of(keys[slot], numeric[slot], top, first_other)] += 1


@kernel
def partition(
    keys: U64, numeric: Bool, fen: I64, top: int, first_other: int, start: I64, key_out: U64,
    slot_out: I64, signed_out: I64,
) -> int:  # fmt: skip
    """Every entry into its bucket (``start``: each bucket's next position, moved on), in slot
    order: its key and slot (``key_out`` and ``slot_out``: the two columns of one array, so
    that a bucket's writes go to one place) and signed amount (money out of the payer
    negative; zero on both sides of a transfer from an account to itself). Returns the fen
    moved (those excluded)."""
    moved = 0
    for row in range(len(fen)):
        payer, payee = 2 * row, 2 * row + 1
        fen_row = fen[row]
        if keys[payer] == keys[payee] and numeric[payer] == numeric[payee]:
            fen_row = 0
        moved += fen_row
        for slot in (payer, payee):
            b = bucket_of(keys[slot], numeric[slot], top, first_other)
            at = start[b]
            start[b] = at + 1
            key_out[2 * at], slot_out[2 * at + 1] = keys[slot], slot
            signed_out[at] = fen_row if slot == payee else -fen_row
    return moved


@kernel
def _distinct(packed: U64, lo: int, hi: int, table: I32, seen: U64, count: I64, local: I32) -> int:
    """The distinct keys of entries ``lo … hi - 1`` (``packed[2 j]``) into ``seen`` in the order
    first met, how many of each into ``count``, each entry's among them into ``local``; how
    many. ``table``: an open addressing table of zeros, a power of two at least twice ``hi -
    lo`` long, left zeroed."""
    size = 2
    while size < 2 * (hi - lo):
        size <<= 1
    mask = np.uint64(size - 1)
    found = 0
    for j in range(lo, hi):
        key = packed[2 * j]
        h = np.int64((key ^ (key >> np.uint64(29))) & mask)
        while table[h] != 0 and seen[table[h] - 1] != key:
            h = (h + 1) & (size - 1)
        if table[h] == 0:
            table[h] = found + 1
            seen[found], count[found] = key, 0
            found += 1
        at = table[h] - 1
        count[at] += 1
        local[j - lo] = at
    for k in range(found):  # zeroed again through the keys it holds
        key = seen[k]
        h = np.int64((key ^ (key >> np.uint64(29))) & mask)
        while table[h] != 0:
            table[h] = 0
            h = (h + 1) & (size - 1)
    return found


@kernel
def number(
    bounds: I64, first_other: int, shift: int, packed: U64, packed_i: I64, signed: I64,
    ids: I32, keys: U64, off: I64,
    table: I32, seen: U64, count: I64, local: I32, slots: I64, amounts: I64,
) -> int:  # fmt: skip
    """Each bucket ``bounds[b] … bounds[b + 1]`` of the partition put in key order (ties in
    slot order) and its accounts numbered in key order after the last bucket's: ``packed``
    (key and slot of each entry; ``packed_i``: the same memory) gets each entry's
    ``account << shift | slot`` in its first half, ``signed`` moves along; the account of
    each slot into ``ids``, each account's key into ``keys`` (the digit-only accounts: the
    buckets before ``first_other``) and its first entry into ``off``. The rest are scratch
    as long as the largest bucket (``table`` twice as long, zeros). Returns the number of
    accounts."""
    accounts = 0
    for b in range(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        if hi == lo:
            continue
        found = _distinct(packed, lo, hi, table, seen, count, local)
        for j in range(lo, hi):  # copied out: the bucket is written over
            slots[j - lo], amounts[j - lo] = packed_i[2 * j + 1], signed[j]
        order = np.argsort(seen[:found])
        at = lo
        for rank in range(found):  # count becomes each distinct key's next position
            k = order[rank]
            size = count[k]
            count[k] = at
            off[accounts + rank] = at
            if b < first_other:
                keys[accounts + rank] = seen[k]
            at += size
            table[k] = accounts + rank  # table (zeros) holds each distinct key's account
        for i in range(hi - lo):
            k = local[i]
            j = count[k]
            count[k] = j + 1
            account = table[k]
            slot = slots[i]
            packed_i[j] = (np.int64(account) << shift) | slot
            signed[j] = amounts[i]
            ids[slot] = account
        table[:found] = 0
        accounts += found
    return accounts
