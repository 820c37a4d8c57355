"""Police reports (警情): the victim, what happened, what was lost, and where the money went.

A report comes from a station desk, the hotline, or an "already defrauded" dissuasion outcome
(:class:`~fanzha.dispatch.effects.CaseRequest`, see :func:`from_case_request`). Its values are
normalised on the way in (E.164 phones, account digits with the bank from the card BIN,
normalised URLs); a bad value is refused with its location (``payments[1].account``), and
nothing is half-stored. Once confirmed, everything it names becomes a fraud indicator
(:func:`indicators_of`), so that retro-correlation warns everyone else in contact with the
same number, URL or account.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from fanzha.dispatch.effects import CaseRequest
from fanzha.intel.model import Indicator, IndicatorKind, Verdict
from fanzha.model import values
from fanzha.model.enums import FraudType
from fanzha.model.events import FraudTypeField

#: a loss of this much or more is put under escalated supervision (提级挂牌督办): 100,000 yuan
ESCALATION_FEN: Final = 100_000 * 100
#: confidence of indicators named by a confirmed report (the domain of a URL: a little less)
REPORT_CONFIDENCE: Final = 0.9
DOMAIN_CONFIDENCE: Final = 0.7


class ReportError(ValueError):
    """A report that cannot be taken: every problem, each with its field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{where}: {why}" for where, why in problems))


