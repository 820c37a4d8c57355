"""Value types: parse, normalise and validate identifiers, money, time and text.

Every ``parse_*`` function is pure and raises :class:`InvalidValue` with a reason a person
can act on (what was wrong and what was expected). Nothing here does I/O or downloads.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import ipaddress
import re
import unicodedata
import urllib.parse
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal, ParamSpec, TypeVar, cast

import phonenumbers

from fanzha.model.banks import bank_for_card

if TYPE_CHECKING:
    import tldextract
    from opencc import OpenCC

DEFAULT_TZ: Final = "Asia/Shanghai"

# Cache sizes: parsers see the same values over and over (one number, many calls).
_CACHE: Final = 65536

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _cached(fn: Callable[_P, _T]) -> Callable[_P, _T]:
    """``lru_cache`` that keeps the wrapped function's signature for the type checker."""
    return cast("Callable[_P, _T]", functools.lru_cache(maxsize=_CACHE)(fn))


class InvalidValue(ValueError):
    """A value that cannot be accepted, with a reason a person can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _preview(raw: str, limit: int = 40) -> str:
    """A short repr of ``raw`` for error messages (huge inputs must not flood logs)."""
    return repr(raw if len(raw) <= limit else raw[:limit] + "…")


# ---------------------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------------------


class PhoneKind(enum.StrEnum):
    """Kind of a phone number, as used by detection rules."""

    CN_MOBILE = "cn_mobile"
    CN_VIRTUAL = "cn_virtual"  # virtual-operator ranges 170, 171, 162, 165, 167
    CN_FIXED = "cn_fixed"
    CN_SERVICE = "cn_service"  # 96110, 12381, 95588; 106… bulk-SMS sender numbers
    INTERNATIONAL = "international"
    PSEUDONYM = "pseudonym"  # a hashed / keyed-HMAC identifier (hex), matched as-is


@dataclass(frozen=True, slots=True)
class Msisdn:
    """A normalised phone number: E.164 (``+8613800138000``) or a lower-case hex pseudonym."""

    value: str
    kind: PhoneKind
    carrier: str | None = None  # e.g. 中国移动 / China Mobile, where known
    region: str | None = None  # home region (province / city) where known, zh


# Every full match is a Chinese mobile; group 1 is the 11-digit national number. RE2-safe.
MSISDN_FAST_PATTERN: Final[str] = r"^(?:\+86|0086|86)?(1[3-9][0-9]{9})$"
_FAST_RE: Final = re.compile(MSISDN_FAST_PATTERN)
_PHONE_JUNK_RE: Final = re.compile(r"[\s\-.()]")
_HEX_RE: Final = re.compile(r"[0-9a-fA-F]{16,128}")
_VIRTUAL_PREFIXES: Final = ("170", "171", "162", "165", "167")
_SP_RE: Final = re.compile(r"106[0-9]{5,14}")
_CN_MOBILE_RE: Final = re.compile(r"1[3-9][0-9]{9}")
# E.164 allows 15 digits; "00" + 15 digits is the longest dialable form (17).
_MAX_DIAL_DIGITS: Final = 17
# Card numbers are at most 19 digits; anything longer and all-digit can only be a hash.
_MIN_DIGIT_PSEUDONYM: Final = 20


def parse_msisdn(raw: str, *, default_region: str = "CN") -> Msisdn:
    """Parse a phone number or operator pseudonym into a normalised :class:`Msisdn`."""
    return _with_lookups(_parse_msisdn(raw, default_region))


def normalise_msisdn(raw: str) -> str:
    """The normalised value (E.164 or lower-case pseudonym) of a phone number."""
    return _parse_msisdn(raw, "CN").value


@_cached
def _parse_msisdn(raw: str, default_region: str) -> Msisdn:
    text = _PHONE_JUNK_RE.sub("", unicodedata.normalize("NFKC", raw))
    if not text:
        raise InvalidValue("phone number is empty; expected digits such as 13800138000")
    if _is_pseudonym(text):
        return Msisdn(text.lower(), PhoneKind.PSEUDONYM)
    if not re.fullmatch(r"\+?[0-9]+", text):
        raise InvalidValue(
            f"phone number {_preview(raw)} contains characters other than digits and a leading"
            " '+', and is not a 16–128 character hex pseudonym"
        )
    if len(text.lstrip("+")) > _MAX_DIAL_DIGITS:
        raise InvalidValue(
            f"phone number {_preview(raw)} has {len(text.lstrip('+'))} digits; a phone number"
            " has at most 15 (E.164) and a pseudonym must be hex of 16–128 characters"
        )
    fast = _FAST_RE.match(text)
    if fast and (default_region == "CN" or text.startswith(("+", "00"))):
        return _cn_mobile(fast.group(1))
    if default_region == "CN" and text[0] in "19" and len(text) <= 8:
        return _cn_service(text)
    if default_region == "CN" and _SP_RE.fullmatch(text):
        return Msisdn(text, PhoneKind.CN_SERVICE)  # 106 bulk-SMS (SP) numbers, no area code
    return _parse_with_library(text, raw, default_region)


def _is_pseudonym(text: str) -> bool:
    if not _HEX_RE.fullmatch(text):
        return False
    return not text.isdigit() or len(text) >= _MIN_DIGIT_PSEUDONYM


def _cn_mobile(national: str) -> Msisdn:
    kind = PhoneKind.CN_VIRTUAL if national.startswith(_VIRTUAL_PREFIXES) else PhoneKind.CN_MOBILE
    return Msisdn("+86" + national, kind)


def _cn_service(digits: str) -> Msisdn:
    if len(digits) < 3:
        raise InvalidValue(
            f"phone number {digits!r} is too short; service numbers have 3–8 digits (e.g. 110)"
        )
    return Msisdn(digits, PhoneKind.CN_SERVICE)


def _parse_with_library(text: str, raw: str, default_region: str) -> Msisdn:
    if text.startswith("00"):
        text = "+" + text[2:]
    elif len(text) == 13 and text.startswith("861"):
        text = "+" + text
    elif default_region == "CN" and not text.startswith(("+", "0")) and len(text) <= 8:
        raise InvalidValue(
            f"phone number {_preview(raw)} looks like a local fixed line without its area code;"
            " add the area code (e.g. 010-62345678)"
        )
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(
            f"phone number {_preview(raw)} cannot be parsed: {_pn_reason(exc)}"
        ) from exc
    if number.country_code == 86:
        return _cn_number(number, raw)
    return _international(number, raw)


def _pn_reason(exc: phonenumbers.NumberParseException) -> str:
    return str(exc).split(") ", 1)[-1]  # drop the "(1) " error-type prefix


def _cn_number(number: phonenumbers.PhoneNumber, raw: str) -> Msisdn:
    national = str(number.national_number)
    if _CN_MOBILE_RE.fullmatch(national):
        return _cn_mobile(national)
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(
            f"phone number {_preview(raw)} is not a valid Chinese number: expected a mobile"
            " (1[3-9] + 9 digits) or a fixed line with a known area code (e.g. 010-12345678)"
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Msisdn(e164, PhoneKind.CN_FIXED)


_POSSIBLE_REASONS: Final = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "of an impossible length",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "for an unknown country code",
}


def _international(number: phonenumbers.PhoneNumber, raw: str) -> Msisdn:
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _POSSIBLE_REASONS:
        raise InvalidValue(
            f"phone number {_preview(raw)} is {_POSSIBLE_REASONS[reason]} for country code"
            f" +{number.country_code}; check the digits and the country code"
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Msisdn(e164, PhoneKind.INTERNATIONAL)


@_cached
def _with_lookups(number: Msisdn) -> Msisdn:
    """Add carrier and home region (kept out of normalisation, which only needs the value)."""
    if number.kind in (PhoneKind.PSEUDONYM, PhoneKind.CN_SERVICE):
        return number
    parsed = phonenumbers.parse(number.value, None)
    if number.kind is PhoneKind.INTERNATIONAL:
        from phonenumbers import geocoder as pn_geocoder

        region = pn_geocoder.description_for_number(parsed, "zh") or None
        return Msisdn(number.value, number.kind, _carrier(parsed), region)
    return Msisdn(number.value, number.kind, _carrier(parsed), _region(parsed))


def _carrier(number: phonenumbers.PhoneNumber) -> str | None:
    # Imported on first use: the carrier and geocoder tables take seconds to load.
    from phonenumbers import carrier as pn_carrier

    return str(pn_carrier.name_for_number(number, "zh")) or None


def _region(number: phonenumbers.PhoneNumber) -> str | None:
    from phonenumbers import geocoder as pn_geocoder

    region = str(pn_geocoder.description_for_number(number, "zh"))
    # The geocoder falls back to the country name ("中国"), which says nothing for China.
    if not region or region == pn_geocoder.country_name_for_number(number, "zh"):
        return None
    return region


# ---------------------------------------------------------------------------------------
# Bank accounts
# ---------------------------------------------------------------------------------------


class AccountKind(enum.StrEnum):
    """Kind of a bank account identifier."""

    DOMESTIC = "domestic"  # digits only: Chinese card or account number
    IBAN = "iban"
    OTHER = "other"  # ISO 20022 Othr/Id: an alphanumeric proprietary identifier


@dataclass(frozen=True, slots=True)
class BankAccount:
    """A bank account or card number: digits only, with its Luhn status and bank where known."""

    value: str
    luhn_valid: bool | None  # None where Luhn does not apply (not a card-length number)
    bank: str | None = None  # bank name by BIN where known
    kind: AccountKind = AccountKind.DOMESTIC


_ACCOUNT_JUNK_RE: Final = re.compile(r"[\s\-]")
_IBAN_RE: Final = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
# ISO 20022 ``Othr/Id`` is Max34Text: third-party and synthetic data use short identifiers.
_OTHER_ID_RE: Final = re.compile(r"[A-Z0-9]{1,34}")
_CARD_LENGTHS: Final = range(16, 20)


@_cached
def parse_account(raw: str) -> BankAccount:
    """Parse a domestic account/card number, an IBAN or another account identifier."""
    text = _ACCOUNT_JUNK_RE.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if not text:
        raise InvalidValue("account number is empty; expected 6–34 digits or an IBAN")
    if re.fullmatch(r"[0-9]{6,}", text):
        return _domestic_account(text)
    if _IBAN_RE.fullmatch(text):
        return _iban(text)
    if _OTHER_ID_RE.fullmatch(text):
        return BankAccount(text, None, None, AccountKind.OTHER)
    raise InvalidValue(
        f"account {_preview(raw)} is not an account number: expected 6–34 digits, an IBAN,"
        " or an identifier of 1–34 letters and digits"
    )


def _domestic_account(digits: str) -> BankAccount:
    if len(digits) > 34:
        raise InvalidValue(
            f"account number has {len(digits)} digits; a domestic account has 6–34 digits"
        )
    if len(digits) not in _CARD_LENGTHS:
        return BankAccount(digits, None, None, AccountKind.DOMESTIC)
    # Luhn is reported, never enforced: many passbook and corporate accounts fail it.
    return BankAccount(digits, luhn_ok(digits), bank_for_card(digits), AccountKind.DOMESTIC)


def luhn_ok(digits: str) -> bool:
    """Whether an all-digit string passes the Luhn (mod 10) check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban(text: str) -> BankAccount:
    rearranged = text[4:] + text[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    if int(numeric) % 97 != 1:
        raise InvalidValue(
            f"IBAN {text} fails its mod-97 check; a character is wrong or two are swapped"
        )
    return BankAccount(text, None, None, AccountKind.IBAN)


# ---------------------------------------------------------------------------------------
# Resident identity numbers
# ---------------------------------------------------------------------------------------

PROVINCES: Final[dict[str, str]] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
    "83": "台湾省",  # residence permits for Taiwan residents use 83
}

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"
_ID_MIN_BIRTH: Final = dt.date(1900, 1, 1)
_ID_MAX_BIRTH: Final = dt.date(2100, 1, 1)


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid 18-digit Chinese resident identity number."""

    value: str
    region_code: str  # first six digits
    birth_date: dt.date
    sex: str  # "M" or "F"

    def age_on(self, day: dt.date) -> int:
        """Whole years of age on ``day``."""
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday

    @property
    def province(self) -> str:
        """Province (or equivalent) of the issuing region, zh name."""
        return PROVINCES[self.region_code[:2]]


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number."""
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


