"""Pre-filling a report from its narrative: accounts, phone numbers, URLs, apps, amounts, times.

Police narratives are written by officers from what the victim said, in Simplified or
Traditional Chinese (the text is converted with OpenCC first), with amounts in every form
people write (``639元``, ``¥1,234.56``, ``3.5万元``, ``三万五千元``, ``人民币30380元``) and
times like ``5月1日9时27分`` or ``下午3点``. What is found is a *proposal*: the officer confirms
it. Nothing here raises on odd text: an unreadable value is simply not proposed; only a text
over the size limit is refused (:class:`~fanzha.model.values.InvalidValue`).

Every pattern is linear (no nested quantifiers), so a hostile narrative costs time in
proportion to its length.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

from fanzha.model import values

#: narratives longer than this (UTF-8 bytes) are refused, not truncated
MAX_NARRATIVE_BYTES: Final = 64 * 1024

_DIGITS: Final = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGITS.update({"六": 6, "七": 7, "八": 8, "九": 9, "壹": 1, "贰": 2, "叁": 3, "肆": 4})
_DIGITS.update({"伍": 5, "陆": 6, "柒": 7, "捌": 8, "玖": 9})
_SMALL: Final = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG: Final = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}
_CN_NUM: Final = "零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟萬"

_AMOUNT_RE: Final = re.compile(
    r"(?:[¥￥]|人民币|RMB)?\s*"
    r"(?:(?<![\d.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)|(?<![数几多上近余])(?P<cn>["
    + _CN_NUM
    + r"]{1,20}))"
    r"\s*(?P<unit>亿元|万元|万块|万|元|块钱|块)"
    r"|[¥￥]\s*(?P<bare>\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
)
_PHONE_RE: Final = re.compile(r"(?<![\d+])(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{4}){2}(?!\d)")
_ACCOUNT_RE: Final = re.compile(r"(?<![\d+])\d(?:[ -]?\d){11,33}(?!\d)")
_URL_RE: Final = re.compile(
    r"(?:https?://|hxxps?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{1,2000}"
    r"|(?<![A-Za-z0-9.@\-])[A-Za-z0-9][A-Za-z0-9\-]{0,62}(?:\.[A-Za-z0-9\-]{1,63}){0,4}"
    r"\.(?:com|net|cn|vip|top|xyz|cc|app|shop|org|info|site|online|club|icu|live|pro|io)"
    r"(?:/[A-Za-z0-9\-._~/?#=&%]{0,2000})?(?![A-Za-z0-9])"
)
_APP_RE: Final = re.compile(
    r"(?:APP|App|app|软件|应用|平台|下载|安装)(?:了|有|为|叫|名为|名叫|是|:|：)?\s?"
    r"[“\"「《]([^”\"」》\n]{1,30})[”\"」》]"
)
_TIME_RE: Final = re.compile(
    r"(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]\s*"
    r"(?P<ap>凌晨|早上|上午|中午|下午|傍晚|晚上|夜里)?\s*"
    r"(?:(?P<H>\d{1,2})\s*(?:[:：](?P<M1>\d{2})|[时点](?:(?P<M2>\d{1,2})分?|(?P<half>半))?))?"
)
#: a time of day without a date (``10点20分``, ``下午3时``, ``9:05``): the report's day
_CLOCK_RE: Final = re.compile(
    r"(?<![\d月日号:：])(?P<ap>凌晨|早上|上午|中午|下午|傍晚|晚上|夜里)?\s*"
    r"(?P<H>\d{1,2})\s*(?:[:：](?P<M1>\d{2})|[时点](?:(?P<M2>\d{1,2})分?|(?P<half>半))?)"
)
#: words that put the account *after* the amount (``转账2万元到6217…``, ``汇款500元至对方账户…``)
_TO_WORDS: Final = ("到", "至", "给", "进", "入", "打到", "存入", "转入", "汇入")
_SENTENCE_RE: Final = re.compile(r"[^。；;!！?？\n]+")
_PAY_WORDS: Final = ("转账", "转入", "转款", "汇款", "汇入", "充值", "支付", "付款", "打款", "转给")
_LOSS_WORDS: Final = ("损失", "被骗")
_ID_CONTEXT: Final = ("身份证", "证件号")
_PM: Final = frozenset({"下午", "傍晚", "晚上", "夜里"})


@dataclass(frozen=True)
class FoundPayment:
    """A payment the narrative seems to describe: amount, and where found, account and time."""

    amount_fen: int
    account: str | None = None
    paid_at: dt.datetime | None = None


@dataclass
class Extracted:
    """What the narrative names (normalised, in order of first mention, without duplicates)."""

    text: str = ""
    accounts: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    amounts_fen: list[int] = field(default_factory=list)
    times: list[dt.datetime] = field(default_factory=list)
    payments: list[FoundPayment] = field(default_factory=list)
    loss_fen: int | None = None


def decode_narrative(raw: bytes) -> str:
    """Text of a narrative file: UTF-8 (with or without BOM), else GB18030 (which covers GBK
    and GB2312); undecodable bytes are replaced, never fatal."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


