"""Tests for fanzha.model.values: parsing, normalisation and every rejection reason."""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fanzha.model import values
from fanzha.model.banks import CARD_BINS, bank_for_card
from fanzha.model.values import (
    DEFAULT_TZ,
    MSISDN_FAST_PATTERN,
    PROVINCES,
    AccountKind,
    BankAccount,
    IdNumber,
    InvalidValue,
    Msisdn,
    PhoneKind,
    Url,
    clean_text,
    id_check_char,
    luhn_ok,
    normalise_msisdn,
    parse_account,
    parse_currency,
    parse_date,
    parse_domain,
    parse_id_number,
    parse_money_fen,
    parse_msisdn,
    parse_timestamp,
    parse_url,
    registered_domain,
    to_simplified,
)

SHANGHAI = ZoneInfo(DEFAULT_TZ)

# ---------------------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+86 138 0013 8000",
        "+86-138-0013-8000",
        "(+86) 138.0013.8000",
        "008613800138000",
        "8613800138000",
        "013800138000",  # long-distance "0" before a mobile
        "１３８００１３８０００",  # full-width digits
    ],
)
def test_cn_mobile_forms(raw: str) -> None:
    assert parse_msisdn(raw) == Msisdn("+8613800138000", PhoneKind.CN_MOBILE, "中国移动", "北京市")


def test_china_mobile_carrier_and_region() -> None:
    number = parse_msisdn("+86 138 0013 8000")
    assert number.carrier == "中国移动"
    assert isinstance(number.region, str) and number.region
    assert normalise_msisdn("138-0013-8000") == "+8613800138000"


@pytest.mark.parametrize("prefix", ["170", "171", "162", "165", "167"])
def test_virtual_operator(prefix: str) -> None:
    number = parse_msisdn(prefix + "12345678")
    assert number.kind is PhoneKind.CN_VIRTUAL
    assert number.value == "+86" + prefix + "12345678"
    assert number.region is None  # the geocoder only knows "中国" for these ranges


def test_new_mobile_range_is_accepted_without_strict_validity() -> None:
    # Any 1[3-9] + 9 digits is a mobile even if the metadata does not know the range yet.
    assert parse_msisdn("19012345678").kind is PhoneKind.CN_MOBILE


@pytest.mark.parametrize(
    ("raw", "value", "region"),
    [
        ("010-12345678", "+861012345678", "北京市"),
        ("0755 1234 5678", "+8675512345678", "广东省深圳市"),
        ("+86 (0)10 12345678", "+861012345678", "北京市"),
        ("+86 10 1234 5678", "+861012345678", "北京市"),
    ],
)
def test_cn_fixed(raw: str, value: str, region: str) -> None:
    assert parse_msisdn(raw) == Msisdn(value, PhoneKind.CN_FIXED, None, region)


@pytest.mark.parametrize(
    "raw", ["110", "96110", "12381", "95588", "10086", "12345678", "10690001234", "1065502100"]
)
def test_cn_service(raw: str) -> None:
    assert parse_msisdn(raw) == Msisdn(raw, PhoneKind.CN_SERVICE)


@pytest.mark.parametrize(
    ("raw", "value", "region"),
    [
        ("+1 415 555 2671", "+14155552671", "美国"),
        ("0014155552671", "+14155552671", "美国"),
        ("+44 20 7946 0958", "+442079460958", "英国"),
        ("+80012345678", "+80012345678", None),  # international freephone: no region
    ],
)
def test_international(raw: str, value: str, region: str | None) -> None:
    number = parse_msisdn(raw)
    assert (number.value, number.kind, number.region) == (value, PhoneKind.INTERNATIONAL, region)


