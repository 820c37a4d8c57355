"""The funds kernels: compiled and plain forms agree; the compiled LIBR walks (one main run,
and over delta runs) trace like the tracer over views and the general tracer, small tables or
not."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.funds import kernels
from fanzha.funds import trace as trace_module
from fanzha.funds.ledger import Ledger, busy_of, payers_of
from fanzha.funds.trace import Policy, Trace, trace
from fanzha.jit import plain

from .builders import Row, S, table
from .test_trace_properties import Case, cases, general, run, shape

I64 = np.int64


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-20, 20), max_size=40), st.integers(-25, 25), st.data())
def test_lower_is_searchsorted_left(values: list[int], key: int, data: st.DataObject) -> None:
    a = np.sort(np.array(values, I64))
    lo = data.draw(st.integers(0, len(a)))
    hi = data.draw(st.integers(lo, len(a)))
    want = lo + int(np.searchsorted(a[lo:hi], key, "left"))
    assert kernels.lower(a, lo, hi, key) == plain(kernels.lower)(a, lo, hi, key) == want


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=60), st.integers(0, 31), st.data())
def test_first_below_skips_blocks_like_a_scan(
    values: list[int], claim: int, data: st.DataObject
) -> None:
    low = np.array(values, I64)
    block = data.draw(st.sampled_from([1, 2, 4, 8]))
    low_min = np.array([low[b : b + block].min() for b in range(0, len(low), block)], I64)
    lo = data.draw(st.integers(0, len(low)))
    hi = data.draw(st.integers(lo, len(low)))
    hits = np.flatnonzero(low[lo:hi] < claim)
    want = lo + int(hits[0]) if hits.size else hi
    for form in (kernels.first_below, plain(kernels.first_below)):
        assert form(low, low_min if len(low) else np.zeros(0, I64), block, lo, hi, claim) == want


@given(cases())
@settings(max_examples=150, deadline=None)
def test_the_plain_walk_traces_like_the_compiled_one(case: Case) -> None:
    compiled = run(case, Policy.LIBR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernels, "libr_runs", plain(kernels.libr_runs))
        assert shape(run(case, Policy.LIBR)) == shape(compiled)


def in_time_order(case: Case) -> Case:
    """``case`` with its rows in time order (appending them makes no account late)."""
    return dataclasses.replace(case, rows=sorted(case.rows, key=lambda r: r[2]))


@given(cases(), st.integers(0, 40))
@settings(max_examples=150, deadline=None)
def test_the_walk_traces_like_the_tracer_over_runs(case: Case, cut: int) -> None:
    """Appends in time order (delta runs: the compiled walk over runs) against one main run."""
    ordered = in_time_order(case)
    rows = ordered.rows
    grown = Ledger.build(table(rows[:cut]))
    if rows[cut:]:
        grown.append(table(rows[cut:]))
    main = Ledger.build(table(rows))
    assert not main.deltas
    assert shape(run(ordered, Policy.LIBR, grown)) == shape(run(ordered, Policy.LIBR, main))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(-30, 30)), max_size=60),
    st.integers(-10, 40),
    st.integers(-10, 30),
    st.data(),
)
def test_below_from_skips_blocks_like_a_scan(
    values: list[tuple[int, int]], claim: int, x: int, data: st.DataObject
) -> None:
    """A delta run's cut search from a balance ``x``, its run starting ``base`` entries into
    the joined arrays (blocks from there): the first ``max(x + rel, low) < claim``."""
    pad = data.draw(st.integers(0, 5))  # another run's entries before this one's
    low = np.array([0] * pad + [v[0] for v in values], I64)
    rel = np.array([0] * pad + [v[1] for v in values], I64)
    block = data.draw(st.sampled_from([1, 2, 4, 8]))
    n = len(values)
    blocks = range(pad, pad + n, block)
    low_min = np.array([9] + [low[b : b + block].min() for b in blocks], I64)
    rel_min = np.array([9] + [rel[b : b + block].min() for b in blocks], I64)
    lo = data.draw(st.integers(pad, pad + n))
    hi = data.draw(st.integers(lo, pad + n))
    hits = np.flatnonzero(np.maximum(low[lo:hi], x + rel[lo:hi]) < claim)
    want = lo + int(hits[0]) if hits.size else hi
    for form in (kernels.below_from, plain(kernels.below_from)):
        assert form(low, rel, low_min, rel_min, block, pad, 1, lo, hi, claim, x) == want


def viewed(case: Case, ledger: Ledger) -> Trace:
    """``case`` traced on ``ledger`` by the tracer over views (:class:`_LibrTracer`), not the
    compiled walk (told that it met an account with late appends)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trace_module, "_libr_runs", lambda *args: None)
        return run(case, Policy.LIBR, ledger)