class Payment(BaseModel):
    """One payment the victim made: to which account (and bank), how much, when, how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str = Field(min_length=1, max_length=64, description="Payee account or card.")
    bank: str | None = Field(default=None, max_length=64, description="Payee bank (BIN).")
    name: str | None = Field(default=None, max_length=128, description="Payee name.")
    amount_fen: int = Field(gt=0, lt=10**15)
    paid_at: AwareDatetime | None = None
    channel: str = Field(default="", max_length=32, description="mobile, counter, ATM …")

    @field_validator("account")
    @classmethod
    def _account(cls, raw: str) -> str:
        return values.parse_account(raw).value

    @field_validator("name")
    @classmethod
    def _name(cls, raw: str | None) -> str | None:
        return None if raw is None else values.clean_text(raw, max_bytes=512) or None

    def with_bank(self) -> Payment:
        """The payment with its bank filled from the card BIN where it was not given."""
        if self.bank:
            return self
        return self.model_copy(update={"bank": values.parse_account(self.account).bank})


class Report(BaseModel):
    """A fraud report as the officer confirmed it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    report_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")
    unit: str = Field(min_length=1, max_length=32, description="Unit that took the report.")
    received_at: AwareDatetime
    taken_by: str = Field(min_length=1, max_length=128)
    source: str = Field(default="desk", max_length=32, description="desk, hotline, outcome …")
    victim_name: str | None = Field(default=None, max_length=64)
    victim_phone: str | None = None
    victim_id_number: str | None = None
    fraud_type: FraudTypeField = FraudType.OTHER
    narrative: str = Field(default="", max_length=20_000)
    loss_fen: int = Field(default=0, ge=0, lt=10**15)
    payments: tuple[Payment, ...] = ()
    suspect_phones: tuple[str, ...] = Field(default=(), max_length=200)
    suspect_urls: tuple[str, ...] = Field(default=(), max_length=200)
    suspect_apps: tuple[str, ...] = Field(default=(), max_length=200)
    instruction_id: str | None = Field(default=None, max_length=64)

    @field_validator("victim_phone")
    @classmethod
    def _phone(cls, raw: str | None) -> str | None:
        return None if raw is None else values.normalise_msisdn(raw)

    @field_validator("victim_id_number")
    @classmethod
    def _id(cls, raw: str | None) -> str | None:
        return None if raw is None else values.parse_id_number(raw).value

    @field_validator("suspect_phones")
    @classmethod
    def _phones(cls, raw: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(values.normalise_msisdn(p) for p in raw)

    @field_validator("suspect_urls")
    @classmethod
    def _urls(cls, raw: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(values.parse_url(u).value for u in raw)

    @field_validator("suspect_apps")
    @classmethod
    def _apps(cls, raw: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(a for a in (values.clean_text(x, max_bytes=800) for x in raw) if a)

    @field_validator("narrative", "victim_name")
    @classmethod
    def _text(cls, raw: str | None) -> str | None:
        return None if raw is None else values.clean_text(raw, max_bytes=80_000)

    @property
    def escalated(self) -> bool:
        """Loss ≥ 100,000 yuan: escalated supervision (提级挂牌督办)."""
        return self.loss_fen >= ESCALATION_FEN

    @property
    def paid_fen(self) -> int:
        """The sum of the payments."""
        return sum(p.amount_fen for p in self.payments)

    @property
    def accounts(self) -> tuple[str, ...]:
        """Payee accounts, each once, in order."""
        return _unique(p.account for p in self.payments)


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def parse_report(data: dict[str, Any]) -> Report:
    """A :class:`Report` from a form or JSON body, with banks filled from card BINs;
    :class:`ReportError` lists every problem with its field."""
    try:
        report = Report.model_validate(data)
    except ValidationError as exc:
        problems = [
            (".".join(str(p) for p in e["loc"]) or "report", _reason(e)) for e in exc.errors()
        ]
        raise ReportError(problems) from None
    if report.loss_fen == 0 and report.payments:  # the loss defaults to what was paid
        report = report.model_copy(update={"loss_fen": report.paid_fen})
    return report.model_copy(update={"payments": tuple(p.with_bank() for p in report.payments)})


def _reason(error: Any) -> str:
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    return str(inner) if inner is not None else str(error["msg"])


def from_case_request(request: CaseRequest, report_id: str) -> Report:
    """The report of an "already defrauded" dissuasion outcome."""
    payments = [
        {
            "account": p.account,
            "bank": p.bank,
            "name": p.name,
            "amount_fen": p.amount_fen,
            "paid_at": p.paid_at,
            "channel": "",
        }
        for p in request.payees
        if p.amount_fen > 0
    ]
    return parse_report(
        {
            "report_id": report_id,
            "unit": request.unit,
            "received_at": request.reported_at,
            "taken_by": request.reported_by,
            "source": "outcome",
            "victim_phone": request.phone,
            "victim_id_number": request.id_number,
            "fraud_type": request.fraud_type,
            "narrative": request.note,
            "loss_fen": request.amount_lost_fen,
            "payments": payments,
            "instruction_id": request.instruction_id,
        }
    )


def indicators_of(report: Report, at: dt.datetime | None = None) -> list[Indicator]:
    """Every number, URL (and its host), account and app the report names, as fraud
    indicators with source ``report:<id>`` — seen first when the report was taken."""
    seen = at or report.received_at
    source = f"report:{report.report_id}"

    def make(kind: IndicatorKind, value: str, confidence: float) -> Indicator:
        return Indicator(
            kind=kind,
            value=value,
            verdict=Verdict.FRAUD,
            confidence=confidence,
            source=source,
            first_seen=seen,
            last_seen=seen,
            note=f"{report.fraud_type.label_zh} 报案 {report.report_id}",
        )

    found = [make(IndicatorKind.PHONE, p, REPORT_CONFIDENCE) for p in report.suspect_phones]
    found += [make(IndicatorKind.ACCOUNT, a, REPORT_CONFIDENCE) for a in report.accounts]
    for url in report.suspect_urls:
        found.append(make(IndicatorKind.URL, url, REPORT_CONFIDENCE))
        found.append(make(IndicatorKind.DOMAIN, values.parse_url(url).host, DOMAIN_CONFIDENCE))
    found += [
        make(IndicatorKind.APP, a.lower()[:200], REPORT_CONFIDENCE) for a in report.suspect_apps
    ]
    unique: dict[tuple[str, str], Indicator] = {}
    for ind in found:
        unique.setdefault(ind.key, ind)
    return list(unique.values())
