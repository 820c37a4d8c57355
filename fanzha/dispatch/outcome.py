"""Structured outcomes of dissuasion, as real platforms record them, and contact attempts.

An outcome says whether the person was reached (and if not, why), who was reached, what the
officer judged (fraud confirmed, not fraud, unclear), whether money had already gone (with the
payees, for the funds workflow), whether the person was dissuaded in time, the amounts at risk,
saved and lost (integer fen), the fraud type, the SMS template sent, whether a home visit was
dispatched and the anti-fraud notice (反诈告知书) signed, and a note. Contradictions are refused
with one problem per field, in Chinese and English.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fanzha.dispatch.levels import Channel
from fanzha.model.enums import FRAUD_TYPE_ALIASES, FraudType

Fen = Annotated[StrictInt, Field(ge=0, description="Integer fen (1 yuan = 100 fen).")]


class NotReachedReason(enum.StrEnum):
    """Why the person was not reached."""

    NO_ANSWER = "no_answer"
    HUNG_UP = "hung_up"
    WRONG_NUMBER = "wrong_number"
    REFUSED = "refused"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _NOT_REACHED_ZH[self]


_NOT_REACHED_ZH = {
    NotReachedReason.NO_ANSWER: "无人接听",
    NotReachedReason.HUNG_UP: "被挂断",
    NotReachedReason.WRONG_NUMBER: "号码错误/空号",
    NotReachedReason.REFUSED: "拒绝沟通",
}


class Contacted(enum.StrEnum):
    """Who was reached."""

    PERSON = "person"
    RELATIVE = "relative"
    OTHER = "other"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {Contacted.PERSON: "本人", Contacted.RELATIVE: "亲属", Contacted.OTHER: "其他人"}[
            self
        ]


class Judgement(enum.StrEnum):
    """What the officer concluded about the warning."""

    CONFIRMED = "confirmed"
    NOT_FRAUD = "not_fraud"
    UNCLEAR = "unclear"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {
            Judgement.CONFIRMED: "确认涉诈",
            Judgement.NOT_FRAUD: "非诈骗",
            Judgement.UNCLEAR: "无法确定",
        }[self]


def _fraud_type(value: object) -> object:
    """Accept the Chinese label (刷单返利) as well as the id."""
    if isinstance(value, str) and value.strip() in FRAUD_TYPE_ALIASES:
        return FRAUD_TYPE_ALIASES[value.strip()]
    return value


class Payee(BaseModel):
    """Where the defrauded person's money went, as they tell it (for stop-payment)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str = Field(min_length=1, max_length=64, description="Account or card number.")
    bank: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=128, description="Account holder.")
    amount_fen: Fen
    paid_at: AwareDatetime | None = None


class ContactAttempt(BaseModel):
    """One call, SMS or visit: when, by whom, and whether it reached the person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    reached: bool
    reason: NotReachedReason | None = None
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _reason_only_when_not_reached(self) -> Self:
        if self.reached and self.reason is not None:
            raise ValueError("a reached attempt has no not-reached reason")
        if not self.reached and self.reason is None:
            raise ValueError("an attempt that did not reach the person needs a reason")
        return self


@dataclass(frozen=True, slots=True)
class OutcomeProblem:
    """One field of an outcome that does not fit the rest."""

    field: str
    zh: str
    en: str

    def text(self, lang: str = "zh-CN") -> str:
        """The problem in ``lang`` (zh-CN unless English)."""
        return f"{self.field}: {self.en if lang.lower().startswith('en') else self.zh}"


class OutcomeError(ValueError):
    """An outcome that cannot be recorded; ``problems`` names every field and why."""

    def __init__(self, problems: list[OutcomeProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.text("en") for p in problems))

    def text(self, lang: str = "zh-CN") -> str:
        """All problems in ``lang``."""
        return "; ".join(p.text(lang) for p in self.problems)


class Outcome(BaseModel):
    """The structured result of dissuasion."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reached: bool
    not_reached_reason: NotReachedReason | None = None
    contacted: Contacted | None = None
    judgement: Judgement = Judgement.UNCLEAR
    defrauded: bool = Field(default=False, description="Money had already gone (已被骗).")
    dissuaded: bool = Field(default=False, description="Stopped in time (劝阻成功).")
    amount_at_risk_fen: Fen = 0
    amount_saved_fen: Fen = 0
    amount_lost_fen: Fen = 0
    fraud_type: Annotated[FraudType | None, BeforeValidator(_fraud_type)] = None
    sms_template: str | None = Field(default=None, max_length=64)
    home_visit: bool = Field(default=False, description="A station was sent to the home.")
    notice_signed: bool = Field(default=False, description="反诈告知书 signed.")
    payees: tuple[Payee, ...] = ()
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = outcome_problems(self)
        if problems:
            summary = "; ".join(p.text("en") for p in problems)
            raise PydanticCustomError(
                "outcome", "{summary}", {"summary": summary, "problems": problems}
            )
        return self