@_cached
def parse_id_number(raw: str) -> IdNumber:
    """Parse an 18-digit (or legacy 15-digit) Chinese resident identity number."""
    text = re.sub(r"\s", "", unicodedata.normalize("NFKC", raw)).upper()
    if re.fullmatch(r"[0-9]{15}", text):
        text = _upgrade_id15(text)
    elif not re.fullmatch(r"[0-9]{17}[0-9X]", text):
        raise InvalidValue(
            f"ID number {_preview(raw)} is malformed: expected 18 characters (17 digits and a"
            " digit or X) or a legacy 15-digit number"
        )
    expected = id_check_char(text[:17])
    if text[17] != expected:
        raise InvalidValue(
            f"ID number checksum is wrong: last character should be {expected!r}, got {text[17]!r}"
        )
    return _id_fields(text)


def _upgrade_id15(text: str) -> str:
    first17 = text[:6] + "19" + text[6:]
    return first17 + id_check_char(first17)


def _id_fields(text: str) -> IdNumber:
    if text[:2] not in PROVINCES:
        raise InvalidValue(
            f"ID number starts with {text[:2]!r}, which is not a province code"
            " (expected 11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71, 81–83)"
        )
    try:
        birth = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError as exc:
        raise InvalidValue(
            f"ID number birth date {text[6:14]!r} is not a real date (expected YYYYMMDD)"
        ) from exc
    if not _ID_MIN_BIRTH <= birth <= _ID_MAX_BIRTH:
        raise InvalidValue(
            f"ID number birth date {birth.isoformat()} is outside 1900-01-01 to 2100-01-01"
        )
    sex = "M" if int(text[16]) % 2 else "F"
    return IdNumber(text, text[:6], birth, sex)