def appended(rows: list[Row], cuts: list[int]) -> Ledger:
    """A ledger built from ``rows`` up to the first cut, the rest appended at each cut (rows
    in time order: no account late)."""
    bounds = sorted({min(c, len(rows)) for c in cuts} | {len(rows)})
    ledger = Ledger.build(table(rows[: bounds[0]]))
    for a, b in itertools.pairwise(bounds):
        if b > a:
            ledger.append(table(rows[a:b]))
    return ledger


def answer(t: Trace) -> tuple[object, ...]:
    """Everything a trace says: nodes (every field), edges, transfers looked at, followed
    accounts, the freeze list."""
    freeze = [(n.account, n.holdable_fen) for n in t.freeze_list()]
    return shape(t), t.touched, t.followed, freeze, t.cut_at


@given(cases(), st.lists(st.integers(0, 40), min_size=1, max_size=4))
@settings(max_examples=200, deadline=None)
def test_the_walk_over_delta_runs_traces_like_the_tracer_over_views(
    case: Case, cuts: list[int]
) -> None:
    """The same appended ledger (up to four delta runs), compiled and over views."""
    ordered = in_time_order(case)
    grown = appended(ordered.rows, cuts)
    assert not grown.late and grown.main is not None
    compiled = run(ordered, Policy.LIBR, grown)
    assert answer(viewed(ordered, grown)) == answer(compiled)


@given(cases(), st.lists(st.integers(0, 40), min_size=1, max_size=4))
@settings(max_examples=100, deadline=None)
def test_the_plain_walk_over_delta_runs_traces_like_the_compiled_one(
    case: Case, cuts: list[int]
) -> None:
    ordered = in_time_order(case)
    compiled = run(ordered, Policy.LIBR, appended(ordered.rows, cuts))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernels, "libr_runs", plain(kernels.libr_runs))
        got = run(ordered, Policy.LIBR, appended(ordered.rows, cuts))
        assert answer(got) == answer(compiled)


def test_a_trace_over_delta_runs_wider_than_the_first_tables_is_traced_again() -> None:
    """The 300 mules of the test below, the mules' payments in three delta runs: past the
    first tables (64 nodes), the same as the tracer over views."""
    rows: list[Row] = [("V", "M", 0, 300 * 1000)]
    for i in range(300):
        rows.append(("M", f"A{i}", 1 + i, 1000))
    for i in range(300):
        rows.append((f"A{i}", f"B{i}", 400 + i, 600))
    for i in range(300):
        rows.append((f"B{i}", "ATM1", 800 + i, 300, "ATM"))
    grown = appended(rows, [150, 301, 601])
    assert len(grown.deltas) == 3 and not grown.late
    fast = trace(grown, "M", 0, 300 * 1000, Policy.LIBR)
    with pytest.MonkeyPatch.context() as patch:  # the tracer over views
        patch.setattr(trace_module, "_libr_runs", lambda *args: None)
        slow = trace(appended(rows, [150, 301, 601]), "M", 0, 300 * 1000, Policy.LIBR)
    assert len(fast.nodes) == 601
    assert answer(fast) == answer(slow)
    assert sum(n.cash_out_fen for n in fast.nodes) == 300 * 300
    assert fast.conservation_errors() == []


def test_a_trace_wider_than_the_first_tables_is_traced_again_in_larger_ones() -> None:
    """A victim's money split over 300 mules, each passing it on: hundreds of nodes and edges,
    past the first tables (64 nodes), the same as the general tracer's."""
    rows: list[Row] = [("V", "M", 0, 300 * 1000)]
    for i in range(300):
        rows.append(("M", f"A{i}", 1 + i, 1000))
        rows.append((f"A{i}", f"B{i}", 400 + i, 600))
        rows.append((f"B{i}", "ATM1", 800 + i, 300, "ATM"))
    fast = trace(Ledger.build(table(rows)), "M", 0, 300 * 1000, Policy.LIBR)
    slow = trace(general(Ledger.build(table(rows))), "M", 0, 300 * 1000, Policy.LIBR)
    assert len(fast.nodes) == 601  # M, the A and B mules (the ATM ends a branch)
    assert shape(fast) == shape(slow)
    assert fast.followed == slow.followed and fast.touched == slow.touched
    assert sum(n.cash_out_fen for n in fast.nodes) == 300 * 300
    assert fast.conservation_errors() == []
    assert all(e.ts >= S for e in fast.edges)


