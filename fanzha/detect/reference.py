"""The reference engine: the same detection as :class:`~fanzha.detect.engine.Engine`, written
the straightforward way, one event at a time, in plain Python.

It exists to check the batch engine (same input, same batches → the same warnings) and to
measure what the vectorised kernels buy. What it shares with the engine is what is not per
event: building the frame (normalisation, subject resolution, intelligence look-ups), holding
rows back until the watermark, the contact index and retro-correlation, learning indicators at
the end of a batch, and scoring. What it does itself, per event, in ``at`` order: every feature
(with plain dicts for the counterparty and subject state), every rule predicate called on one
event's scalars, the fraud-contact mark (``exposed_at``) between the two rule stages, and the
signals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from fanzha.detect.engine import (
    BatchResult,
    Engine,
    EngineConfig,
    Hits,
    _fraud_hint,
    _strip,
)
from fanzha.detect.features import LONG_CALL_S
from fanzha.detect.frame import COLUMNS, F_URL, Frame, K
from fanzha.detect.intel_view import IntelView
from fanzha.detect.kernels import NEVER, NONE
from fanzha.detect.registry import Registry
from fanzha.detect.rules import RULES, Rule, Target
from fanzha.detect.scoring import Signal

CALL, CALL_LIVE, SMS, VISIT, INSTALL, PAY, RECEIVE, ACCOUNT, SIM = (
    int(K.CALL),
    int(K.CALL_LIVE),
    int(K.SMS),
    int(K.VISIT),
    int(K.INSTALL),
    int(K.PAY),
    int(K.RECEIVE),
    int(K.ACCOUNT),
    int(K.SIM),
)
#: Rows that put a subject in touch with a counterparty (its reach and first sighting).
CONTACT = frozenset((CALL, CALL_LIVE, SMS, VISIT, INSTALL, PAY))


def pair(a: int, b: int) -> int:
    """The key of a pair of ids, exactly as :func:`fanzha.detect.kernels.pair_keys` makes it."""
    return (a << 31) | b


ByKind = dict[tuple[int, int], tuple[Rule, ...]]  # (stage, row kind) → rules, in order


def _by_stage_and_kind(rules: Iterable[Rule]) -> ByKind:
    rules = tuple(rules)
    return {
        (stage, int(k)): tuple(r for r in rules if r.stage == stage and k in r.kinds)
        for stage in (1, 2)
        for k in K
    }


class Row:
    """One event: the frame's columns and its features as attributes holding Python ints."""

    def __init__(self, values: dict[str, int]) -> None:
        self.__dict__.update(values)