# ---------------------------------------------------------------------------------------
# URLs and domains
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Url:
    """A normalised URL with its host in punycode and its registered domain."""

    value: str
    host: str
    registered_domain: str


_MAX_URL: Final = 2048
_CONTROL_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_HXXP_RE: Final = re.compile(r"^hxxp(s?)(?=:)", re.IGNORECASE)
_SCHEME_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
# A "scheme:" not followed by a port number (mailto:, javascript:) is not a bare host.
_OPAQUE_SCHEME_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(?![0-9]|$)")
_LABEL_SPLIT_RE: Final = re.compile("[.\u3002\uff0e\uff61]")
_LABEL_RE: Final = re.compile(r"[a-z0-9_\-]{1,63}")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# RFC 3986 sub-delims, gen-delims allowed in each part, unreserved marks and "%" so that
# existing %xx escapes are kept (which makes normalisation idempotent).
_PATH_SAFE: Final = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE: Final = _PATH_SAFE + "?"
_USERINFO_SAFE: Final = "%!$&'()*+,;=:-._~"


@_cached
def parse_url(raw: str) -> Url:
    """Parse and normalise an http(s) URL (defanged forms accepted)."""
    text = _undefang(_check_url_text(raw))
    scheme_match = _SCHEME_RE.match(text)
    if scheme_match is None:
        text = _schemeless(text)
        scheme_match = _SCHEME_RE.match(text)
        assert scheme_match is not None  # _schemeless always adds "http:"
    scheme = scheme_match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidValue(f"URL scheme {scheme!r} is not supported; expected http or https")
    rest = _backslashes_to_slashes(text[scheme_match.end() :])
    try:
        parts = urllib.parse.urlsplit("//" + rest)
    except ValueError as exc:
        raise InvalidValue(f"URL {_preview(raw)} cannot be parsed: {exc}") from exc
    return _build_url(scheme, parts, raw)


