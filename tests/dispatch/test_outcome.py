"""Outcomes: consistent ones are accepted, contradictions refused field by field (zh and en);
the decisions an outcome sets in motion."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fanzha.dispatch.effects import (
    CaseRequest,
    Direction,
    FeedbackConfig,
    IndicatorFeedback,
    decide,
)
from fanzha.dispatch.instruction import Evidence
from fanzha.dispatch.levels import Channel, RiskLevel
from fanzha.dispatch.outcome import (
    ContactAttempt,
    Contacted,
    Judgement,
    NotReachedReason,
    Outcome,
    OutcomeError,
    Payee,
    parse_outcome,
)
from fanzha.model.enums import FraudType

from .instructions import FLAGGED, T0, issued

DEFRAUDED: dict[str, Any] = {
    "reached": True,
    "contacted": "person",
    "judgement": "confirmed",
    "defrauded": True,
    "amount_lost_fen": 11_000_000,
    "fraud_type": "刷单返利",
    "payees": [{"account": "6222000011112222", "bank": "工商银行", "amount_fen": 11_000_000}],
}


def test_a_consistent_outcome_reads_chinese_fraud_type_labels() -> None:
    outcome = parse_outcome(DEFRAUDED)
    assert outcome.fraud_type is FraudType.ORDER_BRUSHING
    assert outcome.payees == (
        Payee(account="6222000011112222", bank="工商银行", amount_fen=11_000_000),
    )


def test_not_reached_needs_only_the_reason() -> None:
    outcome = parse_outcome({"reached": False, "not_reached_reason": "no_answer"})
    assert outcome.not_reached_reason is NotReachedReason.NO_ANSWER
    assert outcome.judgement is Judgement.UNCLEAR


CONTRADICTIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"reached": False}, "not_reached_reason", "未联系上时须填写原因"),
    (
        {"reached": True, "contacted": "person", "not_reached_reason": "hung_up"},
        "not_reached_reason",
        "已联系上",
    ),
    ({"reached": True}, "contacted", "须填写联系对象"),
    (
        {"reached": False, "not_reached_reason": "refused", "contacted": "relative"},
        "contacted",
        "不应填写联系对象",
    ),
    (
        {"reached": False, "not_reached_reason": "refused", "dissuaded": True},
        "dissuaded",
        "劝阻成功",
    ),
    (
        {"reached": False, "not_reached_reason": "refused", "notice_signed": True},
        "notice_signed",
        "反诈告知书",
    ),
    ({**DEFRAUDED, "judgement": "unclear"}, "judgement", "确认涉诈"),
    (
        {"reached": True, "contacted": "person", "judgement": "not_fraud", "dissuaded": True},
        "judgement",
        "非诈骗",
    ),
    (
        {"reached": True, "contacted": "person", "judgement": "not_fraud", "fraud_type": "romance"},
        "fraud_type",
        "非诈骗",
    ),
    (
        {"reached": True, "contacted": "person", "amount_at_risk_fen": 5, "amount_saved_fen": 6},
        "amount_saved_fen",
        "挽回金额",
    ),
    ({**DEFRAUDED, "amount_lost_fen": 0, "payees": []}, "amount_lost_fen", "被骗金额"),
    ({**DEFRAUDED, "payees": []}, "payees", "收款账户"),
    ({"reached": True, "contacted": "person", "amount_lost_fen": 100}, "amount_lost_fen", "应为0"),
    (
        {"reached": True, "contacted": "person", "payees": DEFRAUDED["payees"]},
        "payees",
        "不应填写收款账户",
    ),
    ({**DEFRAUDED, "amount_lost_fen": 10}, "payees", "超过被骗金额"),
    (
        {"reached": True, "contacted": "person", "amount_at_risk_fen": 1.5},
        "amount_at_risk_fen",
        "格式不正确",
    ),
    (
        {"reached": True, "contacted": "person", "amount_saved_fen": -1},
        "amount_saved_fen",
        "格式不正确",
    ),
    ({"reached": True, "contacted": "person", "fraud_type": "lottery"}, "fraud_type", "格式不正确"),
    ({"contacted": "person"}, "reached", "缺少此项"),
    ({"reached": True, "contacted": "person", "colour": "red"}, "colour", "格式不正确"),
]


@pytest.mark.parametrize(("data", "field", "zh"), CONTRADICTIONS)
def test_contradictions_are_refused_by_field_in_both_languages(
    data: dict[str, Any], field: str, zh: str
) -> None:
    with pytest.raises(OutcomeError) as caught:
        parse_outcome(data)
    [problem] = [p for p in caught.value.problems if p.field == field]
    assert zh in problem.zh
    assert problem.en and f"{field}: {problem.en}" in caught.value.text("en")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(OutcomeError) as caught:
        parse_outcome({"reached": False, "dissuaded": True, "notice_signed": True})
    assert [p.field for p in caught.value.problems] == [
        "not_reached_reason",
        "dissuaded",
        "notice_signed",
    ]


def test_the_model_itself_refuses_contradictions() -> None:
    with pytest.raises(ValidationError, match="required when not reached"):
        Outcome(reached=False)


def test_an_attempt_has_a_reason_exactly_when_it_failed() -> None:
    with pytest.raises(ValidationError, match="needs a reason"):
        ContactAttempt(channel=Channel.PHONE, reached=False)
    with pytest.raises(ValidationError, match="no not-reached reason"):
        ContactAttempt(channel=Channel.PHONE, reached=True, reason=NotReachedReason.REFUSED)


# ---------------------------------------------------------------------------- effects


UNMATCHED = Evidence(rule="new_payee", event_id="T1", value="6222000099998888")
DOMAIN = Evidence(
    rule="visit_flagged_site", event_id="W1", value="pay-fast.top", indicator="fraud · report"
)


def recorded(data: dict[str, Any]) -> Any:
    ins = issued(RiskLevel.CRITICAL)
    ins.evidence = [FLAGGED, UNMATCHED, DOMAIN, FLAGGED.model_copy(update={"event_id": "C2"})]
    ins.sign("li", T0)
    ins.record_attempt("li", ContactAttempt(channel=Channel.PHONE, reached=True), T0)
    ins.record_outcome("li", parse_outcome(data), T0)
    return ins


def test_already_defrauded_opens_a_case_with_the_payees_and_confirms_the_indicators() -> None:
    ins = recorded(DEFRAUDED)
    case, *feedback = decide(ins, "li", T0)
    assert isinstance(case, CaseRequest)
    assert (case.warning_id, case.unit, case.fraud_type, case.amount_lost_fen) == (
        "W1",
        ins.unit,
        FraudType.ORDER_BRUSHING,
        11_000_000,
    )
    assert case.payees[0].account == "6222000011112222"
    assert feedback == [
        IndicatorFeedback(
            FLAGGED.value,
            Direction.RAISE,
            0.1,
            FLAGGED.rule,
            f"instruction {ins.instruction_id}: confirmed",
        ),
        IndicatorFeedback(
            DOMAIN.value,
            Direction.RAISE,
            0.1,
            DOMAIN.rule,
            f"instruction {ins.instruction_id}: confirmed",
        ),
    ]


def test_not_fraud_lowers_the_indicators_and_opens_no_case() -> None:
    ins = recorded({"reached": True, "contacted": "relative", "judgement": "not_fraud"})
    decisions = decide(ins, "li", T0, FeedbackConfig(lower_by=0.3))
    assert all(isinstance(d, IndicatorFeedback) for d in decisions)
    assert {
        (d.value, d.direction, d.delta) for d in decisions if isinstance(d, IndicatorFeedback)
    } == {
        (FLAGGED.value, Direction.LOWER, 0.3),
        (DOMAIN.value, Direction.LOWER, 0.3),
    }


def test_unclear_or_missing_outcomes_decide_nothing() -> None:
    assert decide(recorded({"reached": False, "not_reached_reason": "hung_up"}), "li", T0) == []
    assert decide(issued(), "li", T0) == []


def test_a_case_without_a_fraud_type_is_filed_as_other() -> None:
    data = {**DEFRAUDED, "fraud_type": None}
    [case, *_] = decide(recorded(data), "li", T0)
    assert isinstance(case, CaseRequest) and case.fraud_type is FraudType.OTHER
    assert Contacted.PERSON.label_zh == "本人"
