"""IntelIndex: an immutable snapshot of all indicators, looked up vectorised.

One :class:`~fanzha.intel.keyset.KeySet` per indicator kind holds the normalised values;
per key, the index of its block entry and of its allow entry (a value may have both).
Lookups take Arrow arrays and give :class:`Matches` (NumPy arrays, one row per value):

- **phones**: the exact number (E.164 or pseudonym), else the longest number prefix. A
  phone indicator whose value ends with ``*`` (``+86170*``) is a prefix; so is every entry of
  ``phone_prefixes``. Prefixes are written in international form (``+`` and digits).
- **hosts**: the host, else its nearest parent domain that is listed (``a.b.example.com``
  matches ``b.example.com`` before ``example.com``); never a public suffix, which the index
  refuses to hold.
- **urls**: the exact (normalised) URL, else the walk over its host.
- **accounts**, **devices**: exact; **apps**: exact, case-insensitive.

Allow entries win over block entries wherever both match (the most specific allow entry
is reported). To reload, build a new index and swap the reference: an index never changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Self, overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.intel import hosts as hostlib
from fanzha.intel.keyset import (
    I64,
    U64,
    Bool,
    KeySet,
    Spans,
    StringInput,
    Strings,
    as_string_array,
    batches,
    hash_strings,
    span_hashes,
)
from fanzha.intel.model import Indicator, IndicatorKind, Verdict, normalise_value
from fanzha.intel.phones import prefix_spans
from fanzha.model import values as scalar

NO_MATCH: Final = -1
_KIND_EN: Final = {
    IndicatorKind.PHONE: "number",
    IndicatorKind.DOMAIN: "domain",
    IndicatorKind.URL: "URL",
    IndicatorKind.ACCOUNT: "account",
    IndicatorKind.APP: "app",
    IndicatorKind.DEVICE: "device",
}
_PREFIX_RE: Final = re.compile(r"\+[0-9]{1,15}")
_PHONE_JUNK_RE: Final = re.compile(r"[\s\-.()]")


@dataclass(frozen=True)
class Matches:
    """Per looked-up value: ``verdict`` (int8: -1 no match, 0 allow, 1 suspicious, 2 fraud,
    i.e. :attr:`Verdict.rank`), ``indicator`` (int64 index into the index's indicators, -1
    when none) and ``confidence`` (float32, 0 when none)."""

    verdict: npt.NDArray[np.int8]
    indicator: I64
    confidence: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.indicator)

    @property
    def blocked(self) -> Bool:
        """Rows matched by a block entry (fraud or suspicious) and by no allow entry."""
        blocked: Bool = self.verdict > 0
        return blocked


@dataclass(frozen=True)
class Explained:
    """One checked value, for people: how it was read, the verdict and why."""

    value: str
    normalised: str | None
    kind: str
    verdict: str  # fraud | suspicious | allow | none | invalid
    matched: str | None
    reason: str
    reason_zh: str
    source: str | None
    confidence: float | None


@dataclass(frozen=True)
class _Table:
    """Keys of one kind; per key, the indicator of its allow and of its block entry.

    ``allow`` / ``block``: an array (-1 where the key has no such entry), ``None`` when no
    key has one, or the string ``"same"`` when key ``i`` is indicator ``i``. A table of a
    column may have ``fixes``: rows whose normalised value differs from what was given,
    held in a small second set (``fix_ids``: their rows).
    """

    keys: KeySet
    allow: I64 | str | None
    block: I64 | str | None
    single_label: bool = True  # domains: whether some key has no dot (walk to the top)
    fixes: KeySet | None = None
    fix_ids: I64 | None = None

    def ids(self, which: I64 | str | None, found: I64) -> I64:
        """The indicator per found key (-1 where none)."""
        if which is None:
            return np.full(len(found), NO_MATCH, np.int64)
        if isinstance(which, str):
            return found
        return np.where(found >= 0, which[np.maximum(found, 0)], NO_MATCH)

    def lookup(self, strings: Strings, spans: Spans, hashes: U64 | None = None) -> I64:
        """The key of each span (-1 when none); the first row when both sets hold it."""
        if hashes is None:
            hashes = span_hashes(strings, spans)[0]
        found = self.keys.lookup_spans(strings, spans, hashes)
        if self.fixes is None or self.fix_ids is None:
            return found
        fixed = self.fixes.lookup_spans(strings, spans, hashes)
        fixed = np.where(fixed >= 0, self.fix_ids[np.maximum(fixed, 0)], NO_MATCH)
        both = (found >= 0) & (fixed >= 0)
        merged: I64 = np.where(found >= 0, found, fixed)
        merged[both] = np.minimum(found[both], fixed[both])
        return merged


@dataclass
class _Best:
    """The best allow and block indicator per row so far (the most specific first)."""

    allow: I64
    block: I64

    @classmethod
    def empty(cls, n: int) -> _Best:
        return cls(np.full(n, NO_MATCH, np.int64), np.full(n, NO_MATCH, np.int64))

    def offer(self, table: _Table, found: I64, rows: I64 | None) -> None:
        """Candidates ``found`` (keys, -1) on ``rows`` (None: one per row), in order of
        specificity within a row; a row keeps what it has, else takes the first offered."""
        allow = table.ids(table.allow, found)
        block = table.ids(table.block, found)
        n = len(self.allow)
        if rows is not None:
            allow = hostlib.first_per_row(rows, allow, n)
            block = hostlib.first_per_row(rows, block, n)
        self.offer_ids(allow, block)

    def offer_ids(self, allow: I64, block: I64) -> None:
        """One allow and one block indicator per row (-1: none) to rows without yet."""
        np.copyto(self.allow, allow, where=self.allow < 0)
        np.copyto(self.block, block, where=self.block < 0)

    def winner(self) -> I64:
        chosen: I64 = np.where(self.allow >= 0, self.allow, self.block)
        return chosen


@dataclass(frozen=True)
class _Column:
    """Indicators of one list given as columns (:meth:`IntelIndex.from_columns`): the
    values as given, and the normalised value of the rows where it differs."""

    kind: IndicatorKind
    values: pa.Array
    verdict: Verdict
    confidence: float
    source: str
    fix_rows: I64
    fix_values: pa.Array

    def normalised(self, rows: I64) -> pa.Array:
        """The normalised value of each row (null for -1)."""
        out = self.values.take(pa.array(rows, mask=rows < 0))
        if len(self.fix_rows) == 0:
            return out
        at = np.minimum(np.searchsorted(self.fix_rows, rows), len(self.fix_rows) - 1)
        fixed = np.flatnonzero((rows >= 0) & (self.fix_rows[at] == rows))
        if len(fixed) == 0:
            return out
        n = len(out)
        index = np.arange(n, dtype=np.int64)
        index[fixed] = n + np.arange(len(fixed))
        extra = self.fix_values.take(pa.array(at[fixed])).cast(out.type)
        return pa.concat_arrays([out, extra]).take(pa.array(index))


class _ColumnIndicators(Sequence[Indicator]):
    """The indicators of a :class:`_Column`, each made when read."""

    def __init__(self, column: _Column) -> None:
        self._column = column

    def __len__(self) -> int:
        return len(self._column.values)

    @overload
    def __getitem__(self, i: int) -> Indicator: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Indicator]: ...
    def __getitem__(self, i: int | slice) -> Indicator | Sequence[Indicator]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        c = self._column
        if not -len(self) <= i < len(self):
            raise IndexError(f"indicator {i} out of range")
        value = c.normalised(np.array([i % len(self)], np.int64))[0].as_py()
        return Indicator(
            kind=c.kind, value=value, verdict=c.verdict, confidence=c.confidence, source=c.source
        )


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def normalise_prefix(raw: str) -> str:
    """The canonical number prefix of ``raw`` (``+86 170*`` → ``+86170``)."""
    text = _PHONE_JUNK_RE.sub("", raw).removesuffix("*")
    if text.startswith("00"):
        text = "+" + text[2:]
    if not _PREFIX_RE.fullmatch(text):
        raise scalar.InvalidValue(
            f"number prefix {raw[:40]!r} is not '+' and 1–15 digits; write prefixes in"
            " international form, e.g. +86170*"
        )
    return text


class IntelIndex:
    """An immutable snapshot of all indicators, for vectorised lookups.

    Rebuild and swap the reference to reload (atomic for readers)."""

    def __init__(
        self,
        tables: dict[IndicatorKind, _Table],
        prefixes: _Table | None,
        *,
        indicators: tuple[Indicator, ...] | None = None,
        column: _Column | None = None,
        rejected: tuple[tuple[Indicator, str], ...] = (),
    ) -> None:
        self._tables = tables
        self._prefixes = prefixes
        self._indicators = indicators
        self._column = column
        self.rejected = rejected
        if prefixes is not None:
            lengths = np.unique(np.diff(Strings.of(prefixes.keys.keys).offsets))
            self._prefix_lengths = tuple(sorted((int(x) for x in lengths), reverse=True))
        else:
            self._prefix_lengths = ()
        if indicators is not None:
            self._rank = np.array([i.verdict.rank for i in indicators], np.int8)
            self._confidence = np.array([i.confidence for i in indicators], np.float32)

    # ------------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        indicators: Iterable[Indicator],
        *,
        phone_prefixes: Iterable[Indicator] = (),
        at: dt.datetime | None = None,
    ) -> Self:
        """The index of the indicators in force at ``at`` (default: now).

        Values are normalised again (:func:`normalise_value`); invalid ones, public suffixes
        as domains and malformed number prefixes are left out with a reason in
        :attr:`rejected`. Expired indicators (``expires <= at``) are left out silently. Of
        several block entries for one (kind, value) the highest verdict is kept (the first
        of equals); of several allow entries the first. A value may have both an allow and a
        block entry: allow wins at lookup. Phone indicators ending with ``*`` and every
        entry of ``phone_prefixes`` are number prefixes.
        """
        moment = _utc(at or dt.datetime.now(dt.UTC))
        kept: list[Indicator] = []
        rejected: list[tuple[Indicator, str]] = []
        slots: dict[tuple[str, str, bool], int] = {}  # (kind, key, allow) → position in kept
        entries = [(i, False) for i in indicators] + [(i, True) for i in phone_prefixes]
        for indicator, forced_prefix in entries:
            if indicator.expires is not None and _utc(indicator.expires) <= moment:
                continue
            is_prefix = forced_prefix or (
                indicator.kind is IndicatorKind.PHONE and indicator.value.strip().endswith("*")
            )
            try:
                if is_prefix:
                    if indicator.kind is not IndicatorKind.PHONE:
                        raise scalar.InvalidValue("only phone indicators can be prefixes")
                    key = normalise_prefix(indicator.value)
                    value = key + "*"
                else:
                    key = value = normalise_value(indicator.kind, indicator.value)
            except scalar.InvalidValue as exc:
                rejected.append((indicator, exc.reason))
                continue
            if value != indicator.value:
                indicator = indicator.model_copy(update={"value": value})
            allow = indicator.verdict is Verdict.ALLOW
            slot_key = ("prefix" if is_prefix else indicator.kind.value, key, allow)
            at_slot = slots.get(slot_key)
            if at_slot is None:
                slots[slot_key] = len(kept)
                kept.append(indicator)
            elif indicator.verdict.rank > kept[at_slot].verdict.rank:
                kept[at_slot] = indicator
        kept, refused = _refuse_public_suffixes(kept)
        rejected += refused
        tables: dict[IndicatorKind, _Table] = {}
        for kind in IndicatorKind:
            table = _table_of(kept, kind.value)
            if table is not None:
                tables[kind] = table
        return cls(
            tables,
            _table_of(kept, "prefix"),
            indicators=tuple(kept),
            rejected=tuple(rejected),
        )

    @classmethod
    def from_columns(
        cls,
        kind: IndicatorKind,
        values: StringInput,
        verdict: Verdict = Verdict.FRAUD,
        confidence: float = 0.8,
        source: str = "manual",
    ) -> Self:
        """The index of one large list, without a Python object per row: each value
        normalised vectorised (domains: as :func:`hostlib.normalise_hosts`; the other kinds
        take their canonical forms as they are and parse the rest one distinct value at a
        time), invalid values and public suffixes rejected, and no copy of the list made:
        the rows whose normalised value differs are held apart. Indicator ``i`` is row ``i``
        of ``values`` (made only when asked for, :meth:`indicator`); a rejected row is
        listed in :attr:`rejected` and never matches."""
        # the same checks as for one indicator (confidence within 0–1, …)
        Indicator(kind=kind, value="-", verdict=verdict, confidence=confidence, source=source)
        array = as_string_array(values)
        col = _domain_column(array) if kind is IndicatorKind.DOMAIN else _other_column(kind, array)
        rejected = tuple(
            (
                Indicator(
                    kind=kind, value=str(raw), verdict=verdict, confidence=confidence,
                    source=source,
                ),
                reason,
            )
            for raw, reason in col.reasons
        )  # fmt: skip
        keys = KeySet.from_hashes(Strings.of(array), None, col.hashes)
        fixes = KeySet.build(col.fix_values) if len(col.fix_rows) else None
        same = "same"
        allow = verdict is Verdict.ALLOW
        table = _Table(
            keys,
            same if allow else None,
            None if allow else same,
            col.single_label,
            fixes,
            col.fix_rows if fixes is not None else None,
        )
        column = _Column(kind, array, verdict, confidence, source, col.fix_rows, col.fix_values)
        return cls({kind: table}, None, column=column, rejected=rejected)

    # -------------------------------------------------------------------- indicators

    def __len__(self) -> int:
        """Number of indicators held."""
        if self._column is not None:
            return len(self._column.values)
        return len(self._indicators or ())

    @property
    def indicators(self) -> Sequence[Indicator]:
        """Every indicator held, numbered as :attr:`Matches.indicator` numbers them: a tuple,
        or for an index of columns a read-only sequence that makes each one when read."""
        if self._indicators is not None:
            return self._indicators
        assert self._column is not None
        return _ColumnIndicators(self._column)

    def indicator(self, i: int) -> Indicator:
        """Indicator ``i`` (as numbered by :attr:`Matches.indicator`)."""
        return self.indicators[i]

    def matched_values(self, indicator: I64) -> pa.Array:
        """The value of each indicator number (null for -1), without making indicators."""
        numbers = np.asarray(indicator, np.int64)
        if self._column is not None:
            return self._column.normalised(numbers)
        values = pa.array([i.value for i in self.indicators], pa.string())
        return values.take(pa.array(numbers, mask=numbers < 0))

    def _matches(self, chosen: I64) -> Matches:
        hit = chosen >= 0
        rank = np.full(len(chosen), NO_MATCH, np.int8)
        conf = np.zeros(len(chosen), np.float32)
        if self._column is not None:
            rank[hit] = self._column.verdict.rank
            conf[hit] = self._column.confidence
        elif hit.any():
            rank[hit] = self._rank[chosen[hit]]
            conf[hit] = self._confidence[chosen[hit]]
        return Matches(rank, chosen, conf)

    # ----------------------------------------------------------------------- lookups

    def _batched(self, values: StringInput, one: Callable[[pa.Array], I64]) -> Matches:
        array = as_string_array(values)
        chosen = np.full(len(array), NO_MATCH, np.int64)
        for start, part in batches(array):
            chosen[start : start + len(part)] = one(part)
        return self._matches(chosen)

    def _exact(self, kind: IndicatorKind, part: pa.Array, best: _Best | None = None) -> I64:
        best = best or _Best.empty(len(part))
        table = self._tables.get(kind)
        if table is not None:
            s = Strings.of(part)
            spans = Spans.whole(s)
            best.offer(table, _spread(spans, table.lookup(s, spans), len(s)), None)
        return best.winner()

    def accounts(self, accounts: StringInput) -> Matches:
        """Exact matches of (normalised) account numbers."""
        return self._batched(accounts, lambda p: self._exact(IndicatorKind.ACCOUNT, p))

    def devices(self, imeis: StringInput) -> Matches:
        """Exact matches of device identifiers (IMEI)."""
        return self._batched(imeis, lambda p: self._exact(IndicatorKind.DEVICE, p))

    def apps(self, app_ids: StringInput) -> Matches:
        """Exact matches of app identifiers, case-insensitive."""
        return self._batched(
            app_ids,
            lambda p: self._exact(IndicatorKind.APP, pc.utf8_lower(pc.utf8_trim_whitespace(p))),
        )

    def phones(self, numbers: StringInput) -> Matches:
        """The exact number (E.164 or pseudonym, as stored in the lake), else the longest
        number prefix (``+86170*``)."""
        return self._batched(numbers, self._phone_batch)

    def _phone_batch(self, part: pa.Array) -> I64:
        best = _Best.empty(len(part))
        self._exact(IndicatorKind.PHONE, part, best)
        table = self._prefixes
        if table is None:
            return best.winner()
        s = Strings.of(part)
        for length in self._prefix_lengths:  # longest first
            spans = prefix_spans(s, length)
            if len(spans):
                best.offer(table, table.lookup(s, spans), spans.rows)
        return best.winner()

    def hosts(self, hosts: StringInput) -> Matches:
        """The host, else its nearest listed parent domain; allow entries anywhere in the
        walk win. Hosts are normalised first (:func:`hostlib.normalise_hosts`)."""
        return self._batched(hosts, self._host_batch)

    def _host_batch(self, part: pa.Array) -> I64:
        best = _Best.empty(len(part))
        if IndicatorKind.DOMAIN in self._tables:
            self._walk(hostlib.prepare_hosts(part), best)
        return best.winner()

    def _walk(self, batch: hostlib.HostBatch, best: _Best) -> None:
        """Offer the domain walk of a batch of hosts to ``best``."""
        table = self._tables[IndicatorKind.DOMAIN]
        walk = hostlib.walk_spans(
            batch.main,
            skip_top=not table.single_label,
            dots=batch.dots,
            live=batch.ok,
            trim=batch.trim,
        )
        self._offer_walk(table, walk, best)
        if len(batch.extra_rows):  # the rows the scalar parser read, walked on their own
            extra = _Best.empty(len(batch.extra))
            self._offer_walk(table, hostlib.walk_spans(batch.extra, skip_top=False), extra)
            allow = np.full(len(best.allow), NO_MATCH, np.int64)
            block = np.full(len(best.allow), NO_MATCH, np.int64)
            allow[batch.extra_rows] = extra.allow
            block[batch.extra_rows] = extra.block
            best.offer_ids(allow, block)

    @staticmethod
    def _offer_walk(table: _Table, walk: hostlib.Walk, best: _Best) -> None:
        s = walk.strings
        h_whole, h_parents = span_hashes(s, walk.whole, walk.parents)
        whole = table.lookup(s, walk.whole, h_whole)
        best.offer(table, _spread(walk.whole, whole, len(s)), None)
        best.offer(table, table.lookup(s, walk.parents, h_parents), walk.parents.rows)

    def urls(self, urls: StringInput) -> Matches:
        """The exact URL (normalised as :func:`fanzha.model.values.parse_url` does, as the
        lake stores them), else the walk over the URL's host; allow entries win."""
        return self._batched(urls, self._url_batch)

    def _url_batch(self, part: pa.Array) -> I64:
        best = _Best.empty(len(part))
        self._exact(IndicatorKind.URL, part, best)
        if IndicatorKind.DOMAIN in self._tables:
            self._walk(hostlib.url_host_batch(part), best)
        return best.winner()

    def lookup(self, kind: IndicatorKind, values: StringInput) -> Matches:
        """The lookup for ``kind`` (domains: :meth:`hosts`)."""
        method: dict[IndicatorKind, Callable[[StringInput], Matches]] = {
            IndicatorKind.PHONE: self.phones,
            IndicatorKind.DOMAIN: self.hosts,
            IndicatorKind.URL: self.urls,
            IndicatorKind.ACCOUNT: self.accounts,
            IndicatorKind.APP: self.apps,
            IndicatorKind.DEVICE: self.devices,
        }
        return method[kind](values)

    # ---------------------------------------------------------------------- explain

    def check(self, kind: IndicatorKind, values: Sequence[str]) -> list[Explained]:
        """Each value checked and explained: how it reads, the verdict, the matched
        indicator and why (English and Chinese). Invalid values get verdict ``invalid``."""
        normalised: list[str | None] = []
        problems: list[str | None] = []
        for raw in values:
            try:
                normalised.append(normalise_value(kind, raw))
                problems.append(None)
            except scalar.InvalidValue as exc:
                normalised.append(None)
                problems.append(exc.reason)
        matches = self.lookup(kind, pa.array(normalised, pa.string()))
        out = []
        for i, raw in enumerate(values):
            problem = problems[i]
            if problem is not None:
                out.append(
                    Explained(
                        raw,
                        None,
                        kind.value,
                        "invalid",
                        None,
                        problem,
                        f"无法识别的{kind.label_zh}：{problem}",
                        None,
                        None,
                    )
                )
                continue
            found = int(matches.indicator[i])
            value = normalised[i]
            assert value is not None
            if found < 0:
                out.append(
                    Explained(
                        raw,
                        value,
                        kind.value,
                        "none",
                        None,
                        "no indicator matches",
                        "未命中任何情报",
                        None,
                        None,
                    )
                )
                continue
            out.append(_explain(raw, value, kind, self.indicator(found)))
        return out


