"""Indicator feeds: read block lists and police feeds into :class:`Indicator`\\ s, and write them.

Pure: the functions here take lines of bytes (or text) and give indicators plus *problems*
(line number, field, reason) for the rows that cannot be used. A bad row never stops the
feed and never costs a good row. Opening files is the caller's business (``fanzha intel``).

Import formats (``--format``)
-----------------------------

``plain``
    One value per line. Blank lines and lines starting with ``#`` are skipped; a comment
    after the value (``value  # why``) is cut off.
``hosts``
    ``0.0.0.0 example.com`` or ``127.0.0.1 a.b.com c.d.com`` (several hosts a line), ``#``
    comments anywhere. The names ``localhost``, ``localhost.localdomain``, ``broadcasthost``,
    ``local``, ``ip6-localhost``, ``ip6-loopback`` and ``0.0.0.0`` are skipped. A line
    without a leading address is read as a list of hosts. Always kind ``domain``.
``adblock``
    ``||example.com^`` (options after ``$`` are ignored), ``! comments`` and the
    ``[Adblock Plus 2.0]`` header are skipped, exception rules ``@@||good.com^`` become
    verdict ``allow``. Rules that name no single domain (cosmetic ``##``, paths, wildcards,
    regular expressions) are counted as *unsupported*, not as problems. Always kind ``domain``.
``csv``
    A header row and one indicator a row; the delimiter (``,`` TAB ``;`` ``|``) is sniffed
    from the header. Columns named like the fields (``kind``, ``value``, ``verdict``,
    ``confidence``, ``source``, ``first_seen``, ``last_seen``, ``expires``, ``note``, as
    ``fanzha intel export`` writes them) are used as they are; ``--map field=列名`` names
    other columns (``value`` is required, the others optional). Published English feeds'
    names are known too (:data:`VALUE_COLUMNS_EN`, :data:`FIELD_COLUMNS_EN`): a value column
    named ``url``, ``domain``, ``host``, ``phone_number``, ``card_number``, ``imei`` … gives
    the kind itself; ``ioc_value`` / ``indicator`` with ``ioc_type``; ``threat`` is the note,
    ``confidence_level`` the confidence. Otherwise the kind comes from a ``kind`` column or
    ``--kind``. A header written as the last comment line before the rows
    (``# id,dateadded,url,…``) is read as the header when it has as many names as the first
    row has fields, names the value column and has more known names than that row. A space
    after a delimiter is not part of the next field (``a, "b,c"``).
``police``
    A police feed: CSV with Chinese headers (see :data:`POLICE_HEADERS`). Accepted headers:

    ========================  ===================================================
    field                     accepted header names
    ========================  ===================================================
    kind                      类型, 指标类型, 类别
    value                     值, 指标, 指标值, 涉诈号码, 涉诈电话, 涉诈域名,
                              涉诈网址, 涉诈URL, 涉诈链接, 涉诈银行卡, 涉诈账号,
                              涉诈账户, 涉诈APP, 涉诈应用, 涉诈设备, 涉诈IMEI
    verdict                   研判结论, 结论, 定性
    confidence                置信度, 可信度
    source                    来源, 线索来源
    first_seen                发现时间, 首次发现时间
    last_seen                 最后发现时间, 最近发现时间
    expires                   有效期至, 有效期, 失效时间
    note                      备注, 说明
    ========================  ===================================================

    Kinds in ``类型``: 号码 / 电话 / 手机 / 手机号 / 电话号码 → phone; 域名 → domain;
    网址 / URL / 链接 → url; 银行卡 / 卡号 / 账号 / 账户 / 银行账户 → account;
    APP / 应用 → app; 设备 / IMEI → device (the English names work too). Without a ``类型``
    column the kind comes from the value column's name (``涉诈号码`` → phone …) or ``--kind``.
    When a file has several value columns, a row uses the first one that is not empty.
    Verdicts in ``研判结论``: 涉诈 / 诈骗 / 黑名单 → fraud; 可疑 / 疑似 / 灰名单 →
    suspicious; 白名单 / 正常 / 误报 → allow (English names too). Empty: ``--verdict``.
``json``
    One JSON object a line with the field names (what ``fanzha intel export --format json``
    writes), or one JSON array of such objects or of bare values (their kind from
    ``--kind``), each element located at the line it starts on (a line is at most 64 KiB, so
    a large array must be pretty-printed). Keys are read in any case, and the English column
    names above work as keys too; a value may be a whole number.
``stix``
    A STIX 2.1 bundle of ``indicator`` objects whose patterns compare one observable
    (``[domain-name:value = '…']``, ``[url:value = '…']``, ``[x-fanzha-phone:value = '…']``
    …), as :func:`stix_bundle` writes them.

Confidence may be written 0–1, 0–100 (``85`` or ``85%``) or 高 / 中 / 低 (0.9 / 0.6 / 0.3).
Times are ISO 8601 or the other forms :func:`fanzha.model.values.parse_timestamp` reads
(local time zone when none is given); an expiry given as a bare date means the end of that
day. Text is UTF-8 (with or without BOM) or GB18030; a line that is neither, or longer than
64 KiB, is a problem. Every value goes through :func:`normalise_value`; values holding
control characters (NUL included) are refused for every kind.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import ipaddress
import itertools
import json
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from fanzha.intel.model import Indicator, IndicatorKind, Verdict, normalise_value
from fanzha.model import values

IMPORT_FORMATS: Final = ("plain", "hosts", "adblock", "csv", "police", "json", "stix")
EXPORT_FORMATS: Final = ("csv", "plain", "hosts", "json", "stix")
MAX_LINE_BYTES: Final = 64 * 1024
FIELDS: Final = (
    "kind",
    "value",
    "verdict",
    "confidence",
    "source",
    "first_seen",
    "last_seen",
    "expires",
    "note",
)
DELIMITERS: Final = (",", "\t", ";", "|")
HOSTS_SKIPPED: Final = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "broadcasthost",
        "local",
        "0.0.0.0",
        "ip6-localhost",
        "ip6-loopback",
    }
)

POLICE_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "kind": ("类型", "指标类型", "类别"),
    "value": (
        "值",
        "指标",
        "指标值",
        "涉诈号码",
        "涉诈电话",
        "涉诈域名",
        "涉诈网址",
        "涉诈URL",
        "涉诈链接",
        "涉诈银行卡",
        "涉诈账号",
        "涉诈账户",
        "涉诈APP",
        "涉诈应用",
        "涉诈设备",
        "涉诈IMEI",
    ),
    "verdict": ("研判结论", "结论", "定性"),
    "confidence": ("置信度", "可信度"),
    "source": ("来源", "线索来源"),
    "first_seen": ("发现时间", "首次发现时间"),
    "last_seen": ("最后发现时间", "最近发现时间"),
    "expires": ("有效期至", "有效期", "失效时间"),
    "note": ("备注", "说明"),
}

_K = IndicatorKind
KIND_WORDS: Final[dict[str, IndicatorKind]] = {
    **{k.value: k for k in IndicatorKind},
    **{k.label_zh: k for k in IndicatorKind},
    "号码": _K.PHONE,
    "电话": _K.PHONE,
    "手机": _K.PHONE,
    "手机号": _K.PHONE,
    "手机号码": _K.PHONE,
    "电话号码": _K.PHONE,
    # the kinds of number police lists write in the same column
    "固话": _K.PHONE,
    "固定电话": _K.PHONE,
    "座机": _K.PHONE,
    "境外": _K.PHONE,
    "境外号码": _K.PHONE,
    "境外电话": _K.PHONE,
    "虚拟号": _K.PHONE,
    "虚拟号码": _K.PHONE,
    "虚商号码": _K.PHONE,
    "物联网卡": _K.PHONE,
    "域名": _K.DOMAIN,
    "网址": _K.URL,
    "url": _K.URL,
    "链接": _K.URL,
    "网站": _K.URL,
    "银行卡": _K.ACCOUNT,
    "银行卡号": _K.ACCOUNT,
    "卡号": _K.ACCOUNT,
    "账号": _K.ACCOUNT,
    "账户": _K.ACCOUNT,
    "银行账户": _K.ACCOUNT,
    "银行账号": _K.ACCOUNT,
    "app": _K.APP,
    "应用": _K.APP,
    "设备": _K.DEVICE,
    "imei": _K.DEVICE,
}
# The kind a police value column names by itself (when the file has no 类型 column).
_VALUE_COLUMN_KIND: Final[dict[str, IndicatorKind]] = {
    "涉诈号码": _K.PHONE,
    "涉诈电话": _K.PHONE,
    "涉诈域名": _K.DOMAIN,
    "涉诈网址": _K.URL,
    "涉诈URL": _K.URL,
    "涉诈链接": _K.URL,
    "涉诈银行卡": _K.ACCOUNT,
    "涉诈账号": _K.ACCOUNT,
    "涉诈账户": _K.ACCOUNT,
    "涉诈APP": _K.APP,
    "涉诈应用": _K.APP,
    "涉诈设备": _K.DEVICE,
    "涉诈IMEI": _K.DEVICE,
}
#: English column names of published block lists and threat feeds (CSV exports of URL and
#: phishing lists, IOC dumps), compared lower-cased: a value column that names its kind,
#: and other fields' columns. A generic value column (``ioc_value`` …) needs a kind column
#: or ``--kind``.
VALUE_COLUMNS_EN: Final[dict[str, IndicatorKind | None]] = {
    "url": _K.URL,
    "link": _K.URL,
    "domain": _K.DOMAIN,
    "domain_name": _K.DOMAIN,
    "host": _K.DOMAIN,
    "hostname": _K.DOMAIN,
    "phone": _K.PHONE,
    "phone_number": _K.PHONE,
    "msisdn": _K.PHONE,
    "account": _K.ACCOUNT,
    "account_number": _K.ACCOUNT,
    "card_number": _K.ACCOUNT,
    "package_name": _K.APP,
    "imei": _K.DEVICE,
    "indicator": None,
    "ioc": None,
    "ioc_value": None,
    "observable": None,
}
FIELD_COLUMNS_EN: Final[dict[str, tuple[str, ...]]] = {
    "kind": ("ioc_type", "indicator_type"),
    "confidence": ("confidence_level",),
    "note": ("threat", "threat_type", "description"),
}
_KNOWN_COLUMNS: Final = frozenset(
    [*FIELDS, *VALUE_COLUMNS_EN, *(n for names in FIELD_COLUMNS_EN.values() for n in names)]
    + [n for names in POLICE_HEADERS.values() for n in names]
)
VERDICT_WORDS: Final[dict[str, Verdict]] = {
    **{v.value: v for v in Verdict},
    **{v.label_zh: v for v in Verdict},
    "诈骗": Verdict.FRAUD,
    "黑名单": Verdict.FRAUD,
    "block": Verdict.FRAUD,
    "blacklist": Verdict.FRAUD,
    "malicious": Verdict.FRAUD,
    "疑似": Verdict.SUSPICIOUS,
    "疑似涉诈": Verdict.SUSPICIOUS,
    "灰名单": Verdict.SUSPICIOUS,
    "正常": Verdict.ALLOW,
    "误报": Verdict.ALLOW,
    "whitelist": Verdict.ALLOW,
    "benign": Verdict.ALLOW,
}
CONFIDENCE_WORDS: Final = {
    "高": 0.9,
    "中": 0.6,
    "低": 0.3,
    "high": 0.9,
    "medium": 0.6,
    "low": 0.3,
}

_CONTROL_RE: Final = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_HOSTS_ADDRESS_RE: Final = re.compile(r"^\s*(?:0\.0\.0\.0|127\.0\.0\.1|::1?|0)\s+\S")
_DATE_ONLY_RE: Final = re.compile(
    r"\s*\d{4}(?:[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}|年\d{1,2}月\d{1,2}日)\s*"
)
_ADBLOCK_DOMAIN_RE: Final = re.compile(r"[^/*^|?=:\\\s]+")
# a JSON array's start (not an adblock list's "[Adblock Plus 2.0]")
_JSON_ARRAY_RE: Final = re.compile(r'\s*\[\s*(?:[{\["\]\d-]|$)')


_PLAIN_HOST_RE: Final = re.compile(r"[a-z0-9_\-]{1,63}(?:\.[a-z0-9_\-]{1,63})+")


def fast_normalise(kind: IndicatorKind, raw: str) -> str:
    """:func:`normalise_value`, with a fast path for plain ASCII host names (most of a block
    list): lower case, one trailing dot dropped. It gives the same answer as
    ``normalise_value`` for every input (property-tested); everything else goes there."""
    if kind is IndicatorKind.DOMAIN:
        host = raw.strip()
        if host.isascii():
            host = host.lower()
            if host.endswith("."):
                host = host[:-1]
            if (
                len(host) <= 253
                and _PLAIN_HOST_RE.fullmatch(host)
                and not host.rpartition(".")[2].isdigit()
            ):
                return host
    return normalise_value(kind, raw)


class FeedError(ValueError):
    """Options that cannot describe a feed (unknown format, no kind for a plain list)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A row (or the whole file, line 0) that gave no indicator, and why."""

    line: int
    field: str | None
    reason: str
    text: str = ""  # a short preview of the offending input


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """How to read one feed.

    ``verdict``, ``confidence`` and ``source`` are defaults: a row's own column wins (and an
    adblock exception rule is always ``allow``).
    """

    format: str
    kind: IndicatorKind | None = None
    verdict: Verdict | None = None
    confidence: float | None = None
    source: str = "feed"
    mapping: Mapping[str, str] = field(default_factory=dict)
    timezone: str = values.DEFAULT_TZ

    def __post_init__(self) -> None:
        if self.format not in IMPORT_FORMATS:
            raise FeedError(
                f"unknown feed format {self.format!r}; expected one of {', '.join(IMPORT_FORMATS)}"
            )
        if self.format in ("hosts", "adblock") and self.kind not in (None, IndicatorKind.DOMAIN):
            raise FeedError(f"a {self.format} feed lists domains; --kind {self.kind} does not fit")
        if self.format == "plain" and self.kind is None:
            raise FeedError("a plain list needs --kind (phone, domain, url, account, app, device)")
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise FeedError(f"confidence {self.confidence} is outside 0–1")
        unknown = sorted(set(self.mapping) - set(FIELDS))
        if unknown:
            raise FeedError(
                f"--map names unknown fields {', '.join(unknown)}; expected {', '.join(FIELDS)}"
            )
        if self.mapping and self.format not in ("csv", "police"):
            raise FeedError("--map applies to csv (and police) feeds only")


@dataclass
class FeedStats:
    """What reading a feed saw."""

    format: str
    encoding: str = "utf-8"
    lines: int = 0  # physical lines read
    records: int = 0  # lines (or rows) holding data
    indicators: int = 0
    problems: int = 0
    skipped: int = 0  # localhost and friends in hosts files
    unsupported: int = 0  # adblock rules that name no single domain


@dataclass
class FeedResult:
    """A whole feed read at once (:func:`parse_bytes`)."""

    indicators: list[Indicator]
    problems: list[Problem]
    stats: FeedStats


Item = Indicator | Problem


# --------------------------------------------------------------------------- bytes and lines


def detect_encoding(head: bytes) -> str:
    """The encoding of a feed from its first bytes: utf-8-sig, utf-16, utf-8 or gb18030.

    The same rules as :func:`fanzha.ingest.readers.detect_encoding` (which a pure package may
    not import): a BOM decides; otherwise UTF-8 when the head decodes as UTF-8, else GB18030.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        return "utf-8"  # lines fail one by one with a reason