def _check_url_text(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise InvalidValue("URL is empty; expected e.g. https://example.com/path")
    if len(text) > _MAX_URL:
        raise InvalidValue(f"URL is {len(text)} characters long; the limit is {_MAX_URL}")
    bad = _CONTROL_RE.search(text)
    if bad:
        raise InvalidValue(
            f"URL contains control or surrogate character U+{ord(bad.group()):04X}; remove it"
        )
    return text


def _undefang(text: str) -> str:
    # Police indicator lists "defang" links (hxxp://a[.]b) so that nobody clicks them.
    text = text.replace("[.]", ".").replace("[:]", ":")
    return _HXXP_RE.sub(lambda m: "http" + m.group(1), text)


def _schemeless(text: str) -> str:
    if text.startswith("//"):
        return "http:" + text
    opaque = _OPAQUE_SCHEME_RE.match(text)
    if opaque and opaque.group(1).lower() in _DEFAULT_PORTS:
        raise InvalidValue(f"URL {_preview(text)} lacks '//' after the scheme")
    if opaque:
        raise InvalidValue(
            f"URL scheme {opaque.group(1).lower()!r} is not supported; expected http or https"
        )
    return "http://" + text


def _backslashes_to_slashes(rest: str) -> str:
    # Browsers read "\" as "/" in http(s) URLs; phishers use "evil.com\@bank.com" to hide
    # the real host, so do what the browser does (query and fragment are left alone).
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    return rest[:cut].replace("\\", "/") + rest[cut:]


def _build_url(scheme: str, parts: urllib.parse.SplitResult, raw: str) -> Url:
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host_text, port = _split_port(hostport, raw)
    host, registered = _host_and_domain(host_text)
    netloc = _netloc_host(host)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    if userinfo:
        netloc = urllib.parse.quote(userinfo, safe=_USERINFO_SAFE) + "@" + netloc
    # Browsers show an empty path as "/"; so must we, or "a.com" and "a.com/" differ.
    path = urllib.parse.quote(parts.path, safe=_PATH_SAFE) or "/"
    query = urllib.parse.quote(parts.query, safe=_QUERY_SAFE)
    value = f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    return Url(value, host, registered)


def _netloc_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _split_port(hostport: str, raw: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        host, bracket, port_text = hostport.partition("]")
        host += bracket
        if port_text and not port_text.startswith(":"):
            raise InvalidValue(f"URL {_preview(raw)} has text after the IPv6 address")
        port_text = port_text[1:]
    else:
        host, _, port_text = hostport.partition(":")
    if not port_text:
        return host, None
    if not re.fullmatch(r"[0-9]{1,5}", port_text) or not 1 <= int(port_text) <= 65535:
        raise InvalidValue(
            f"URL port {port_text[:10]!r} is invalid; expected a number from 1 to 65535"
        )
    return host, int(port_text)


@_cached
def _host_and_domain(host_text: str) -> tuple[str, str]:
    if not host_text:
        raise InvalidValue("URL has no host; expected e.g. http://example.com/")
    if host_text.startswith("[") and host_text.endswith("]"):
        return _ipv6(host_text[1:-1])
    host = _idna_host(host_text)
    if re.fullmatch(r"[0-9]+", host.rsplit(".", 1)[-1]):
        return _ipv4(host)
    return host, _registered(host)


def _ipv6(text: str) -> tuple[str, str]:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError as exc:
        raise InvalidValue(f"host [{text[:45]}] is not a valid IPv6 address") from exc
    if address.scope_id:
        raise InvalidValue(f"host [{text[:45]}] has a zone index; it is meaningless off-host")
    return address.compressed, address.compressed


def _ipv4(host: str) -> tuple[str, str]:
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError as exc:
        raise InvalidValue(
            f"host {_preview(host)} ends in a number but is not a dotted-quad IPv4 address"
        ) from exc
    return str(address), str(address)


def _idna_host(text: str) -> str:
    labels = _LABEL_SPLIT_RE.split(text.lower())
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # a trailing dot marks the DNS root, not a label
    host = ".".join(_idna_label(label) for label in labels)
    if len(host) > 253:
        raise InvalidValue(f"host is {len(host)} characters long; the limit is 253")
    return host


def _idna_label(label: str) -> str:
    if not label.isascii():
        try:
            label = label.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidValue(f"host label {_preview(label)} cannot be converted to IDNA") from exc
    if not _LABEL_RE.fullmatch(label):
        raise InvalidValue(_label_problem(label))
    return label


def _label_problem(label: str) -> str:
    if not label:
        return "host has an empty label (two dots in a row, or a leading dot)"
    if len(label) > 63:
        return f"host label is {len(label)} characters long; the limit is 63"
    bad = next(ch for ch in label if not _LABEL_RE.fullmatch(ch))
    return f"host contains invalid character {bad!r}; expected letters, digits, '-' or '_'"


@functools.cache
def _tld_extractor() -> tldextract.TLDExtract:
    import tldextract

    # No suffix-list URLs and no cache dir: only the list bundled in the package is used,
    # so this never touches the network or the disk.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _registered(host: str) -> str:
    parts = _tld_extractor()(host)
    if not parts.suffix:
        # Unknown suffix (foo.internal) or a single label: keep the last two labels.
        return ".".join(host.rsplit(".", 2)[-2:])
    if not parts.domain:
        return host  # the host is itself a public suffix (co.uk)
    return f"{parts.domain}.{parts.suffix}"


_IPV6_LIKE_RE: Final = re.compile(r"[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:%.*)?")


def parse_domain(raw: str) -> str:
    """The normalised (punycode, lower-case) host of a bare host name or a URL."""
    return _host_of(raw)[0]


def registered_domain(host: str) -> str:
    """The registrable domain of a host (offline public-suffix list); IPs map to themselves."""
    return _host_of(host)[1]


def _host_of(raw: str) -> tuple[str, str]:
    text = raw.strip()
    bare = text.removeprefix("[").removesuffix("]")
    # A bare IPv6 address ("::1" or "[::1]") cannot be read as a scheme-less URL.
    if _IPV6_LIKE_RE.fullmatch(bare):
        return _ipv6(bare)
    url = parse_url(text)
    return url.host, url.registered_domain


# ---------------------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------------------

_MONEY_MARKS_RE: Final = re.compile(r"[¥,\s]|元|CNY|RMB|人民币", re.IGNORECASE)
_MONEY_RE: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_NON_FINITE: Final = frozenset({"nan", "snan", "inf", "infinity"})


def parse_money_fen(
    raw: str | int | Decimal,
    *,
    unit: Literal["yuan", "fen"] = "yuan",
    allow_negative: bool = False,
) -> int:
    """An amount of money in integer fen (1 yuan = 100 fen), parsed without floats."""
    if unit not in ("yuan", "fen"):
        raise InvalidValue(f"money unit {unit!r} is not supported; expected 'yuan' or 'fen'")
    fen = _to_fen(_money_decimal(raw), 2 if unit == "yuan" else 0, unit)
    if fen < 0 and not allow_negative:
        yuan = Decimal(fen).scaleb(-2)
        raise InvalidValue(f"amount {yuan} yuan is negative; expected zero or more")
    return fen


def _money_decimal(raw: object) -> Decimal:
    if isinstance(raw, bool | float):
        raise InvalidValue(
            f"amount {raw!r} is a {type(raw).__name__}; pass a str or Decimal so that no"
            " precision is lost"
        )
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, Decimal):
        return raw
    if isinstance(raw, str):
        return _money_string(raw)
    raise InvalidValue(f"amount of type {type(raw).__name__} is not supported; use str or Decimal")


@_cached
def _money_string(raw: str) -> Decimal:
    text = _MONEY_MARKS_RE.sub("", unicodedata.normalize("NFKC", raw))
    if not text:
        raise InvalidValue(f"amount {_preview(raw)} is empty; expected a number such as 12.34")
    if text.lower().lstrip("+-") in _NON_FINITE:
        raise InvalidValue(f"amount {_preview(raw)} is not finite; expected a number")
    if not _MONEY_RE.fullmatch(text):
        raise InvalidValue(
            f"amount {_preview(raw)} is not a plain decimal number (expected e.g. ¥1,234.56)"
        )
    return Decimal(text)


def _to_fen(amount: Decimal, scale: int, unit: str) -> int:
    if not amount.is_finite():
        raise InvalidValue(f"amount {amount} is not finite; expected a number")
    if amount.is_zero():
        return 0
    sign, digit_tuple, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite, so not 'n'/'N'/'F'
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)  # exact: no Decimal context rounding
    if exponent + scale < 0:
        allowed = "at most 2 are" if scale else "none is"
        raise InvalidValue(
            f"amount {amount} has {-exponent} decimal digit(s); {allowed} allowed in"
            f" {unit} (1 fen = 0.01 yuan is the smallest unit)"
        )
    # The fen value has len(digits) + exponent + scale digits; 16 or more is >= 10^15.
    if len(digits) + exponent + scale >= 16:
        raise InvalidValue(
            f"amount {amount} {unit} is too large; it must be below 10^15 fen (10^13 yuan)"
        )
    fen = int(digits + "0" * (exponent + scale))
    return -fen if sign else fen