@dataclass
class State:
    """Everything remembered between events, in plain dicts and sets."""

    # counterparty state, by counterparty id
    cp_first: dict[int, int] = field(default_factory=dict)  # first contact
    cp_born: dict[int, int] = field(default_factory=dict)  # SIM activated / account opened
    cp_subjects: dict[int, int] = field(default_factory=dict)  # distinct subjects reached
    cp_pairs: set[int] = field(default_factory=set)  # (counterparty, subject) seen
    cp_payers: dict[int, int] = field(default_factory=dict)  # distinct payers
    payer_pairs: set[int] = field(default_factory=set)  # (account, payer) seen
    # subject state, by subject id
    long_calls: dict[int, int] = field(default_factory=dict)  # (subject, number) → long calls
    payees: dict[int, int] = field(default_factory=dict)  # (subject, payee) → first payment
    links: dict[int, int] = field(default_factory=dict)  # (subject, domain) → first link
    out_max: dict[int, int] = field(default_factory=dict)
    out_n: dict[int, int] = field(default_factory=dict)
    last_amount: dict[int, int] = field(default_factory=dict)
    up_run: dict[int, int] = field(default_factory=dict)
    recv_at: dict[int, int] = field(default_factory=dict)
    exposed: dict[int, int] = field(default_factory=dict)

    def features(self, x: dict[str, int]) -> None:
        """Add the features of one event (all but ``exposed_at``) to ``x``; advance the state."""
        kind, cp, cp2, at = x["kind"], x["cp"], x["cp2"], x["at"]
        subject = x["subject"]
        # ---- counterparty stage
        if kind in (SIM, ACCOUNT) and cp >= 0:
            self.cp_born[cp] = min(self.cp_born.get(cp, NEVER), at)
        x["cp_born_at"] = self.cp_born.get(cp, NEVER) if cp >= 0 else NEVER
        if kind in CONTACT and cp >= 0:
            x["cp_first_at"], x["cp_subjects"] = self._reach(cp, subject, at)
        else:
            x["cp_first_at"], x["cp_subjects"] = NEVER, 0
        if kind == SMS and x["flags"] & F_URL and cp2 >= 0:
            x["cp2_first_at"], x["cp2_subjects"] = self._reach(cp2, subject, at)
        else:
            x["cp2_first_at"], x["cp2_subjects"] = NEVER, 0
        payers = 0
        if kind == PAY and cp >= 0 and subject >= 0:
            key = pair(cp, subject)
            if key not in self.payer_pairs:
                self.payer_pairs.add(key)
                self.cp_payers[cp] = self.cp_payers.get(cp, 0) + 1
            payers = self.cp_payers[cp]
        x["cp_payers"] = payers
        if subject < 0:  # no subject, no subject state
            x.update(dict.fromkeys(SUBJECT_FEATURES, 0))
            return
        self._subject(x)

    def _subject(self, x: dict[str, int]) -> None:
        kind, cp, cp2, at = x["kind"], x["cp"], x["cp2"], x["at"]
        s = x["subject"]
        n = 0
        if kind == CALL and cp >= 0 and x["dur"] >= LONG_CALL_S:
            key = pair(s, cp)
            n = self.long_calls[key] = self.long_calls.get(key, 0) + 1
        x["long_calls"] = n
        x["payee_first_at"] = self.payees.setdefault(pair(s, cp), at) if kind == PAY else NEVER
        if kind == SMS and cp2 >= 0:
            self.links.setdefault(pair(s, cp2), at)
        x["link_at"] = self.links.get(pair(s, cp), NEVER) if kind == VISIT else NEVER
        if kind == PAY:
            amount = x["amount"]
            most, count = self.out_max.get(s, 0), self.out_n.get(s, 0)
            prev = self.last_amount.get(s, 0)
            run = self.up_run.get(s, 0) + 1 if amount > prev > 0 else 0
            x["out_max_before"], x["out_n_before"] = most, count
            x["prev_amount"], x["up_run"] = prev, run
            self.out_max[s] = max(most, amount)
            self.out_n[s] = count + 1
            self.last_amount[s] = amount
            self.up_run[s] = run
        else:
            x["out_max_before"] = x["out_n_before"] = x["prev_amount"] = x["up_run"] = 0
        if kind == RECEIVE:
            self.recv_at[s] = max(self.recv_at.get(s, NONE), at)
        x["recv_at"] = self.recv_at.get(s, NONE)

    def _reach(self, cp: int, subject: int, at: int) -> tuple[int, int]:
        """First sighting and distinct subjects of a counterparty, this event included."""
        first = self.cp_first[cp] = min(self.cp_first.get(cp, NEVER), at)
        key = pair(cp, subject)
        if subject >= 0 and key not in self.cp_pairs:
            self.cp_pairs.add(key)
            self.cp_subjects[cp] = self.cp_subjects.get(cp, 0) + 1
        return first, self.cp_subjects.get(cp, 0)

    def expose(self, x: dict[str, int], hit: bool) -> None:
        """``exposed_at``: the subject's last fraud contact up to this event (inclusive)."""
        s = x["subject"]
        if s < 0:
            x["exposed_at"] = NONE
            return
        if hit:
            self.exposed[s] = max(self.exposed.get(s, NONE), x["at"])
        x["exposed_at"] = self.exposed.get(s, NONE)


#: Features of the subject stage (zero for rows without a subject).
SUBJECT_FEATURES = (
    "long_calls",
    "payee_first_at",
    "link_at",
    "out_max_before",
    "out_n_before",
    "prev_amount",
    "up_run",
    "recv_at",
)


