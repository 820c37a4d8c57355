"""The event-time detection engine: micro-batches in, warning changes out.

Per batch: build the frame (subjects, counterparties, intel), hold back rows not yet known at
the watermark (a call record is known when the call ends), sort by ``at``, update counterparty
features, update subject features per partition, run the contact rules, mark fraud contacts
(``exposed_at``), run the after-contact rules, turn hits into signals, learn indicators (from
reports and from indicator rules) and look back through the contact index for everyone who was
in touch with them (retro-correlation), score the signals, and index the batch's contacts.

Batch replay over the lake and live streaming call the same :meth:`Engine.process`; the result
does not depend on the batch size (tested), only on the events.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from fanzha.detect.features import CounterpartyState, SubjectState
from fanzha.detect.frame import COLUMNS, F_RESIDENT, Frame, FrameBuilder, K, concat, empty_frame
from fanzha.detect.intel_view import IntelView
from fanzha.detect.kernels import I64, NONE, Column, IntMap, KeySeen, members, utf8_at
from fanzha.detect.registry import Registry
from fanzha.detect.retro import Chunk, Contact, ContactIndex
from fanzha.detect.rules import RULES, Rule, Target
from fanzha.detect.rules.base import NoConfig, RuleConfig
from fanzha.detect.scoring import (
    Change,
    Hit,
    Scorer,
    ScoringConfig,
    Signal,
    SubjectRisk,
)
from fanzha.detect.scoring import (
    Warning as ScoredWarning,
)
from fanzha.detect.text import SmsText
from fanzha.intel.index import IntelIndex
from fanzha.intel.model import Indicator, IndicatorKind, Verdict, normalise_value
from fanzha.model import values

#: The order of event types inside one batch when two rows have the same ``at``.
TYPE_ORDER = (
    "account_opened",
    "sim_activated",
    "call",
    "sms",
    "web_visit",
    "app_install",
    "transfer",
    "police_report",
)


class EngineConfig(BaseModel):
    """Settings of the engine (configuration, not code)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    call_probe_s: int = Field(default=900, ge=60, description="Live-call probe after (s).")
    lookback_days: int = Field(default=30, ge=1, description="Retro-correlation look-back.")
    grace_s: int = Field(default=3600, ge=0, description="Late rows within this are handled.")
    partitions: int = Field(default=1, ge=1, le=256, description="Subject-state partitions.")
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    rules: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-rule config overrides by rule id."
    )
    disabled: tuple[str, ...] = Field(default=(), description="Rule ids switched off.")
    retro_weight_report: float = Field(default=60.0, description="Weight of a retro hit (report).")
    retro_weight_model: float = Field(default=30.0, description="Weight of a retro hit (model).")
    retro_weight_payment: float = Field(
        default=70.0, description="Weight of a payment to an account a report names."
    )


RETRO_REPORT = "retro_reported_indicator"
RETRO_PAYMENT = "retro_reported_account_paid"
RETRO_MODEL = "retro_model_indicator"
RETRO_INTEL = "retro_new_intel"
RETRO_RULES = frozenset((RETRO_REPORT, RETRO_PAYMENT, RETRO_MODEL, RETRO_INTEL))
RETRO_TITLES = {
    RETRO_REPORT: ("曾与报案涉及的号码/网址/账户接触", "In contact with something a report names"),
    RETRO_PAYMENT: ("向报案涉及的账户转账", "Paid an account a report names"),
    RETRO_MODEL: (
        "曾与模型识别的涉诈号码/账户接触",
        "In contact with a number or account a rule flagged",
    ),
    RETRO_INTEL: (
        "曾与新入库情报标记的号码/网址/账户/应用接触",
        "In contact with something new intelligence flags",
    ),
}


#: Each rule with the rows of the batch it hits (ascending).
Hits = list[tuple[Rule, I64]]


@dataclass
class BatchResult:
    """What one call to :meth:`Engine.process` produced."""

    rows: int = 0
    signals: int = 0
    changes: list[Change] = field(default_factory=list)
    shadow_changes: list[Change] = field(default_factory=list)
    learnt: list[Indicator] = field(default_factory=list)
    late: int = 0
    #: (event type, event id, at) of rows set aside as later than the grace period
    late_rows: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Learnt:
    """An indicator the engine learnt, as retro-correlation needs it: every contact with its
    counterparty from ``at`` minus the look-back on gives a signal, whichever batch it is in."""

    cp: int  # counterparty id (interned key)
    at: int  # when it was learnt (the report, or the rule hit)
    report: bool  # named by a police report (fraud), else found by a rule (suspicious)
    value: str
    note: str  # "kind:value · verdict · source"


@dataclass
class _Part:
    subjects: SubjectState = field(default_factory=SubjectState)