def test_default_region_other_than_cn() -> None:
    assert parse_msisdn("020 7946 0958", default_region="GB").value == "+442079460958"
    # A bare 11-digit number is only a Chinese mobile when China is the default region...
    assert parse_msisdn("13800138000", default_region="US").kind is PhoneKind.INTERNATIONAL
    # ...but an explicit +86 / 0086 always is.
    assert parse_msisdn("+8613800138000", default_region="US").kind is PhoneKind.CN_MOBILE
    assert parse_msisdn("008613800138000", default_region="US").kind is PhoneKind.CN_MOBILE


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("ABCDEF0123456789", "abcdef0123456789"),
        ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", None),
        ("12345678901234567890", None),  # 20+ digits cannot be a phone or card: a hash
    ],
)
def test_pseudonym(raw: str, value: str | None) -> None:
    number = parse_msisdn(raw)
    assert number == Msisdn(value or raw.lower(), PhoneKind.PSEUDONYM)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "phone number is empty"),
        (" - ", "phone number is empty"),
        ("hello", "characters other than digits"),
        ("1380013800x", "characters other than digits"),
        ("138+00138000", "characters other than digits"),
        ("+", "characters other than digits"),
        ("abcdef", "not a 16–128 character hex pseudonym"),
        ("123456789012345678", "has 18 digits; a phone number has at most 15"),
        ("12", "too short; service numbers have 3–8 digits"),
        ("9", "too short"),
        ("62345678", "local fixed line without its area code"),
        ("0", "cannot be parsed"),
        ("12345678901", "not a valid Chinese number"),
        ("+8610123456", "not a valid Chinese number"),
        ("8612345678901", "not a valid Chinese number"),
        ("+1000", "too short for country code \\+1"),
        ("+1415555267100", "too long for country code \\+1"),
        ("+99912345678", "cannot be parsed"),
    ],
)
def test_msisdn_rejections(raw: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_msisdn(raw)


def test_msisdn_bad_default_region() -> None:
    with pytest.raises(InvalidValue, match="cannot be parsed"):
        parse_msisdn("13800138000", default_region="XX")


def test_msisdn_long_input_is_truncated_in_reason() -> None:
    with pytest.raises(InvalidValue, match="…"):
        parse_msisdn("x" * 500)


@given(st.from_regex(MSISDN_FAST_PATTERN, fullmatch=True))
def test_fast_pattern_agrees_with_parser(raw: str) -> None:
    match = re.fullmatch(MSISDN_FAST_PATTERN, raw)
    assert match is not None
    number = parse_msisdn(raw)
    assert number.value == "+86" + match.group(1)
    assert number.kind in (PhoneKind.CN_MOBILE, PhoneKind.CN_VIRTUAL)


def test_fast_pattern_is_re2_style() -> None:
    # Only constructs RE2 supports: no lookaround, no backreferences.
    assert not re.search(r"\(\?[=!<]|\\[1-9]", MSISDN_FAST_PATTERN)


# ---------------------------------------------------------------------------------------
# Bank accounts
# ---------------------------------------------------------------------------------------


def _luhn_check_digit(body: str) -> str:
    """Independent Luhn: double every second digit from the right of body + check."""
    digits = [int(c) for c in body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += sum(divmod(d * 2, 10)) if i % 2 == 0 else d
    return str((10 - total % 10) % 10)


def test_card_with_bin_and_luhn() -> None:
    body = "622202" + "123456789012"
    card = body + _luhn_check_digit(body)
    account = parse_account(" " + card[:4] + " " + card[4:8] + "-" + card[8:] + " ")
    assert account == BankAccount(card, True, "工商银行", AccountKind.DOMESTIC)


def test_card_failing_luhn_is_kept() -> None:
    body = "621700" + "12345678901"
    good = body + _luhn_check_digit(body)
    bad = body + str((int(good[-1]) + 1) % 10)
    assert parse_account(bad) == BankAccount(bad, False, "建设银行", AccountKind.DOMESTIC)


@pytest.mark.parametrize(
    ("prefix", "bank"),
    [
        ("622848", "农业银行"),
        ("621661", "中国银行"),
        ("622262", "交通银行"),
        ("622588", "招商银行"),
        ("621799", "邮储银行"),
        ("622908", "兴业银行"),
        ("622690", "中信银行"),
        ("622516", "浦发银行"),
        ("622622", "民生银行"),
        ("622155", "平安银行"),
        ("622660", "光大银行"),
        ("622568", "广发银行"),
        ("622630", "华夏银行"),
    ],
)
def test_bins(prefix: str, bank: str) -> None:
    assert parse_account(prefix + "0" * 10).bank == bank


def test_bin_table_and_lookup() -> None:
    assert all(re.fullmatch(r"[0-9]{6,8}", k) for k in CARD_BINS)
    assert bank_for_card("9999990000000000") is None
    assert bank_for_card("436742" + "0" * 10) == "建设银行"


@pytest.mark.parametrize(
    "raw", ["123456", "1234567890", "1" * 15, "1" * 20, "1" * 34, "1234 5678 9012"]
)
def test_non_card_domestic_accounts(raw: str) -> None:
    digits = raw.replace(" ", "")
    assert parse_account(raw) == BankAccount(digits, None, None, AccountKind.DOMESTIC)


def test_luhn_helper() -> None:
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")


def test_iban() -> None:
    account = parse_account("gb82 west 1234 5698 7654 32")
    assert account == BankAccount("GB82WEST12345698765432", None, None, AccountKind.IBAN)
    assert parse_account("DE89370400440532013000").kind is AccountKind.IBAN


@pytest.mark.parametrize(
    "raw", ["ABC123", "abcd", "CNAPS1234567890", "X" * 34, "ABC", "7", "12345"]
)
def test_other_identifier(raw: str) -> None:
    # Short ids (third-party and synthetic transfer data, ISO Max34Text) are identifiers.
    assert parse_account(raw) == BankAccount(raw.upper(), None, None, AccountKind.OTHER)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "account number is empty"),
        (" - ", "account number is empty"),
        ("1" * 35, "has 35 digits"),
        ("GB82WEST12345698765433", "fails its mod-97 check"),
        ("abc!", "is not an account number"),
        ("X" * 35, "is not an account number"),
    ],
)
def test_account_rejections(raw: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_account(raw)


# ---------------------------------------------------------------------------------------
# Resident identity numbers
# ---------------------------------------------------------------------------------------


def _iso7064_check(first17: str) -> str:
    """MOD 11-2 by its recursive (Horner) definition, independent of the weight table."""
    p = 0
    for ch in first17:
        p = ((p + int(ch)) * 2) % 11
    check = (12 - p) % 11
    return "X" if check == 10 else str(check)


def _with_check(first17: str) -> str:
    return first17 + _iso7064_check(first17)


def test_check_char_matches_independent_method() -> None:
    for first17 in ("11010519491231002", "44030419900307123", "51010020000229456"):
        assert id_check_char(first17) == _iso7064_check(first17)


def test_valid_id_number() -> None:
    raw = _with_check("44030419900307123")
    id_number = parse_id_number(raw)
    assert id_number == IdNumber(raw, "440304", dt.date(1990, 3, 7), "M")
    assert id_number.province == "广东省"


def test_id_number_x_is_upper_cased_and_female() -> None:
    assert _iso7064_check("11010519491231002") == "X"
    id_number = parse_id_number(" 11010519491231002x ")
    assert id_number.value == "11010519491231002X"
    assert id_number.sex == "F"
    assert id_number.province == "北京市"


def test_legacy_15_digit_upgrade() -> None:
    # 15-digit: region 130503, birth 670401 (1967-04-01), sequence 001 (odd: male).
    id_number = parse_id_number("130503670401001")
    assert id_number.value == _with_check("13050319670401001")
    assert id_number.birth_date == dt.date(1967, 4, 1)
    assert id_number.sex == "M"
    assert id_number.province == "河北省"


def test_age_on() -> None:
    id_number = parse_id_number(_with_check("51010020000229456"))
    assert id_number.age_on(dt.date(2020, 2, 28)) == 19
    assert id_number.age_on(dt.date(2020, 2, 29)) == 20
    assert id_number.age_on(dt.date(2021, 2, 28)) == 20
    assert id_number.age_on(dt.date(2021, 3, 1)) == 21


def test_provinces_table() -> None:
    assert PROVINCES["11"] == "北京市"
    assert PROVINCES["65"] == "新疆维吾尔自治区"
    assert {"71", "81", "82", "83"} <= PROVINCES.keys()
    assert len(PROVINCES) == 35


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "malformed: expected 18 characters"),
        ("1101051949123100", "malformed"),
        ("1101051949123100XX", "malformed"),
        ("110105194912310021", "checksum is wrong: last character should be 'X', got '1'"),
        (_with_check("99010519491231002"), "starts with '99', which is not a province code"),
        (_with_check("11010519490231002"), "birth date '19490231' is not a real date"),
        (_with_check("11010518991231002"), "1899-12-31 is outside 1900-01-01 to 2100-01-01"),
        (_with_check("11010521000102002"), "is outside"),
        ("000000670401001", "not a province code"),
        ("110105671301001", "not a real date"),
    ],
)
def test_id_rejections(raw: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_id_number(raw)


def test_id_checksum_reason_is_exact() -> None:
    raw = _with_check("11010519491231002")[:17] + "3"
    with pytest.raises(InvalidValue) as info:
        parse_id_number(raw)
    assert info.value.reason == "ID number checksum is wrong: last character should be 'X', got '3'"


# ---------------------------------------------------------------------------------------
# URLs and domains
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value", "host", "registered"),
    [
        ("Example.COM", "http://example.com/", "example.com", "example.com"),
        ("  HTTP://Example.COM:80/a#frag ", "http://example.com/a", "example.com", "example.com"),
        ("https://a.example.com:443/?q=1", "https://a.example.com/?q=1", None, "example.com"),
        ("https://a.example.com:8443/", "https://a.example.com:8443/", None, "example.com"),
        ("http://a.example.com:/x", "http://a.example.com/x", None, "example.com"),
        (
            "hxxps://evil[.]example[.]co[.]uk/login",
            "https://evil.example.co.uk/login",
            "evil.example.co.uk",
            "example.co.uk",
        ),
        ("hxxp[:]//a[.]cn", "http://a.cn/", "a.cn", "a.cn"),
        ("//a.com/x", "http://a.com/x", "a.com", "a.com"),
        ("http://example.com./", "http://example.com/", "example.com", "example.com"),
        (
            "http://例子.中国/路径?查询=是 的",
            "http://xn--fsqu00a.xn--fiqs8s/%E8%B7%AF%E5%BE%84?%E6%9F%A5%E8%AF%A2=%E6%98%AF%20%E7%9A%84",
            "xn--fsqu00a.xn--fiqs8s",
            "xn--fsqu00a.xn--fiqs8s",
        ),
        ("http://xn--fsqu00a.xn--fiqs8s/", None, "xn--fsqu00a.xn--fiqs8s", None),
        ("http://ａｂｃ．com/", "http://abc.com/", "abc.com", "abc.com"),
        ("http://a.com/%41%zz", "http://a.com/%41%zz", None, None),
        ("http://a.com/a b", "http://a.com/a%20b", None, None),
        ("http://user:p@ss@evil.com/", "http://user:p%40ss@evil.com/", "evil.com", "evil.com"),
        ("http://@a.com/", "http://a.com/", "a.com", "a.com"),
        # Browsers read "\" as "/": the real host here is bank.com, not evil.com.
        ("http://bank.com\\@evil.com/", "http://bank.com/@evil.com/", "bank.com", None),
        ("http://a.com/x\\y?q=\\#f\\", "http://a.com/x/y?q=%5C", None, None),
        ("http://a.com#f", "http://a.com/", None, None),
        ("http://1.2.3.4:80/x", "http://1.2.3.4/x", "1.2.3.4", "1.2.3.4"),
        ("https://[2001:DB8:0::1]:8443/", "https://[2001:db8::1]:8443/", "2001:db8::1", None),
        ("http://[::1]:/", "http://[::1]/", "::1", "::1"),
        ("http://foo.internal/", None, "foo.internal", "foo.internal"),
        ("http://a.b.foo.internal/", None, None, "foo.internal"),
        ("localhost:8080", "http://localhost:8080/", "localhost", "localhost"),
        ("http://co.uk/", None, "co.uk", "co.uk"),
        ("http://my_host.example.com/", None, "my_host.example.com", "example.com"),
    ],
)
def test_parse_url(raw: str, value: str | None, host: str | None, registered: str | None) -> None:
    url = parse_url(raw)
    assert isinstance(url, Url)
    if value is not None:
        assert url.value == value
    if host is not None:
        assert url.host == host
    if registered is not None:
        assert url.registered_domain == registered


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "URL is empty"),
        ("   ", "URL is empty"),
        ("http://a.com/" + "a" * 2048, "characters long; the limit is 2048"),
        ("http://a.com/\x00", "control or surrogate character U\\+0000"),
        ("http://a.com/\x85x", "U\\+0085"),
        ("http://a.com/\ud800", "U\\+D800"),
        ("ftp://a.com/", "scheme 'ftp' is not supported; expected http or https"),
        ("mailto:a@b.com", "scheme 'mailto' is not supported"),
        ("javascript:alert(1)", "scheme 'javascript' is not supported"),
        ("http:example.com", "lacks '//' after the scheme"),
        ("http:///x", "URL has no host"),
        ("http://:80/", "URL has no host"),
        ("http://[::1/", "cannot be parsed"),
        ("http://[::1]x/", "has text after the IPv6 address"),
        ("http://[fe80::1%25eth0]/", "has a zone index"),
        ("http://a.com:0/", "port '0' is invalid; expected a number from 1 to 65535"),
        ("http://a.com:65536/", "port '65536' is invalid"),
        ("http://a.com:80x/", "port '80x' is invalid"),
        ("http://a.com:1:2/", "port '1:2' is invalid"),
        ("http://999.1.1.1/", "not a dotted-quad IPv4 address"),
        ("http://01.2.3.4/", "not a dotted-quad IPv4 address"),
        ("http://a..com/", "empty label"),
        ("http://.a.com/", "empty label"),
        ("http://" + "a" * 64 + ".com/", "label is 64 characters long; the limit is 63"),
        ("http://" + "a." * 130 + "com/", "host is 263 characters long; the limit is 253"),
        ("http://a b.com/", "invalid character ' '"),
        ("http://a*b.com/", "invalid character '\\*'"),
        ("http://" + "中" * 60 + ".com/", "cannot be converted to IDNA"),
        ("http://⒈.com/", "invalid character '.'"),
    ],
)
def test_url_rejections(raw: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_url(raw)


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("Example.COM", "example.com"),
        ("https://www.Example.co.uk/path", "www.example.co.uk"),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("::1", "::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[::1]:8080", "::1"),
        ("1.2.3.4", "1.2.3.4"),
    ],
)
def test_parse_domain(raw: str, host: str) -> None:
    assert parse_domain(raw) == host


