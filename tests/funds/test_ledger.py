"""The ledger index: every account's transfers in (ts, seq) order, whether built at once or
appended to; bad records refused with their row, field and reason."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.funds import ledger as ledger_module
from fanzha.funds.ledger import CashOutRule, Ledger, LedgerError, Lender

from .builders import Row, S, table

#: letters, digit-only numbers (held as integers), one with a leading zero that must not
#: meet its twin without it, one too long for 64 bits, and an IBAN
ACCOUNTS = [
    "A",
    "6222021001123456789",
    "123",
    "0123",
    "99999999999999999999",
    "GB82WEST12345698765432",
]


def rows_among(accounts: list[str]) -> st.SearchStrategy[list[Row]]:
    """Up to 30 transfers between ``accounts`` (payer, payee, second, fen)."""
    return st.lists(
        st.tuples(
            st.sampled_from(accounts),
            st.sampled_from(accounts),
            st.integers(0, 6),
            st.integers(0, 50),
        ),
        max_size=30,
    )


ROWS = rows_among(ACCOUNTS)


def brute(rows: list[Row], account: str) -> list[tuple[int, int, bool, str, int]]:
    """(ts, seq, paid, counterparty, fen) of every transfer of ``account``, in order."""
    found = []
    for seq, r in enumerate(rows):
        if r[0] == r[1]:
            continue
        if r[0] == account:
            found.append((r[2] * S, seq, True, r[1], r[3]))
        elif r[1] == account:
            found.append((r[2] * S, seq, False, r[0], r[3]))
    return sorted(found)


def seen(ledger: Ledger, account: str) -> list[tuple[int, int, bool, str, int]]:
    acc = ledger.account_id(account)
    if acc is None:
        return []
    ev = ledger.events(acc)
    return [
        (int(t), int(q), bool(o), ledger.account(int(x)), int(f))
        for t, q, o, x, f in zip(ev.ts, ev.seq, ev.out, ev.other, ev.fen, strict=True)
    ]


@given(ROWS, st.integers(0, 30), st.integers(1, 4))
@settings(max_examples=150, deadline=None)
def test_events_match_a_brute_force_scan_built_or_appended(
    rows: list[Row], cut: int, pieces: int
) -> None:
    cut = min(cut, len(rows))
    built = Ledger.build(table(rows))
    grown = Ledger.build(table(rows[:cut]))
    rest = rows[cut:]
    step = max(1, len(rest) // pieces)
    for i in range(0, len(rest), step):
        grown.append(table(rest[i : i + step]))
    assert len(built) == len(grown) == len(rows)
    for account in ACCOUNTS:
        assert seen(built, account) == brute(rows, account)
        assert seen(grown, account) == brute(rows, account)
    grown.compact()
    assert not grown.deltas
    for account in ACCOUNTS:
        assert seen(grown, account) == brute(rows, account)


@given(ROWS, st.integers(0, 30), st.integers(1, 4), st.integers(1, 3), st.integers(0, 7))
@settings(max_examples=150, deadline=None)
def test_windows_read_the_events_a_window_at_a_time(
    rows: list[Row], cut: int, pieces: int, size: int, since: int
) -> None:
    """Built and appended to (out of time order too, so some accounts are late): the
    windows of an account, one after the other, are its events after a moment."""
    grown = Ledger.build(table(rows[:cut]))
    rest = rows[cut:]
    step = max(1, len(rest) // pieces)
    for i in range(0, len(rest), step):
        grown.append(table(rest[i : i + step]))
    for account in ACCOUNTS:
        acc = grown.account_id(account)
        if acc is None:
            continue
        after, before = (since * S, 2), (6 * S, 10**9)
        windows = list(grown.windows(acc, after, before, size))
        assert acc in grown.late or all(len(w) <= size << k for k, w in enumerate(windows))
        read = [
            (int(t), int(q), bool(o), int(x), int(f))
            for w in windows
            for t, q, o, x, f in zip(w.ts, w.seq, w.out, w.other, w.fen, strict=True)
        ]
        ev = grown.events(acc, after, before)
        assert read == list(
            zip(ev.ts.tolist(), ev.seq.tolist(), ev.out.tolist(), ev.other.tolist(),
                ev.fen.tolist(), strict=True)
        )  # fmt: skip


def test_event_windows_are_strict_on_both_sides() -> None:
    rows: list[Row] = [("A", "B", 1, 10), ("A", "C", 2, 20), ("B", "A", 2, 30), ("A", "D", 3, 40)]
    ledger = Ledger.build(table(rows))
    a = ledger.account_id("A")
    assert a is not None
    ev = ledger.events(a, after=(2 * S, 1), before=(3 * S, 3))
    assert ev.seq.tolist() == [2]
    assert ledger.inflows(a, 0, 10 * S).seq.tolist() == [2]


def test_deltas_merge_into_one_run_then_into_the_main_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "MIN_COMPACT_ROWS", 12)
    ledger = Ledger.build(table([("A", "B", 0, 1)] * 4))
    for i in range(ledger_module.MAX_DELTA_RUNS + 1):
        ledger.append(table([("B", f"N{i}", i, 1)]))
    assert len(ledger.deltas) == 1  # nine runs merged into one
    ledger.append(table([("C", "D", 20, 1)] * 3))  # 12 delta rows ≥ 12 and > 4 / 4
    assert not ledger.deltas and len(ledger) == 16
    assert ledger.account_id("N8") is not None and ledger.accounts == 13


def test_accounts_are_interned_once_and_named_back() -> None:
    ledger = Ledger.build(table([("A", "900", 0, 1), ("900", "A", 1, 1), ("0900", "18", 1, 1)]))
    ledger.append(table([("900", "Z", 2, 1), ("Z", "A", 3, 1), ("7", "18", 3, 1)]))
    names = ("A", "900", "0900", "18", "Z", "7")
    ids = {name: ledger.account_id(name) for name in names}
    assert sorted(i for i in ids.values() if i is not None) == list(range(6))
    assert all(ledger.account(i) == name for name, i in ids.items() if i is not None)
    assert ledger.account_id("nobody") is None and ledger.account_id("901") is None


def _sharing_top_bits(low_bits: int, count: int) -> list[str]:
    """Digit-only account numbers whose keys differ only in their ``low_bits`` lowest bits
    (made by undoing the key's mixing)."""
    rng = random.Random(6)
    while True:
        base = rng.getrandbits(64) >> low_bits << low_bits
        codes = [ledger_module._unmix(base | j) for j in range(1 << low_bits)]
        fit = [str(c) for c in codes if 0 < c < 10**19]
        if len(fit) >= count:
            return fit[:count]


def test_accounts_whose_keys_share_their_top_bits_are_kept_apart() -> None:
    """The build sorts digit-only accounts by the top bits of their key: three accounts
    sharing them keep their own ids, names and transfers, built or appended to."""
    a, b, c = _sharing_top_bits(6, 3)
    rows: list[Row] = [
        (a, b, 0, 10), (b, c, 1, 5), (c, a, 2, 3), (a, "X", 3, 2), (b, a, 4, 1), (c, b, 5, 7),
    ]  # fmt: skip
    ledger = Ledger.build(table(rows))
    assert ledger.main is not None and 62 - ledger.main.shift == 58  # keys share 58 top bits
    keys = ledger_module._mix(np.array([int(x) for x in (a, b, c)], np.uint64))
    assert len(set((keys >> np.uint64(6)).tolist())) == 1 and len(set(keys.tolist())) == 3
    grown = Ledger.build(table(rows[:3]))
    grown.append(table(rows[3:]))
    for built in (ledger, grown):
        ids = {name: built.account_id(name) for name in (a, b, c, "X")}
        assert len(set(ids.values())) == 4 and None not in ids.values()
        for name in (a, b, c, "X"):
            assert built.account(ids[name]) == name  # type: ignore[arg-type]
            assert seen(built, name) == brute(rows, name)


def test_slices_of_a_table_are_interned_like_the_table() -> None:
    """Built from and appended with slices (arrays that start at an offset into their
    buffers), digit-only and other accounts are found again, not given new ids."""
    rows: list[Row] = [(ACCOUNTS[i % 6], ACCOUNTS[(i * 5 + 1) % 6], i, i + 1) for i in range(40)]
    whole = table(rows)
    ledger = Ledger.build(whole.slice(5, 8))
    for start in range(13, 40, 9):
        ledger.append(whole.slice(start, 9))
    kept = rows[5:]
    for account in ACCOUNTS:
        assert seen(ledger, account) == brute(kept, account)
    assert ledger.accounts == len({a for r in kept for a in r[:2]})


def test_cash_out_points_come_from_channel_note_and_payee_name() -> None:
    t = pa.table(
        {
            "payer_account": ["A"] * 6,
            "payee_account": ["ATM010001", "M", "OTC", "G", "B", "C"],
            "ts": pa.array(range(6), pa.int64()),
            "amount_fen": pa.array([100] * 6, pa.int64()),
            "channel": ["ATM", " pos ", "mobile", "mobile", "mobile", None],
            "remittance": [None, None, "USDT", None, "房租", None],
            "payee_name": [None, None, None, "周大福购金", None, None],
        }
    )
    assert CashOutRule().flags(t).tolist() == [True, True, True, True, False, False]
    assert CashOutRule(channels=frozenset(), keywords=()).flags(t).tolist() == [False] * 6


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"amount_fen": pa.array([5, -1, 3], pa.int64())}, "amount_fen", "negative amount"),
        ({"amount_fen": pa.array([5, None, 3], pa.int64())}, "amount_fen", "missing amount"),
        ({"payee_account": pa.array(["B", "", "C"])}, "payee_account", "missing account"),
        ({"payer_account": pa.array(["A", None, "C"])}, "payer_account", "missing account"),
        ({"ts": pa.array([1, None, 3], pa.int64())}, "ts", "missing time"),
    ],
)
def test_a_bad_record_is_refused_with_its_row_field_and_reason(
    change: dict[str, pa.Array], field: str, reason: str
) -> None:
    good = table([("A", "B", 1, 5), ("A", "C", 2, 7), ("C", "B", 3, 3)])
    ledger = Ledger.build(good)
    bad = good
    for name, column in change.items():
        bad = bad.set_column(bad.column_names.index(name), name, column)
    with pytest.raises(LedgerError) as caught:
        ledger.append(bad)
    assert (caught.value.row, caught.value.field, caught.value.event_id) == (1, field, "T00001")
    assert reason in str(caught.value) and "row 1 (event_id T00001)" in str(caught.value)
    assert len(ledger) == 3 and not ledger.deltas  # the good data is untouched
    with pytest.raises(LedgerError):
        Ledger.build(bad)