# ---------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------

_MIN_YEAR: Final = 1970
_MAX_YEAR: Final = 2100
_MS_THRESHOLD: Final = 10**11  # larger epoch values are milliseconds (10^11 s is year 5138)
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_ISO_RE: Final = re.compile(
    r"(?P<y>[0-9]{4})(?P<sep>[-/])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
    r"(?:[T ]\s*(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})"
    r"(?::(?P<S>[0-9]{2})(?:[.,](?P<f>[0-9]{1,9}))?)?)?"
    r"\s*(?P<tz>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?",
    re.IGNORECASE,
)
_ZH_RE: Final = re.compile(
    r"(?P<y>[0-9]{4})年(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})[日号]\s*"
    r"(?:(?P<H>[0-9]{1,2})[:时点](?P<M>[0-9]{1,2})(?:[:分](?:(?P<S>[0-9]{1,2})秒?)?)?)?"
)
_COMPACT_RE: Final = re.compile(
    r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})(?:(?P<H>[0-9]{2})(?P<M>[0-9]{2})(?P<S>[0-9]{2}))?"
)
_EPOCH_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_timestamp(
    raw: str | int | float | dt.datetime | dt.date, *, tz: str = DEFAULT_TZ
) -> dt.datetime:
    """A timezone-aware datetime from text, epoch (s or ms) or a date/datetime."""
    zone = _zone(tz)
    if isinstance(raw, dt.datetime):
        value = raw if raw.tzinfo is not None else raw.replace(tzinfo=zone)
    elif isinstance(raw, dt.date):
        value = dt.datetime(raw.year, raw.month, raw.day, tzinfo=zone)
    elif isinstance(raw, bool):
        raise InvalidValue(f"timestamp {raw!r} is a bool; expected text, a number or a date")
    elif isinstance(raw, int | float):
        value = _from_epoch(Decimal(raw) if isinstance(raw, int) else _float_epoch(raw), zone)
    elif isinstance(raw, str):
        value = _timestamp_string(raw, tz)
    else:
        raise InvalidValue(f"timestamp of type {type(raw).__name__} is not supported")
    return _check_year(value)


