"""Field kinds: what a field holds, how it is normalised, and how it is stored in Arrow.

Event models annotate each field with a :class:`Kind`; the pydantic validators (one record at
a time) and the vectorised ingestion kernels (a column at a time) both dispatch on it, so the
two paths share one definition of every value type.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo

from fanzha.model import values


class Kind(enum.StrEnum):
    """The value type of one event field."""

    ID = "id"
    STRING = "string"
    TEXT = "text"
    MSISDN = "msisdn"
    ACCOUNT = "account"
    ID_NUMBER = "id_number"
    URL = "url"
    DOMAIN = "domain"
    MONEY_FEN = "money_fen"
    CURRENCY = "currency"
    TIMESTAMP = "timestamp"
    DATE = "date"
    INT = "int"
    BOOL = "bool"
    ENUM = "enum"
    MSISDN_LIST = "msisdn_list"
    ACCOUNT_LIST = "account_list"
    URL_LIST = "url_list"


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """Annotation carried by every event field: its kind, unit and (for enums) choices."""

    kind: Kind
    unit: str | None = None


MAX_ID_CHARS = 256
MAX_STRING_CHARS = 512


def _ctx(info: ValidationInfo, key: str, default: Any) -> Any:
    ctx = info.context or {}
    return ctx.get(key, default)


def _as_str(value: object) -> str:
    """Accept strings and integers (JSON numbers for phone or account numbers), nothing else."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise values.InvalidValue(f"expected text, got {type(value).__name__}")
    return str(value)


def check_id(value: object) -> str:
    """An identifier: non-empty printable text of at most 256 characters."""
    text = _as_str(value).strip()
    if not text:
        raise values.InvalidValue("identifier is empty")
    if len(text) > MAX_ID_CHARS:
        raise values.InvalidValue(f"identifier is {len(text)} characters; at most {MAX_ID_CHARS}")
    if not text.isprintable():
        raise values.InvalidValue("identifier contains control characters")
    return text


def check_string(value: object) -> str:
    """A short label (name, code): cleaned text of at most 512 characters."""
    text = values.clean_text(_as_str(value), max_bytes=MAX_STRING_CHARS * 4)
    if len(text) > MAX_STRING_CHARS:
        raise values.InvalidValue(f"text is {len(text)} characters; at most {MAX_STRING_CHARS}")
    return text


def check_int(value: object) -> int:
    """A non-negative whole number (durations, counts); digit strings are accepted."""
    if isinstance(value, bool):
        raise values.InvalidValue("expected a whole number, got true/false")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, float | Decimal) and value == int(value):
        number = int(value)
    else:
        raise values.InvalidValue(f"expected a whole number, got {str(value)[:40]!r}")
    if not 0 <= number < 2**53:
        raise values.InvalidValue(f"number {number} is out of range 0…2^53")
    return number


_TRUE = {"1", "true", "t", "yes", "y", "是"}
_FALSE = {"0", "false", "f", "no", "n", "否"}


def check_bool(value: object) -> bool:
    """A yes/no flag: true/false, 1/0, yes/no, 是/否."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise values.InvalidValue(f"expected true/false, got {text[:40]!r}")


def check_date(value: object) -> dt.date:
    """A calendar date as written (YYYY-MM-DD and common variants), 1900–2100."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return values.parse_date(_as_str(value))


def _text(value: object, info: ValidationInfo) -> str:
    return values.clean_text(_as_str(value), max_bytes=_ctx(info, "max_field_bytes", 65_536))


def _ts(value: object, info: ValidationInfo) -> dt.datetime:
    if isinstance(value, dt.datetime | dt.date | int | str):
        return values.parse_timestamp(value, tz=_ctx(info, "tz", values.DEFAULT_TZ))
    raise values.InvalidValue(f"expected a date-time, got {type(value).__name__}")


