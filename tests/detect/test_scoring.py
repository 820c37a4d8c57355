"""Scoring: bands and floors, evidence families, one live warning per subject that upgrades and
never duplicates, lapse after ``live_hours``, cool-down; and the same lifecycle through the
engine."""

from __future__ import annotations

import itertools

import pytest

from fanzha.detect.engine import warnings_table
from fanzha.detect.scoring import Change, Scorer, ScoringConfig, Signal, explain, family_score
from fanzha.intel.model import IndicatorKind

from .factories import (
    INTL,
    MOBILE,
    VIRTUAL,
    Timeline,
    World,
    at,
    day,
    flagged,
    intel_of,
    run,
    warnings_of,
)

H = 3600
T = 1_700_000_000
_events = itertools.count()


def sig(
    rule: str,
    weight: float,
    hours: float = 0,
    *,
    subject: int = 7,
    family: str | None = None,
    floor: int = 0,
    fraud_type: str = "",
) -> Signal:
    """A signal ``hours`` after T."""
    return Signal(
        at=T + round(hours * H),
        subject=subject,
        rule=rule,
        version=1,
        weight=weight,
        floor=floor,
        event_id=f"e{next(_events)}",
        fraud_type=fraud_type,
        family=family or rule,
    )


def actions(changes: list[Change]) -> list[tuple[str, int]]:
    """(action, level now) of each change (a change holds the live warning, not a copy)."""
    return [(c.action, c.warning.level) for c in changes]


def one_by_one(scorer: Scorer, signals: list[Signal]) -> list[tuple[str, int]]:
    """(action, level then) of the change each signal made, one signal at a time."""
    out = []
    for x in signals:
        out += actions(scorer.add([x]))
    return out


# ---------------------------------------------------------------------- bands and floors


@pytest.mark.parametrize(
    ("score", "level"),
    [(0, 0), (64.9, 0), (65, 1), (74.9, 1), (75, 2), (89.9, 2), (90, 3), (119.9, 3), (120, 4)],
)
def test_default_bands(score: float, level: int) -> None:
    assert Scorer().level_of(score) == level


def test_floors_are_the_least_level_of_a_hit() -> None:
    s = Scorer()
    assert s.level_of(66, floor=3) == 3
    assert s.level_of(130, floor=3) == 4  # a floor never lowers
    assert s.level_of(40, floor=4) == 4  # a floor stands alone, below the first band too
    assert s.level_of(40) == 0


def test_configured_bands() -> None:
    s = Scorer(ScoringConfig(bands={1: 10, 2: 20, 3: 30, 4: 40}))
    assert [s.level_of(x) for x in (9, 10, 25, 39, 40)] == [0, 1, 2, 3, 4]


def test_floor_applies_to_the_warning() -> None:
    s = Scorer()
    (c,) = s.add([sig("a", 70, floor=4)])
    assert c.action == "created" and c.warning.level == 4
    assert c.warning.level_at == dict.fromkeys((1, 2, 3, 4), T)


# ---------------------------------------------------------------------- families


def test_families_take_the_strongest_hit_and_add_up() -> None:
    s = Scorer()
    s.add([sig("a", 50, family="intel"), sig("b", 60, 1, family="intel")])
    risk = s.subjects[7]
    assert family_score(risk.hits) == 60
    (c,) = s.add([sig("c", 35, 2, family="call")])
    assert c.warning.score == 95 and c.warning.level == 3


def test_one_rule_counts_once() -> None:
    s = Scorer()
    changes = s.add([sig("a", 40, h) for h in range(5)])
    assert changes == [] and family_score(s.subjects[7].hits) == 40
    assert len(s.subjects[7].hits["a"].evidence) == 5


def test_evidence_is_capped() -> None:
    s = Scorer(ScoringConfig(max_evidence=3))
    s.add([sig("a", 40, h) for h in range(6)])
    ev = s.subjects[7].hits["a"].evidence
    assert [e.at for e in ev] == [T + 3 * H, T + 4 * H, T + 5 * H]


