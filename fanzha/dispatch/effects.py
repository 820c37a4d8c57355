"""What a recorded outcome sets in motion, as decisions the service applies.

* Already defrauded → a :class:`CaseRequest` for the funds workflow (stop-payment, freeze),
  carrying the payees the person named.
* Confirmed fraud → raise the confidence of the indicators behind the warning.
* Not fraud → lower it (the warning was a false alarm; the indicator may be wrong).

Pure: nothing is written here; :mod:`fanzha.dispatching` hands the decisions to the funds and
intel services.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fanzha.dispatch.instruction import Instruction
from fanzha.dispatch.outcome import Judgement, Payee
from fanzha.model.enums import FraudType


class CaseRequest(BaseModel):
    """Open a case (立案 request) for money already lost, with the payees for stop-payment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instruction_id: str
    warning_id: str
    subject: str
    id_number: str | None
    phone: str | None
    unit: str = Field(description="The unit that recorded the outcome.")
    fraud_type: FraudType
    amount_lost_fen: int = Field(gt=0)
    payees: tuple[Payee, ...] = Field(min_length=1)
    reported_at: AwareDatetime
    reported_by: str
    note: str = ""


class Direction(enum.StrEnum):
    """Which way feedback moves an indicator's confidence."""

    RAISE = "raise"
    LOWER = "lower"


@dataclass(frozen=True, slots=True)
class IndicatorFeedback:
    """Move the confidence of the indicator(s) named ``value`` (whatever their kind)."""

    value: str
    direction: Direction
    delta: float
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class FeedbackConfig:
    """How far one outcome moves an indicator's confidence."""

    raise_by: float = 0.1
    lower_by: float = 0.2


Decision = CaseRequest | IndicatorFeedback


def decide(
    instruction: Instruction, actor: str, at: dt.datetime, config: FeedbackConfig | None = None
) -> list[Decision]:
    """The decisions that follow the instruction's recorded outcome (none without one)."""
    outcome = instruction.outcome
    if outcome is None:
        return []
    decisions: list[Decision] = []
    if outcome.defrauded:
        decisions.append(
            CaseRequest(
                instruction_id=instruction.instruction_id,
                warning_id=instruction.warning_id,
                subject=instruction.subject,
                id_number=instruction.id_number,
                phone=instruction.phone,
                unit=instruction.unit,
                fraud_type=outcome.fraud_type or instruction.fraud_type or FraudType.OTHER,
                amount_lost_fen=outcome.amount_lost_fen,
                payees=outcome.payees,
                reported_at=at,
                reported_by=actor,
                note=outcome.note,
            )
        )
    decisions.extend(_feedback(instruction, outcome.judgement, config or FeedbackConfig()))
    return decisions


def _feedback(
    instruction: Instruction, judgement: Judgement, config: FeedbackConfig
) -> list[IndicatorFeedback]:
    """One feedback per indicator value that matched in the warning's evidence."""
    if judgement is Judgement.UNCLEAR:
        return []
    confirmed = judgement is Judgement.CONFIRMED
    direction = Direction.RAISE if confirmed else Direction.LOWER
    delta = config.raise_by if confirmed else config.lower_by
    reason = f"instruction {instruction.instruction_id}: {judgement.value}"
    out: dict[str, IndicatorFeedback] = {}
    for item in instruction.evidence:
        if item.indicator and item.value and item.value not in out:
            out[item.value] = IndicatorFeedback(item.value, direction, delta, item.rule, reason)
    return list(out.values())