def _reach_problems(o: Outcome) -> list[OutcomeProblem]:
    out = []
    if not o.reached and o.not_reached_reason is None:
        out.append(
            OutcomeProblem(
                "not_reached_reason", "未联系上时须填写原因", "required when not reached"
            )
        )
    if o.reached and o.not_reached_reason is not None:
        out.append(
            OutcomeProblem(
                "not_reached_reason", "已联系上时不应填写未联系原因", "must be empty when reached"
            )
        )
    if o.reached and o.contacted is None:
        out.append(
            OutcomeProblem(
                "contacted", "已联系上时须填写联系对象(本人/亲属)", "required when reached"
            )
        )
    if not o.reached and o.contacted is not None:
        out.append(
            OutcomeProblem(
                "contacted", "未联系上时不应填写联系对象", "must be empty when not reached"
            )
        )
    if not o.reached and o.dissuaded:
        out.append(
            OutcomeProblem(
                "dissuaded",
                "未联系上的人不能记为劝阻成功",
                "cannot be dissuaded without being reached",
            )
        )
    if not o.reached and o.notice_signed:
        out.append(
            OutcomeProblem(
                "notice_signed",
                "未联系上的人不能签署反诈告知书",
                "cannot be signed by someone not reached",
            )
        )
    return out


def _fraud_problems(o: Outcome) -> list[OutcomeProblem]:
    out = []
    if o.defrauded and o.judgement is not Judgement.CONFIRMED:
        out.append(
            OutcomeProblem(
                "judgement", "已被骗即为确认涉诈", "must be 'confirmed' when already defrauded"
            )
        )
    if o.judgement is Judgement.NOT_FRAUD and (o.dissuaded or o.amount_saved_fen):
        out.append(
            OutcomeProblem(
                "judgement",
                "非诈骗不能同时记为劝阻成功或挽回金额",
                "not fraud, yet dissuaded or money saved",
            )
        )
    if o.judgement is Judgement.NOT_FRAUD and o.fraud_type is not None:
        out.append(
            OutcomeProblem("fraud_type", "非诈骗不应填写诈骗类型", "must be empty when not fraud")
        )
    return out


def _money_problems(o: Outcome) -> list[OutcomeProblem]:
    out = []
    if o.amount_saved_fen > o.amount_at_risk_fen:
        out.append(
            OutcomeProblem(
                "amount_saved_fen", "挽回金额不能超过涉险金额", "cannot exceed amount_at_risk_fen"
            )
        )
    if o.defrauded and o.amount_lost_fen == 0:
        out.append(
            OutcomeProblem(
                "amount_lost_fen", "已被骗时须填写被骗金额", "required (> 0) when already defrauded"
            )
        )
    if not o.defrauded and o.amount_lost_fen:
        out.append(
            OutcomeProblem(
                "amount_lost_fen", "未被骗时被骗金额应为0", "must be 0 unless already defrauded"
            )
        )
    if o.defrauded and not o.payees:
        out.append(
            OutcomeProblem(
                "payees",
                "已被骗时须填写收款账户(用于止付)",
                "needed for stop-payment when already defrauded",
            )
        )
    if not o.defrauded and o.payees:
        out.append(
            OutcomeProblem(
                "payees", "未被骗时不应填写收款账户", "only for an already defrauded person"
            )
        )
    if o.defrauded and sum(p.amount_fen for p in o.payees) > o.amount_lost_fen:
        out.append(
            OutcomeProblem(
                "payees",
                "各收款账户金额之和超过被骗金额",
                "amounts add up to more than amount_lost_fen",
            )
        )
    return out


def outcome_problems(outcome: Outcome) -> list[OutcomeProblem]:
    """Every contradiction between an outcome's fields (empty when it is consistent)."""
    return [*_reach_problems(outcome), *_fraud_problems(outcome), *_money_problems(outcome)]


def parse_outcome(data: Mapping[str, Any]) -> Outcome:
    """An outcome from input (a form, JSON); OutcomeError lists every problem by field."""
    try:
        return Outcome.model_validate(data)
    except ValidationError as exc:
        raise OutcomeError(_problems(exc)) from None


def _problems(exc: ValidationError) -> list[OutcomeProblem]:
    out: list[OutcomeProblem] = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        if err["type"] == "outcome":
            out.extend(ctx["problems"])
            continue
        field = ".".join(str(p) for p in err["loc"]) or "outcome"
        msg = err["msg"].removeprefix("Value error, ")
        zh = "缺少此项" if err["type"] == "missing" else f"格式不正确({msg})"
        out.append(OutcomeProblem(field, zh, msg))
    return out