def test_wrong_column_types_are_refused() -> None:
    good = table([("A", "B", 1, 5)])
    with pytest.raises(LedgerError, match="amount_fen: expected integer fen"):
        Ledger.build(good.set_column(4, "amount_fen", pa.array([5.0])))
    with pytest.raises(LedgerError, match="column missing"):
        Ledger.build(good.drop_columns(["ts"]))
    with pytest.raises(LedgerError, match="time zone"):
        Ledger.build(good.set_column(3, "ts", pa.array([1], pa.timestamp("us"))))


def test_timestamps_of_any_unit_become_microseconds() -> None:
    base = table([("A", "B", 7, 5)])
    for unit in ("s", "ms", "us", "ns"):
        ts = (
            pa.array([7], pa.int64())
            .cast(pa.timestamp("s", tz="UTC"))
            .cast(pa.timestamp(unit, tz="UTC"))
        )
        ledger = Ledger.build(base.set_column(3, "ts", ts))
        assert ledger.main is not None and ledger.main.ts.tolist() == [7 * S]
    assert np.array_equal(Ledger.build(table([])).main.ts, np.zeros(0, np.int64))  # type: ignore[union-attr]


@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=40),
    st.integers(0, 39),
    st.integers(0, 7),
    st.integers(1, 4),
    st.booleans(),
)
@settings(deadline=None)  # the first example loads the compiled search
def test_reachable_is_breadth_first_search(
    pairs: list[tuple[int, int]], split: int, seed: int, hops: int, padded: bool
) -> None:
    """Reachability over the main run and a delta run equals a plain BFS (a seed reaches
    itself only through a cycle); ``padded``: among many accounts, so that the answer is
    the sorted parts, not the visited mask."""
    rows = [(f"A{a}", f"A{b}", i, 100) for i, (a, b) in enumerate(pairs)]
    if padded:
        rows = [(f"P{i}", f"Q{i}", 0, 1) for i in range(200)] + rows
    ledger = Ledger.build(table(rows[:split]) if split else table(rows[:1]))
    if split < len(rows):
        ledger.append(table(rows[max(split, 1) :]))
    start = ledger.account_id(f"A{seed}")
    if start is None:
        return
    reached: set[str] = set()
    frontier = {f"A{seed}"}
    for _ in range(hops):
        frontier = {b for a, b, _, _ in rows if a in frontier} - reached
        reached |= frontier
    got = {ledger.account(int(i)) for i in ledger.reachable(start, hops)}
    assert got == reached
    assert set(ledger.reachable(start, hops).tolist()) == set(
        ledger.reachable(start, hops).tolist()
    )  # the scratch mask was cleared


