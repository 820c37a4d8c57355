"""Value types: parse, normalise and validate identifiers, money, time and text.

Every ``parse_*`` function is pure and raises :class:`InvalidValue` with a reason a person
can act on (what was wrong and what was expected). Nothing here does I/O or downloads.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal


class InvalidValue(ValueError):
    """A value that cannot be accepted, with a reason a person can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PhoneKind(enum.StrEnum):
    """Kind of a phone number, as used by detection rules."""

    CN_MOBILE = "cn_mobile"
    CN_VIRTUAL = "cn_virtual"  # virtual-operator ranges 170, 171, 162, 165, 167
    CN_FIXED = "cn_fixed"
    CN_SERVICE = "cn_service"  # short service numbers such as 96110, 12381, 95588
    INTERNATIONAL = "international"
    PSEUDONYM = "pseudonym"  # a hashed / keyed-HMAC identifier (hex), matched as-is


@dataclass(frozen=True, slots=True)
class Msisdn:
    """A normalised phone number: E.164 (``+8613800138000``) or a lower-case hex pseudonym."""

    value: str
    kind: PhoneKind
    carrier: str | None = None  # e.g. 中国移动 / China Mobile, where known
    region: str | None = None  # home region (province / city) where known, zh


@dataclass(frozen=True, slots=True)
class BankAccount:
    """A bank account or card number: digits only, with its Luhn status and bank where known."""

    value: str
    luhn_valid: bool | None  # None where Luhn does not apply (not a card-length number)
    bank: str | None = None  # bank name by BIN where known


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid 18-digit Chinese resident identity number."""

    value: str
    region_code: str  # first six digits
    birth_date: dt.date
    sex: str  # "M" or "F"

    def age_on(self, day: dt.date) -> int:
        """Whole years of age on ``day``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Url:
    """A normalised URL with its host in punycode and its registered domain."""

    value: str
    host: str
    registered_domain: str