def _explain(raw: str, value: str, kind: IndicatorKind, hit: Indicator) -> Explained:
    what, what_zh = _how_matched(value, kind, hit)
    if hit.verdict is Verdict.ALLOW:
        reason = f"{what} is on the allow list (source {hit.source})"
        reason_zh = f"{what_zh}在白名单中（来源 {hit.source}）"
    else:
        reason = (
            f"{what} is blocked ({hit.verdict.value}, source {hit.source},"
            f" confidence {hit.confidence:g})"
        )
        reason_zh = (
            f"{what_zh}已列入黑名单（{hit.verdict.label_zh}，来源 {hit.source}，"
            f"置信度 {hit.confidence:g}）"
        )
    return Explained(
        raw,
        value,
        kind.value,
        hit.verdict.value,
        hit.value,
        reason,
        reason_zh,
        hit.source,
        hit.confidence,
    )


def _how_matched(value: str, kind: IndicatorKind, hit: Indicator) -> tuple[str, str]:
    """What matched, as a phrase: "parent domain example.com" / "上级域名 example.com"."""
    if hit.kind is IndicatorKind.PHONE and hit.value.endswith("*"):
        return f"number prefix {hit.value}", f"号段 {hit.value} "
    if kind is IndicatorKind.URL and hit.kind is IndicatorKind.DOMAIN:
        host = scalar.parse_url(value).host
        inner, inner_zh = _domain_phrase(host, hit.value)
        return f"the URL's host {host}: {inner}", f"网址的主机 {host}：{inner_zh}"
    if hit.kind is IndicatorKind.DOMAIN:
        return _domain_phrase(value, hit.value)
    return f"{_KIND_EN[hit.kind]} {hit.value}", f"{hit.kind.label_zh} {hit.value} "


