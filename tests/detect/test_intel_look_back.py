"""Retro-correlation for intelligence that arrives while the engine runs (an import, a feed):
who was in touch with what it now blocks gets a signal at once, through the contact index."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fanzha.detect.engine import RETRO_INTEL, Engine, EngineConfig
from fanzha.detect.frame import Values
from fanzha.intel.index import IntelIndex
from fanzha.intel.model import Indicator, IndicatorKind, Verdict

from .factories import (
    MOBILE,
    Timeline,
    World,
    at,
    day,
    flagged,
    hits,
    intel_of,
    make_engine,
    run,
    sorted_warnings,
)

W = World()
HOST_URL = "https://pay.evil-site.cc/login"


def quiet_contacts() -> Timeline:
    """Contacts that mean nothing on their own: a short call from a stranger's mobile to Cai,
    a visit by Stu to a page on an unknown site, and Bob's call to Ann (residents)."""
    t = Timeline(W)
    t.call(day(1), MOBILE, W.cai.phone, 120)
    t.visit(day(1) + 5, W.stu.phone, HOST_URL)
    t.call(day(1) + 10, W.bob.phone, W.ann.phone, 120)
    return t


def new_base(engine: Engine, *indicators: Indicator) -> IntelIndex:
    """Give the engine a new base (as a reload does); returns the old one."""
    old = engine.intel.base
    engine.intel.base = IntelIndex.build(list(indicators))
    return old


def test_contacts_with_a_newly_blocked_number_are_warned_now() -> None:
    engine = run(quiet_contacts())
    assert not engine.scorer.warnings  # nothing before the intelligence came
    old = new_base(engine, flagged(IndicatorKind.PHONE, MOBILE, source="feed:police"))
    result = engine.look_back_intel(old, at(day(2)))
    [change] = result.changes
    assert engine.subject_key(change.warning.subject) == W.cai.id_number
    assert change.warning.level >= 3  # a fraud verdict: 高危 at least, like a report
    hit = hits(engine, W.cai)[RETRO_INTEL]
    [signal] = hit.evidence
    assert signal.at == at(day(2)) and signal.value == MOBILE
    assert "feed:police" in signal.indicator


def test_a_suspicious_parent_domain_reaches_visitors_of_its_subdomains() -> None:
    engine = run(quiet_contacts())
    suspicious = flagged(IndicatorKind.DOMAIN, "evil-site.cc", Verdict.SUSPICIOUS)
    old = new_base(engine, suspicious)
    result = engine.look_back_intel(old, at(day(2)))
    assert result.signals == 1 and not result.changes  # suspicious alone: a signal, no warning
    hit = hits(engine, W.stu)[RETRO_INTEL]
    assert hit.weight == EngineConfig().retro_weight_model and hit.floor == 0


def test_nothing_changed_nothing_signalled() -> None:
    engine = run(quiet_contacts())
    block = flagged(IndicatorKind.PHONE, MOBILE)
    new_base(engine, block)
    old = new_base(engine, block)  # the same verdicts again
    assert engine.look_back_intel(old, at(day(2))).signals == 0


def test_an_allow_entry_wins_and_an_upgrade_counts() -> None:
    engine = run(quiet_contacts())
    allow = flagged(IndicatorKind.PHONE, MOBILE, Verdict.ALLOW)
    old = new_base(engine, allow, flagged(IndicatorKind.PHONE, MOBILE))
    assert engine.look_back_intel(old, at(day(2))).signals == 0
    old = new_base(engine, flagged(IndicatorKind.PHONE, MOBILE, Verdict.SUSPICIOUS))
    assert engine.look_back_intel(old, at(day(2))).signals == 1  # none → suspicious
    old = new_base(engine, flagged(IndicatorKind.PHONE, MOBILE, Verdict.FRAUD))
    assert engine.look_back_intel(old, at(day(2))).signals == 1  # suspicious → fraud
    old = new_base(engine, flagged(IndicatorKind.PHONE, MOBILE, Verdict.SUSPICIOUS))
    assert engine.look_back_intel(old, at(day(2))).signals == 0  # a downgrade: nothing


def test_contacts_older_than_the_look_back_are_not_signalled() -> None:
    engine = run(quiet_contacts(), config=EngineConfig(lookback_days=7))
    old = new_base(engine, flagged(IndicatorKind.PHONE, MOBILE))
    assert engine.look_back_intel(old, at(day(7))).signals == 1
    assert engine.look_back_intel(old, at(day(9))).signals == 0


def test_rows_waiting_in_a_snapshot_meet_the_intelligence_of_the_restore() -> None:
    t = Timeline(W)
    t.call(day(1), MOBILE, W.cai.phone, 20 * 60)
    earlier = flagged(IndicatorKind.PHONE, "+8613000000000")  # numbered before MOBILE
    engine = run(Timeline(W), intel=intel_of(earlier, flagged(IndicatorKind.PHONE, MOBILE)))
    engine.process(t.tables(), at(day(1)))  # the call and its live probe wait
    assert engine.pending.intel_idx.tolist() == [1, 1]
    moved = intel_of(flagged(IndicatorKind.PHONE, MOBILE, source="feed:other"))
    restored = Engine.restore(engine.snapshot(), W.registry, moved)
    restored.relook_pending()
    assert restored.pending.intel_idx.tolist() == [0, 0]
    restored.flush()
    notes = {s.indicator for h in hits(restored, W.cai).values() for s in h.evidence}
    assert notes == {f"phone:{MOBILE} · fraud · feed:other"}


def test_relook_leaves_rows_without_intelligence_alone() -> None:
    t = Timeline(W)
    t.account_opened(day(1), "6222777700001111", W.ann.id_number)
    t.call(day(1), W.bob.phone, W.ann.phone, 20 * 60)
    engine = make_engine(W, intel=intel_of(flagged(IndicatorKind.ACCOUNT, "6222777700001111")))
    engine.process(t.tables(), at(day(1)) - 1)
    before = len(engine.pending)
    engine.relook_pending()
    assert len(engine.pending) == before > 0
    assert engine.pending.intel.tolist() == [-1] * before  # an account opening is no contact


def test_a_live_engine_takes_a_new_base_at_once() -> None:
    """Through :meth:`Engine.use_intel` a live engine (residents met ahead) looks its
    residents' verdicts up again before its next call; later contacts meet the new verdicts
    as an engine that takes the base in its next call does."""
    later = Timeline(W)
    later.call(day(2), W.ann.phone, W.cai.phone, 120)  # a resident the base now blocks
    later.transfer(day(2) + 1, W.cai.account, W.bob.account, 9_000)
    base = flagged(IndicatorKind.PHONE, W.ann.phone), flagged(IndicatorKind.ACCOUNT, W.bob.account)
    engines = []
    for ahead in (False, True):
        engine = run(quiet_contacts())
        if ahead:
            engine.prepare_live()
            engine.use_intel(IntelIndex.build(list(base)))
            assert engine.builder.phones.get_all(
                ("verdict", "indicator"),
                engine.builder.phones.ids(pa.array([W.ann.phone])),
                _never,
                (-1, -1),
            )[0].tolist() == [Verdict.FRAUD.rank]
        else:
            new_base(engine, *base)
        engine.process(later.tables(), at(day(3)))
        engines.append(engine)
    lazy, live = engines
    assert hits(live, W.cai) and hits(live, W.cai) == hits(lazy, W.cai)
    assert sorted_warnings(live) == sorted_warnings(lazy)


def _never(values: Values, _: np.ndarray) -> np.ndarray:
    raise AssertionError(f"looked up again in a call: {values.py}")