@functools.lru_cache(maxsize=64)
def _zone(tz: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidValue(f"time zone {tz!r} is unknown; expected e.g. 'Asia/Shanghai'") from exc


def _float_epoch(raw: float) -> Decimal:
    if raw != raw or raw in (float("inf"), float("-inf")):
        raise InvalidValue(f"timestamp {raw!r} is not finite; expected epoch seconds or ms")
    return Decimal(repr(raw))  # the shortest decimal that round-trips: no binary noise


def _from_epoch(seconds: Decimal, zone: dt.tzinfo) -> dt.datetime:
    if abs(seconds) > _MS_THRESHOLD:
        seconds /= 1000
    if abs(seconds) > 10**11:
        raise InvalidValue(f"epoch timestamp {seconds} is far outside {_MIN_YEAR}–{_MAX_YEAR}")
    micro = int(seconds.scaleb(6).to_integral_value())
    return (_EPOCH + dt.timedelta(microseconds=micro)).astimezone(zone)


@_cached
def _timestamp_string(raw: str, tz: str) -> dt.datetime:
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise InvalidValue("timestamp is empty; expected e.g. 2020-01-02 12:00:00")
    for pattern in (_COMPACT_RE, _ISO_RE, _ZH_RE):
        match = pattern.fullmatch(text)
        if match:
            return _from_fields(match, _zone(tz), raw)
    if _EPOCH_RE.fullmatch(text):
        return _from_epoch(Decimal(text), _zone(tz))
    raise InvalidValue(
        f"timestamp {_preview(raw)} is not in a known format; expected ISO 8601"
        " (2020-01-02T12:00:00+08:00), 2020/01/02 12:00, 20200102120000, 2020年1月2日 12:00:00"
        " or epoch seconds/milliseconds"
    )


def _from_fields(match: re.Match[str], zone: dt.tzinfo, raw: str) -> dt.datetime:
    fields = match.groupdict()
    y, m, d, hh, mm, ss = (int(fields.get(k) or 0) for k in ("y", "m", "d", "H", "M", "S"))
    micro = int((fields.get("f") or "0")[:6].ljust(6, "0"))
    try:
        tzinfo = _offset(fields["tz"]) if fields.get("tz") else zone
        return dt.datetime(y, m, d, hh, mm, ss, micro, tzinfo=tzinfo)
    except ValueError as exc:
        raise InvalidValue(f"timestamp {_preview(raw)} is not a real date and time: {exc}") from exc


def _offset(text: str) -> dt.tzinfo:
    if text.upper() == "Z":
        return dt.UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[2:] or 0)
    if minutes >= 60:
        raise ValueError(f"offset minutes must be below 60, got {minutes}")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=minutes)
    return dt.timezone(-delta if text[0] == "-" else delta)