def iter_lines(
    readline: Callable[[int], bytes], max_bytes: int = MAX_LINE_BYTES, chunk: int = 1 << 20
) -> Iterator[bytes]:
    """Lines from a binary ``readline(limit)`` with bounded memory.

    A line longer than ``max_bytes`` is given cut to ``max_bytes + 1`` bytes (so that the
    reader reports it) and the rest of it is skipped without being held in memory.
    """
    while True:
        line = readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            rest = line
            while rest and not rest.endswith(b"\n"):
                rest = readline(chunk)
        yield line


def _decoder(encoding: str) -> Callable[[bytes], str | None]:
    primary = "utf-8" if encoding in ("utf-8-sig", "utf-16") else encoding
    fallback = "gb18030" if primary == "utf-8" else "utf-8"

    def decode(raw: bytes) -> str | None:
        for name in (primary, fallback):
            try:
                return raw.decode(name)
            except UnicodeDecodeError:
                continue
        return None

    return decode


def _preview(text: str, limit: int = 80) -> str:
    text = text if len(text) <= limit else text[:limit] + "…"
    return text.encode("unicode_escape").decode("ascii") if _CONTROL_RE.search(text) else text


# --------------------------------------------------------------------------- the reader


class FeedReader:
    """Reads one feed: ``read(lines)`` yields indicators and problems, ``stats`` counts.

    The lines are raw bytes as they come from the file (line ends included or not); they are
    decoded one by one, so a single bad line costs only itself.
    """

    def __init__(self, options: FeedOptions, *, encoding: str = "utf-8") -> None:
        self.options = options
        self.stats = FeedStats(format=options.format, encoding=encoding)
        self._decode = _decoder(encoding)
        self._crlf = False  # whether the line just decoded ended with CRLF

    def read(self, lines: Iterable[bytes]) -> Iterator[Item]:
        """Indicators and problems, in file order."""
        return self.read_texts(self._texts(lines))

    def read_texts(self, entries: Iterable[tuple[int, str] | Problem]) -> Iterator[Item]:
        """:meth:`read` of lines already decoded, each with its number (a workbook's rows,
        numbered as in the sheet), or problems of their own."""
        texts = self._numbered(entries)
        fmt = self.options.format
        if fmt in ("csv", "police"):
            items = self._table(texts)
        elif fmt == "json":
            items = self._json_lines(texts)
        elif fmt == "stix":
            items = self._stix(texts)
        else:
            line_parser = {"plain": self._plain, "hosts": self._hosts, "adblock": self._adblock}
            items = self._per_line(texts, line_parser[fmt])
        for item in items:
            if isinstance(item, Problem):
                self.stats.problems += 1
            else:
                self.stats.indicators += 1
            yield item

    def _numbered(
        self, entries: Iterable[tuple[int, str] | Problem]
    ) -> Iterator[tuple[int, str] | Problem]:
        for entry in entries:
            if not isinstance(entry, Problem):
                self.stats.lines = entry[0]
            yield entry

    # ----------------------------------------------------------------- decoding

    def _texts(self, lines: Iterable[bytes]) -> Iterator[tuple[int, str] | Problem]:
        """Decoded lines (without line ends) with their number, or a problem per bad line."""
        for number, raw in enumerate(lines, start=1):
            self.stats.lines = number
            body = raw.rstrip(b"\r\n")
            # CSV cells may hold a quoted CRLF: the CSV reader gets the line end back (read
            # as each line is handed on: the generators run in step).
            self._crlf = raw.endswith(b"\r\n")
            if number == 1 and body.startswith(codecs.BOM_UTF8):
                body = body[len(codecs.BOM_UTF8) :]
            if len(body) > MAX_LINE_BYTES:
                yield Problem(
                    number,
                    None,
                    f"line is longer than {MAX_LINE_BYTES // 1024} KiB; not read",
                    _preview(body[:60].decode("utf-8", "replace")),
                )
                continue
            text = self._decode(body)
            if text is None:
                yield Problem(
                    number,
                    None,
                    "line is neither UTF-8 nor GB18030 text",
                    _preview(body[:60].decode("utf-8", "backslashreplace")),
                )
                continue
            yield number, text

    # ----------------------------------------------------------------- line formats

    def _per_line(
        self,
        texts: Iterator[tuple[int, str] | Problem],
        parse: Callable[[int, str], Iterator[Item]],
    ) -> Iterator[Item]:
        for entry in texts:
            if isinstance(entry, Problem):
                yield entry
            else:
                yield from parse(*entry)

    def _plain(self, number: int, text: str) -> Iterator[Item]:
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            return
        value = re.split(r"\s#", stripped, maxsplit=1)[0].strip()
        self.stats.records += 1
        assert self.options.kind is not None  # checked by FeedOptions
        yield self._make(number, self.options.kind, value)

    def _hosts(self, number: int, text: str) -> Iterator[Item]:
        body = text.split("#", 1)[0].strip()
        if not body:
            return
        self.stats.records += 1
        tokens = body.split()
        if _is_ip(tokens[0]):
            tokens = tokens[1:]
        elif len(tokens) > 1:
            yield Problem(
                number,
                None,
                "a hosts line is an address followed by host names (e.g. 0.0.0.0 a.example)",
                _preview(body),
            )
            return
        for host in tokens:
            if host.lower() in HOSTS_SKIPPED:
                self.stats.skipped += 1
                continue
            yield self._make(number, IndicatorKind.DOMAIN, host)

    def _adblock(self, number: int, text: str) -> Iterator[Item]:
        rule = text.strip()
        if not rule or rule.startswith(("!", "[")) or rule == "#" or rule.startswith("# "):
            return
        self.stats.records += 1
        allow = rule.startswith("@@")
        body = rule[2:] if allow else rule
        host = _adblock_host(body)
        if host is None:
            self.stats.unsupported += 1
            return
        verdict = Verdict.ALLOW if allow else None
        yield self._make(number, IndicatorKind.DOMAIN, host, verdict=verdict)

    # ----------------------------------------------------------------- tables

    def _table(self, texts: Iterator[tuple[int, str] | Problem]) -> Iterator[Item]:
        """CSV and police feeds: a header row, then records (quoted fields may span lines)."""
        pending: list[Problem] = []
        started: list[int] = []

        def feed() -> Iterator[str]:
            for entry in texts:
                if isinstance(entry, Problem):
                    pending.append(entry)
                    continue
                started.append(entry[0])
                yield entry[1] + ("\r\n" if self._crlf else "\n")

        header: list[str] | None = None
        reader: Iterator[list[str]] | None = None
        source = feed()
        comment, comment_line = "", 0
        # The header is the first non-blank line; the delimiter is sniffed from it. Some
        # published feeds write it as their last comment line (``# id,dateadded,url,…``):
        # that one is the header when it names the value column and the first line does not.
        for line in source:
            yield from _drain(pending)
            if line.strip() and not line.lstrip().startswith("#"):
                delimiter = sniff_delimiter(line)
                header = [h.strip().lstrip("\ufeff") for h in _split(line, delimiter)]
                commented = self._commented_header(comment, header, delimiter)
                if commented is None:
                    header_line = started[-1] if started else 1
                    started[:] = []
                    reader = _reader(source, delimiter)
                else:
                    header, header_line = commented, comment_line
                    started[:] = started[-1:]  # the line read is the first record
                    rows = itertools.chain([line], source)
                    reader = _reader(rows, delimiter)
                break
            if line.lstrip().startswith("#"):
                comment, comment_line = line, started[-1] if started else 1
            started.clear()
        yield from _drain(pending)
        if header is None or reader is None:
            return
        columns = self._columns(header, header_line)
        if isinstance(columns, Problem):
            yield columns
            return
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield from _drain(pending)
                number = started[0] if started else self.stats.lines
                started.clear()
                self.stats.records += 1
                yield Problem(number, None, _csv_reason(exc))
                continue
            yield from _drain(pending)
            number = started[0] if started else self.stats.lines
            started.clear()
            if not any(cell.strip() for cell in row):
                continue
            self.stats.records += 1
            yield self._record(number, columns, row)
        yield from _drain(pending)

    def _commented_header(self, comment: str, first: list[str], delimiter: str) -> list[str] | None:
        """The names in a comment line just before the first row, when they read as a header
        (they name the value column, as many as the row has fields) better than the row
        does (more of them are known column names: a row may hold a cell like ``domain``)."""
        names = [h.strip() for h in _split(comment.lstrip().lstrip("#").strip(), delimiter)]
        if len(names) < 2 or len(names) != len(first) or not self._names_value(names):
            return None
        return names if self._known_names(names) > self._known_names(first) else None

    def _names_value(self, header: list[str]) -> bool:
        """Whether a header names the value column (its kind may still be missing)."""
        got = self._columns(header, 0)
        return isinstance(got, _Columns) or got.field == "kind"

    def _known_names(self, header: list[str]) -> int:
        """How many of a header's names are known column names (or mapped ones)."""
        known = set(self.options.mapping.values()) | _KNOWN_COLUMNS
        return sum(h.strip().lower() in known or h.strip() in known for h in header)

    def _columns(self, header: list[str], line: int) -> _Columns | Problem:
        """Which column holds which field, from the mapping, the field names or police names."""
        names = {h: i for i, h in enumerate(header) if h}
        lowered = {h.lower(): i for h, i in names.items()}
        found: dict[str, list[int]] = {}
        for name in FIELDS:
            if name in self.options.mapping:
                column = self.options.mapping[name]
                if column not in names:
                    return Problem(
                        line,
                        name,
                        f"--map {name}={column}: the header has no column {column!r}"
                        f" (it has {', '.join(header)})",
                    )
                found[name] = [names[column]]
            elif name in lowered:
                found[name] = [lowered[name]]
            elif self.options.format == "police" and any(h in names for h in POLICE_HEADERS[name]):
                hits = [names[h] for h in POLICE_HEADERS[name] if h in names]
                found[name] = hits if name == "value" else hits[:1]
            else:
                english = VALUE_COLUMNS_EN if name == "value" else FIELD_COLUMNS_EN.get(name, ())
                hits = [lowered[h] for h in english if h in lowered]
                if hits:
                    found[name] = hits[:1]
        if "value" not in found:
            wanted = (
                "值 / 涉诈号码 / 涉诈域名 … (see fanzha.intel.feeds)"
                if self.options.format == "police"
                else "value (or url, domain, phone … ioc_value), or name one with --map value=列名"
            )
            return Problem(
                line,
                "value",
                f"the header has no value column; expected {wanted}",
                ",".join(header),
            )
        column_kinds = [
            _VALUE_COLUMN_KIND.get(header[i]) or VALUE_COLUMNS_EN.get(header[i].lower())
            for i in found["value"]
        ]
        if "kind" not in found and self.options.kind is None and None in column_kinds:
            return Problem(
                line,
                "kind",
                "the kind is unknown: pass --kind, or give a kind (类型) column",
                ",".join(header),
            )
        return _Columns(found, column_kinds)

    def _record(self, number: int, columns: _Columns, row: list[str]) -> Item:
        def cell(name: str) -> str:
            for i in columns.found.get(name, ()):
                if i < len(row) and row[i].strip():
                    return row[i].strip()
            return ""

        value, value_kind = "", None
        for i, kind_of_column in zip(columns.found["value"], columns.value_kinds, strict=True):
            if i < len(row) and row[i].strip():
                value, value_kind = row[i].strip(), kind_of_column
                break
        if not value:
            return Problem(number, "value", "the value is empty")
        fields = {name: cell(name) for name in FIELDS if name not in ("kind", "value")}
        return self._from_fields(number, value, cell("kind"), value_kind, fields)

    # ----------------------------------------------------------------- json and stix

    def _json_lines(self, texts: Iterator[tuple[int, str] | Problem]) -> Iterator[Item]:
        for entry in texts:
            if isinstance(entry, Problem):
                yield entry
                continue
            number, text = entry
            if not text.strip():
                continue
            if text.lstrip().startswith("["):  # one JSON array, not an object a line
                yield from self._json_array(number, itertools.chain([entry], texts))
                return
            self.stats.records += 1
            try:
                obj = json.loads(text)
            except ValueError as exc:
                yield Problem(number, None, f"line is not JSON: {exc}", _preview(text))
                continue
            if not isinstance(obj, dict):
                yield Problem(number, None, "line is not a JSON object", _preview(text))
                continue
            yield self._from_object(number, obj)

    def _json_array(
        self, first_line: int, texts: Iterator[tuple[int, str] | Problem]
    ) -> Iterator[Item]:
        """A JSON array of objects (as one a line) or of values (``--kind`` gives their
        kind), each element located at the line it starts on; a syntax error ends the
        array there (what follows cannot be told apart)."""
        text = yield from _joined(texts)
        decoder = json.JSONDecoder()
        at = _skip(text, text.index("[") + 1)
        while at < len(text) and text[at] != "]":
            line = first_line + text.count("\n", 0, at)
            try:
                element, at = decoder.raw_decode(text, at)
            except ValueError as exc:
                yield Problem(line, None, f"not JSON: {exc}", _preview(text[at : at + 80]))
                return
            self.stats.records += 1
            yield self._from_element(line, element)
            at = _skip(text, at)
            if at < len(text) and text[at] == ",":
                at = _skip(text, at + 1)
            elif at < len(text) and text[at] != "]":
                yield Problem(line, None, "elements of a JSON array are separated by ','")
                return
        if at >= len(text):
            yield Problem(
                first_line + text.count("\n"), None, "the JSON array is not closed (truncated?)"
            )

    def _from_element(self, number: int, element: Any) -> Item:
        if isinstance(element, dict):
            return self._from_object(number, element)
        if isinstance(element, str) and element.strip():
            if self.options.kind is None:
                return Problem(number, "kind", "the kind is empty and no --kind was given")
            return self._make(number, self.options.kind, element)
        return Problem(number, None, "an element is neither an object nor a value (text)")

    def _from_object(self, number: int, obj: dict[str, Any]) -> Item:
        """An object with the field names (any case) or the English column names a CSV may
        have (``url``, ``ioc_value`` with ``ioc_type`` …); a value may be text or a whole
        number."""
        lowered = {str(k).lower(): v for k, v in obj.items()}
        key = next((k for k in ("value", *VALUE_COLUMNS_EN) if _json_value(lowered.get(k))), None)
        if key is None:
            return Problem(number, "value", "the value is missing or not text")

        def field(name: str) -> str:
            for k in (name, *FIELD_COLUMNS_EN.get(name, ())):
                if lowered.get(k) is not None:
                    return str(lowered[k])
            return ""

        fields = {name: field(name) for name in FIELDS if name not in ("kind", "value")}
        column_kind = None if key == "value" else VALUE_COLUMNS_EN[key]
        return self._from_fields(number, str(lowered[key]), field("kind"), column_kind, fields)

    def _stix(self, texts: Iterator[tuple[int, str] | Problem]) -> Iterator[Item]:
        text = yield from _joined(texts)
        try:
            bundle = json.loads(text)
        except ValueError as exc:
            yield Problem(0, None, f"file is not a JSON document: {exc}")
            return
        objects = bundle.get("objects") if isinstance(bundle, dict) else None
        if not isinstance(objects, list):
            yield Problem(0, None, "file is not a STIX bundle (no 'objects' list)")
            return
        for position, obj in enumerate(objects, start=1):
            if not isinstance(obj, dict) or obj.get("type") != "indicator":
                continue
            self.stats.records += 1
            yield self._from_stix(position, obj)

    def _from_stix(self, position: int, obj: dict[str, Any]) -> Item:
        parsed = _stix_pattern(str(obj.get("pattern", "")))
        if parsed is None:
            return Problem(
                position,
                "pattern",
                "pattern is not one equality on a supported observable"
                " ([domain-name:value = '…'], [url:value = '…'], [x-fanzha-phone:value = '…'] …)",
                _preview(str(obj.get("pattern", ""))),
            )
        kind, raw_value = parsed
        labels = [str(x) for x in obj.get("labels", []) if isinstance(x, str)]
        verdict = next((lab for lab in labels if lab in VERDICT_WORDS), "")
        types = obj.get("indicator_types") or []
        if not verdict and "benign" in types:
            verdict = "allow"
        elif not verdict and "anomalous-activity" in types:
            verdict = "suspicious"
        confidence = obj.get("confidence")
        fields = {
            "verdict": verdict,
            # STIX confidence is 0–100 always (1 means 1 %, not certainty).
            "confidence": str(confidence / 100) if isinstance(confidence, int | float) else "",
            "source": str(obj.get("x_fanzha_source") or ""),
            # Our own exports say when first seen apart (valid_from is required in STIX).
            "first_seen": str(
                (obj.get("x_fanzha_first_seen") if "x_fanzha_source" in obj else None)
                or (obj.get("valid_from") if "x_fanzha_source" not in obj else None)
                or ""
            ),
            "last_seen": str(obj.get("x_fanzha_last_seen") or ""),
            "expires": str(obj.get("valid_until") or ""),
            "note": str(obj.get("description") or ""),
        }
        return self._from_fields(position, raw_value, kind.value, None, fields)

    # ----------------------------------------------------------------- one indicator

    def _from_fields(
        self,
        number: int,
        raw_value: str,
        kind_text: str,
        column_kind: IndicatorKind | None,
        fields: Mapping[str, str],
    ) -> Item:
        kind: IndicatorKind | None
        if kind_text:
            kind = KIND_WORDS.get(kind_text.strip().lower()) or KIND_WORDS.get(kind_text.strip())
            if kind is None:
                return Problem(
                    number,
                    "kind",
                    f"unknown kind {kind_text!r}; expected 号码, 域名, 网址, 银行卡, APP, 设备"
                    " or phone, domain, url, account, app, device",
                    _preview(kind_text),
                )
        else:
            kind = column_kind or self.options.kind
        if kind is None:
            return Problem(number, "kind", "the kind is empty and no --kind was given")
        verdict: Verdict | None = None
        if fields.get("verdict"):
            verdict = parse_verdict(fields["verdict"])
            if verdict is None:
                return Problem(
                    number,
                    "verdict",
                    f"unknown verdict {fields['verdict']!r}; expected 涉诈, 可疑, 白名单"
                    " (fraud, suspicious, allow)",
                    _preview(fields["verdict"]),
                )
        extra: dict[str, Any] = {}
        for name in ("confidence", "first_seen", "last_seen", "expires"):
            text = fields.get(name)
            if not text:
                continue
            try:
                extra[name] = (
                    parse_confidence(text)
                    if name == "confidence"
                    else self._time(text, end_of_day=name == "expires")
                )
            except values.InvalidValue as exc:
                return Problem(number, name, exc.reason, _preview(text))
        if fields.get("source"):
            extra["source"] = fields["source"][:256]
        if fields.get("note"):
            extra["note"] = fields["note"][:2000]
        return self._make(number, kind, raw_value, verdict=verdict, **extra)

    def _time(self, text: str, *, end_of_day: bool) -> dt.datetime:
        moment = values.parse_timestamp(text, tz=self.options.timezone)
        if end_of_day and _DATE_ONLY_RE.fullmatch(text):
            moment += dt.timedelta(days=1)
        return moment

    def _make(
        self,
        number: int,
        kind: IndicatorKind,
        raw_value: str,
        *,
        verdict: Verdict | None = None,
        **extra: Any,
    ) -> Item:
        bad = _CONTROL_RE.search(raw_value)
        if bad:
            return Problem(
                number,
                "value",
                f"value contains control character U+{ord(bad.group()):04X}",
                _preview(raw_value),
            )
        if kind in _NUMBER_KINDS:  # 13800138000（已停机）: the words are a note, not the value
            raw_value, aside = _aside(raw_value)
            if aside:
                extra["note"] = f"{extra['note']} · {aside}" if extra.get("note") else aside
        try:
            value = fast_normalise(kind, raw_value)
        except values.InvalidValue as exc:
            why = _number_hint(raw_value) if kind in _NUMBER_KINDS else None
            return Problem(
                number, "value", f"{kind.value}: {why or exc.reason}", _preview(raw_value)
            )
        if kind is IndicatorKind.DOMAIN and "." not in value and ":" not in value:
            return Problem(
                number,
                "value",
                f"domain: {value!r} has a single label; expected a name such as a.example",
                _preview(raw_value),
            )
        opts = self.options
        verdict = verdict or opts.verdict or Verdict.FRAUD
        extra.setdefault("source", opts.source)
        if opts.confidence is not None:
            extra.setdefault("confidence", opts.confidence)
        first, last = extra.get("first_seen"), extra.get("last_seen")
        if first is not None and last is not None and last < first:
            extra["first_seen"], extra["last_seen"] = last, first
        return Indicator(kind=kind, value=value, verdict=verdict, **extra)


