"""Builders for instruction tests: a warning, an outcome, an issued instruction."""

from __future__ import annotations

import datetime as dt

from fanzha.dispatch.instruction import Evidence, Instruction, WarningFacts
from fanzha.dispatch.levels import DEFAULT_POLICIES, RiskLevel
from fanzha.dispatch.outcome import Contacted, Judgement, Outcome
from fanzha.dispatch.routing import Route, RouteReason

from .builders import NANPING

T0 = dt.datetime(2024, 5, 9, 8, 0, tzinfo=dt.UTC)
FLAGGED = Evidence(
    rule="call_flagged_number",
    event_id="C1",
    at=1,
    value="+8617000000001",
    indicator="fraud · feed",
)


def warning(
    level: RiskLevel = RiskLevel.HIGH, *evidence: Evidence, warning_id: str = "W1"
) -> WarningFacts:
    """A warning about one resident."""
    return WarningFacts(
        warning_id=warning_id,
        subject="500101198610030001",
        id_number="500101198610030001",
        phone="+8617336543212",
        level=level,
        score=60.0,
        evidence=evidence or (FLAGGED,),
    )


def issued(
    level: RiskLevel = RiskLevel.HIGH, at: dt.datetime = T0, unit: str = NANPING
) -> Instruction:
    """An instruction just issued to ``unit``."""
    return Instruction.issue(
        warning(level), Route(unit, (), RouteReason.HOME), DEFAULT_POLICIES[level], at
    )


def dissuaded() -> Outcome:
    """The person was reached and stopped in time."""
    return Outcome(
        reached=True,
        contacted=Contacted.PERSON,
        judgement=Judgement.CONFIRMED,
        dissuaded=True,
        amount_at_risk_fen=5_000_000,
        amount_saved_fen=5_000_000,
        notice_signed=True,
    )