@pytest.mark.parametrize(
    ("host", "registered"),
    [
        ("a.b.example.co.uk", "example.co.uk"),
        ("WWW.Example.COM.", "example.com"),
        ("foo.internal", "foo.internal"),
        ("x.y.foo.internal", "foo.internal"),
        ("localhost", "localhost"),
        ("co.uk", "co.uk"),
        ("1.2.3.4", "1.2.3.4"),
        ("2001:db8::1", "2001:db8::1"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("www.gov.cn", "www.gov.cn"),
        ("a.example.com.cn", "example.com.cn"),
    ],
)
def test_registered_domain(host: str, registered: str) -> None:
    assert registered_domain(host) == registered


def test_domain_rejections() -> None:
    with pytest.raises(InvalidValue, match="zone index"):
        parse_domain("fe80::1%eth0")
    with pytest.raises(InvalidValue, match="URL has no host"):
        registered_domain("http://")
    with pytest.raises(InvalidValue, match="is not a valid IPv6 address"):
        parse_domain("1:2:3:4:5:6:7:8:9")
    with pytest.raises(InvalidValue, match="port ':g' is invalid"):
        parse_domain("::g")


def test_tldextract_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    values._tld_extractor.cache_clear()  # build the extractor with the network blocked
    assert values._registered("a.b.example.co.uk") == "example.co.uk"
    assert registered_domain("a.b.example.co.uk") == "example.co.uk"
    assert registered_domain("offline-check.example.com.cn") == "example.com.cn"


_LABEL = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9-]{0,10}", fullmatch=True) | st.sampled_from(
    ["例子", "中国", "xn--fiqs8s", "Bücher", "ТЕСТ"]
)
_URL_TEXT = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="#"), max_size=20
)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http://", "https://", "HTTP://", "hxxps://", "//", ""]))
    host = ".".join(draw(st.lists(_LABEL, min_size=1, max_size=4)))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":"]))
    path = draw(_URL_TEXT)
    query = draw(st.none() | _URL_TEXT)
    return f"{scheme}{host}{port}/{path}" + (f"?{query}" if query is not None else "")