_NUMBER_KINDS: Final = frozenset({IndicatorKind.PHONE, IndicatorKind.ACCOUNT, IndicatorKind.DEVICE})
# a trailing remark in brackets, without digits: 13800138000（已停机）, 6222…(工商银行)
_ASIDE_RE: Final = re.compile(r"^(.*?\d)\s*[（(【\[]([^()（）【】\[\]\d]{1,40})[)）】\]]\s*$")
_MASKED_RE: Final = re.compile(r"\d\s*[*＊xX×]{2,}|[*＊]{2,}\s*\d")
_SEVERAL_RE: Final = re.compile(r"\d\s*[、;；，,/|]\s*\+?\d")


def _aside(raw: str) -> tuple[str, str]:
    """A number and the remark in brackets after it (``""`` when there is none)."""
    m = _ASIDE_RE.match(raw.strip())
    return (m[1], m[2].strip()) if m else (raw, "")


def _number_hint(raw: str) -> str | None:
    """Why a number a list gives cannot be an indicator, when it is a common case."""
    if _MASKED_RE.search(raw):
        return f"{raw.strip()[:40]!r} is masked: only a whole number can match"
    if _SEVERAL_RE.search(raw):
        return f"{raw.strip()[:40]!r} holds several numbers: give one a row"
    return None