def _domain_phrase(host: str, listed: str) -> tuple[str, str]:
    if host == listed:
        return f"domain {listed}", f"域名 {listed} "
    return f"parent domain {listed}", f"上级域名 {listed} "


def _spread(spans: Spans, found: I64, n: int) -> I64:
    return hostlib.whole_per_row(spans, found, n)


def _refuse_public_suffixes(
    kept: list[Indicator],
) -> tuple[list[Indicator], list[tuple[Indicator, str]]]:
    """``kept`` without the domain indicators that are public suffixes, and those with
    the reason."""
    domains = [i for i, ind in enumerate(kept) if ind.kind is IndicatorKind.DOMAIN]
    if not domains:
        return kept, []
    suffix = hostlib.is_public_suffix([kept[i].value for i in domains])
    refused = {domains[j] for j in np.flatnonzero(suffix)}
    out = []
    for i in sorted(refused):
        ind = kept[i]
        effect = "allow" if ind.verdict is Verdict.ALLOW else "block"
        reason = (
            f"{ind.value} is a public suffix: listing it would {effect} every domain"
            " registered under it"
        )
        out.append((ind, reason))
    return [ind for i, ind in enumerate(kept) if i not in refused], out


def _table_of(kept: list[Indicator], group: str) -> _Table | None:
    """The table of one kind ("prefix": the phone prefixes) from the kept indicators."""
    keys: dict[str, int] = {}
    allow: list[int] = []
    block: list[int] = []
    for i, ind in enumerate(kept):
        is_prefix = ind.kind is IndicatorKind.PHONE and ind.value.endswith("*")
        if (group == "prefix") != is_prefix or (group != "prefix" and ind.kind.value != group):
            continue
        key = ind.value[:-1] if is_prefix else ind.value
        k = keys.setdefault(key, len(keys))
        if k == len(allow):
            allow.append(NO_MATCH)
            block.append(NO_MATCH)
        if ind.verdict is Verdict.ALLOW:
            allow[k] = i
        else:
            block[k] = i
    if not keys:
        return None
    allow_ids = np.array(allow, np.int64)
    block_ids = np.array(block, np.int64)
    return _Table(
        KeySet.build(list(keys)),
        allow_ids if (allow_ids >= 0).any() else None,
        block_ids if (block_ids >= 0).any() else None,
        any("." not in k for k in keys),
    )