class ReferenceEngine(Engine):
    """:class:`Engine` with the feature and rule stages done one event at a time."""

    def __init__(
        self,
        registry: Registry | None = None,
        intel: IntelView | None = None,
        config: EngineConfig | None = None,
        *,
        rules: Iterable[Rule] = RULES,
        shadow: Iterable[Rule] = (),
    ) -> None:
        super().__init__(registry, intel, config, rules=rules, shadow=shadow)
        self.state = State()
        self._replaced = frozenset(r.id for r in self.shadow_rules)
        self._live = _by_stage_and_kind(self.rules)
        self._shadow = _by_stage_and_kind(self.shadow_rules)

    def _run(self, f: Frame, reports: pa.Table | None, result: BatchResult) -> None:
        result.rows += len(f)
        columns = {c: getattr(f, c).tolist() for c in COLUMNS}
        seqs = f.features["seq"].tolist()
        event_ids = f.event_id.to_pylist()
        state = self.state
        signals: list[Signal] = []
        shadow_signals: list[Signal] = []
        indicator_rows: dict[str, list[int]] = {}
        vulnerable: dict[int, bool] = {}
        for i in range(len(f)):
            x = {c: columns[c][i] for c in COLUMNS}
            x["seq"] = seqs[i]
            kind = x["kind"]
            state.features(x)
            hits = self._hits(self._live, 1, kind, x)
            state.expose(x, any(r.exposure and r.target is Target.SUBJECT for r in hits))
            hits += self._hits(self._live, 2, kind, x)
            for r in hits:
                if r.target is Target.INDICATOR:
                    indicator_rows.setdefault(r.id, []).append(i)
                    continue
                signal = self._signal(r, x, str(event_ids[i]))
                signals.append(signal)
                if self.shadow_scorer is not None and r.id not in self._replaced:
                    shadow_signals.append(signal)
            if self.shadow_scorer is not None:
                for r in self._hits(self._shadow, 1, kind, x) + self._hits(
                    self._shadow, 2, kind, x
                ):
                    if r.target is Target.SUBJECT:
                        shadow_signals.append(self._signal(r, x, str(event_ids[i])))
            age = x["age"]
            if age >= 60 or 16 <= age <= 22:
                vulnerable[x["subject"]] = True
        retro = self._learn_and_look_back(f, self._indicator_hits(indicator_rows), reports, result)
        signals += retro
        if self.keep_signals:
            self.signals_seen.extend(signals)
        result.signals = len(signals)
        result.changes = self.scorer.add(signals, vulnerable)
        if self.shadow_scorer is not None:
            shadow_signals += retro
            result.shadow_changes = self.shadow_scorer.add(shadow_signals, vulnerable)
        self.contacts.prune(int(f.at.max()))

    @staticmethod
    def _hits(rules: ByKind, stage: int, kind: int, x: dict[str, int]) -> list[Rule]:
        """The rules of ``stage`` for this kind of event whose predicate holds for it (subject
        rules read residents' events only; indicator rules any event with a counterparty)."""
        row = Row(x)
        return [
            r
            for r in rules.get((stage, kind), ())
            if (x["cp"] if r.target is Target.INDICATOR else x["person"]) >= 0
            and bool(r.evaluate(row))
        ]

    def _signal(self, r: Rule, x: dict[str, int], event_id: str) -> Signal:
        cp = x["cp"]
        return Signal(
            at=x["at"],
            subject=x["subject"],
            rule=r.id,
            version=r.version,
            weight=r.weight,
            floor=r.floor,
            event_id=event_id,
            value=_strip(self.builder.keys.value(cp)) if cp >= 0 else "",
            indicator=self._indicator_note(x["intel_idx"], x["intel2_idx"]),
            fraud_type=_fraud_hint(r, x["text"]),
            seq=x["seq"],
            family=r.family,
        )

    def _indicator_hits(self, rows: dict[str, list[int]]) -> Hits:
        """Indicator hits as the engine hands them to learning: rule order, then row order."""
        out: Hits = []
        for stage in (1, 2):
            for r in self.rules:
                if r.stage == stage and r.id in rows:
                    out.append((r, np.unique(np.asarray(rows[r.id], np.int64))))
        return out

    def snapshot(self) -> bytes:
        """Not kept: the reference engine's state lives in Python dicts."""
        raise NotImplementedError("the reference engine has no snapshot")


__all__ = ["ReferenceEngine", "Row", "State"]