@dataclass(frozen=True, slots=True)
class _Columns:
    found: dict[str, list[int]]
    value_kinds: list[IndicatorKind | None]


def _csv_reason(exc: csv.Error) -> str:
    """Why a row is not CSV, in words a desk can act on."""
    if "unexpected end of data" in str(exc):
        return "a quoted field is still open at the end of the file (truncated?)"
    return f"row is not valid CSV: {exc}"


def _drain(pending: list[Problem]) -> Iterator[Problem]:
    while pending:
        yield pending.pop(0)


def _reader(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    """CSV rows; a space after a delimiter is not part of the next field, so that
    ``a, "b,c"`` (as some feeds write) is two fields. Strict: a quoted field still open at
    the end (a truncated file) is an error of its row, not a value read to the end."""
    return csv.reader(lines, delimiter=delimiter, strict=True, skipinitialspace=True)


def _joined(texts: Iterable[tuple[int, str] | Problem]) -> Generator[Problem, None, str]:
    """The lines as one text (a JSON document spans lines), the problems handed on."""
    parts: list[str] = []
    for entry in texts:
        if isinstance(entry, Problem):
            yield entry
        else:
            parts.append(entry[1])
    return "\n".join(parts)


def _json_value(value: Any) -> bool:
    """Whether a JSON value can be an indicator's value: text, or a whole number."""
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, int) and not isinstance(value, bool)