class Engine:
    """Keyed, event-time detection over micro-batches."""

    def __init__(
        self,
        registry: Registry | None = None,
        intel: IntelView | None = None,
        config: EngineConfig | None = None,
        *,
        rules: Iterable[Rule] = RULES,
        shadow: Iterable[Rule] = (),
    ) -> None:
        self.config = config or EngineConfig()
        self.registry = registry or Registry()
        self.intel = intel or IntelView()
        self.builder = FrameBuilder(
            self.registry, self.intel, call_probe_s=self.config.call_probe_s
        )
        self.rules = _configured(rules, self.config)
        self.shadow_rules = tuple(shadow)
        self.counterparties = CounterpartyState()
        self.parts = [_Part() for _ in range(self.config.partitions)]
        self.scorer = Scorer(self.config.scoring, key=self.subject_key)
        self.shadow_scorer = (
            Scorer(self.config.scoring, shadow=True, key=self.subject_key)
            if self.shadow_rules
            else None
        )
        self.contacts = ContactIndex(self.config.lookback_days * 86_400)
        self.pending = empty_frame()
        self.pending_reports: pa.Table | None = None
        self.known: dict[int, list[Learnt]] = {}
        self._known_cps = Column(np.bool_, False)  # whether a counterparty is in ``known``
        self._known_n = 0  # len(known) when the column was made
        self.watermark: int | None = None
        self.seq = 0
        self.late = 0
        self.keep_signals = False  # `fanzha rules test` reads every signal
        self.signals_seen: list[Signal] = []

    # ------------------------------------------------------------------ driving

    def process(self, tables: Mapping[str, pa.Table], watermark: int | None = None) -> BatchResult:
        """Add events (per type) and run every row known before ``watermark`` (epoch s).

        Without a watermark everything pending runs (end of a replay).
        """
        frames = [
            self.builder.build(t, tables[t])
            for t in TYPE_ORDER
            if t in tables and tables[t].num_rows  # no frame for absent types
        ]
        self._hold_reports(tables.get("police_report"))
        held = len(self.pending)
        fresh = sum(len(x) for x in frames)
        seq = np.arange(self.seq, self.seq + fresh, dtype=np.int64)
        self.seq += fresh
        result = BatchResult()
        # The waiting rows and the new ones in one concatenation (the new ones after).
        pool = concat([self.pending, *frames])
        if held:
            seq = np.concatenate([self.pending.features["seq"], seq])
        pool.features = {"seq": seq}
        if self.watermark is not None and fresh:
            pool = self._set_aside_late(pool, held, self.watermark - self.config.grace_s, result)
        ready: Frame | None = pool
        if watermark is not None:
            due = pool.at < watermark
            n_due = int(np.count_nonzero(due))
            if n_due == 0:
                ready, self.pending = None, pool
            elif n_due < len(pool):
                # One take puts the due rows in order and the waiting ones after them.
                rows = np.flatnonzero(due)
                first = rows[np.lexsort((pool.features["seq"][rows], pool.at[rows]))]
                both = pool.take(np.concatenate([first, np.flatnonzero(~due)]))
                ready, self.pending = _rows(both, 0, n_due), _rows(both, n_due, len(pool))
            self.watermark = watermark if self.watermark is None else max(self.watermark, watermark)
        if ready is pool:
            self.pending = empty_frame()
            ready = _in_order(pool)
        reports = self._due_reports(watermark)
        if ready is not None:
            self._run(ready, reports, result)
        return result

    def prepare_live(self, *, residents: bool = True) -> None:
        """Ready for a live worker's run of small calls: with ``residents``, every resident's
        phone numbers and accounts met already (:meth:`FrameBuilder.prepare_residents`:
        ~17 % of a live call's CPU on the demo; at a million residents ~4.5 s once and
        ~650 MiB); then the frame keys' dict brought up to date (an engine that replayed hours
        in large batches interned its keys by the hashed path, which costs ~100 µs a call for
        a few keys)."""
        if residents:
            self.builder.prepare_residents()
        self.builder.keys.sync()
        self.reserve()

    def reserve(self) -> None:
        """Room now, in the state keyed by frame key, for every key interned so far (the
        residents met ahead are many): a column doubling in a live call would cost ms."""
        keys = len(self.builder.keys)
        self.counterparties.reserve(keys)
        for part in self.parts:
            part.subjects.reserve(keys)
        self._known_cps.ensure(keys)

    def use_intel(self, base: IntelIndex) -> None:
        """Take a new intelligence base: the verdicts of values met so far are forgotten now
        (a live engine's residents looked up again), not in the next call; run
        :meth:`look_back_intel` with the old base for who was in touch."""
        self.intel.base = base
        self.builder.take_base()

    def use_registry(self, registry: Registry) -> None:
        """Take a new registry of residents: rows read from now on are looked up in it (rows
        already read keep the residents of their time; run them first with :meth:`flush`)."""
        self.registry = registry
        self.builder.use_registry(registry)

    def flush(self) -> BatchResult:
        """Run every pending row (end of input)."""
        return self.process({}, None)

    def _set_aside_late(self, fresh: Frame, held: int, cutoff: int, result: BatchResult) -> Frame:
        """New rows (those after the first ``held``, which waited for the watermark) known
        before ``cutoff`` (the watermark minus the grace period) are too late to run in order:
        they are returned for the dead-letter queue, not run. Police reports are always run:
        retro-correlation looks back by design."""
        late = (fresh.at < cutoff) & (fresh.kind != int(K.REPORT))
        late[:held] = False
        if not late.any():
            return fresh
        idx = np.flatnonzero(late)
        ids = fresh.event_id.take(pa.array(idx)).to_pylist()
        kinds = fresh.kind[idx].tolist()
        seen: set[str] = set()
        for eid, kind, at in zip(ids, kinds, fresh.at[idx].tolist(), strict=True):
            if eid not in seen:  # a call has two rows (the record and its live probe)
                seen.add(eid)
                result.late_rows.append((_EVENT_TYPE[kind], str(eid), int(at)))
        result.late = len(result.late_rows)
        self.late += result.late
        kept = fresh.take(np.flatnonzero(~late))
        kept.features = {k: v[~late] for k, v in fresh.features.items()}
        return kept

    def _hold_reports(self, reports: pa.Table | None) -> None:
        """Keep police reports until their time is due: what they name is learnt then."""
        if reports is None or reports.num_rows == 0:
            return
        held = self.pending_reports
        self.pending_reports = (
            reports
            if held is None
            else pa.concat_tables([held, reports], promote_options="permissive")
        )

    def _due_reports(self, watermark: int | None) -> pa.Table | None:
        held = self.pending_reports
        if held is None or watermark is None:
            self.pending_reports = None
            return held
        secs = _report_seconds(held)
        self.pending_reports = (
            held.filter(pa.array(secs >= watermark)) if (secs >= watermark).any() else None
        )
        return held.filter(pa.array(secs < watermark))

    # ------------------------------------------------------------------ one batch

    def _run(self, f: Frame, reports: pa.Table | None, result: BatchResult) -> None:
        result.rows += len(f)
        self.counterparties.update(f)
        self._subject_stage(f)
        groups = RuleRows(f)
        hits = self._evaluate(groups, self.rules, stage=1)
        exposure = np.zeros(len(f), np.bool_)
        for r, rows in hits:
            if r.exposure and r.target is Target.SUBJECT:
                exposure[rows] = True
        self._exposure(f, exposure)
        hits += self._evaluate(groups, self.rules, stage=2)
        signals = self._signals(f, hits)
        retro = self._learn_and_look_back(f, hits, reports, result)
        signals += retro
        if self.keep_signals:
            self.signals_seen.extend(signals)
        result.signals = len(signals)
        vulnerable = self._vulnerable(f, signals)
        result.changes = self.scorer.add(signals, vulnerable)
        if self.shadow_scorer is not None:
            shadow_hits = self._shadow_hits(groups, hits)
            shadow_signals = self._signals(f, shadow_hits) + retro
            result.shadow_changes = self.shadow_scorer.add(shadow_signals, vulnerable)
        self.contacts.prune(int(f.at.max()))

    def _split(self, f: Frame) -> list[I64] | None:
        """Rows of each partition (rows without a subject in none: they have no subject state);
        None when every row belongs to the only partition."""
        parts = len(self.parts)
        valid = f.subject >= 0
        if parts == 1 and valid.all():
            return None
        which = np.where(valid, f.subject % parts, -1)
        return [np.flatnonzero(which == p) for p in range(parts)]

    def _subject_stage(self, f: Frame) -> None:
        split = self._split(f)
        if split is None:
            self.parts[0].subjects.update(f)
            return
        pieces: dict[str, np.ndarray] = {}
        for part, idx in zip(self.parts, split, strict=True):
            sub = f.take(idx)
            part.subjects.update(sub)
            for name, col in sub.features.items():
                if name in f.features and name not in pieces:
                    continue  # computed before this stage (counterparty features, seq)
                pieces.setdefault(name, np.zeros(len(f), col.dtype))[idx] = col
        for name, col in pieces.items():
            f.features[name] = col

    def _exposure(self, f: Frame, hit: np.ndarray) -> None:
        split = self._split(f)
        if split is None:
            self.parts[0].subjects.exposure(f, hit)
            return
        out = np.full(len(f), NONE, np.int64)
        for part, idx in zip(self.parts, split, strict=True):
            sub = f.take(idx)
            part.subjects.exposure(sub, hit[idx])
            out[idx] = sub.features["exposed_at"]
        f.features["exposed_at"] = out

    @staticmethod
    def _evaluate(groups: RuleRows, rules: Iterable[Rule], *, stage: int) -> Hits:
        """Each rule of ``stage`` with the rows it hits (ascending)."""
        out: Hits = []
        for r in rules:
            if r.stage != stage or not r.kinds:
                continue
            idx, rows = groups.of(r.kinds, r.target)
            hit = idx
            if idx.size:
                got = r.evaluate(rows)
                if isinstance(got, np.ndarray) and got.shape == idx.shape:
                    hit = idx[got if got.dtype == np.bool_ else got.astype(np.bool_)]
                elif not bool(got):  # a rule may answer one bool for all its rows
                    hit = idx[:0]
            out.append((r, hit))
        return out

    def _shadow_hits(self, groups: RuleRows, hits: Hits) -> Hits:
        replaced = {r.id for r in self.shadow_rules}
        kept = [(r, m) for r, m in hits if r.id not in replaced]
        return (
            kept
            + self._evaluate(groups, self.shadow_rules, stage=1)
            + self._evaluate(groups, self.shadow_rules, stage=2)
        )

    def _signals(self, f: Frame, hits: Hits) -> list[Signal]:
        out: list[Signal] = []
        mine = [(r, rows) for r, rows in hits if r.target is Target.SUBJECT and rows.size]
        if not mine:
            return out
        every = np.concatenate([rows for _, rows in mine])
        # The hit rows' columns as Python values at once (a NumPy scalar read per field per
        # signal costs more than the signal).
        ids = utf8_at(f.event_id, every)
        at, subject, cp, text = (c[every].tolist() for c in (f.at, f.subject, f.cp, f.text))
        idx, idx2 = f.intel_idx[every].tolist(), f.intel2_idx[every].tolist()
        seq = f.features["seq"][every].tolist()
        keys = self.builder.keys
        values: dict[int, str] = {}
        notes: dict[tuple[int, int], str] = {}
        j = 0
        for r, rows in mine:
            for _ in range(rows.size):
                c = cp[j]
                value = values.get(c)
                if value is None:
                    value = values[c] = _strip(keys.value(c)) if c >= 0 else ""
                pair = (idx[j], idx2[j])
                note = notes.get(pair)
                if note is None:
                    note = notes[pair] = self._indicator_note(*pair)
                out.append(
                    Signal(
                        at=at[j],
                        subject=subject[j],
                        rule=r.id,
                        version=r.version,
                        weight=r.weight,
                        floor=r.floor,
                        event_id=str(ids[j]),
                        value=value,
                        indicator=note,
                        fraud_type=_fraud_hint(r, text[j]),
                        seq=seq[j],
                        family=r.family,
                    )
                )
                j += 1
        return out

    def _indicator_note(self, idx: int, idx2: int) -> str:
        use = idx if idx >= 0 else idx2
        if use < 0:
            return ""
        ind = self.intel.indicator(use)
        return f"{ind.kind.value}:{ind.value} · {ind.verdict.value} · {ind.source}"

    # ------------------------------------------------------------------ learning and retro

    def _learn_and_look_back(
        self,
        f: Frame,
        hits: Hits,
        reports: pa.Table | None,
        result: BatchResult,
    ) -> list[Signal]:
        """Retro-correlation for a batch: contacts with indicators learnt before it, then what
        the batch teaches (in time order) and everyone in touch with that in the look-back.

        Learnt indicators act through these signals only, never through the frame's intel
        columns, so where the batch boundaries fall changes nothing.
        """
        rows, cps = self._contact_rows(f)
        signals = self._forward(f, rows, cps)
        found = self._found_by_rules(f, hits) + self._named_in_reports(reports)
        found.sort(key=lambda i: (i.first_seen, -i.verdict.rank, i.kind.value, i.value))
        learnt = self.intel.learn(found)
        self.contacts.add(cps, f.subject[rows], f.at[rows], f.kind[rows], f.event_id, rows)
        records = [r for r in map(self._record, learnt) if r is not None]
        signals += self._retro(records)
        before = len(self.known)
        for r in records:
            self.known.setdefault(r.cp, []).append(r)
        if records and self._known_n == before:  # the column is up to date: mark the new
            cps_learnt = [r.cp for r in records]  # (not a rebuild of it: a live call learns
            self._known_cps.ensure(max(cps_learnt) + 1)  # something every few calls)
            self._known_cps.data[cps_learnt] = True
            self._known_n = len(self.known)
        result.learnt = learnt
        return signals

    def _contact_rows(self, f: Frame) -> tuple[I64, I64]:
        """Residents' contacts with the outside world: (row, counterparty) pairs — the
        counterparty of calls, texts, visits, installs and payments, and the link in a text."""
        resident = f.person >= 0
        contact = members(f.kind, (K.CALL, K.SMS, K.VISIT, K.INSTALL, K.PAY))
        outside = (f.flags & F_RESIDENT) == 0
        main = np.flatnonzero(contact & outside & resident & (f.cp >= 0))
        links = np.flatnonzero((f.kind == int(K.SMS)) & (f.cp2 >= 0) & resident)
        if links.size == 0:
            return main, f.cp[main]
        rows = np.concatenate([main, links])
        cps = np.concatenate([f.cp[main], f.cp2[links]])
        order = np.argsort(rows, kind="stable")
        return rows[order], cps[order]

    def _forward(self, f: Frame, rows: I64, cps: I64) -> list[Signal]:
        """Signals for this batch's contacts with indicators learnt in earlier batches."""
        if not self.known or rows.size == 0:
            return []
        if self._known_n != len(self.known):  # after a restore: records are only added
            self._known_cps = Column(np.bool_, False)
            cp = np.fromiter(self.known, np.int64, len(self.known))
            self._known_cps.ensure(int(cp.max()) + 1)
            self._known_cps.data[cp] = True
            self._known_n = len(self.known)
        out: list[Signal] = []
        lookback = self.config.lookback_days * 86_400
        for j in np.flatnonzero(self._known_cps.get(cps)).tolist():
            i = int(rows[j])
            at = int(f.at[i])
            eid = str(f.event_id[i].as_py())
            for rec in self.known[int(cps[j])]:
                if at >= rec.at - lookback:
                    out.append(self._retro_signal(rec, int(f.subject[i]), at, int(f.kind[i]), eid))
        return out

    def _found_by_rules(self, f: Frame, hits: Hits) -> list[Indicator]:
        found: list[Indicator] = []
        keys = self.builder.keys
        learnt = self.intel.learnt
        for r, rows in hits:
            if r.target is not Target.INDICATOR or not rows.size:
                continue
            for cp, at in zip(f.cp[rows].tolist(), f.at[rows].tolist(), strict=True):
                key = keys.value(cp)
                kind = IndicatorKind.PHONE if key.startswith("p:") else IndicatorKind.ACCOUNT
                value = _strip(key)
                old = learnt.get((kind.value, value))
                if old is not None and old.verdict.rank >= _SUSPICIOUS:
                    continue  # known already, as severe: learning it again changes nothing
                found.append(_indicator(kind, value, Verdict.SUSPICIOUS, 0.6, f"rule:{r.id}", at))
        return found

    @staticmethod
    def _named_in_reports(reports: pa.Table | None) -> list[Indicator]:
        """Everything a police report names becomes a fraud indicator at once."""
        if reports is None or reports.num_rows == 0:
            return []
        found: list[Indicator] = []
        ts = _report_seconds(reports).tolist()
        ids = reports.column("event_id").to_pylist()
        columns = {
            IndicatorKind.PHONE: "suspect_phones",
            IndicatorKind.ACCOUNT: "suspect_accounts",
            IndicatorKind.URL: "suspect_urls",
        }
        for kind, name in columns.items():
            if name not in reports.column_names:
                continue
            for row, named in enumerate(reports.column(name).to_pylist()):
                for raw in named or []:
                    src = f"report:{ids[row]}"
                    try:
                        value = normalise_value(kind, str(raw))
                    except values.InvalidValue:
                        continue
                    found.append(_indicator(kind, value, Verdict.FRAUD, 0.9, src, ts[row]))
                    if kind is IndicatorKind.URL:
                        host = values.parse_url(value).host
                        found.append(
                            _indicator(IndicatorKind.DOMAIN, host, Verdict.FRAUD, 0.7, src, ts[row])
                        )
        return found

    def _record(self, ind: Indicator) -> Learnt | None:
        """What retro-correlation keeps of a learnt indicator (None: not a counterparty kind)."""
        prefix = _PREFIX.get(ind.kind)
        if prefix is None or ind.first_seen is None:
            return None
        cp = int(self.builder.keys.intern(pa.array([prefix + ind.value], pa.string()))[0])
        return Learnt(
            cp=cp,
            at=int(ind.first_seen.timestamp()),
            report=ind.source.startswith("report:"),
            value=ind.value,
            note=f"{ind.kind.value}:{ind.value} · {ind.verdict.value} · {ind.source}",
        )

    def _retro(self, records: list[Learnt]) -> list[Signal]:
        """Everyone in touch with a new indicator within the look-back gets a signal now."""
        out: list[Signal] = []
        if not records:
            return out
        lookback = self.config.lookback_days * 86_400
        # One pass over the index for all of them; each counterparty's contacts in the order
        # they were indexed, as a lookup of that counterparty alone gives them.
        since = min(rec.at for rec in records) - lookback
        by_cp: dict[int, list[Contact]] = {}
        for c in self.contacts.contacts([rec.cp for rec in records], since):
            by_cp.setdefault(c.cp, []).append(c)
        for rec in records:
            for c in by_cp.get(rec.cp, ()):
                if c.at >= rec.at - lookback:
                    out.append(self._retro_signal(rec, c.subject, c.at, c.kind, c.event_id))
        return out

    def _retro_signal(self, rec: Learnt, subject: int, at: int, kind: int, eid: str) -> Signal:
        cfg = self.config
        if rec.report and kind == int(K.PAY):
            rule, weight, floor = RETRO_PAYMENT, cfg.retro_weight_payment, 3
        elif rec.report:
            rule, weight, floor = RETRO_REPORT, cfg.retro_weight_report, 3
        else:
            rule, weight, floor = RETRO_MODEL, cfg.retro_weight_model, 0
        return Signal(
            at=max(rec.at, at),
            subject=subject,
            rule=rule,
            version=1,
            weight=weight,
            floor=floor,
            event_id=eid,
            value=rec.value,
            indicator=rec.note,
            seq=-1,
            family="retro",
        )

    def look_back_intel(self, old: IntelIndex, at: int) -> BatchResult:
        """Retro-correlation for intelligence that changed while running (an import, a feed,
        an analyst's entry): everyone in touch, in the look-back before ``at``, with a
        counterparty the current base blocks more severely than ``old`` did gets a signal now.

        The contacts' counterparties are looked up in both bases (so subdomains, number
        prefixes and allow entries count as they do for the rules); later contacts meet the
        new verdicts through the rules, so nothing is kept for them.
        """
        result = BatchResult()
        since = at - self.config.lookback_days * 86_400
        cps = self.contacts.counterparties(since)
        raised = dict(self._raised(old, cps))  # counterparty → the indicator that blocks it
        signals = [
            self._intel_signal(self.intel.indicator(raised[c.cp]), c, at)
            for c in self.contacts.contacts(raised, since)
            if c.at <= at
        ]
        result.signals = len(signals)
        if self.keep_signals:
            self.signals_seen.extend(signals)
        result.changes = self.scorer.add(signals)
        if self.shadow_scorer is not None:
            result.shadow_changes = self.shadow_scorer.add(signals)
        return result

    def relook_pending(self) -> None:
        """Look the intelligence of the rows waiting for the watermark up again in the current
        base (after a restore: their verdicts and indicator numbers were another base's).

        The lookup goes by counterparty, as the contact index keys it: a waiting visit meets
        its host's verdict, not an indicator of its exact URL."""
        f = self.pending
        looked = members(f.kind, _LOOKED_UP)
        for cp, verdict, number in (("cp", "intel", "intel_idx"), ("cp2", "intel2", "intel2_idx")):
            keys = getattr(f, cp)
            rows = np.flatnonzero(looked & (keys >= 0))
            got_verdict, got_number = np.full(len(f), -1, np.int64), np.full(len(f), -1, np.int64)
            if rows.size:
                got_verdict[rows], got_number[rows] = self._lookup(keys[rows])
            setattr(f, verdict, got_verdict)
            setattr(f, number, got_number)

    def _lookup(self, cps: I64) -> tuple[I64, I64]:
        """Verdict rank and indicator number (-1: none) of counterparties in the base."""
        verdict, number = np.full(cps.size, -1, np.int64), np.full(cps.size, -1, np.int64)
        for kind, (where, values_) in self._by_kind(cps).items():
            found, idx = self.intel.lookup(kind, pa.array(values_, pa.string()))
            verdict[where], number[where] = found, idx
        return verdict, number

    def _by_kind(self, cps: I64) -> dict[str, tuple[list[int], list[str]]]:
        """Positions and plain values of counterparties, per lookup of the base."""
        by_kind: dict[str, tuple[list[int], list[str]]] = {}
        keys = self.builder.keys
        for i, cp in enumerate(cps.tolist()):
            prefix, _, value = keys.value(cp).partition(":")
            kind = _LOOKUP.get(prefix)
            if kind is not None:
                where, values_ = by_kind.setdefault(kind, ([], []))
                where.append(i)
                values_.append(value)
        return by_kind

    def _raised(self, old: IntelIndex, cps: I64) -> list[tuple[int, int]]:
        """(counterparty, indicator number) of those the base now blocks more than ``old``."""
        out: list[tuple[int, int]] = []
        for kind, (where, values_) in self._by_kind(cps).items():
            up, numbers = self.intel.raised_since(old, kind, pa.array(values_, pa.string()))
            cp = cps[where]
            out += list(zip(cp[up].tolist(), numbers.tolist(), strict=True))
        return out

    def _intel_signal(self, ind: Indicator, c: Contact, at: int) -> Signal:
        cfg = self.config
        fraud = ind.verdict is Verdict.FRAUD
        return Signal(
            at=at,
            subject=c.subject,
            rule=RETRO_INTEL,
            version=1,
            weight=cfg.retro_weight_report if fraud else cfg.retro_weight_model,
            floor=3 if fraud else 0,
            event_id=c.event_id,
            value=ind.value,
            indicator=f"{ind.kind.value}:{ind.value} · {ind.verdict.value} · {ind.source}",
            seq=-1,
            family="retro",
        )

    def _vulnerable(self, f: Frame, signals: list[Signal]) -> dict[int, bool]:
        """The subjects of ``signals`` that are elderly or students in this batch (none when
        the scorer gives them no extra weight, its default)."""
        if not signals or self.config.scoring.vulnerable_factor == 1.0:
            return {}
        old = (f.age >= 60) | ((f.age >= 16) & (f.age <= 22))
        subjects = f.subject[old]
        wanted = np.fromiter({s.subject for s in signals}, np.int64)
        return dict.fromkeys(np.unique(subjects[np.isin(subjects, wanted)]).tolist(), True)

    # ------------------------------------------------------------------ output helpers

    def subject_key(self, subject: int) -> str:
        """The subject's key string (ID number, or ``phone:…`` / ``account:…``)."""
        return self.builder.keys.value(subject)

    def titles(self) -> dict[str, tuple[str, str]]:
        """Rule id → (Chinese, English) title, for explanations."""
        out = {r.id: (r.title_zh, r.title_en) for r in (*self.rules, *self.shadow_rules)}
        out.update(RETRO_TITLES)
        return out

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> bytes:
        """The whole engine state as bytes: a JSON head and NumPy arrays (``np.savez``, no
        pickle), read back by :meth:`restore`.

        Holds the interner keys, counters and watermark, the counterparty state, every
        partition's subject state, the scorers (subjects' hits and warnings, live or lapsed),
        the contact index, the pending rows and the indicators learnt so far; the head names the
        format and its version, the configuration and the partition count.
        """
        arrays: dict[str, np.ndarray] = {}
        cps = self.counterparties
        for name in _CP_COLUMNS:
            arrays[f"cp.{name}"] = getattr(cps, name).data
        arrays["cp.pairs"] = _seen(cps.pairs.first)
        arrays["cp.payer_pairs"] = _seen(cps.payer_pairs.first)
        for p, part in enumerate(self.parts):
            arrays.update(_subject_arrays(part.subjects, f"s{p}."))
        chunks = []
        # The index's tail (its newest contacts, not yet a chunk) is written as its last
        # chunk and read back as the tail: the engine goes on as if never snapshotted.
        held, tail = self.contacts.parts()
        for i, c in enumerate(held if tail is None else [*held, tail]):
            arrays[f"contacts.{i}.cp"] = c.cp
            arrays[f"contacts.{i}.subject"] = c.subject
            arrays[f"contacts.{i}.at"] = c.at
            arrays[f"contacts.{i}.kind"] = c.kind
            arrays.update(_strings_out(c.event_id, f"contacts.{i}.event_id"))
            chunks.append(c.max_at)
        pending = self.pending
        for name in COLUMNS:
            arrays[f"pending.{name}"] = getattr(pending, name)
        for name, col in pending.features.items():
            arrays[f"pending.feature.{name}"] = col
        arrays.update(_strings_out(pending.event_id, "pending.event_id"))
        arrays["pending.reports"] = _table_out(self.pending_reports)
        meta: dict[str, Any] = {
            **_head("engine", len(self.parts)),
            "config": self.config.model_dump(mode="json"),
            "keys": self.builder.keys.values,
            "seq": self.seq,
            "watermark": self.watermark,
            "late": self.late,
            "contacts": chunks,
            "contacts_tail": tail is not None,
            "pending_features": list(pending.features),
            "learnt": [i.model_dump(mode="json") for i in self.intel.learnt.values()],
            "known": [dataclasses.astuple(r) for recs in self.known.values() for r in recs],
            "scorer": _scorer_out(self.scorer),
            "shadow_scorer": _scorer_out(self.shadow_scorer) if self.shadow_scorer else None,
        }
        return _pack(meta, arrays)

    @classmethod
    def restore(
        cls,
        data: bytes,
        registry: Registry | None = None,
        intel: IntelView | None = None,
        config: EngineConfig | None = None,
        *,
        rules: Iterable[Rule] = RULES,
        shadow: Iterable[Rule] = (),
    ) -> Engine:
        """An engine in the state :meth:`snapshot` wrote, over ``registry`` and ``intel`` (the
        learnt indicators are added to ``intel``); ``config`` defaults to the snapshot's.

        The partition count may differ from the snapshot's: the subject state is re-split by
        subject. A shadow scorer's state is restored when ``shadow`` rules are given.
        """
        meta, arrays = _unpack(data, "engine")
        if config is None:
            config = EngineConfig.model_validate(meta["config"])
        engine = cls(registry, intel, config, rules=rules, shadow=shadow)
        keys = engine.builder.keys
        keys.values = list(meta["keys"])
        keys.ids = {v: i for i, v in enumerate(keys.values)}
        engine.seq, engine.watermark, engine.late = meta["seq"], meta["watermark"], meta["late"]
        cps = engine.counterparties
        for name in _CP_COLUMNS:
            getattr(cps, name).data = np.array(arrays[f"cp.{name}"])
        cps.pairs.first = _unseen(arrays["cp.pairs"])
        cps.payer_pairs.first = _unseen(arrays["cp.payer_pairs"])
        states = [_subject_from(arrays, f"s{p}.") for p in range(meta["partitions"])]
        for part, state in zip(engine.parts, _repartition(states, len(engine.parts)), strict=True):
            part.subjects = state
        chunks = [
            Chunk(
                cp=np.array(arrays[f"contacts.{i}.cp"]),
                subject=np.array(arrays[f"contacts.{i}.subject"]),
                at=np.array(arrays[f"contacts.{i}.at"]),
                kind=np.array(arrays[f"contacts.{i}.kind"]),
                event_id=_strings_in(arrays, f"contacts.{i}.event_id"),
                max_at=int(max_at),
            )
            for i, max_at in enumerate(meta["contacts"])
        ]
        tail = chunks.pop() if meta.get("contacts_tail") else None
        engine.contacts.load(chunks, tail)
        pending = empty_frame()
        for name in COLUMNS:
            setattr(pending, name, np.array(arrays[f"pending.{name}"]))
        pending.event_id = _strings_in(arrays, "pending.event_id")
        pending.features = {
            name: np.array(arrays[f"pending.feature.{name}"]) for name in meta["pending_features"]
        }
        engine.pending = pending
        engine.pending_reports = _table_in(arrays["pending.reports"])
        engine.intel.learn(Indicator.model_validate(i) for i in meta["learnt"])
        for rec in meta["known"]:
            learnt = Learnt(*rec)
            engine.known.setdefault(learnt.cp, []).append(learnt)
        _scorer_in(engine.scorer, meta["scorer"])
        if engine.shadow_scorer is not None and meta["shadow_scorer"] is not None:
            _scorer_in(engine.shadow_scorer, meta["shadow_scorer"])
        return engine

    def snapshot_partition(self, p: int) -> bytes:
        """Partition ``p``'s share of the state alone: its subject state and the scorers'
        subjects and warnings of its subjects (``subject % partitions == p``).

        The counterparty state, contact index, pending rows, interner and learnt indicators are
        shared by all partitions and are only in :meth:`snapshot`.
        """
        n = len(self.parts)
        if not 0 <= p < n:
            raise ValueError(f"no partition {p} of {n}")
        meta: dict[str, Any] = {
            **_head("partition", n),
            "partition": p,
            "scorer": _scorer_out(self.scorer, (n, p)),
            "shadow_scorer": (
                _scorer_out(self.shadow_scorer, (n, p)) if self.shadow_scorer else None
            ),
        }
        return _pack(meta, _subject_arrays(self.parts[p].subjects, "s."))

    def restore_partition(self, p: int, data: bytes) -> None:
        """Replace partition ``p``'s share of the state by what :meth:`snapshot_partition`
        wrote (same partition, same partition count)."""
        meta, arrays = _unpack(data, "partition")
        n = len(self.parts)
        if meta["partitions"] != n or meta["partition"] != p:
            raise ValueError(
                f"snapshot of partition {meta['partition']} of {meta['partitions']}, "
                f"not of partition {p} of {n}"
            )
        self.parts[p].subjects = _subject_from(arrays, "s.")
        for scorer, state in (
            (self.scorer, meta["scorer"]),
            (self.shadow_scorer, meta["shadow_scorer"]),
        ):
            if scorer is None or state is None:
                continue
            for s in [s for s in scorer.subjects if s % n == p]:
                del scorer.subjects[s]
            for wid in [wid for wid, w in scorer.warnings.items() if w.subject % n == p]:
                del scorer.warnings[wid]
            _scorer_in(scorer, state)