@given(_urls())
@settings(max_examples=300)
def test_parse_url_idempotent(raw: str) -> None:
    try:
        first = parse_url(raw)
    except InvalidValue:
        assume(False)
        raise
    second = parse_url(first.value)
    assert second == first


# ---------------------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fen"),
    [
        ("12.34", 1234),
        ("¥1,234.56", 123456),
        ("￥１，２３４．５", 123450),
        ("1 234 元", 123400),
        ("CNY 12", 1200),
        ("cny12.3", 1230),
        ("RMB 5", 500),
        ("人民币5元", 500),
        (" .5 ", 50),
        ("12.", 1200),
        ("+3", 300),
        ("0", 0),
        ("-0.00", 0),
        ("12.340", 1234),
        ("9999999999999.99", 999_999_999_999_999),
        (Decimal("1.10"), 110),
        (Decimal("0E+9"), 0),
        (Decimal("1.2E+3"), 120000),
        (5, 500),
    ],
)
def test_money_yuan(raw: str | int | Decimal, fen: int) -> None:
    assert parse_money_fen(raw) == fen


def test_money_fen_unit() -> None:
    assert parse_money_fen("1,234", unit="fen") == 1234
    assert parse_money_fen(1234, unit="fen") == 1234
    assert parse_money_fen(Decimal("12.00"), unit="fen") == 12
    assert parse_money_fen("-3", unit="fen", allow_negative=True) == -3