def chinese_number(text: str) -> int | None:
    """``三万五千`` → 35000, ``十一`` → 11, ``一百零五`` → 105, ``两亿三千万`` → 230000000;
    None when the text is not a well-formed Chinese numeral."""
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _DIGITS:
            if digit is not None and _DIGITS[ch] != 0:
                return None  # two digits in a row: not a numeral we read
            digit = _DIGITS[ch] if _DIGITS[ch] != 0 else None
        elif ch in _SMALL:
            section += (1 if digit is None else digit) * _SMALL[ch]
            digit = None
        elif ch in _BIG:
            section += digit or 0
            if section == 0:
                return None
            total = (
                (total + section) * _BIG[ch] if _BIG[ch] > 10_000 else total + section * _BIG[ch]
            )
            section, digit = 0, None
        else:
            return None
    value = total + section + (digit or 0)
    return value if value > 0 or text in ("零", "〇") else None


def amount_fen(match: re.Match[str]) -> int | None:
    """The amount of one :data:`_AMOUNT_RE` match in fen (None: not readable)."""
    if match.group("bare"):
        return _yuan_to_fen(match.group("bare").replace(",", ""), 1)
    unit = match.group("unit")
    scale = 100_000_000 if unit.startswith("亿") else 10_000 if unit.startswith("万") else 1
    if match.group("num"):
        return _yuan_to_fen(match.group("num").replace(",", ""), scale)
    number = chinese_number(match.group("cn"))
    return None if number is None else number * scale * 100


def _yuan_to_fen(text: str, scale: int) -> int | None:
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if len(whole) > 16 or len(frac) > 12:  # no sum of money; and int() of huge text is slow
        return None
    unit: int = 10 ** len(frac)
    fen, rest = divmod((int(whole or "0") * unit + int(frac or "0")) * scale * 100, unit)
    # 1.234元 is not a sum of money (the fen is the smallest unit)
    if rest or fen >= 10**15:
        return None
    return fen


def _time(match: re.Match[str], reference: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The moment of a :data:`_TIME_RE` match; the year defaults to the one that puts the
    moment at or before the report (a narrative tells the past)."""
    local = reference.astimezone(tz)
    try:
        hour = int(match.group("H") or 0)
        if match.group("ap") in _PM and hour < 12:
            hour += 12
        minute = int(match.group("M1") or match.group("M2") or (30 if match.group("half") else 0))
        year = int(match.group("y") or local.year)
        moment = dt.datetime(year, int(match.group("m")), int(match.group("d")), hour, minute)
    except ValueError:
        return None
    aware = moment.replace(tzinfo=tz)
    if match.group("y") is None and aware > local + dt.timedelta(days=1):
        try:
            aware = aware.replace(year=year - 1)
        except ValueError:  # 29 February
            return None
    return aware


def _clock(match: re.Match[str], reference: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """A :data:`_CLOCK_RE` time on the report's day (the day before when that is later than
    the report: a narrative tells the past)."""
    local = reference.astimezone(tz)
    hour = int(match.group("H"))
    if match.group("ap") in _PM and hour < 12:
        hour += 12
    minute = int(match.group("M1") or match.group("M2") or (30 if match.group("half") else 0))
    if hour > 23 or minute > 59:
        return None
    moment = dt.datetime.combine(local.date(), dt.time(hour, minute), tzinfo=tz)
    return moment - dt.timedelta(days=1) if moment > local else moment


def _last_time(stretch: str, reference: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The last dated time in the stretch, else its last time of day (on the report's day)."""
    dated = [t for t in (_time(m, reference, tz) for m in _TIME_RE.finditer(stretch)) if t]
    if dated:
        return dated[-1]
    clock = [t for t in (_clock(m, reference, tz) for m in _CLOCK_RE.finditer(stretch)) if t]
    return clock[-1] if clock else None