#: The snapshot format: a name, and a version bumped on every incompatible change.
SNAPSHOT_FORMAT = "fanzha.detect.engine"
SNAPSHOT_VERSION = 2
_CP_COLUMNS = ("first_at", "born_at", "subjects", "payers")
_SUBJECT_COLUMNS = ("out_max", "out_n", "last_amount", "up_run", "recv_at", "exposed")
_SUBJECT_SEEN = ("payees", "links")


def _head(kind: str, partitions: int) -> dict[str, Any]:
    return {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "kind": kind,
        "partitions": partitions,
    }


def _pack(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """8 bytes of head length (big-endian), the JSON head, then an ``.npz`` of the arrays."""
    meta = {**meta, "arrays": sorted(arrays)}
    head = json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode()
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return len(head).to_bytes(8, "big") + head + buf.getvalue()


def _unpack(data: bytes, kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    size = int.from_bytes(data[:8], "big")
    try:
        meta = json.loads(data[8 : 8 + size].decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("not an engine snapshot") from exc
    if not isinstance(meta, dict) or meta.get("format") != SNAPSHOT_FORMAT:
        raise ValueError("not an engine snapshot")
    if meta.get("version") != SNAPSHOT_VERSION:
        raise ValueError(
            f"engine snapshot version {meta.get('version')}, this engine reads {SNAPSHOT_VERSION}"
        )
    if meta.get("kind") != kind:
        raise ValueError(f"a snapshot of {meta.get('kind')!r}, not of {kind!r}")
    with np.load(io.BytesIO(data[8 + size :]), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    if sorted(arrays) != meta["arrays"]:
        raise ValueError("engine snapshot arrays do not match its head")
    return meta, arrays


def _seen(d: IntMap) -> np.ndarray:
    return np.stack(d.arrays(), axis=1)


def _unseen(a: np.ndarray) -> IntMap:
    return IntMap.of(a[:, 0], a[:, 1])


def _strings_out(values: pa.Array, name: str) -> dict[str, np.ndarray]:
    """UTF-8 bytes and offsets of a string array (no pickle)."""
    encoded = [v.encode() for v in values.to_pylist()]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return {
        f"{name}.data": np.frombuffer(b"".join(encoded), np.uint8),
        f"{name}.offsets": offsets,
    }


def _table_out(table: pa.Table | None) -> np.ndarray:
    """A table as Arrow IPC stream bytes (empty: no table)."""
    if table is None:
        return np.empty(0, np.uint8)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return np.frombuffer(sink.getvalue(), np.uint8)


def _table_in(data: np.ndarray) -> pa.Table | None:
    if data.size == 0:
        return None
    return pa.ipc.open_stream(pa.py_buffer(data.tobytes())).read_all()


def _strings_in(arrays: Mapping[str, np.ndarray], name: str) -> pa.Array:
    data, offsets = arrays[f"{name}.data"], arrays[f"{name}.offsets"]
    out = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(data.tobytes())
    )
    return out.cast(pa.string())


def _subject_arrays(s: SubjectState, prefix: str) -> dict[str, np.ndarray]:
    arrays = {f"{prefix}{name}": getattr(s, name).data for name in _SUBJECT_COLUMNS}
    for name in _SUBJECT_SEEN:
        arrays[f"{prefix}{name}"] = _seen(getattr(s, name).first)
    arrays[f"{prefix}long_calls"] = _seen(s.long_calls)
    return arrays


def _subject_from(arrays: Mapping[str, np.ndarray], prefix: str) -> SubjectState:
    s = SubjectState()
    for name in _SUBJECT_COLUMNS:
        getattr(s, name).data = np.array(arrays[f"{prefix}{name}"])
    for name in _SUBJECT_SEEN:
        getattr(s, name).first = _unseen(arrays[f"{prefix}{name}"])
    s.long_calls = _unseen(arrays[f"{prefix}long_calls"])
    return s


def _repartition(states: list[SubjectState], n: int) -> list[SubjectState]:
    """Subject states of ``n`` partitions from those of ``len(states)`` (split by subject:
    columns are indexed by subject id, pair keys carry the subject in their high bits)."""
    old = len(states)
    if old == n:
        return states
    out = [SubjectState() for _ in range(n)]
    for name in _SUBJECT_COLUMNS:
        size = max(getattr(s, name).data.size for s in states)
        for q, target in enumerate(out):
            col = getattr(target, name)
            col.ensure(size)
            for p, source in enumerate(states):
                data = getattr(source, name).data
                ids = np.arange(data.size)
                mine = (ids % old == p) & (ids % n == q)
                col.data[ids[mine]] = data[mine]
    for source in states:
        for name in (*_SUBJECT_SEEN, "long_calls"):
            items = _pairs_of(source, name)
            for key, value in items.items():
                _pairs_of(out[(key >> 31) % n], name)[key] = value
    return out


def _pairs_of(s: SubjectState, name: str) -> IntMap:
    """The map behind a pair-keyed part of the subject state."""
    if name == "long_calls":
        return s.long_calls
    seen: KeySeen = getattr(s, name)
    return seen.first


_SIGNAL_FIELDS = tuple(f.name for f in dataclasses.fields(Signal))


def _scorer_out(scorer: Scorer, share: tuple[int, int] | None = None) -> dict[str, Any]:
    """The scorer's state as JSON: hits once each (a warning shares its subject's hit
    objects, so the pool keeps that sharing), subjects and warnings in their order; ``share``
    (partitions, p) keeps only the subjects of partition p."""

    def mine(subject: int) -> bool:
        return share is None or subject % share[0] == share[1]

    pool: dict[int, int] = {}
    hits: list[dict[str, Any]] = []

    def ref(h: Hit) -> int:
        i = pool.get(id(h))
        if i is None:
            i = pool[id(h)] = len(hits)
            evidence = [[getattr(s, f) for f in _SIGNAL_FIELDS] for s in h.evidence]
            hits.append(
                {
                    "at": h.at,
                    "weight": h.weight,
                    "floor": h.floor,
                    "family": h.family,
                    "evidence": evidence,
                }
            )
        return i

    warnings = [
        {
            "warning_id": w.warning_id,
            "subject": w.subject,
            "level": w.level,
            "score": w.score,
            "first_at": w.first_at,
            "updated_at": w.updated_at,
            "level_at": [[k, v] for k, v in w.level_at.items()],
            "hits": [[rule, ref(h)] for rule, h in w.hits.items()],
            "fraud_type": w.fraud_type,
            "shadow": w.shadow,
            "closed": w.closed,
        }
        for w in scorer.warnings.values()
        if mine(w.subject)
    ]
    subjects = [
        {
            "subject": subject,
            "hits": [[rule, ref(h)] for rule, h in risk.hits.items()],
            "warning": risk.warning.warning_id if risk.warning is not None else None,
            "last_closed_at": risk.last_closed_at,
            "last_level": risk.last_level,
        }
        for subject, risk in scorer.subjects.items()
        if mine(subject)
    ]
    return {
        "fields": list(_SIGNAL_FIELDS),
        "hits": hits,
        "warnings": warnings,
        "subjects": subjects,
    }


def _scorer_in(scorer: Scorer, state: Mapping[str, Any]) -> None:
    """Add the subjects and warnings of :func:`_scorer_out`'s state to ``scorer``."""
    fields = state["fields"]
    pool = [
        Hit(
            at=h["at"],
            weight=h["weight"],
            floor=h["floor"],
            evidence=[Signal(**dict(zip(fields, s, strict=True))) for s in h["evidence"]],
            family=h["family"],
        )
        for h in state["hits"]
    ]
    for w in state["warnings"]:
        warning = ScoredWarning(
            warning_id=w["warning_id"],
            subject=w["subject"],
            level=w["level"],
            score=w["score"],
            first_at=w["first_at"],
            updated_at=w["updated_at"],
            level_at={int(k): v for k, v in w["level_at"]},
            hits={rule: pool[i] for rule, i in w["hits"]},
            fraud_type=w["fraud_type"],
            shadow=w["shadow"],
            closed=w["closed"],
        )
        scorer.warnings[warning.warning_id] = warning
    for s in state["subjects"]:
        scorer.subjects[s["subject"]] = SubjectRisk(
            hits={rule: pool[i] for rule, i in s["hits"]},
            warning=scorer.warnings[s["warning"]] if s["warning"] is not None else None,
            last_closed_at=s["last_closed_at"],
            last_level=s["last_level"],
        )


def _in_order(pool: Frame) -> Frame | None:
    """The rows of ``pool`` sorted by ``at`` then ``seq`` (itself when already in order);
    None when there are none."""
    if len(pool) == 0:
        return None
    at, seq = pool.at, pool.features["seq"]
    step = np.diff(at)
    if (step >= 0).all() and (np.diff(seq)[step == 0] > 0).all():
        return pool
    return pool.take(np.lexsort((seq, at)))


def _rows(f: Frame, start: int, stop: int) -> Frame:
    """Rows ``start`` to ``stop`` of ``f`` (views, features included)."""
    cols = {name: getattr(f, name)[start:stop] for name in COLUMNS}
    out = Frame.of(cols, f.event_id.slice(start, stop - start))
    out.features = {k: v[start:stop] for k, v in f.features.items()}
    return out


#: The event type behind each row kind (for dead letters).
_EVENT_TYPE = {
    int(K.CALL): "call",
    int(K.CALL_LIVE): "call",
    int(K.SMS): "sms",
    int(K.VISIT): "web_visit",
    int(K.INSTALL): "app_install",
    int(K.PAY): "transfer",
    int(K.RECEIVE): "transfer",
    int(K.ACCOUNT): "account_opened",
    int(K.SIM): "sim_activated",
    int(K.REPORT): "police_report",
}

#: Row kinds whose intelligence columns are the lookup of their counterparty (and link).
_LOOKED_UP = (K.CALL, K.CALL_LIVE, K.SMS, K.VISIT, K.INSTALL, K.PAY, K.RECEIVE)

#: Counterparty key prefix → the base index's lookup for its values.
_LOOKUP = {"p": "phones", "a": "accounts", "d": "hosts", "app": "apps"}

_PREFIX = {
    IndicatorKind.PHONE: "p:",
    IndicatorKind.ACCOUNT: "a:",
    IndicatorKind.DOMAIN: "d:",
    IndicatorKind.APP: "app:",
}


def _report_seconds(reports: pa.Table) -> I64:
    """Epoch seconds of police reports (``ts``, floored as the frame floors it)."""
    us = reports.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return np.asarray(us.to_numpy(), np.int64) // 1_000_000


def _strip(key: str) -> str:
    return key.split(":", 1)[1] if ":" in key else key


def _fraud_hint(r: Rule, text: int) -> str:
    if text:
        return _TEXT_HINT[text]
    return r.fraud_type.value if r.fraud_type else ""


#: The fraud type a text family points to, by family number.
_TEXT_HINT = {int(t): t.fraud_type.value for t in SmsText}
_SUSPICIOUS = Verdict.SUSPICIOUS.rank


def _indicator(
    kind: IndicatorKind, value: str, verdict: Verdict, confidence: float, source: str, at: int
) -> Indicator:
    when = dt.datetime.fromtimestamp(at, dt.UTC)
    return Indicator(
        kind=kind,
        value=value,
        verdict=verdict,
        confidence=confidence,
        source=source,
        first_seen=when,
        last_seen=when,
    )


def _configured(rules: Iterable[Rule], config: EngineConfig) -> tuple[Rule, ...]:
    out = []
    for r in rules:
        if r.id in config.disabled:
            continue
        changes = config.rules.get(r.id)
        out.append(r.with_config(**changes) if changes else r)
    return tuple(out)


class RowView:
    """Attribute access to a frame's columns and features for a subset of rows."""

    def __init__(self, f: Frame, idx: I64 | None = None) -> None:
        self._f = f
        self._idx = idx

    def subset(self, idx: I64) -> RowView:
        """The view restricted to ``idx``."""
        return RowView(self._f, idx)

    def __getattr__(self, name: str) -> np.ndarray:
        # Called only for a name not yet read: the column is kept as an instance attribute,
        # so later reads are plain attribute look-ups.
        if name.startswith("_"):
            raise AttributeError(name)
        f = self._f
        col = f.features[name] if name in f.features else getattr(f, name)
        if self._idx is not None:
            col = col[self._idx]
        self.__dict__[name] = col
        return col


class RuleRows:
    """The rows each group of rules reads in one batch (those of its row kinds whose target
    is known: a resident subject, or a counterparty), each group's found once and shared by
    its rules in both stages, with the columns gathered for them."""

    def __init__(self, f: Frame) -> None:
        self._f = f
        self._groups: dict[tuple[tuple[K, ...], Target], tuple[I64, RowView]] = {}
        self._kinds: dict[Target, I64] = {}

    def of(self, kinds: tuple[K, ...], target: Target) -> tuple[I64, RowView]:
        """The rows (ascending) of ``kinds`` about ``target``, and their view."""
        found = self._groups.get((kinds, target))
        if found is None:
            idx = np.flatnonzero(_kind_table(kinds)[self._kind_of(target)])
            found = self._groups[(kinds, target)] = (idx, RowView(self._f, idx))
        return found

    def _kind_of(self, target: Target) -> I64:
        """Each row's kind, 0 (no kind) where its target is unknown."""
        found = self._kinds.get(target)
        if found is None:
            f = self._f
            # Warnings are for the centre's residents; rows about outsiders (a mule paying
            # the next mule, an unknown number) only feed the counterparty state and intel.
            known = f.person >= 0 if target is Target.SUBJECT else f.cp >= 0
            found = self._kinds[target] = np.where(known, f.kind, 0)
        return found


_KIND_TABLES: dict[tuple[K, ...], np.ndarray] = {}


def _kind_table(kinds: tuple[K, ...]) -> np.ndarray:
    """Whether each row kind (an index below ``len(K) + 1``) is one of ``kinds``: made once
    for each of the rules' few groups."""
    table = _KIND_TABLES.get(kinds)
    if table is None:
        table = _KIND_TABLES[kinds] = np.zeros(len(K) + 1, np.bool_)
        table[[int(k) for k in kinds]] = True
    return table


__all__ = ["BatchResult", "Engine", "EngineConfig", "NoConfig", "RuleConfig"]


def warnings_table(engine: Engine, *, shadow: bool | None = None) -> pa.Table:
    """Every warning the engine issued (live and, when present, shadow), as WARNINGS_SCHEMA."""
    from fanzha.detect.schema import WARNINGS_SCHEMA

    scorers = [engine.scorer] + ([engine.shadow_scorer] if engine.shadow_scorer else [])
    rows: dict[str, list[Any]] = {name: [] for name in WARNINGS_SCHEMA.names}
    for scorer in scorers:
        if shadow is not None and scorer.shadow != shadow:
            continue
        for w in scorer.warnings.values():
            key = engine.subject_key(w.subject)
            is_person = ":" not in key
            rows["warning_id"].append(w.warning_id)
            rows["subject"].append(key)
            rows["id_number"].append(key if is_person else None)
            rows["phone"].append(key.split(":", 1)[1] if key.startswith("phone:") else None)
            rows["level"].append(w.level)
            rows["first_at"].append(w.first_at * 1_000_000)
            rows["level3_at"].append(w.level_at[3] * 1_000_000 if 3 in w.level_at else None)
            rows["level4_at"].append(w.level_at[4] * 1_000_000 if 4 in w.level_at else None)
            rows["shadow"].append(w.shadow)
            rows["fraud_type"].append(w.fraud_type or None)
            rows["score"].append(float(w.score))
    return pa.table(
        {n: pa.array(rows[n], WARNINGS_SCHEMA.field(n).type) for n in WARNINGS_SCHEMA.names},
        schema=WARNINGS_SCHEMA,
    )