def test_money_negative_allowed() -> None:
    assert parse_money_fen("-1.5", allow_negative=True) == -150
    assert parse_money_fen(Decimal("-0.01"), allow_negative=True) == -1


@pytest.mark.parametrize(
    ("raw", "kwargs", "reason"),
    [
        ("", {}, "is empty"),
        ("¥ ", {}, "is empty"),
        ("nan", {}, "is not finite"),
        ("-Infinity", {}, "is not finite"),
        (Decimal("NaN"), {}, "is not finite"),
        (Decimal("-Infinity"), {}, "is not finite"),
        ("1e5", {}, "not a plain decimal number"),
        ("abc", {}, "not a plain decimal number"),
        ("1.2.3", {}, "not a plain decimal number"),
        ("12.345", {}, "has 3 decimal digit\\(s\\); at most 2 are allowed in yuan"),
        (Decimal("0.001"), {}, "has 3 decimal digit"),
        ("12.5", {"unit": "fen"}, "has 1 decimal digit\\(s\\); none is allowed in fen"),
        ("10000000000000", {}, "too large; it must be below 10\\^15 fen"),
        (10**15, {"unit": "fen"}, "too large"),
        (Decimal("1E+30"), {}, "too large"),
        ("-1", {}, "amount -1.00 yuan is negative"),
        (-1, {"unit": "fen"}, "amount -0.01 yuan is negative"),
        (1.5, {}, "is a float; pass a str or Decimal"),
        (True, {}, "is a bool"),
        ("1", {"unit": "jiao"}, "unit 'jiao' is not supported"),
    ],
)
def test_money_rejections(raw: Any, kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_money_fen(raw, **kwargs)


def test_money_unsupported_type() -> None:
    with pytest.raises(InvalidValue, match="type list is not supported"):
        parse_money_fen([1])  # type: ignore[arg-type]


def test_money_precision_is_exact_beyond_decimal_context() -> None:
    # 30+ significant digits: Decimal context arithmetic (28 digits) would round this away.
    with pytest.raises(InvalidValue, match="decimal digit"):
        parse_money_fen("1.0000000000000000000000000000001")


_YUAN = st.decimals(
    min_value=Decimal("-9999999999999.99"),
    max_value=Decimal("9999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@given(_YUAN)
def test_money_round_trip(amount: Decimal) -> None:
    fen = int(amount.scaleb(2))
    assert parse_money_fen(str(amount), allow_negative=True) == fen
    assert parse_money_fen(f"¥{amount:,}", allow_negative=True) == fen
    assert parse_money_fen(amount, allow_negative=True) == fen
    assert Decimal(fen).scaleb(-2) == amount


# ---------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------


def _sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, us, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2020-01-02T03:04:05", _sh(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02 03:04:05", _sh(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02T03:04", _sh(2020, 1, 2, 3, 4)),
        ("2020-01-02", _sh(2020, 1, 2)),
        ("2020-01-02T03:04:05.123", _sh(2020, 1, 2, 3, 4, 5, 123000)),
        ("2020-01-02T03:04:05,5", _sh(2020, 1, 2, 3, 4, 5, 500000)),
        ("2020-01-02T03:04:05.123456789", _sh(2020, 1, 2, 3, 4, 5, 123456)),
        ("2020-01-02T03:04:05Z", dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("2020-01-02t03:04:05z", dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("2020/01/02 03:04", _sh(2020, 1, 2, 3, 4)),
        ("2020/1/2 3:04:05", _sh(2020, 1, 2, 3, 4, 5)),
        ("20200102030405", _sh(2020, 1, 2, 3, 4, 5)),
        ("20200102", _sh(2020, 1, 2)),
        ("2020年1月2日 12:00:00", _sh(2020, 1, 2, 12)),
        ("2020年1月2日12时30分", _sh(2020, 1, 2, 12, 30)),
        ("2020年01月02日 12时30分15秒", _sh(2020, 1, 2, 12, 30, 15)),
        ("2020年1月2日", _sh(2020, 1, 2)),
        ("2020年1月2日 12：30", _sh(2020, 1, 2, 12, 30)),
        ("1577836800", _sh(2020, 1, 1, 8)),
        ("1577836800123", _sh(2020, 1, 1, 8, 0, 0, 123000)),
        ("1577836800.5", _sh(2020, 1, 1, 8, 0, 0, 500000)),
        (1577836800, _sh(2020, 1, 1, 8)),
        (1577836800123, _sh(2020, 1, 1, 8, 0, 0, 123000)),
        (1577836800.25, _sh(2020, 1, 1, 8, 0, 0, 250000)),
        (dt.date(2020, 1, 2), _sh(2020, 1, 2)),
        (dt.datetime(2020, 1, 2, 3, 4), _sh(2020, 1, 2, 3, 4)),
    ],
)
def test_parse_timestamp(raw: Any, expected: dt.datetime) -> None:
    parsed = parse_timestamp(raw)
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    ("raw", "offset"),
    [
        ("2020-01-02T03:04:05+08:00", dt.timedelta(hours=8)),
        ("2020-01-02 03:04:05+0800", dt.timedelta(hours=8)),
        ("2020-01-02T03:04:05-05:30", -dt.timedelta(hours=5, minutes=30)),
        ("2020-01-02T03:04:05+09", dt.timedelta(hours=9)),
    ],
)
def test_timestamp_offsets_are_kept(raw: str, offset: dt.timedelta) -> None:
    parsed = parse_timestamp(raw)
    assert parsed.utcoffset() == offset
    assert (parsed.hour, parsed.minute) == (3, 4)


def test_timestamp_aware_datetime_kept_and_tz_argument() -> None:
    aware = dt.datetime(2020, 1, 2, 3, 4, tzinfo=dt.UTC)
    assert parse_timestamp(aware) is aware
    utc = parse_timestamp("2020-01-02 03:04", tz="UTC")
    assert utc == aware
    assert parse_timestamp(0, tz="UTC") == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "timestamp is empty"),
        ("  ", "timestamp is empty"),
        ("junk", "not in a known format; expected ISO 8601"),
        ("2020-01-02T", "not in a known format"),
        ("2020-01/02", "not in a known format"),
        ("-5", "not in a known format"),
        ("2020-02-30", "is not a real date and time: day is out of range"),
        ("2020-01-02T25:00", "not a real date and time"),
        ("20201301", "not a real date and time"),
        ("2020-01-02T00:00+24:00", "not a real date and time"),
        ("2020-01-02T00:00+08:60", "offset minutes must be below 60"),
        ("1960-01-01", "is in year 1960; expected 1970–2100"),
        ("2101-01-01", "is in year 2101"),
        (dt.date(1969, 12, 31), "is in year 1969"),
        (dt.datetime(2200, 1, 1, tzinfo=dt.UTC), "is in year 2200"),
        (-86400, "is in year 1969"),
        (4200000000, "is in year 2103"),
        (10**20, "far outside 1970–2100"),
        ("9" * 40, "far outside"),
        (float("nan"), "is not finite"),
        (float("inf"), "is not finite"),
        (True, "is a bool"),
    ],
)
def test_timestamp_rejections(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_timestamp(raw)


def test_timestamp_bad_inputs() -> None:
    with pytest.raises(InvalidValue, match="type list is not supported"):
        parse_timestamp([2020])  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="time zone 'Mars/Base' is unknown"):
        parse_timestamp("2020-01-02", tz="Mars/Base")
    with pytest.raises(InvalidValue, match="is unknown"):
        parse_timestamp("2020-01-02", tz="../etc")


