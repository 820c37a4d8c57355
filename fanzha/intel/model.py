"""Indicators: the intelligence the centre holds about phone numbers, domains, URLs, accounts,
apps and devices.

An indicator's ``value`` is always stored normalised (:func:`normalise_value`), so that the
same number or host written two ways is one indicator. Allow-list entries (verdict ``allow``)
win over block entries when both match.
"""

from __future__ import annotations

import datetime as dt
import enum

from pydantic import BaseModel, ConfigDict, Field

from fanzha.model import values


class IndicatorKind(enum.StrEnum):
    """What an indicator names."""

    PHONE = "phone"
    DOMAIN = "domain"
    URL = "url"
    ACCOUNT = "account"
    APP = "app"
    DEVICE = "device"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _KIND_ZH[self]


_KIND_ZH = {
    IndicatorKind.PHONE: "电话号码",
    IndicatorKind.DOMAIN: "域名",
    IndicatorKind.URL: "网址",
    IndicatorKind.ACCOUNT: "银行账户",
    IndicatorKind.APP: "应用",
    IndicatorKind.DEVICE: "设备",
}


class Verdict(enum.StrEnum):
    """The judgement on an indicator: block (fraud, suspicious) or allow."""

    FRAUD = "fraud"
    SUSPICIOUS = "suspicious"
    ALLOW = "allow"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _VERDICT_ZH[self]

    @property
    def rank(self) -> int:
        """Severity for upgrades: allow 0 < suspicious 1 < fraud 2."""
        return _VERDICT_RANK[self]


_VERDICT_ZH = {Verdict.FRAUD: "涉诈", Verdict.SUSPICIOUS: "可疑", Verdict.ALLOW: "白名单"}
_VERDICT_RANK = {Verdict.ALLOW: 0, Verdict.SUSPICIOUS: 1, Verdict.FRAUD: 2}


class Indicator(BaseModel):
    """One piece of intelligence: a normalised value of a kind, with a verdict and provenance."""

    model_config = ConfigDict(frozen=True)

    kind: IndicatorKind
    value: str = Field(description="Normalised value (E.164 number, punycode host, URL …).")
    verdict: Verdict = Verdict.FRAUD
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    source: str = Field(default="manual", description="Who said so: a feed, a report, a user.")
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    expires: dt.datetime | None = Field(default=None, description="Ignored after this moment.")
    note: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Identity of the indicator: (kind, value)."""
        return (self.kind.value, self.value)

    def active(self, at: dt.datetime) -> bool:
        """Whether the indicator is in force at ``at`` (not expired)."""
        return self.expires is None or at < self.expires


def normalise_value(kind: IndicatorKind, raw: str) -> str:
    """The canonical form of ``raw`` for ``kind``; raises ``values.InvalidValue`` when invalid.

    Phones become E.164 (or a pseudonym), domains the lower-case punycode host (a host, not
    cut to its registered domain: ``a.b.example.com`` blocks only that host and below), URLs
    the normalised URL, accounts their digits, apps and devices trimmed text (apps lower-case).
    """
    text = raw.strip()
    if not text:
        raise values.InvalidValue("empty value")
    if kind is IndicatorKind.PHONE:
        return values.normalise_msisdn(text)
    if kind is IndicatorKind.DOMAIN:
        return values.parse_domain(text)
    if kind is IndicatorKind.URL:
        return values.parse_url(text).value
    if kind is IndicatorKind.ACCOUNT:
        return values.parse_account(text).value
    if kind is IndicatorKind.APP:
        return text.lower()[:200]
    return text[:100]