# ------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class _Prepared:
    """A column ready for :meth:`KeySet.from_hashes`: the hash of every row as given (the
    all-ones value for rows left out: rejected, or held apart as fixes), the fixes, the
    (raw, reason) of rejected rows, and whether some accepted value is a single label."""

    hashes: U64
    fix_rows: I64
    fix_values: pa.Array
    reasons: list[tuple[str, str]]
    single_label: bool


_LEFT_OUT: Final = np.uint64(0xFFFFFFFFFFFFFFFF)


def _domain_column(array: pa.Array) -> _Prepared:
    """Hosts: the fast check per batch; rows that were lower-cased, lost a trailing dot or
    went through the scalar parser are held apart as fixes."""
    n = len(array)
    hashes = np.empty(n, np.uint64)
    fix_rows: list[I64] = []
    fix_values: list[pa.Array] = []
    bad_rows: list[I64] = []
    bad_values: list[pa.Array] = []
    single_label = False
    for start, part in batches(array):
        batch = hostlib.prepare_hosts(part)
        s = Strings.of(batch.main)
        ends = s.offsets[1:] if batch.trim is None else s.offsets[1:] - batch.trim
        whole = Spans(None, s.offsets[:-1], ends)
        parent = hostlib.first_dot_spans(s, batch.dots, ends)
        h_whole, h_parent = span_hashes(s, whole, parent)
        ok = batch.ok & ~hostlib.public_suffix_rows(s, whole, h_whole, parent, h_parent)
        fixed = np.zeros(len(part), bool)
        if batch.main is not part:  # lower-cased: the rows that had upper case
            raw = Strings.of(part)
            lo, hi = int(raw.offsets[0]), int(raw.offsets[-1])
            upper = np.flatnonzero((raw.data[lo:hi] - np.uint8(65)) <= 25) + lo
            fixed[np.unique(np.searchsorted(raw.offsets, upper, side="right") - 1)] = True
        if batch.trim is not None:
            fixed |= batch.trim
        fixed &= ok
        rows = np.flatnonzero(fixed)
        if len(rows):
            fix_rows.append(rows + start)
            fix_values.append(pc.utf8_rtrim(batch.main.take(pa.array(rows)), characters="."))
        single_label = single_label or _has_single_label(s, parent, ok)
        if len(batch.extra_rows):  # read by the scalar parser
            e = Strings.of(batch.extra)
            e_whole = Spans.whole(e)
            e_parent = hostlib.first_dot_spans(e)
            eh_whole, eh_parent = span_hashes(e, e_whole, e_parent)
            e_ok = e.live() & ~hostlib.public_suffix_rows(e, e_whole, eh_whole, e_parent, eh_parent)
            good = np.flatnonzero(e_ok)
            fix_rows.append(batch.extra_rows[good] + start)
            fix_values.append(batch.extra.take(pa.array(good)))
            single_label = single_label or _has_single_label(e, e_parent, e_ok)
            bad = np.flatnonzero(~e_ok)
            bad_rows.append(batch.extra_rows[bad] + start)
            bad_values.append(batch.extra.take(pa.array(bad)))
        main_ok = ok & ~fixed
        h_whole[~main_ok] = _LEFT_OUT
        hashes[start : start + len(part)] = h_whole
        refused = np.flatnonzero(batch.ok & ~ok)
        bad_rows.append(refused + start)
        bad_values.append(pc.utf8_rtrim(batch.main.take(pa.array(refused)), characters="."))
    rows = np.concatenate(fix_rows) if fix_rows else np.zeros(0, np.int64)
    fixes = pa.concat_arrays(fix_values) if fix_values else pa.array([], pa.string())
    order = np.argsort(rows, kind="stable")
    return _Prepared(
        hashes,
        rows[order],
        fixes.take(pa.array(order)),
        _domain_reasons(array, bad_rows, bad_values),
        single_label,
    )


