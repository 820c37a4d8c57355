"""Scoring: signals → a score per subject → a risk level through configured bands → warnings.

One live warning per subject: it upgrades when the level rises and gathers evidence, never
duplicates; it lapses ``live_hours`` after its last signal, and a new one for the same person is
held back for ``cooldown_hours`` unless the level would be higher than the last one. Signals are
rare next to events, so this part is plain Python over the signals, in event-time order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fanzha.model.enums import FraudType

LEVEL_ZH = {4: "特危", 3: "高危", 2: "中危", 1: "低危"}
LEVEL_EN = {4: "critical", 3: "high", 2: "medium", 1: "low"}


class ScoringConfig(BaseModel):
    """How signals become levels (configuration, not code)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bands: dict[int, float] = Field(
        default={1: 65.0, 2: 75.0, 3: 90.0, 4: 120.0},
        description="Least score for each level (1 低危 … 4 特危).",
    )
    window_hours: int = Field(default=168, ge=1, description="Signals older than this drop out.")
    live_hours: int = Field(default=72, ge=1, description="A warning lapses after this quiet.")
    cooldown_hours: int = Field(default=24, ge=0, description="No new warning this soon after.")
    vulnerable_factor: float = Field(
        default=1.0, ge=1.0, description="Score multiplier for the elderly and students."
    )
    weights: dict[str, float] = Field(default_factory=dict, description="Per-rule overrides.")
    max_evidence: int = Field(default=8, ge=1, description="Evidence items kept per rule.")


@dataclass(frozen=True, slots=True)
class Signal:
    """One rule hit with its evidence."""

    at: int  # epoch seconds when the fact was known
    subject: int
    rule: str  # rule id
    version: int
    weight: float
    floor: int
    event_id: str
    value: str = ""  # the counterparty (number, domain, account, app)
    indicator: str = ""  # "verdict · source" of the indicator that matched, if any
    fraud_type: str = ""
    seq: int = 0  # tie-break within one moment: batch order
    family: str = "other"  # evidence family: the score takes the strongest hit per family


@dataclass(frozen=True, slots=True)
class Hit:
    """The most recent hit of one rule for one subject, with a little history (never changed:
    a new hit replaces it, so a warning's copy of the hits can share them)."""

    at: int
    weight: float
    floor: int
    evidence: list[Signal]
    family: str = "other"


@dataclass
class Warning:
    """The live (or lapsed) warning of one subject."""

    warning_id: str
    subject: int
    level: int
    score: float
    first_at: int
    updated_at: int
    level_at: dict[int, int]
    hits: dict[str, Hit]
    fraud_type: str = ""
    shadow: bool = False
    closed: bool = False

    def signals(self) -> list[Signal]:
        """All evidence, oldest first."""
        out = [s for h in self.hits.values() for s in h.evidence]
        return sorted(out, key=lambda s: (s.at, s.seq))


@dataclass
class Change:
    """What happened to a warning: created, upgraded or updated (more evidence, same level)."""

    action: str
    at: int
    warning: Warning
    old_level: int = 0


@dataclass
class SubjectRisk:
    """The scorer's state for one subject."""

    hits: dict[str, Hit] = field(default_factory=dict)
    warning: Warning | None = None
    last_closed_at: int | None = None
    last_level: int = 0