# ---------------------------------------------------------------------------------------
# Text and currency
# ---------------------------------------------------------------------------------------


def test_to_simplified() -> None:
    assert to_simplified("臨渭分局詐騙") == "临渭分局诈骗"
    assert to_simplified("already 简体") == "already 简体"


def test_clean_text() -> None:
    raw = "  臨渭分局詐騙\x00\u200b ＡＢＣ１２３\r\n\tx\ufeff \x85 "
    assert clean_text(raw) == "临渭分局诈骗 ABC123\n\tx"
    assert clean_text("\ud800ok") == "ok"
    assert clean_text("a" * 100, max_bytes=100) == "a" * 100  # at the limit is fine


@pytest.mark.parametrize(
    ("raw", "max_bytes", "reason"),
    [
        ("a" * 101, 100, "text is 101 bytes in UTF-8; the limit is 100 bytes"),
        ("诈" * 40, 100, "text is 120 bytes"),
        ("ﷺ" * 10, 100, "bytes in UTF-8; the limit is 100"),  # NFKC expands U+FDFA 18-fold
    ],
)
def test_clean_text_size_limit(raw: str, max_bytes: int, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        clean_text(raw, max_bytes=max_bytes)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("CNY", "CNY"),
        (" usd ", "USD"),
        ("RMB", "CNY"),
        ("rmb", "CNY"),
        ("人民币", "CNY"),
        ("元", "CNY"),
        ("ｅｕｒ", "EUR"),
    ],
)
def test_currency(raw: str, code: str) -> None:
    assert parse_currency(raw) == code