def test_lender_lends_a_buffer_only_while_no_array_views_it() -> None:
    lender = Lender(10)
    first = lender.buffer(8)[:5]  # an answer: a view of the first buffer
    lent = id(first.base)  # (not the buffer itself: a reference would hold it)
    second = lender.buffer(8)
    assert not np.shares_memory(first, second)  # held: the other buffer
    held = second[:3][1:]  # a view of a view holds the buffer too
    del second
    fresh = lender.buffer(8)
    assert not np.shares_memory(fresh, first) and not np.shares_memory(fresh, held)
    del first
    again = lender.buffer(8)
    assert id(again) == lent  # dropped: lent again
    assert not np.shares_memory(again, lender.buffer(1))  # ``again`` holds it now
    assert not np.shares_memory(lender.buffer(11), again)  # too large for any buffer: fresh
    assert lender.nbytes == 2 * 10 * 4


def test_large_answers_held_by_the_caller_are_never_overwritten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every answer lent (``LEND_MIN`` 1), some held, some dropped: each held answer keeps
    the accounts it had, and every answer equals one made afresh."""
    monkeypatch.setattr(ledger_module, "LEND_MIN", 1)
    rng = random.Random(7)
    rows = [(f"A{rng.randrange(40)}", f"A{rng.randrange(40)}", i, 1) for i in range(300)]
    ledger = Ledger.build(table(rows))
    plain = Ledger.build(table(rows))
    monkeypatch.setattr(ledger_module, "LEND_MAX_ACCOUNTS", -1)  # ``plain``: no buffers
    n = ledger.accounts
    expected = {(a, h): plain.reachable(a, h).tolist() for a in range(n) for h in (1, 2)}
    monkeypatch.setattr(ledger_module, "LEND_MAX_ACCOUNTS", 1 << 24)
    held: list[tuple[np.ndarray, list[int]]] = []
    for k in range(200):
        a, h = rng.randrange(n), rng.choice((1, 2))
        got = ledger.reachable(a, h)
        assert got.tolist() == expected[(a, h)]
        if k % 3 == 0:
            held.append((got, expected[(a, h)]))
        if k % 7 == 0 and held:
            held.pop(rng.randrange(len(held)))
        for answer, accounts in held:
            assert answer.tolist() == accounts
    assert ledger._lender is not None and plain._lender is None


def replayed(rows: list[Row], account: str, until: int) -> list[tuple[int, int]]:
    """(least balance, money in so far) after each transfer of ``account`` up to ``until``
    (s), from a replay of its transfers in order (never below zero)."""
    balance, money_in, expected = 0, 0, []
    for r in rows:
        if r[2] > until or account not in (r[0], r[1]):
            continue
        if r[0] == r[1]:  # both sides stay in the view, moving nothing
            expected += [(balance, money_in)] * 2
            continue
        balance = max(0, balance - r[3]) if r[0] == account else balance + r[3]
        money_in += r[3] if r[1] == account else 0
        expected.append((balance, money_in))
    return expected


def viewed(ledger: Ledger, account: str, until: int) -> list[tuple[int, int]] | None:
    """What a view of ``account`` up to ``until`` (s) holds, as :func:`replayed` makes it."""
    acc = ledger.account_id(account)
    if acc is None:
        return None
    view = ledger.view(acc, until * S)
    assert view is not None
    assert view.balance(-1) == 0 and view.until(until * S) == len(view)
    return [(view.balance(k), view.money_in(k)) for k in range(len(view))]


@given(ROWS, st.integers(0, 30), st.integers(1, 4), st.integers(0, 7))
@settings(max_examples=150, deadline=None)
def test_views_hold_the_least_balance_after_every_transfer(
    rows: list[Row], cut: int, pieces: int, until: int
) -> None:
    """Built at once or appended to in time order: a view's balance after each transfer
    is the least balance from a replay of the account's transfers (never below zero)."""
    rows = sorted(rows, key=lambda r: r[2])
    grown = Ledger.build(table(rows[:cut]))
    rest = rows[cut:]
    step = max(1, len(rest) // pieces)
    for i in range(0, len(rest), step):
        grown.append(table(rest[i : i + step]))
    for ledger in (Ledger.build(table(rows)), grown):
        for account in ACCOUNTS:
            got = viewed(ledger, account, until)
            assert got is None or got == replayed(rows, account, until)


#: three digit-only accounts whose keys share their top bits, among accounts on either side
SHARING = [*_sharing_top_bits(6, 3), "100", "9" * 19, "B"]


@given(rows_among(SHARING))
@settings(max_examples=100, deadline=None)
def test_accounts_sharing_top_bits_keep_their_own_transfers_and_balances(
    rows: list[Row],
) -> None:
    """Accounts put apart by the build (keys sharing their top bits), with transfers to
    themselves and to accounts sorted before and after them: each keeps its own transfers,
    balances and money in, and every other account its own."""
    rows = sorted(rows, key=lambda r: r[2])
    ledger = Ledger.build(table(rows))
    for account in SHARING:
        assert seen(ledger, account) == brute(rows, account)
        got = viewed(ledger, account, 6)
        assert got is None or got == replayed(rows, account, 6)
    ids = {ledger.account_id(a) for r in rows for a in r[:2]}
    assert None not in ids and sorted(ids) == list(range(ledger.accounts))  # type: ignore[type-var]


def test_late_appends_mark_their_accounts_until_compaction() -> None:
    ledger = Ledger.build(table([("A", "B", 5, 10), ("B", "C", 6, 10)]))
    ledger.append(table([("C", "D", 7, 1)]))
    assert not ledger.late  # every account's new transfers come after its old ones
    ledger.append(table([("E", "B", 4, 1), ("F", "G", 1, 1)]))  # B had a transfer at 6 s
    b = ledger.account_id("B")
    assert ledger.late == {b} and ledger.view(b, 10 * S) is None  # type: ignore[arg-type]
    ledger.compact()
    assert not ledger.late and ledger.view(b, 10 * S) is not None  # type: ignore[arg-type]