def _csr(pairs: list[tuple[int, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The CSR of the distinct pairs (each payer's payees, sorted) over ``n`` accounts."""
    ordered = sorted(set(pairs))
    off = np.zeros(n + 1, I64)
    np.cumsum(np.bincount([a for a, _ in ordered], minlength=n), out=off[1:])
    return off, np.array([b for _, b in ordered], np.int32)


def _reached(pairs: list[tuple[int, int]], seed: int, hops: int) -> set[int]:
    """The accounts reached from ``seed`` within ``hops`` steps, breadth first over sets."""
    reached: set[int] = set()
    frontier = {seed}
    for _ in range(hops):
        frontier = {b for a, b in set(pairs) if a in frontier} - reached
        reached |= frontier
    return reached


def _graphs(n: int) -> st.SearchStrategy[list[tuple[int, int]]]:
    """Pairs over ``n`` accounts: a few (isolated accounts), or many (most accounts paid by
    three and more: the bottom-up step's rounds); self-loops and cycles among them."""
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
    return st.lists(pair, max_size=n // 2) | st.lists(pair, min_size=4 * n, max_size=6 * n)


@settings(max_examples=80, deadline=None)
@given(_graphs(70), st.integers(0, 69), st.integers(0, 5), st.integers(0, 3), st.data())
def test_reach_compiled_and_plain_are_breadth_first_search(
    pairs: list[tuple[int, int]], seed: int, hops: int, dense: int, data: st.DataObject
) -> None:
    """Over a CSR of 70 accounts (two bitmap words and a part), sparse and dense steps, top
    down, bottom up (``wide`` 0: every step after the first) and as :data:`BOTTOM_UP` picks;
    the 16 busiest payers (all, but for 16 at most, with 70 accounts) marked by their rows."""
    n = 70
    off, to = _csr(pairs, n)
    wide = data.draw(st.sampled_from([0, kernels.BOTTOM_UP, len(to) + 1]))
    reached = _reached(pairs, seed, hops)
    back = payers_of(off, to)
    busy = busy_of(off, to, back)
    for r, u in enumerate(busy.accounts):  # n // BUSY: 0, any payer
        for depth, row in enumerate(busy.rows[:, r], start=1):
            marked = np.unpackbits(row.view(np.uint8), bitorder="little")
            assert set(np.flatnonzero(marked)) == _reached(pairs, int(u), depth)
    for form in (kernels.reach, plain(kernels.reach)):
        seen, front, cover = (np.zeros(2, np.uint64) for _ in range(3))
        found, at = np.zeros(n + 9, I64), np.zeros(n + 9, I64)
        count = form(
            off, to, busy.accounts, busy.rows, *back, seed, hops, dense, wide, seen, front,
            cover, found, at,
        )  # fmt: skip
        assert not front.any() and not cover.any()
        assert count == int(np.bitwise_count(seen).sum()) == len(reached)
        for take in (kernels.take_bits, plain(kernels.take_bits)):
            out = np.zeros(count + 8, I64)
            bits = seen.copy()
            take(bits, out, count)
            assert out[:count].tolist() == sorted(reached) and not bits.any()


def _bits(accounts: set[int], words: int) -> np.ndarray:
    bits = np.zeros(words, np.uint64)
    for v in accounts:
        bits[v >> 6] |= np.uint64(1) << np.uint64(v & 63)
    return bits


@settings(max_examples=60, deadline=None)
@given(_graphs(150), st.sets(st.integers(0, 149)))
def test_payers_and_a_bottom_up_step(pairs: list[tuple[int, int]], seen: set[int]) -> None:
    """The payers of each account, the busiest payers first, compiled and plain; a step bottom
    up from any set of accounts seen finds the accounts paid by one of them, not seen."""
    n = 150
    off, to = _csr(pairs, n)
    payees = np.diff(off)
    back = payers_of(off, to)
    with pytest.MonkeyPatch.context() as patch:  # the same, built by the plain form
        patch.setattr(kernels, "payers", plain(kernels.payers))
        other = payers_of(off, to)
    assert all(np.array_equal(getattr(back, f), getattr(other, f)) for f in back._fields)
    for v in range(n):
        paid_by = sorted({a for a, b in pairs if b == v}, key=lambda a: (-payees[a], a))
        mine = [back.first[v], back.second[v], *back.rest[back.off[v] : back.off[v + 1]]]
        assert mine[: len(paid_by)] == paid_by
        assert mine[len(paid_by) :] == [v] * (2 - len(paid_by))  # none: the account itself
        assert bool(back.more[v >> 6] >> np.uint64(v & 63) & np.uint64(1)) == (len(paid_by) > 2)
    want = {b for a, b in set(pairs) if a in seen} - seen
    for form in (kernels._bottom_up, plain(kernels._bottom_up)):
        new = np.zeros(3, np.uint64)
        form(*back, _bits(seen, 3), new, np.zeros(n, I64), np.zeros(n, I64))
        assert np.array_equal(new, _bits(want, 3))


def test_a_bottom_up_step_in_rounds() -> None:
    """Accounts with many payers, none seen among the first ones (more than a round's
    minimum of them, some past the last round): the same as the payers read one by one."""
    n, paid = 600, 200
    rng = np.random.default_rng(3)
    pairs = [(int(a), b) for b in range(paid) for a in rng.choice(np.arange(paid, n), 14)]
    off, to = _csr(pairs, n)
    back = payers_of(off, to)
    assert sum(int(np.bitwise_count(w)) for w in back.more) > kernels.ROUND_MIN
    for seen in ({*range(paid, n, 7)}, {*range(paid, n, 97)}, set()):
        want = {b for a, b in pairs if a in seen} - seen
        for form in (kernels._bottom_up, plain(kernels._bottom_up)):
            new = np.zeros(10, np.uint64)
            form(*back, _bits(seen, 10), new, np.zeros(n, I64), np.zeros(n, I64))
            assert np.array_equal(new, _bits(want, 10))


def _mixed_bits() -> st.SearchStrategy[set[int]]:
    """Positions in five words: a few (mostly one or two a byte) or about half of them."""
    half = st.lists(st.booleans(), min_size=320, max_size=320)
    return st.sets(st.integers(0, 319)) | half.map(lambda b: {i for i, x in enumerate(b) if x})


@settings(max_examples=80, deadline=None)
@given(_mixed_bits())
def test_take_bits_lists_the_set_bits_in_order(positions: set[int]) -> None:
    """Any mix of bits (a whole byte, none, the top bit), compiled and plain, into 64- and
    32-bit positions."""
    bits = np.zeros(5, np.uint64)
    for p in positions:
        bits[p >> 6] |= np.uint64(1) << np.uint64(p & 63)
    want = sorted(positions)
    for take in (kernels.take_bits, plain(kernels.take_bits)):
        for out in (np.full(len(want) + 8, -1, I64), np.full(len(want) + 8, -1, np.int32)):
            seen = bits.copy()
            take(seen, out, len(want))
            assert out[: len(want)].tolist() == want and not seen.any()
            assert (out[len(want) + 3 :] == -1).all()  # 3 spare places at most written


@given(st.integers(0, 2**64 - 1))
def test_trailing_zeros_compiled_and_plain(x: int) -> None:
    """The machine's count and Python's agree, the top bit, the lowest and none included."""
    low = (x & -x).bit_length() - 1 if x else 64
    word = np.uint64(x)
    assert kernels._trailing_zeros(word) == plain(kernels._trailing_zeros)(word) == low


Passes = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]


def _partitioned(keys: np.ndarray, numeric: np.ndarray, fen: np.ndarray, top: int) -> Passes:
    """The build's two passes over keys by slot: the entries (shift 5), signed amounts, ids by
    slot, offsets, accounts and fen moved."""
    m = len(keys)
    first_other = 1 << (64 - top) if top < 64 else 1
    others = int(keys[~numeric].max(initial=0)) + 1
    bounds = np.zeros(first_other + (others >> kernels.OTHER_BITS) + 2, I64)
    kernels.bucket_sizes(keys, numeric, top, first_other, bounds[1:])
    np.cumsum(bounds, out=bounds)
    packed, signed = np.zeros(2 * m, I64), np.zeros(m, I64)
    moved = kernels.partition(keys, numeric, fen, top, first_other, bounds[:-1].copy(),
                              packed.view(np.uint64), packed, signed)  # fmt: skip
    ids, out_keys, off = np.zeros(m, np.int32), np.zeros(m, np.uint64), np.zeros(m + 1, I64)
    largest = max(1, int(np.diff(bounds).max()))
    table = np.zeros(1 << (2 * largest - 1).bit_length(), np.int32)
    count = kernels.number(
        bounds, first_other, 5, packed.view(np.uint64), packed, signed, ids, out_keys, off,
        table, np.zeros(largest, np.uint64), np.zeros(largest, I64),
        np.zeros(largest, np.int32), np.zeros(largest, I64), np.zeros(largest, I64),
    )  # fmt: skip
    return packed[:m].copy(), signed, ids, off[:count], count, moved


def _plain_passes(patch: pytest.MonkeyPatch) -> None:
    """The build's kernels as plain Python, the kernels they call too."""
    for name in ("bucket_sizes", "partition", "number", "bucket_of", "_distinct"):
        patch.setattr(kernels, name, plain(getattr(kernels, name)))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 50)), max_size=12),
    st.sampled_from([64, 63, 62, 60]),
)
def test_the_build_passes_put_entries_in_key_order(
    rows: list[tuple[int, int, int]], top: int
) -> None:
    """Keys 0-9 (odd ones: another identifier's id), spread over the top bits or not: entries
    in (key, slot) order, digit-only accounts first, numbered in that order; compiled ==
    plain."""
    n = len(rows)
    spread = np.array([0, 1 << 63, 1 << 62, 3 << 62, 1 << 61, 5, 7 << 61, 9, 1 << 60, 11],
                      np.uint64)  # fmt: skip
    codes = [c for r in rows for c in r[:2]]
    keys = np.array([spread[c] if c % 2 == 0 else c for c in codes], np.uint64)
    numeric = np.array([c % 2 == 0 for c in codes], bool)
    fen = np.array([r[2] for r in rows], I64)
    got = _partitioned(keys, numeric, fen, top)
    with pytest.MonkeyPatch.context() as patch:
        _plain_passes(patch)
        slow = _partitioned(keys, numeric, fen, top)
    for a, b in zip(got, slow, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    entry, signed, ids, off, count, moved = got
    order = sorted(range(2 * n), key=lambda s: (not numeric[s], int(keys[s]), s))
    assert (entry & 31).tolist() == order  # the slots (shift 5)
    accounts = sorted({(not numeric[s], int(keys[s])) for s in range(2 * n)})
    assert count == len(accounts)
    owner = [(not numeric[s], int(keys[s])) for s in range(2 * n)]
    assert [accounts[a] for a in ids.tolist()] == owner
    assert (entry >> 5).tolist() == [ids[s] for s in order]
    selves = [owner[2 * r] == owner[2 * r + 1] for r in range(n)]
    want = [0 if selves[s // 2] else (fen[s // 2] if s % 2 else -fen[s // 2]) for s in order]
    assert signed.tolist() == want
    assert moved == sum(int(f) for f, same in zip(fen, selves, strict=True) if not same)
    firsts = [next(j for j, s in enumerate(order) if ids[s] == a) for a in range(count)]
    assert off.tolist() == firsts


def test_a_late_account_sends_only_the_traces_that_reach_it_elsewhere() -> None:
    """An account with late appends (a transfer earlier than one already indexed) has no view:
    a trace whose money reaches it is traced as before (the general tracer); one that never
    reaches it keeps the compiled walk over the runs, with the answer of the tracer over
    views."""
    rows: list[Row] = [("V", "M", 0, 1000), ("M", "N", 10, 900), ("N", "ATM1", 20, 800, "ATM")]
    rows += [("W", "P", 0, 500), ("P", "Q", 10, 400), ("L", "Z", 50, 10)]
    ledger = Ledger.build(table(rows))
    ledger.append(table([("P", "R", 30, 100), ("Q", "S", 40, 50)]))
    ledger.append(table([("Y", "L", 5, 70), ("X", "N", 60, 20)]))  # L: earlier than its 50 s
    assert ledger.deltas and ledger.late == {ledger.account_id("L")}
    called: list[bool] = []
    real = trace_module._libr_runs

    def spy(*args: object) -> object:
        found = real(*args)  # type: ignore[arg-type]
        called.append(found is not None)
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trace_module, "_libr_runs", spy)
        compiled = trace(ledger, "P", 0, 500, Policy.LIBR)
    assert called == [True]  # never reaches L: compiled
    view_case = Case(rows, "P", 0, 500, 6, 72 * 3600, None)
    assert answer(compiled) == answer(viewed(view_case, ledger))
    late = Ledger.build(table([*rows, ("Z", "T", 70, 5)]))
    late.append(table([("K", "Z", 1, 3)]))  # Z late: a transfer before its indexed 70 s
    late.append(table([("M", "Z", 80, 100)]))  # M's money goes on to Z
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trace_module, "_libr_runs", spy)
        through = trace(late, "M", 0, 1000, Policy.LIBR)
    assert called[-1] is False  # the walk stopped at the late account …
    assert {n.account for n in through.nodes} >= {"M", "N", "Z"}  # … traced on to it
    assert through.conservation_errors() == []