def _skip(text: str, at: int) -> int:
    """The position of the first character from ``at`` on that is not white space."""
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(_reader([line], delimiter))
    except (csv.Error, StopIteration):
        return line.rstrip("\r\n").split(delimiter)


def _is_ip(token: str) -> bool:
    if token in ("0.0.0.0", "127.0.0.1", "::1", "::"):
        return True
    if not token[:1].isdigit() and ":" not in token:
        return False
    try:
        ipaddress.ip_address(token)
    except ValueError:
        return False
    return True


def _adblock_host(body: str) -> str | None:
    """The domain of a ``||domain^`` rule, or None for every other kind of rule."""
    if any(marker in body for marker in ("##", "#@#", "#?#", "#$#", "#%#")):
        return None
    if not body.startswith("||"):
        return None
    rule = body[2:].split("$", 1)[0]
    if rule.endswith("^|"):
        rule = rule[:-2]
    elif rule.endswith("^"):
        rule = rule[:-1]
    if not rule or not _ADBLOCK_DOMAIN_RE.fullmatch(rule) or "." not in rule:
        return None
    return rule


# --------------------------------------------------------------------------- field values


def parse_verdict(text: str) -> Verdict | None:
    """The verdict a feed's word names (涉诈 / 可疑 / 白名单, fraud / suspicious / allow …)."""
    word = text.strip()
    return VERDICT_WORDS.get(word) or VERDICT_WORDS.get(word.lower())