def _check_year(value: dt.datetime) -> dt.datetime:
    if not _MIN_YEAR <= value.year <= _MAX_YEAR:
        raise InvalidValue(
            f"timestamp {value.isoformat()} is in year {value.year}; expected"
            f" {_MIN_YEAR}–{_MAX_YEAR}"
        )
    return value


# ---------------------------------------------------------------------------------------
# Text and currency
# ---------------------------------------------------------------------------------------

# C0/C1 controls (except \t \n), zero-width space, word joiner, BOM, and lone surrogates
# (scam texts insert zero-width characters to dodge keyword rules).
_TEXT_JUNK_RE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u2060\ufeff\ud800-\udfff]")


@functools.cache
def _opencc() -> OpenCC:
    from opencc import OpenCC

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese to Simplified Chinese (OpenCC t2s)."""
    return str(_opencc().convert(text))


def clean_text(raw: str, *, max_bytes: int = 65536) -> str:
    """NFKC-normalise, drop control characters, strip, and convert to Simplified Chinese."""
    _check_size(raw, max_bytes)
    text = _clean_text(raw)
    _check_size(text, max_bytes)  # NFKC can expand text (e.g. ligatures)
    return text


def _check_size(text: str, max_bytes: int) -> None:
    # Cheap bound first: a UTF-8 character is at most 4 bytes.
    if len(text) * 4 <= max_bytes:
        return
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise InvalidValue(f"text is {size} bytes in UTF-8; the limit is {max_bytes} bytes")


@functools.lru_cache(maxsize=4096)
def _clean_text(raw: str) -> str:
    text = unicodedata.normalize("NFKC", _TEXT_JUNK_RE.sub("", raw))
    return to_simplified(_TEXT_JUNK_RE.sub("", text).strip())


_CURRENCY_ALIASES: Final = {"RMB": "CNY", "人民币": "CNY", "元": "CNY"}


@functools.lru_cache(maxsize=256)
def parse_currency(raw: str) -> str:
    """An ISO 4217 alphabetic currency code, upper-case (RMB, 人民币 and 元 give CNY)."""
    text = unicodedata.normalize("NFKC", raw).strip().upper()
    text = _CURRENCY_ALIASES.get(text, text)
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise InvalidValue(
            f"currency {_preview(raw)} is not an ISO 4217 code; expected 3 letters such as CNY"
        )
    return text


_DATE_RE: Final = re.compile(
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ].*)?|(\d{4})(\d{2})(\d{2})"
)


def parse_date(raw: str) -> dt.date:
    """A calendar date as written (YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, 2024年5月1日, or the date
    part of a date-time), 1900–2100; no time-zone conversion, so birth dates never shift."""
    text = unicodedata.normalize("NFKC", raw).strip()
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise InvalidValue(f"date {_preview(raw)} is not a date; expected YYYY-MM-DD")
    year, month, day = (
        int(g) for g in (match.groups()[:3] if match.group(1) else match.groups()[3:])
    )
    try:
        value = dt.date(year, month, day)
    except ValueError as exc:
        raise InvalidValue(f"date {_preview(raw)} is not a real date ({exc})") from None
    if not _ID_MIN_BIRTH <= value <= _ID_MAX_BIRTH:
        raise InvalidValue(f"date {value.isoformat()} is outside 1900-01-01 to 2100-01-01")
    return value