def test_weight_override_and_vulnerable_factor() -> None:
    s = Scorer(ScoringConfig(weights={"a": 70}))
    assert actions(s.add([sig("a", 10)])) == [("created", 1)]
    v = Scorer(ScoringConfig(vulnerable_factor=1.5))
    assert v.add([sig("a", 50)], {7: False}) == []
    assert actions(v.add([sig("b", 50, subject=8)], {8: True})) == [("created", 2)]  # 75


def test_hits_leave_the_window() -> None:
    s = Scorer(ScoringConfig(window_hours=24))
    s.add([sig("a", 40)])
    assert s.add([sig("b", 40, 25)]) == []  # "a" is 25 h old: gone
    assert set(s.subjects[7].hits) == {"b"}
    assert actions(s.add([sig("c", 40, 26)])) == [("created", 2)]  # b + c = 80
    assert s.subjects[7].warning is not None and s.subjects[7].warning.score == 80


# ---------------------------------------------------------------------- lifecycle


def test_one_live_warning_upgrades_and_never_duplicates() -> None:
    signals = [
        sig("a", 66, 0, fraud_type="fake_investment"),
        sig("b", 10, 1),  # 76 → 2
        sig("b", 10, 2),  # same rule again: updated
        sig("c", 20, 3),  # 96 → 3
        sig("d", 30, 4),  # 126 → 4
    ]
    assert one_by_one(Scorer(), signals) == [
        ("created", 1),
        ("upgraded", 2),
        ("updated", 2),
        ("upgraded", 3),
        ("upgraded", 4),
    ]
    s = Scorer()
    changes = s.add(signals)  # one batch: the same changes, all about the one warning
    assert [c.action for c in changes] == ["created", "upgraded", "updated", "upgraded", "upgraded"]
    assert [c.old_level for c in changes] == [0, 1, 2, 2, 3]
    (w,) = s.warnings.values()
    assert all(c.warning is w for c in changes)
    assert w.level_at == {1: T, 2: T + H, 3: T + 3 * H, 4: T + 4 * H}
    assert w.first_at == T and w.updated_at == T + 4 * H and w.score == 126
    assert w.fraud_type == "fake_investment"
    assert set(w.hits) == {"a", "b", "c", "d"}
    assert [x.at for x in w.signals()] == [T, T + H, T + 2 * H, T + 3 * H, T + 4 * H]
    zh, en = explain(w, {"a": ("甲", "A")})
    assert zh.startswith("特危预警") and en.startswith("critical risk (score 126): A; b; c; d.")


def test_level_never_goes_down_while_live() -> None:
    s = Scorer(ScoringConfig(window_hours=10, live_hours=72))
    s.add([sig("a", 100)])  # level 3
    changes = s.add([sig("b", 70, 11)])  # "a" left the window: 70 → level 1, still live
    assert actions(changes) == [("updated", 3)]
    assert len(s.warnings) == 1


def test_warning_lapses_after_live_hours() -> None:
    s = Scorer(ScoringConfig(live_hours=72, cooldown_hours=0, window_hours=1000))
    (first,) = s.add([sig("a", 70)])
    s.add([sig("b", 1, 71)])  # a signal keeps it live (71 h later)
    assert s.subjects[7].warning is first.warning
    (second,) = s.add([sig("c", 1, 71 + 73)])  # quiet for 73 h: lapsed; 71 still counts
    assert first.warning.closed and second.action == "created"
    assert second.warning is not first.warning and len(s.warnings) == 2
    assert s.subjects[7].last_closed_at == T + (71 + 72) * H
    assert s.subjects[7].last_level == 1


def test_cooldown_holds_a_new_warning_unless_higher() -> None:
    cfg = ScoringConfig(live_hours=10, cooldown_hours=24, window_hours=1000)
    s = Scorer(cfg)
    s.add([sig("a", 80)])  # level 2, lapses at +10 h
    closed = T + 10 * H
    assert s.add([sig("b", 1, 11)]) == []  # 81 → 2, not higher: cooling
    assert s.subjects[7].last_closed_at == closed and s.subjects[7].warning is None
    assert s.add([sig("c", 1, 33.9)]) == []  # still cooling (23.9 h after the close)
    (c,) = s.add([sig("d", 1, 34)])  # 24 h after the close: a new warning
    assert c.action == "created" and c.warning.level == 2
    # Higher than the last one: issued at once, cool-down or not.
    t = Scorer(cfg)
    t.add([sig("a", 66)])  # level 1
    (up,) = t.add([sig("b", 30, 11)])  # 96 → level 3 one hour after the lapse
    assert up.action == "created" and up.warning.level == 3
    assert len(t.warnings) == 2