def _has_single_label(s: Strings, parent: Spans, ok: Bool) -> bool:
    dotted = np.zeros(len(s), bool)
    if parent.rows is not None:
        dotted[parent.rows] = True
    return bool((ok & ~dotted).any())


def _domain_reasons(
    array: pa.Array, rows: list[I64], values: list[pa.Array]
) -> list[tuple[str, str]]:
    """(raw, reason) of each rejected row: not a host, or a public suffix."""
    reasons: list[tuple[str, str]] = []
    for at, normalised in zip(rows, values, strict=True):
        if len(at) == 0:
            continue
        raws = array.take(pa.array(at)).to_pylist()
        for raw, out in zip(raws, normalised.to_pylist(), strict=True):
            if out is not None:
                reasons.append(
                    (
                        raw,
                        f"{out} is a public suffix: listing it would block every domain"
                        " registered under it",
                    )
                )
                continue
            try:
                scalar.parse_domain(raw)
                reasons.append((raw, "not a host name"))
            except scalar.InvalidValue as exc:
                reasons.append((raw, exc.reason))
    return reasons


_CANONICAL: Final[dict[IndicatorKind, tuple[str, ...]]] = {
    IndicatorKind.PHONE: (r"^\+861[3-9][0-9]{9}$", r"^[0-9a-f]{20,128}$"),
    IndicatorKind.ACCOUNT: (r"^[0-9]{6,34}$",),
    # printable ASCII without upper case, no surrounding space, within the length limit
    IndicatorKind.APP: (
        r"^[\x21-\x40\x5b-\x7e](?:[\x20-\x40\x5b-\x7e]{0,198}[\x21-\x40\x5b-\x7e])?$",
    ),
    IndicatorKind.DEVICE: (r"^[\x21-\x7e](?:[\x20-\x7e]{0,98}[\x21-\x7e])?$",),
}


