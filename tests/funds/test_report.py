"""Report intake: normalised values, located errors, banks from BINs, escalation, indicators."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fanzha.dispatch.effects import CaseRequest
from fanzha.dispatch.outcome import Payee
from fanzha.funds.report import (
    ESCALATION_FEN,
    ReportError,
    from_case_request,
    indicators_of,
    parse_report,
)
from fanzha.intel.model import IndicatorKind, Verdict
from fanzha.model.enums import FraudType

AT = dt.datetime(2024, 5, 1, 6, 0, tzinfo=dt.UTC)


def form(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "report_id": "R1",
        "unit": "50010101",
        "received_at": AT.isoformat(),
        "taken_by": "user:li",
        "fraud_type": "刷单返利",
        "narrative": "報案人稱其轉賬。",
        "payments": [
            {"account": "6222 0212 3456 7890 128", "amount_fen": 63_900, "paid_at": AT},
            {"account": "6217856674919014382", "amount_fen": 1_000, "bank": "某村镇银行"},
        ],
        "suspect_phones": ["138 0940 2934", "+8613809402934"],
        "suspect_urls": ["hxxps://Evil.example.com/pay"],
        "suspect_apps": ["乐任务"],
    }
    data.update(changes)
    return data


def test_values_are_normalised_and_banks_come_from_the_bin() -> None:
    report = parse_report(form())
    assert report.fraud_type is FraudType.ORDER_BRUSHING
    assert report.narrative == "报案人称其转账。"
    assert report.payments[0].account == "6222021234567890128"
    assert report.payments[0].bank == "工商银行"
    assert report.payments[1].bank == "某村镇银行"  # given wins over the BIN
    assert report.suspect_phones == ("+8613809402934",)
    assert report.loss_fen == 64_900  # defaults to the payments
    assert not report.escalated


def test_every_problem_is_located() -> None:
    bad = form(payments=[{"account": "x!", "amount_fen": -1}], suspect_phones=["12"])
    with pytest.raises(ReportError) as caught:
        parse_report(bad)
    where = {w for w, _ in caught.value.problems}
    assert {"payments.0.account", "payments.0.amount_fen", "suspect_phones"} <= where


def test_unknown_fields_and_naive_times_are_refused() -> None:
    with pytest.raises(ReportError, match="received_at"):
        parse_report(form(received_at="2024-05-01T08:00:00"))
    with pytest.raises(ReportError, match="whatever: Extra"):
        parse_report(form(whatever=1))


def test_a_loss_of_100000_yuan_is_escalated() -> None:
    assert parse_report(form(loss_fen=ESCALATION_FEN)).escalated
    assert not parse_report(form(loss_fen=ESCALATION_FEN - 1)).escalated


def test_everything_named_becomes_a_fraud_indicator() -> None:
    found = {(i.kind, i.value): i for i in indicators_of(parse_report(form()))}
    assert set(found) == {
        (IndicatorKind.PHONE, "+8613809402934"),
        (IndicatorKind.ACCOUNT, "6222021234567890128"),
        (IndicatorKind.ACCOUNT, "6217856674919014382"),
        (IndicatorKind.URL, "https://evil.example.com/pay"),
        (IndicatorKind.DOMAIN, "evil.example.com"),
        (IndicatorKind.APP, "乐任务"),
    }
    for ind in found.values():
        assert ind.verdict is Verdict.FRAUD and ind.source == "report:R1"
        assert ind.first_seen == AT


def test_an_already_defrauded_outcome_becomes_a_report() -> None:
    request = CaseRequest(
        instruction_id="I1",
        warning_id="W1",
        subject="id-1",
        id_number=None,
        phone="13812341234",
        unit="50010101",
        fraud_type=FraudType.FAKE_INVESTMENT,
        amount_lost_fen=20_000_000,
        payees=(Payee(account="6222021234567890128", amount_fen=20_000_000, paid_at=AT),),
        reported_at=AT,
        reported_by="user:li",
        note="已转账",
    )
    report = from_case_request(request, "R-I1")
    assert report.source == "outcome" and report.instruction_id == "I1"
    assert report.escalated and report.victim_phone == "+8613812341234"
    assert report.payments[0].bank == "工商银行"