@pytest.mark.parametrize("raw", ["", "US", "USDT", "US$", "1CN", "¥"])
def test_currency_rejections(raw: str) -> None:
    with pytest.raises(InvalidValue, match="is not an ISO 4217 code; expected 3 letters"):
        parse_currency(raw)


# ---------------------------------------------------------------------------------------
# Robustness: arbitrary text never raises anything but InvalidValue
# ---------------------------------------------------------------------------------------

_PARSERS: list[Callable[[str], object]] = [
    parse_msisdn,
    parse_account,
    parse_id_number,
    parse_url,
    parse_domain,
    registered_domain,
    parse_money_fen,
    parse_timestamp,
    parse_currency,
    clean_text,
]


@pytest.mark.parametrize("parser", _PARSERS, ids=lambda p: getattr(p, "__name__", "?"))
@given(raw=st.text())
@settings(max_examples=150)
def test_only_invalid_value_on_arbitrary_text(parser: Callable[[str], object], raw: str) -> None:
    try:
        parser(raw)
    except InvalidValue as exc:
        assert exc.reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1941-12-17", dt.date(1941, 12, 17)),
        ("1941/2/3", dt.date(1941, 2, 3)),
        ("19411217", dt.date(1941, 12, 17)),
        ("2024年5月1日", dt.date(2024, 5, 1)),
        ("1943-08-01T00:00:00+09:00", dt.date(1943, 8, 1)),  # the date as written, no shift
        (" 2000-01-01 ", dt.date(2000, 1, 1)),
    ],
)
def test_parse_date(raw: str, expected: dt.date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [("1899-12-31", "outside"), ("2024-02-30", "not a real date"), ("May 1st", "not a date")],
)
def test_parse_date_rejects(raw: str, why: str) -> None:
    with pytest.raises(InvalidValue, match=why):
        parse_date(raw)
