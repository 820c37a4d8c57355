"""Features: what the engine remembers between events, computed for whole micro-batches.

Two keyed stages, as they would run on different workers:

* **counterparty** state (keyed by the number, domain, app or account on the other side): when
  it was first seen, how many distinct subjects it reached, when its SIM was activated or its
  account opened, how many distinct payers paid into it;
* **subject** state (keyed by the person): contacts per counterparty, payees seen before,
  links received by SMS, outgoing amounts, money received from outside, and the last moment of
  a fraud contact (``exposed_at``, filled after the contact rules ran).

Each feature value is what a per-event loop would have had at that row, batch boundaries
notwithstanding (see ``fanzha.detect.kernels``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from fanzha.detect.frame import F_URL, Frame, K
from fanzha.detect.kernels import (
    I64,
    NEVER,
    NONE,
    Column,
    IntMap,
    KeySeen,
    members,
    pair_keys,
)
from fanzha.jit import kernel

_CONTACT_KINDS = (K.CALL, K.SMS, K.VISIT, K.INSTALL, K.PAY)
#: A call at least this long (s) counts in ``long_calls``: the grooming calls of the seeds last
#: many minutes, while missed calls and quick hang-ups are noise.
LONG_CALL_S = 300


def reserve_columns(state: CounterpartyState | SubjectState, keys: int) -> None:
    """Grow every :class:`Column` of a state dataclass to hold ids below ``keys`` now: a
    column that doubles in a live call costs milliseconds, mostly the page faults of its new
    memory (3 ms for 200,000 ids on the demo's machine)."""
    for f in fields(state):
        column = getattr(state, f.name)
        if isinstance(column, Column):
            column.ensure(keys)


def _is(kind: I64, *kinds: K) -> np.ndarray:
    return members(kind, kinds)


@dataclass
class CounterpartyState:
    """State keyed by counterparty id."""

    first_at: Column = field(default_factory=lambda: Column(np.int64, NEVER))
    born_at: Column = field(default_factory=lambda: Column(np.int64, NEVER))
    subjects: Column = field(default_factory=lambda: Column(np.int64, 0))
    payers: Column = field(default_factory=lambda: Column(np.int64, 0))
    pairs: KeySeen = field(default_factory=KeySeen)
    payer_pairs: KeySeen = field(default_factory=KeySeen)

    def reserve(self, keys: int) -> None:
        """Room for counterparty ids below ``keys`` now (see :func:`reserve_columns`)."""
        reserve_columns(self, keys)

    def update(self, f: Frame) -> None:
        """Fill the counterparty features of ``f`` (sorted by ``at``) and advance the state."""
        n = len(f)
        contact = _is(f.kind, *_CONTACT_KINDS, K.CALL_LIVE) & (f.cp >= 0)
        # Births: SIM activations and account openings name their number / account.
        born = _is(f.kind, K.SIM, K.ACCOUNT) & (f.cp >= 0)
        if born.any():
            ids = f.cp[born]
            cur = self.born_at.get(ids)
            np.minimum.at(self.born_at.data, ids, np.minimum(cur, f.at[born]))
        f.features["cp_born_at"] = self._born(f.cp)
        link = (f.kind == int(K.SMS)) & ((f.flags & F_URL) != 0) & (f.cp2 >= 0)
        (first, reach), (first2, reach2) = self._reach(f, contact, link)
        f.features["cp_first_at"], f.features["cp_subjects"] = first, reach
        f.features["cp2_first_at"], f.features["cp2_subjects"] = first2, reach2
        pay = (f.kind == int(K.PAY)) & (f.cp >= 0)
        payers = np.zeros(n, np.int64)
        if pay.any():
            rows = np.flatnonzero(pay & (f.subject >= 0))
            new = self.payer_pairs.is_new(pair_keys(f.cp[rows], f.subject[rows]), f.at[rows])
            payers[rows] = self.payers.sum_so_far(f.cp[rows], new.astype(np.int64))
        f.features["cp_payers"] = payers

    def _born(self, cp: I64) -> I64:
        out = np.full(cp.size, NEVER, np.int64)
        ok = cp >= 0
        out[ok] = self.born_at.get(cp[ok])
        return out

    def _reach(
        self, f: Frame, contact: np.ndarray, link: np.ndarray
    ) -> tuple[tuple[I64, I64], tuple[I64, I64]]:
        """First-seen time and distinct subjects so far of the counterparty (``contact`` rows)
        and of the linked domain (``link`` rows), in one pass in row order: a domain visited
        and sent as a link in one batch counts both in the order they happened."""
        n = len(f)
        rows1, rows2 = np.flatnonzero(contact), np.flatnonzero(link)
        rows = np.concatenate([rows1, rows2])
        order = np.argsort(rows, kind="stable")
        slot = np.concatenate([np.zeros(rows1.size, np.int64), np.ones(rows2.size, np.int64)])
        rows, slot = rows[order], slot[order]
        ids = np.concatenate([f.cp[rows1], f.cp2[rows2]])[order]
        at, subject = f.at[rows], f.subject[rows]
        # Rows without a subject reach no one (they must not count as some subject's).
        new = np.zeros(rows.size, np.int64)
        known = np.flatnonzero(subject >= 0)
        new[known] = self.pairs.is_new(pair_keys(ids[known], subject[known]), at[known])
        first_all = self.first_at.min_so_far(ids, at)
        reach_all = self.subjects.sum_so_far(ids, new)
        out = []
        for which in (0, 1):
            first = np.full(n, NEVER, np.int64)
            reach = np.zeros(n, np.int64)
            mine = slot == which
            first[rows[mine]] = first_all[mine]
            reach[rows[mine]] = reach_all[mine]
            out.append((first, reach))
        return out[0], out[1]


@kernel
def _amount_rows(
    pay: I64,
    subj: I64,
    amount: I64,
    out_max: I64,
    out_n: I64,
    last: I64,
    up_run: I64,
    max_before: I64,
    n_before: I64,
    prev: I64,
    run: I64,
) -> None:
    """Payment by payment (rows ``pay``, payer ``subj``): the payer's largest payment and
    number of payments before it, its previous amount and the run of rising amounts ending
    here (a rise: more than the previous one, the first ever not counting); the state
    advanced."""
    for i in range(pay.size):
        r, c, a = pay[i], subj[i], amount[pay[i]]
        max_before[r] = out_max[c]
        n_before[r] = out_n[c]
        prev[r] = last[c]
        up_run[c] = up_run[c] + 1 if a > last[c] and last[c] > 0 else 0
        run[r] = up_run[c]
        out_max[c] = max(out_max[c], a)
        out_n[c] += 1
        last[c] = a


@dataclass
class SubjectState:
    """State keyed by subject id."""

    long_calls: IntMap = field(default_factory=IntMap)
    payees: KeySeen = field(default_factory=KeySeen)
    links: KeySeen = field(default_factory=KeySeen)
    out_max: Column = field(default_factory=lambda: Column(np.int64, 0))
    out_n: Column = field(default_factory=lambda: Column(np.int64, 0))
    last_amount: Column = field(default_factory=lambda: Column(np.int64, 0))
    up_run: Column = field(default_factory=lambda: Column(np.int64, 0))
    recv_at: Column = field(default_factory=lambda: Column(np.int64, NONE))
    exposed: Column = field(default_factory=lambda: Column(np.int64, NONE))

    def reserve(self, keys: int) -> None:
        """Room for subject ids below ``keys`` now (see :func:`reserve_columns`)."""
        reserve_columns(self, keys)

    def update(self, f: Frame) -> None:
        """Fill the subject features of ``f`` (all but ``exposed_at``) and advance the state."""
        n = len(f)
        s = np.maximum(f.subject, 0)
        f.features["long_calls"] = self._long_calls(f, s)
        # Payees: the first time this subject paid this account.
        payee_first = np.full(n, NEVER, np.int64)
        pay = np.flatnonzero(f.kind == int(K.PAY))
        if pay.size:
            payee_first[pay] = self.payees.first_at(pair_keys(s[pay], f.cp[pay]), f.at[pay])
        f.features["payee_first_at"] = payee_first
        # Links: the first time this subject received this domain in a text.
        link_rows = np.flatnonzero((f.kind == int(K.SMS)) & (f.cp2 >= 0))
        link_at = np.full(n, NEVER, np.int64)
        if link_rows.size:
            self.links.first_at(pair_keys(s[link_rows], f.cp2[link_rows]), f.at[link_rows])
        visit = np.flatnonzero(f.kind == int(K.VISIT))
        if visit.size:
            link_at[visit] = self.links.get(pair_keys(s[visit], f.cp[visit]), NEVER)
        f.features["link_at"] = link_at
        self._amounts(f, s, pay)
        f.features["recv_at"] = self.recv_at.max_so_far(s, f.at, f.kind == int(K.RECEIVE))

    def _long_calls(self, f: Frame, s: I64) -> I64:
        """Long calls so far between this subject and this number (this row included)."""
        keys = pair_keys(s, np.maximum(f.cp, 0))
        counted = (f.kind == int(K.CALL)) & (f.dur >= LONG_CALL_S)
        out = np.zeros(len(f), np.int64)
        rows = np.flatnonzero(counted & (f.cp >= 0))
        if rows.size == 0:
            return out
        out[rows] = self.long_calls.count(keys[rows])
        return out

    def _amounts(self, f: Frame, s: I64, pay: I64) -> None:
        n = len(f)
        out_max = np.zeros(n, np.int64)
        out_n = np.zeros(n, np.int64)
        prev = np.zeros(n, np.int64)
        run = np.zeros(n, np.int64)
        if pay.size:
            subj = s[pay]
            size = int(subj.max()) + 1
            for col in (self.out_max, self.out_n, self.last_amount, self.up_run):
                col.ensure(size)
            states = (self.out_max.data, self.out_n.data, self.last_amount.data, self.up_run.data)
            rows = (out_max, out_n, prev, run)
            _amount_rows(pay, subj, f.amount, *states, *rows)
        f.features["out_max_before"] = out_max
        f.features["out_n_before"] = out_n
        f.features["prev_amount"] = prev
        f.features["up_run"] = run

    def exposure(self, f: Frame, hit: np.ndarray) -> None:
        """``exposed_at``: the last fraud contact of the subject up to this row (inclusive)."""
        s = np.maximum(f.subject, 0)
        f.features["exposed_at"] = self.exposed.max_so_far(s, f.at, hit)