def test_subjects_are_independent() -> None:
    s = Scorer()
    signals = [sig("a", 70, subject=1), sig("a", 70, subject=2), sig("b", 30, 1, subject=1)]
    assert one_by_one(s, signals) == [("created", 1), ("created", 1), ("upgraded", 3)]
    assert len({w.warning_id for w in s.warnings.values()}) == 2


def test_signals_are_applied_in_event_time_order() -> None:
    signals = [sig("a", 66, 0), sig("b", 10, 1), sig("c", 50, 2)]
    a, b = Scorer(), Scorer()
    a.add(signals)
    b.add(list(reversed(signals)))
    (wa,) = a.warnings.values()
    (wb,) = b.warnings.values()
    assert wa.level_at == wb.level_at == {1: T, 2: T + H, 3: T + 2 * H, 4: T + 2 * H}
    assert wa.warning_id == wb.warning_id


def test_shadow_warnings_are_marked() -> None:
    s = Scorer(shadow=True)
    (c,) = s.add([sig("a", 70)])
    assert c.warning.shadow and c.warning.warning_id.startswith("S")


def test_a_lapsed_warning_keeps_its_evidence() -> None:
    s = Scorer(ScoringConfig(live_hours=10, cooldown_hours=0))
    (first,) = s.add([sig("a", 70)])
    s.add([sig("a", 70, 100)])  # a new episode, same rule
    assert [x.at for x in first.warning.hits["a"].evidence] == [T]
    assert first.warning.hits["a"].at == T


# ---------------------------------------------------------------------- through the engine


def test_engine_one_warning_per_subject_upgrading() -> None:
    """A scam told over a live call, then screen sharing: one warning that goes up."""
    w = World()
    t = Timeline(w)
    t.call(0, INTL, w.ann.phone, 40 * 60)  # live at 15 min: call_live_risky (40)
    t.sms(1, MOBILE, w.ann.phone, "您的账户涉嫌洗钱，请配合调查")  # sms_fraud_script (30) → 70
    t.call(60, INTL, w.ann.phone, 10 * 60)
    t.install(75, w.ann.phone, "com.oray.sunlogin")  # screen share after contact: floor 4
    engine = run(t, 300)
    (warning,) = warnings_of(engine, w.ann)
    assert warning.level == 4
    assert warning.level_at[1] == at(15) and warning.level_at[4] == at(75)
    assert warning.first_at == at(15)
    table = warnings_table(engine)
    assert table.num_rows == 1 and table.column("level4_at")[0].as_py().timestamp() == at(75)


def test_engine_lapse_and_second_warning() -> None:
    w = World()
    t = Timeline(w)
    for d in (0, 8):  # two episodes eight days apart: the first lapses after 72 h
        t.sms(day(d), MOBILE, w.ann.phone, "您的账户涉嫌洗钱，请配合调查")  # 30
        t.call(day(d) + 1, INTL, w.ann.phone, 20 * 60)  # live at 16 min: 40 → 70
    engine = run(t, 3600)
    first, second = warnings_of(engine, w.ann)
    assert first.first_at == at(16) and second.first_at == at(day(8) + 16)
    assert first.closed and not second.closed
    assert first.level == second.level == 1


def test_a_long_call_with_a_fraud_number_warns_alone() -> None:
    w = World()
    t = Timeline(w)
    t.call(0, VIRTUAL, w.ann.phone, 300)
    engine = run(t, intel=intel_of(flagged(IndicatorKind.PHONE, VIRTUAL)))
    (warning,) = warnings_of(engine, w.ann)
    assert warning.level >= 3