def parse_confidence(text: str) -> float:
    """Confidence from 0–1, 0–100 (``85``, ``85%``) or 高 / 中 / 低."""
    word = text.strip().lower()
    if word in CONFIDENCE_WORDS:
        return CONFIDENCE_WORDS[word]
    percent = word.endswith("%")
    try:
        number = float(word.rstrip("%").strip())
    except ValueError:
        raise values.InvalidValue(
            f"confidence {text[:20]!r} is not a number; expected 0–1, 0–100 or 高/中/低"
        ) from None
    if number != number or number < 0 or number > 100:  # NaN or out of range
        raise values.InvalidValue(f"confidence {text[:20]!r} is outside 0–1 (or 0–100)")
    return number / 100 if percent or number > 1 else number


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a header line: the most frequent of , TAB ; | (comma on a tie)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


# --------------------------------------------------------------------------- guessing


def guess_format(head: bytes, *, has_mapping: bool = False) -> str:
    """The format of a feed from its first bytes (a few KiB are enough).

    STIX when it is a JSON bundle, JSON lines when lines are objects, police when the header
    has the police names, adblock when rules start with ``||`` / ``@@`` / ``[Adblock``, hosts
    when lines start with an address, csv when the header names known fields (or a mapping
    is given), else plain.
    """
    text = head.decode(_head_encoding(head), errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith("{") and '"bundle"' in stripped[:2000]:
        return "stix"
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and (lines[0].lstrip().startswith("{") or _JSON_ARRAY_RE.match(lines[0])):
        return "json"
    data = [line for line in lines if not line.lstrip().startswith(("#", "!"))]
    if data and not has_mapping:
        header = {h.strip() for h in _split(data[0], sniff_delimiter(data[0]))}
        generic = {"值", "指标", "指标值"}
        named_values = set(POLICE_HEADERS["value"]) - generic
        others = set().union(*POLICE_HEADERS.values()) - set(POLICE_HEADERS["value"])
        if header & named_values or (header & generic and header & others):
            return "police"
    if any(line.lstrip().startswith(("[Adblock", "||", "@@")) for line in lines[:200]):
        return "adblock"
    if any(_HOSTS_ADDRESS_RE.match(line) for line in data[:200]):
        return "hosts"
    if data and (has_mapping or any(_names_csv_value(h) for h in _headers(lines, data[0]))):
        return "csv"
    return "plain"


def _headers(lines: list[str], first: str) -> list[set[str]]:
    """The names a feed's header may hold: its first data line's, and those of the comment
    line just before it when that has several (lower-cased)."""
    delimiter = sniff_delimiter(first)
    out = [{h.strip().lower() for h in _split(first, delimiter)}]
    before = lines[: lines.index(first)]
    if before and before[-1].lstrip().startswith("#"):
        names = _split(before[-1].lstrip().lstrip("#").strip(), delimiter)
        if len(names) > 1:
            out.append({h.strip().lower() for h in names})
    return out


def _names_csv_value(header: set[str]) -> bool:
    """Whether a header names an indicator's value column (``value`` or an English name)."""
    return "value" in header or not header.isdisjoint(VALUE_COLUMNS_EN)


def _head_encoding(head: bytes) -> str:
    encoding = detect_encoding(head)
    return "utf-8" if encoding == "utf-8-sig" else encoding


def guess_kind(raw: str) -> IndicatorKind:
    """The kind a bare value most likely names (for ``fanzha intel check``).

    A phone number; an account when it is 12–19 digits that are not a phone number; a URL
    when it has a scheme or a path; else a domain.
    """
    text = raw.strip()
    compact = re.sub(r"[\s\-()]", "", text)
    if re.fullmatch(r"\+?[0-9]+", compact):
        digits = compact.lstrip("+")
        try:
            values.normalise_msisdn(text)
        except values.InvalidValue:
            if 12 <= len(digits) <= 19 and not compact.startswith("+"):
                return IndicatorKind.ACCOUNT
        return IndicatorKind.PHONE
    lowered = text.lower()
    if "://" in lowered or lowered.startswith(("hxxp", "//")) or "/" in text:
        return IndicatorKind.URL
    return IndicatorKind.DOMAIN


# --------------------------------------------------------------------------- whole files


def parse_bytes(data: bytes, options: FeedOptions) -> FeedResult:
    """Read a whole feed held in memory (tests, the API, small files)."""
    encoding = detect_encoding(data[:65_536])
    if encoding == "utf-16":
        data = data.decode("utf-16", errors="replace").encode("utf-8")
    reader = FeedReader(options, encoding=encoding)
    stream = io.BytesIO(data)
    indicators: list[Indicator] = []
    problems: list[Problem] = []
    for item in reader.read(iter_lines(stream.readline)):
        (problems if isinstance(item, Problem) else indicators).append(item)  # type: ignore[arg-type]
    return FeedResult(indicators, problems, reader.stats)


# --------------------------------------------------------------------------- export


def record(indicator: Indicator) -> dict[str, Any]:
    """An indicator as a flat dict of JSON values (times in ISO 8601)."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        item = getattr(indicator, name)
        if isinstance(item, dt.datetime):
            item = item.isoformat()
        elif isinstance(item, IndicatorKind | Verdict):
            item = item.value
        out[name] = item
    return out


def export_lines(indicators: Iterable[Indicator], fmt: str) -> Iterator[str]:
    """Lines (with their line ends) of an export in ``fmt``: csv, plain, hosts or json.

    ``hosts`` writes only domains (``0.0.0.0 host``) and skips allow-list entries; ``plain``
    writes the values; ``csv`` and ``json`` write every field.
    """
    if fmt == "stix":
        yield json.dumps(stix_bundle(indicators), ensure_ascii=False, indent=1) + "\n"
        return
    if fmt not in EXPORT_FORMATS:
        raise FeedError(f"unknown export format {fmt!r}; expected {', '.join(EXPORT_FORMATS)}")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; quotes a lone CR too
        writer.writerow(FIELDS)
        for indicator in indicators:
            row = record(indicator)
            writer.writerow(["" if row[n] is None else row[n] for n in FIELDS])
            if buffer.tell() > 65_536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
        return
    for indicator in indicators:
        if fmt == "json":
            yield json.dumps(record(indicator), ensure_ascii=False) + "\n"
        elif fmt == "plain":
            yield indicator.value + "\n"
        elif indicator.kind is IndicatorKind.DOMAIN and indicator.verdict is not Verdict.ALLOW:
            yield f"0.0.0.0 {indicator.value}\n"


# --------------------------------------------------------------------------- STIX 2.1

# Namespace for deterministic STIX ids (uuid5 of kind:value), so an export is reproducible.
_STIX_NAMESPACE: Final = "5b7e3f8a-4d8f-4f3b-9a54-66616e7a6861"
_STIX_OBJECT: Final[dict[IndicatorKind, str]] = {
    IndicatorKind.DOMAIN: "domain-name",
    IndicatorKind.URL: "url",
    IndicatorKind.PHONE: "x-fanzha-phone",
    IndicatorKind.ACCOUNT: "x-fanzha-bank-account",
    IndicatorKind.APP: "x-fanzha-app",
    IndicatorKind.DEVICE: "x-fanzha-device",
}
_STIX_KIND: Final = {name: kind for kind, name in _STIX_OBJECT.items()}
_STIX_PATTERN_RE: Final = re.compile(
    r"^\s*\[\s*([a-z0-9\-]+):value\s*=\s*'((?:[^'\\]|\\.)*)'\s*\]\s*$"
)
_STIX_TYPES: Final = {
    Verdict.FRAUD: ["malicious-activity"],
    Verdict.SUSPICIOUS: ["anomalous-activity"],
    Verdict.ALLOW: ["benign"],
}


def _stix_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stix_bundle(
    indicators: Iterable[Indicator], *, created: dt.datetime | None = None
) -> dict[str, Any]:
    """A STIX 2.1 bundle with one ``indicator`` object per indicator.

    Ids are deterministic (uuid5 of kind and value), ``created``/``modified`` default to the
    epoch so that the same indicators give the same bundle; our own fields (source, last
    seen) are custom ``x_fanzha_*`` properties, the verdict is both a label and an
    ``indicator_types`` entry.
    """
    import uuid

    namespace = uuid.UUID(_STIX_NAMESPACE)
    stamp = _stix_time(created or dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    objects: list[dict[str, Any]] = []
    for ind in indicators:
        value = ind.value.replace("\\", "\\\\").replace("'", "\\'")
        obj: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(namespace, f'{ind.kind.value}:{ind.value}')}",
            "created": stamp,
            "modified": stamp,
            "name": f"{ind.kind.value} {ind.value}"[:250],
            "indicator_types": _STIX_TYPES[ind.verdict],
            "pattern": f"[{_STIX_OBJECT[ind.kind]}:value = '{value}']",
            "pattern_type": "stix",
            "valid_from": _stix_time(ind.first_seen) if ind.first_seen else stamp,
            "confidence": round(ind.confidence * 100),
            "labels": [ind.verdict.value],
            "x_fanzha_source": ind.source,
        }
        if ind.expires is not None:
            obj["valid_until"] = _stix_time(ind.expires)
        if ind.first_seen is not None:
            obj["x_fanzha_first_seen"] = _stix_time(ind.first_seen)
        if ind.last_seen is not None:
            obj["x_fanzha_last_seen"] = _stix_time(ind.last_seen)
        if ind.note:
            obj["description"] = ind.note
        objects.append(obj)
    bundle_id = uuid.uuid5(namespace, "bundle:" + ",".join(o["id"] for o in objects))
    return {"type": "bundle", "id": f"bundle--{bundle_id}", "objects": objects}


def _stix_pattern(pattern: str) -> tuple[IndicatorKind, str] | None:
    match = _STIX_PATTERN_RE.match(pattern)
    if match is None or match.group(1) not in _STIX_KIND:
        return None
    value = re.sub(r"\\(.)", r"\1", match.group(2))
    return _STIX_KIND[match.group(1)], value
