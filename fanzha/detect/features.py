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

from dataclasses import dataclass, field

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
    running_count,
    running_max,
    running_sum,
)

_CONTACT_KINDS = (K.CALL, K.SMS, K.VISIT, K.INSTALL, K.PAY)
#: A call at least this long (s) counts in ``long_calls``: the grooming calls of the seeds last
#: many minutes, while missed calls and quick hang-ups are noise.
LONG_CALL_S = 300


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
            base = self.payers.get(f.cp[rows])
            payers[rows] = base + running_sum(f.cp[rows], new.astype(np.int64))
            np.add.at(self.payers.data, f.cp[rows], new.astype(np.int64))
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
        first_all = np.full(rows.size, NEVER, np.int64)
        reach_all = np.zeros(rows.size, np.int64)
        if rows.size:
            at, subject = f.at[rows], f.subject[rows]
            prior_first = self.first_at.get(ids)
            batch_first = running_max(ids, -at, inclusive=True)  # -(min at so far)
            first_all = np.minimum(prior_first, -batch_first)
            np.minimum.at(self.first_at.data, ids, at)
            # Rows without a subject reach no one (they must not count as some subject's).
            new = np.zeros(rows.size, np.bool_)
            known = np.flatnonzero(subject >= 0)
            new[known] = self.pairs.is_new(pair_keys(ids[known], subject[known]), at[known])
            reach_all = self.subjects.get(ids) + running_sum(ids, new.astype(np.int64))
            np.add.at(self.subjects.data, ids, new.astype(np.int64))
        out = []
        for which in (0, 1):
            first = np.full(n, NEVER, np.int64)
            reach = np.zeros(n, np.int64)
            mine = slot == which
            first[rows[mine]] = first_all[mine]
            reach[rows[mine]] = reach_all[mine]
            out.append((first, reach))
        return out[0], out[1]


def _rising_runs(rising: np.ndarray, first: np.ndarray, before: I64) -> I64:
    """For rows grouped by subject (``first``: a group's first row), the run of rising rows
    ending at each row: 0 where it does not rise, else one more than the row before (before a
    group's first row: ``before``, the subject's run so far, read at that row)."""
    pos = np.arange(rising.size)
    start = np.maximum.accumulate(np.where(first, pos, 0))  # the row's group starts here
    reset = np.maximum.accumulate(np.where(rising, -1, pos))  # the last row not rising
    # Since a reset in the group: rows since it; with none yet: the run carried in, plus
    # every row of the group so far.
    out: I64 = np.where(reset >= start, pos - reset, before[start] + pos - start + 1)
    return out


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
        recv = f.kind == int(K.RECEIVE)
        recv_at = np.where(recv, f.at, NONE)
        before = running_max(s, recv_at, inclusive=True)
        f.features["recv_at"] = np.maximum(before, self.recv_at.get(s))
        if recv.any():
            np.maximum.at(self.recv_at.data, s[recv], f.at[recv])

    def _long_calls(self, f: Frame, s: I64) -> I64:
        """Long calls so far between this subject and this number (this row included)."""
        keys = pair_keys(s, np.maximum(f.cp, 0))
        counted = (f.kind == int(K.CALL)) & (f.dur >= LONG_CALL_S)
        out = np.zeros(len(f), np.int64)
        rows = np.flatnonzero(counted & (f.cp >= 0))
        if rows.size == 0:
            return out
        k = keys[rows]
        uniq, inverse = np.unique(k, return_inverse=True)
        prior, where = self.long_calls.lookup(uniq, 0)
        out[rows] = prior[inverse] + running_count(k) + 1
        self.long_calls.put_many(uniq, prior + np.bincount(inverse, minlength=uniq.size), where)
        return out

    def _amounts(self, f: Frame, s: I64, pay: I64) -> None:
        n = len(f)
        out_max = np.zeros(n, np.int64)
        out_n = np.zeros(n, np.int64)
        prev = np.zeros(n, np.int64)
        run = np.zeros(n, np.int64)
        if pay.size:
            subj, amt = s[pay], f.amount[pay]
            out_max[pay] = np.maximum(
                self.out_max.get(subj), running_max(subj, amt, inclusive=False, floor=0)
            )
            count = running_count(subj)
            out_n[pay] = self.out_n.get(subj) + count
            # Previous amount of the same subject, and the run of rising amounts ending here.
            order = np.argsort(subj, kind="stable")
            so, sa = subj[order], amt[order]
            first = np.r_[True, so[1:] != so[:-1]]
            p = np.empty(pay.size, np.int64)
            p[1:] = sa[:-1]
            p[first] = self.last_amount.get(so[first])
            rising = (sa > p) & (p > 0)  # the first payment ever is not a rise
            runs = _rising_runs(rising, first, self.up_run.get(so))
            prev_s = np.empty(pay.size, np.int64)
            prev_s[order] = p
            run_s = np.empty(pay.size, np.int64)
            run_s[order] = runs
            prev[pay], run[pay] = prev_s, run_s
            last = np.r_[so[1:] != so[:-1], True]
            self.last_amount.ensure(int(so.max()) + 1)
            self.up_run.ensure(int(so.max()) + 1)
            self.last_amount.data[so[last]] = sa[last]
            self.up_run.data[so[last]] = runs[last]
            self.out_max.get(subj)
            self.out_n.get(subj)
            np.maximum.at(self.out_max.data, subj, amt)
            np.add.at(self.out_n.data, subj, 1)
        f.features["out_max_before"] = out_max
        f.features["out_n_before"] = out_n
        f.features["prev_amount"] = prev
        f.features["up_run"] = run

    def exposure(self, f: Frame, hit: np.ndarray) -> None:
        """``exposed_at``: the last fraud contact of the subject up to this row (inclusive)."""
        s = np.maximum(f.subject, 0)
        mark = np.where(hit, f.at, NONE)
        f.features["exposed_at"] = np.maximum(
            running_max(s, mark, inclusive=True), self.exposed.get(s)
        )
        if hit.any():
            np.maximum.at(self.exposed.data, s[hit], f.at[hit])