def _other_column(kind: IndicatorKind, array: pa.Array) -> _Prepared:
    """Values already in canonical form are taken as they are (vectorised); the rest are
    normalised one distinct value at a time and held apart as fixes."""
    canonical = np.zeros(len(array), bool)
    for pattern in _CANONICAL.get(kind, ()):
        hit = pc.match_substring_regex(array, pattern).fill_null(False)
        canonical |= np.asarray(hit.to_numpy(zero_copy_only=False), bool)
    valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), bool)
    todo = np.flatnonzero(valid & ~canonical)
    reasons: list[tuple[str, str]] = []
    fix_rows: list[int] = []
    fix_values: list[str] = []
    cache: dict[str, str | None] = {}
    for row, raw in zip(todo.tolist(), array.take(pa.array(todo)).to_pylist(), strict=True):
        if raw not in cache:
            try:
                cache[raw] = normalise_value(kind, raw)
            except scalar.InvalidValue as exc:
                cache[raw] = None
                reasons.append((raw, exc.reason))
        if (value := cache[raw]) is not None:
            fix_rows.append(row)
            fix_values.append(value)
    hashes = hash_strings(array)
    hashes[~canonical] = _LEFT_OUT
    return _Prepared(
        hashes,
        np.array(fix_rows, np.int64),
        pa.array(fix_values, pa.string()),
        reasons,
        True,
    )