def _account_after(text: str) -> str | None:
    """The account right after an amount when a word says the money went there."""
    head = text.lstrip(" ，,、")
    if not head.startswith(_TO_WORDS):
        return None
    found = _accounts(head[:80], set())
    return found[0] if found else None


def _add(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def _accounts(text: str, phones: set[str]) -> list[str]:
    found: list[str] = []
    for m in _ACCOUNT_RE.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        before = text[max(0, m.start() - 8) : m.start()]
        if len(digits) < 12 or any(w in before for w in _ID_CONTEXT):
            continue
        if digits in phones or (len(digits) == 13 and digits.startswith("86")):
            continue
        try:
            _add(found, values.parse_account(digits).value)
        except values.InvalidValue:
            continue
    return found


def _phones(text: str) -> list[str]:
    found: list[str] = []
    for m in _PHONE_RE.finditer(text):
        try:
            _add(found, values.normalise_msisdn(m.group()))
        except values.InvalidValue:
            continue
    return found


def _urls(text: str) -> list[str]:
    found: list[str] = []
    for m in _URL_RE.finditer(text):
        raw = m.group().rstrip(".,;:!?)]'")
        try:
            _add(found, values.parse_url(raw).value)
        except values.InvalidValue:
            continue
    return found


def _sentence_payments(
    sentence: str, reference: dt.datetime, tz: ZoneInfo
) -> tuple[list[FoundPayment], int | None]:
    """Payments one sentence describes, and a loss it states. Each amount is read with the
    text since the amount before it: a payment word there makes it a payment (with the last
    time and account in that stretch, else the account the words after it send it to), a
    loss word a loss."""
    payments: list[FoundPayment] = []
    loss = None
    matches = list(_AMOUNT_RE.finditer(sentence))
    if not matches:
        return payments, loss
    ends = [m.start() for m in matches[1:]] + [len(sentence)]  # where each amount's text ends
    start = 0
    for m, end in zip(matches, ends, strict=True):
        fen = amount_fen(m)
        stretch = sentence[start : m.start()]
        start = m.end()
        if not fen:
            continue
        if any(w in stretch for w in _PAY_WORDS):
            accounts = _accounts(stretch, set())
            account = accounts[-1] if accounts else _account_after(sentence[m.end() : end])
            payments.append(FoundPayment(fen, account, _last_time(stretch, reference, tz)))
        elif any(w in stretch for w in _LOSS_WORDS):
            loss = fen
    return payments, loss


def extract(narrative: str, reference: dt.datetime, tz: str = "Asia/Shanghai") -> Extracted:
    """Everything the narrative names. ``reference`` (the report's time) fixes the year of
    times written without one; ``tz`` is the zone times are written in."""
    text = values.clean_text(narrative, max_bytes=MAX_NARRATIVE_BYTES)
    zone = ZoneInfo(tz)
    out = Extracted(text=text)
    out.phones = _phones(text)
    out.accounts = _accounts(text, {p.removeprefix("+86") for p in out.phones})
    out.urls = _urls(text)
    for m in _APP_RE.finditer(text):
        name = m.group(1).strip()
        if name and not _URL_RE.fullmatch(name):
            _add(out.apps, name)
    for m in _AMOUNT_RE.finditer(text):
        fen = amount_fen(m)
        if fen:
            out.amounts_fen.append(fen)
    for m in _TIME_RE.finditer(text):
        moment = _time(m, reference, zone)
        if moment is not None and moment not in out.times:
            out.times.append(moment)
    for s in _SENTENCE_RE.finditer(text):
        payments, loss = _sentence_payments(s.group(), reference, zone)
        out.payments.extend(payments)
        if loss is not None:
            out.loss_fen = loss
    return out