class Scorer:
    """Keeps per-subject risk and turns signals into warning changes."""

    def __init__(
        self,
        config: ScoringConfig | None = None,
        *,
        shadow: bool = False,
        key: Callable[[int], str] = str,
    ) -> None:
        self.config = config or ScoringConfig()
        self.shadow = shadow
        # The subject's stable key (ID number) for warning ids: the int is an interning
        # order, which depends on how the events were batched.
        self.key = key
        self.subjects: dict[int, SubjectRisk] = {}
        self.warnings: dict[str, Warning] = {}
        self._bands = sorted(self.config.bands.items())  # the config is frozen

    def level_of(self, score: float, floor: int = 0) -> int:
        """The level for ``score`` by the bands, and at least ``floor`` (a rule's floor is the
        least level its hit implies on its own)."""
        level = 0
        for lvl, least in self._bands:
            if score >= least:
                level = lvl
        return max(level, floor)

    def add(self, signals: list[Signal], vulnerable: dict[int, bool] | None = None) -> list[Change]:
        """Apply signals in event-time order; returns the warning changes they cause."""
        changes: list[Change] = []
        for s in sorted(signals, key=lambda s: (s.at, s.seq, s.rule)):
            change = self._one(s, bool(vulnerable and vulnerable.get(s.subject)))
            if change is not None:
                changes.append(change)
        return changes

    def _one(self, s: Signal, vulnerable: bool) -> Change | None:
        cfg = self.config
        risk = self.subjects.get(s.subject)
        if risk is None:  # not setdefault: it would make a SubjectRisk for every signal
            risk = self.subjects[s.subject] = SubjectRisk()
        window = cfg.window_hours * 3600
        for rid in [r for r, h in risk.hits.items() if s.at - h.at > window]:
            del risk.hits[rid]
        weight = cfg.weights.get(s.rule, s.weight)
        old = risk.hits.get(s.rule)
        if old is None:
            risk.hits[s.rule] = Hit(s.at, weight, s.floor, [s], s.family)
        else:  # the family stays the first hit's
            evidence = [*old.evidence, s][-cfg.max_evidence :]
            risk.hits[s.rule] = Hit(s.at, weight, s.floor, evidence, old.family)
        score = family_score(risk.hits) * (cfg.vulnerable_factor if vulnerable else 1.0)
        floor = max((h.floor for h in risk.hits.values()), default=0)
        level = self.level_of(score, floor)
        self._lapse(risk, s.at)
        w = risk.warning
        if level == 0:
            if w is not None:
                w.updated_at = s.at
            return None
        if w is None:
            if self._cooling(risk, s.at, level):
                return None
            return self._create(risk, s, level, score)
        return self._update(w, s, level, score)

    def _lapse(self, risk: SubjectRisk, at: int) -> None:
        w = risk.warning
        if w is not None and at - w.updated_at > self.config.live_hours * 3600:
            w.closed = True
            risk.last_closed_at = w.updated_at + self.config.live_hours * 3600
            risk.last_level = w.level
            risk.warning = None

    def _cooling(self, risk: SubjectRisk, at: int, level: int) -> bool:
        if risk.last_closed_at is None:
            return False
        return at - risk.last_closed_at < self.config.cooldown_hours * 3600 and (
            level <= risk.last_level
        )

    def _create(self, risk: SubjectRisk, s: Signal, level: int, score: float) -> Change:
        key = self.key(s.subject)
        digest = hashlib.sha1(f"{key}|{s.at}|{s.event_id}|{s.rule}".encode()).hexdigest()
        w = Warning(
            warning_id=("S" if self.shadow else "W") + digest[:15],
            subject=s.subject,
            level=level,
            score=score,
            first_at=s.at,
            updated_at=s.at,
            level_at=dict.fromkeys(range(1, level + 1), s.at),
            hits=_frozen(risk.hits),
            fraud_type=s.fraud_type,
            shadow=self.shadow,
        )
        risk.warning = w
        self.warnings[w.warning_id] = w
        return Change("created", s.at, w)

    def _update(self, w: Warning, s: Signal, level: int, score: float) -> Change:
        risk = self.subjects[s.subject]
        old = w.level
        w.hits = _frozen(risk.hits)
        w.score = max(w.score, score)
        w.updated_at = s.at
        if s.fraud_type:
            w.fraud_type = s.fraud_type
        if level > old:
            w.level = level
            for lvl in range(old + 1, level + 1):
                w.level_at[lvl] = s.at
            return Change("upgraded", s.at, w, old)
        return Change("updated", s.at, w, old)


def _frozen(hits: dict[str, Hit]) -> dict[str, Hit]:
    """The warning's own copy of the hits: the subject's dict changes with later signals, the
    hits in it never do (a hit and its evidence list are replaced, not changed)."""
    return dict(hits)


def family_score(hits: dict[str, Hit]) -> float:
    """Independent kinds of evidence add up; within one kind only the strongest hit counts."""
    best: dict[str, float] = {}
    for h in hits.values():
        best[h.family] = max(best.get(h.family, 0.0), h.weight)
    return sum(best.values())


def explain(w: Warning, titles: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """A readable explanation of a warning in Chinese and English."""
    names_zh, names_en = [], []
    for rid, _hit in sorted(w.hits.items(), key=lambda kv: kv[1].at):
        zh, en = titles.get(rid, (rid, rid))
        names_zh.append(zh)
        names_en.append(en)
    ft = _fraud_label(w.fraud_type)
    zh = f"{LEVEL_ZH[w.level]}预警（{w.score:.0f}分）：" + "；".join(names_zh) + "。"
    en = f"{LEVEL_EN[w.level]} risk (score {w.score:.0f}): " + "; ".join(names_en) + "."
    if ft:
        zh += f"疑似{ft[0]}。"
        en += f" Looks like {ft[1]}."
    return zh, en


def _fraud_label(value: str) -> tuple[str, str] | None:
    try:
        ft = FraudType(value)
    except ValueError:
        return None
    if ft is FraudType.OTHER:
        return None
    return ft.label_zh, ft.value.replace("_", " ")


def signal_json(s: Signal) -> dict[str, Any]:
    """A signal as a JSON-ready dict (evidence of a warning)."""
    return {
        "at": s.at,
        "rule": s.rule,
        "version": s.version,
        "weight": s.weight,
        "event_id": s.event_id,
        "value": s.value,
        "indicator": s.indicator,
        "fraud_type": s.fraud_type,
    }