def _money(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise values.InvalidValue(f"expected an amount in fen, got {type(value).__name__}")
    return values.parse_money_fen(value, unit="fen")


def _list_of(parse: Callable[[str], str]) -> Callable[[object], list[str]]:
    def check(value: object) -> list[str]:
        items = split_list(value)
        return [parse(item) for item in items]

    return check


def split_list(value: object) -> list[str]:
    """A list given as a JSON array or as text separated by ``;`` ``,`` ``|`` or ``、``."""
    if isinstance(value, list | tuple):
        return [_as_str(v).strip() for v in value if str(v).strip()]
    text = _as_str(value)
    for sep in (",", "|", "、", "，", "；"):
        text = text.replace(sep, ";")
    return [part.strip() for part in text.split(";") if part.strip()]


SCALAR_CHECKS: dict[Kind, Callable[[object], object]] = {
    Kind.ID: check_id,
    Kind.STRING: check_string,
    Kind.MSISDN: lambda v: values.normalise_msisdn(_as_str(v)),
    Kind.ACCOUNT: lambda v: values.parse_account(_as_str(v)).value,
    Kind.ID_NUMBER: lambda v: values.parse_id_number(_as_str(v)).value,
    Kind.URL: lambda v: values.parse_url(_as_str(v)).value,
    Kind.DOMAIN: lambda v: values.parse_domain(_as_str(v)),
    Kind.MONEY_FEN: _money,
    Kind.CURRENCY: lambda v: values.parse_currency(_as_str(v)),
    Kind.DATE: check_date,
    Kind.INT: check_int,
    Kind.BOOL: check_bool,
    Kind.MSISDN_LIST: _list_of(lambda v: values.normalise_msisdn(v)),
    Kind.ACCOUNT_LIST: _list_of(lambda v: values.parse_account(v).value),
    Kind.URL_LIST: _list_of(lambda v: values.parse_url(v).value),
}


def _plain(kind: Kind) -> BeforeValidator:
    check = SCALAR_CHECKS[kind]

    def validate(value: object) -> object:
        return check(value)

    return BeforeValidator(validate)


EventId = Annotated[str, FieldMeta(Kind.ID), _plain(Kind.ID)]
Label = Annotated[str, FieldMeta(Kind.STRING), _plain(Kind.STRING)]
Text = Annotated[str, FieldMeta(Kind.TEXT), BeforeValidator(_text)]
Phone = Annotated[str, FieldMeta(Kind.MSISDN), _plain(Kind.MSISDN)]
AccountNo = Annotated[str, FieldMeta(Kind.ACCOUNT), _plain(Kind.ACCOUNT)]
IdNo = Annotated[str, FieldMeta(Kind.ID_NUMBER), _plain(Kind.ID_NUMBER)]
UrlStr = Annotated[str, FieldMeta(Kind.URL), _plain(Kind.URL)]
DomainStr = Annotated[str, FieldMeta(Kind.DOMAIN), _plain(Kind.DOMAIN)]
Fen = Annotated[int, FieldMeta(Kind.MONEY_FEN, unit="fen (0.01 CNY)"), _plain(Kind.MONEY_FEN)]
Currency = Annotated[str, FieldMeta(Kind.CURRENCY), _plain(Kind.CURRENCY)]
Timestamp = Annotated[dt.datetime, FieldMeta(Kind.TIMESTAMP), BeforeValidator(_ts)]
Day = Annotated[dt.date, FieldMeta(Kind.DATE), _plain(Kind.DATE)]
Seconds = Annotated[int, FieldMeta(Kind.INT, unit="seconds"), _plain(Kind.INT)]
Count = Annotated[int, FieldMeta(Kind.INT), _plain(Kind.INT)]
Flag = Annotated[bool, FieldMeta(Kind.BOOL), _plain(Kind.BOOL)]
PhoneList = Annotated[list[str], FieldMeta(Kind.MSISDN_LIST), _plain(Kind.MSISDN_LIST)]
AccountList = Annotated[list[str], FieldMeta(Kind.ACCOUNT_LIST), _plain(Kind.ACCOUNT_LIST)]
UrlList = Annotated[list[str], FieldMeta(Kind.URL_LIST), _plain(Kind.URL_LIST)]
