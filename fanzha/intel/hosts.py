"""Hosts, vectorised: normalisation, the hosts of URLs, the domain walk, public suffixes.

The scalar parsers :func:`fanzha.model.values.parse_domain` and
:func:`~fanzha.model.values.parse_url` define what a valid host is. The functions here are
faster paths over whole Arrow arrays that agree with them: the common rows (plain ASCII host
names, dotted-quad IPv4) are checked with NumPy over the UTF-8 bytes — or, for URLs, split
by one RE2 pass — and only the odd rows (IDN, IPv6, ports on bare hosts, surrounding
whitespace, anything the fast check does not accept) go through the scalar parser, once per
distinct value. Work is done in batches of rows so that temporaries stay small.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.intel.keyset import (
    I64,
    U64,
    Bool,
    Ints,
    KeySet,
    Spans,
    Strings,
    as_string_array,
    batches,
    span_hashes,
)
from fanzha.model import values

HostInput: TypeAlias = pa.Array | pa.ChunkedArray | Sequence[str | None]

_DOT: Final = ord(".")
_COLON: Final = ord(":")
_MAX_HOST: Final = 253
_MAX_LABEL: Final = 63
_MAX_URL_BYTES: Final = 2048

_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_RE: Final = rf"^{_OCTET}(?:\.{_OCTET}){{3}}\.?$"
_LAST_LABEL_NUMERIC_RE: Final = r"(?:^|\.)[0-9]+\.?$"
_LONG_LABEL_RE: Final = rf"[^.]{{{_MAX_LABEL + 1}}}"

_WS: Final = r"[ \t\n\x0b\x0c\r]"
#: The common URL shapes, after lower-casing ASCII: ``[[http[s]:]//[userinfo@]]host[:port]``
#: then ``/``, ``?``, ``#`` or ``\`` and the rest. Anything else (IPv6, IDN, ports 0 or over
#: 9999, user info without a scheme, control characters) goes to :func:`values.parse_url`.
URL_HOST_PATTERN: Final = (
    rf"^{_WS}*(?:(?:https?:)?//(?:[^/?#\\\[\]@\x00-\x20\x7f-\x{{10ffff}}]*@)?)?"
    r"(?P<host>[a-z0-9_.\-]+)(?::[1-9][0-9]{0,3})?"
    rf"(?:[/?#\\][^\x00-\x1f\x7f-\x{{9f}}]*)?{_WS}*$"
)


def _row_of(offsets: Ints, positions: I64) -> I64:
    """The row holding each byte position (few positions: a binary search each)."""
    rows: I64 = np.searchsorted(offsets, positions, side="right").astype(np.int64) - 1
    return rows


def _regex_rows(array: pa.Array, rows: I64, pattern: str) -> I64:
    """The subset of ``rows`` whose value matches ``pattern`` (RE2, searched)."""
    if len(rows) == 0:
        return rows
    hit = pc.match_substring_regex(array.take(pa.array(rows)), pattern)
    mask: Bool = np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), bool)
    return rows[mask]


@dataclass
class _Checked:
    """One batch after the fast check: the ``ok`` rows are valid hosts in ``out`` (lower
    case; drop the last byte where ``trim``, a trailing dot)."""

    array: pa.Array  # the raw input (what the scalar parser gets)
    ok: Bool
    out: pa.Array
    dots: I64  # dot positions in ``out``'s data
    trim: Bool | None


@dataclass(frozen=True)
class HostBatch:
    """A batch of hosts ready for the domain walk, without rebuilding any array: ``main``
    holds the rows the fast check settled (``ok``; drop the trailing dot where ``trim``),
    ``extra`` the normalised hosts of the rows ``extra_rows`` that the scalar parser read
    (null where invalid). Other rows are null."""

    main: pa.Array
    ok: Bool
    trim: Bool | None
    dots: I64
    extra: pa.Array
    extra_rows: I64

    def assemble(self) -> pa.Array:
        """The normalised hosts as one array."""
        out = self.main
        if self.trim is not None:
            out = pc.utf8_rtrim(out, characters=".")
        if len(self.extra_rows) == 0:
            return out
        n = len(out)
        index = np.arange(n, dtype=np.int64)
        index[self.extra_rows] = np.arange(n, n + len(self.extra_rows))
        return pa.concat_arrays([out, self.extra.cast(out.type)]).take(pa.array(index))


def _check_hosts(array: pa.Array) -> _Checked:
    """Settle the rows that are plain ASCII host names or dotted-quad IPv4 addresses.

    A row is settled when every byte is a letter, digit, ``_``, ``-`` or ``.``, no label is
    empty or longer than 63, the host (without one trailing dot) is at most 253 bytes, and,
    when its last label is all digits, it is a dotted-quad IPv4 address. Settled rows are
    lower-cased and lose their trailing dot; the others are left to the scalar parser.
    """
    s = Strings.of(array)
    lo, hi = int(s.offsets[0]), int(s.offsets[-1])
    lowered = array
    if ((s.data[lo:hi] - np.uint8(65)) <= 25).any():  # A-Z: lower (byte positions kept)
        lowered = pc.ascii_lower(array)
        s = Strings.of(lowered)
        lo, hi = int(s.offsets[0]), int(s.offsets[-1])
    n = len(s)
    offsets = s.offsets
    seg = s.data[lo:hi]
    lengths = np.diff(offsets)
    ok = s.live()
    # host bytes: - . (45, 46), 0-9 (48-57), _ (95), a-z (97-122); compared, not looked up
    x = seg - np.uint8(45)
    good = x <= 1
    good |= (x - np.uint8(3)) <= 9
    good |= x == 50
    good |= (x - np.uint8(52)) <= 25
    if not good.all():
        ok[_row_of(offsets, np.flatnonzero(~good) + lo)] = False
    del x, good
    dots = np.flatnonzero(seg == _DOT)
    if len(dots) > 1:
        # ".." inside a row, or a row starting with "." right after one ending with it
        adjacent = dots[1:][np.diff(dots) == 1]
        if len(adjacent):
            ok[_row_of(offsets, adjacent + lo)] = False
    nonempty = np.flatnonzero(lengths > 0)
    ok[nonempty[s.data[offsets[nonempty]] == _DOT]] = False
    last = np.zeros(n, np.uint8)
    last[nonempty] = s.data[offsets[nonempty + 1] - 1]
    trailing = ok & (last == _DOT)
    host_length = lengths - trailing
    ok &= host_length <= _MAX_HOST
    long_rows = np.flatnonzero(ok & (host_length > _MAX_LABEL))
    ok[_regex_rows(lowered, long_rows, _LONG_LABEL_RE)] = False
    before = last
    if trailing.any():
        before = last.copy()
        t = np.flatnonzero(trailing)
        before[t] = s.data[offsets[t + 1] - 2]
    digit_end = np.flatnonzero(ok & ((before - np.uint8(48)) <= 9))
    numeric = _regex_rows(lowered, digit_end, _LAST_LABEL_NUMERIC_RE)
    if len(numeric):
        ipv4 = np.zeros(n, bool)
        ipv4[_regex_rows(lowered, numeric, _IPV4_RE)] = True
        ok[numeric] = ipv4[numeric]
    return _Checked(array, ok, lowered, dots + lo, trailing if trailing.any() else None)


def _prepare(checked: _Checked, parse: Callable[[str], str | None]) -> HostBatch:
    """The batch with each row the fast check did not settle (and not null) read by
    ``parse``, once per distinct value."""
    todo = ~checked.ok
    if checked.array.null_count:
        todo &= np.asarray(checked.array.is_valid().to_numpy(zero_copy_only=False), bool)
    rows = np.flatnonzero(todo)
    cache: dict[str, str | None] = {}
    replaced: list[str | None] = []
    if len(rows):
        for value in checked.array.take(pa.array(rows)).to_pylist():
            if value not in cache:
                cache[value] = parse(value)
            replaced.append(cache[value])
    extra = pa.array(replaced, pa.string())
    return HostBatch(checked.out, checked.ok, checked.trim, checked.dots, extra, rows)


def _parse_host(raw: str) -> str | None:
    try:
        return values.parse_domain(raw)
    except values.InvalidValue:
        pass
    text = raw.strip()
    if "@" in text and "://" not in text and not text.startswith("//"):
        # "user:pass@host": parse_url reads "user:" as a scheme; as a host, drop the user info
        try:
            return values.parse_domain("//" + text)
        except values.InvalidValue:
            return None
    return None


def _joined(parts: list[pa.Array], whole: pa.Array, unchanged: bool) -> pa.Array:
    if unchanged:
        return whole
    if not parts:
        return pa.array([], pa.string())
    if len({p.type for p in parts}) > 1:
        parts = [p.cast(pa.large_string()) for p in parts]
    return pa.concat_arrays(parts)


def prepare_hosts(array: pa.Array) -> HostBatch:
    """One batch of raw hosts, ready for the walk (see :func:`normalise_hosts`)."""
    return _prepare(_check_hosts(array), _parse_host)


def normalise_host_batch(array: pa.Array) -> tuple[pa.Array, I64 | None]:
    """:func:`normalise_hosts` of one batch, with the dot positions in the result's data
    when they are known already (the batch needed no rebuilding)."""
    batch = prepare_hosts(array)
    out = batch.assemble()
    return out, (batch.dots if out is batch.main else None)


def normalise_hosts(hosts: HostInput) -> pa.Array:
    """Normalised hosts (lower case, punycode, no trailing dot, port or user info); null
    where the value is not a host. Agrees with :func:`values.parse_domain` on every value it
    accepts (which includes URLs: their host); ``user:pass@host`` is accepted as well."""
    array = as_string_array(hosts)
    parts = []
    unchanged = True
    for _, part in batches(array):
        out, _ = normalise_host_batch(part)
        unchanged &= out is part
        parts.append(out)
    return _joined(parts, array, unchanged)


def _parse_url_host(raw: str) -> str | None:
    try:
        return values.parse_url(raw).host
    except values.InvalidValue:
        return None


def hosts_of_urls(urls: HostInput) -> pa.Array:
    """The normalised host of each URL as :func:`values.parse_url` reads it (scheme
    optional, user info, port, path, query, fragment, IPv6 in brackets, defanged
    ``hxxp://a[.]b``); null where there is none or the URL is invalid."""
    array = as_string_array(urls)
    parts = [url_host_batch(part).assemble() for _, part in batches(array)]
    return _joined(parts, array, False)


def url_host_batch(array: pa.Array) -> HostBatch:
    """The hosts of one batch of URLs, ready for the walk."""
    s = Strings.of(array)
    text = array
    if (s.data[int(s.offsets[0]) : int(s.offsets[-1])] == ord("[")).any():
        text = pc.replace_substring(pc.replace_substring(text, "[.]", "."), "[:]", ":")
    text = pc.ascii_lower(text)
    if pc.any(pc.match_substring(text, "hxxp")).as_py():
        text = pc.replace_substring_regex(text, rf"^({_WS}*)hxxp(s?):", r"\1http\2:")
    hosts = pc.struct_field(pc.extract_regex(text, URL_HOST_PATTERN), [0])
    checked = _check_hosts(hosts)
    checked.ok &= np.diff(s.offsets) <= _MAX_URL_BYTES
    checked.array = array
    return _prepare(checked, _parse_url_host)


# --------------------------------------------------------------------------- domain walk


@dataclass(frozen=True, slots=True)
class Walk:
    """The spans a domain walk looks up: each host whole, then its parent domains (most
    specific first within a row; rows non-decreasing)."""

    strings: Strings
    whole: Spans
    parents: Spans


def _dots_of(s: Strings) -> I64:
    lo, hi = int(s.offsets[0]), int(s.offsets[-1])
    return np.flatnonzero(s.data[lo:hi] == _DOT) + lo


def walk_spans(
    hosts: pa.Array,
    *,
    skip_top: bool = False,
    dots: I64 | None = None,
    live: Bool | None = None,
    trim: Bool | None = None,
) -> Walk:
    """The spans of the domain walk of normalised ``hosts``.

    Parent domains start after each dot. IP addresses (last label all digits, or a colon)
    have no parents. ``skip_top`` leaves out the last label alone (``com``), for key sets
    that hold no single-label key. ``dots``: the dot positions, when known already;
    ``live``: the rows to walk (default: neither null nor empty); ``trim``: rows whose last
    byte (a trailing dot) is not part of the host.
    """
    s = Strings.of(hosts)
    n = len(s)
    offsets = s.offsets
    if live is None:
        live = s.live()
    all_live = bool(live.all())
    ends_all: Ints = offsets[1:]
    if trim is not None:
        ends_all = ends_all - trim
    whole = Spans(None, offsets[:-1], ends_all)
    if not all_live:
        rows = np.flatnonzero(live)
        whole = Spans(rows, offsets[rows], ends_all[rows])
    lo, hi = int(offsets[0]), int(offsets[-1])
    seg = s.data[lo:hi]
    if dots is None:
        dots = np.flatnonzero(seg == _DOT) + lo
    first = _dots_before_rows(s)
    per_row = np.diff(first)
    dot_rows = np.repeat(np.arange(n, dtype=np.int64), per_row)
    ends = ends_all[dot_rows]
    keep = dots + 1 < ends  # a trailing dot starts no span
    if not all_live:
        keep &= live[dot_rows]
    if skip_top:
        has = np.flatnonzero(per_row)
        keep[first[has + 1] - 1] = False
    # IP addresses: exact only
    walked = np.flatnonzero(live & (ends_all > offsets[:-1]))
    last_byte = s.data[ends_all[walked] - 1]
    digit_end = walked[(last_byte - np.uint8(48)) <= 9]
    exact_only = _regex_rows(s.array, digit_end, _LAST_LABEL_NUMERIC_RE)
    colons = np.flatnonzero(seg == _COLON)
    if len(colons):
        exact_only = np.concatenate((exact_only, _row_of(offsets, colons + lo)))
    if len(exact_only):
        ip = np.zeros(n, bool)
        ip[exact_only] = True
        keep &= ~ip[dot_rows]
    picked = np.flatnonzero(keep)
    return Walk(s, whole, Spans(dot_rows.take(picked), dots.take(picked) + 1, ends.take(picked)))


def first_per_row(rows: I64, found: I64, n: int) -> I64:
    """For ``rows`` non-decreasing: per row, the first ``found`` value ≥ 0, else -1."""
    out = np.full(n, -1, np.int64)
    hit = found >= 0
    hit_rows = rows[hit]
    if len(hit_rows) == 0:
        return out
    first = np.ones(len(hit_rows), bool)
    first[1:] = hit_rows[1:] != hit_rows[:-1]
    out[hit_rows[first]] = found[hit][first]
    return out


def whole_per_row(spans: Spans, found: I64, n: int) -> I64:
    """``found`` for whole-row spans, spread to one value per row (-1 for rows without)."""
    if spans.rows is None:
        return found
    out = np.full(n, -1, np.int64)
    out[spans.rows] = found
    return out


def suffix_match(keys: KeySet, hosts: HostInput) -> I64:
    """For each normalised host: the key equal to the host or else to the nearest parent
    domain at a label boundary (``a.b.example.com`` matches ``b.example.com`` before
    ``example.com``, never ``ample.com``); -1 when none. IP addresses match only exactly.

    The walk goes up to the last label; an index never holds a public suffix as a key (it
    refuses them), so in practice it stops at the registered domain.
    """
    array = as_string_array(hosts)
    found = np.full(len(array), -1, np.int64)
    for start, part in batches(array):
        walk = walk_spans(part)
        s = walk.strings
        h_whole, h_parents = span_hashes(s, walk.whole, walk.parents)
        whole = whole_per_row(walk.whole, keys.lookup_spans(s, walk.whole, h_whole), len(s))
        parents = first_per_row(
            walk.parents.rows if walk.parents.rows is not None else np.zeros(0, np.int64),
            keys.lookup_spans(s, walk.parents, h_parents),
            len(s),
        )
        found[start : start + len(part)] = np.where(whole >= 0, whole, parents)
    return found


# ------------------------------------------------------------------------- public suffixes


@functools.cache
def _suffix_sets() -> tuple[KeySet, KeySet, KeySet]:
    """(plain suffixes, bases of wildcard rules, exceptions), all in punycode."""
    extractor = values._tld_extractor()
    plain: list[str] = []
    wildcard: list[str] = []
    exception: list[str] = []
    for rule in extractor._get_tld_extractor().tlds(include_psl_private_domains=False):
        if rule.startswith("*."):
            wildcard.append(_punycode(rule[2:]))
        elif rule.startswith("!"):
            exception.append(_punycode(rule[1:]))
        else:
            plain.append(_punycode(rule))
    return KeySet.build(plain), KeySet.build(wildcard), KeySet.build(exception)


def _punycode(rule: str) -> str:
    return ".".join(
        label if label.isascii() else label.encode("idna").decode("ascii")
        for label in rule.lower().split(".")
    )


def _dots_before_rows(s: Strings) -> Ints:
    """For each row start (and the end), the number of dots before it in the batch's data:
    the dots of row ``r`` are ``dots[first[r]:first[r + 1]]``."""
    lo, hi = int(s.offsets[0]), int(s.offsets[-1])
    counted = np.zeros(hi - lo + 1, np.int32)
    np.cumsum(s.data[lo:hi] == _DOT, out=counted[1:])
    first: Ints = counted[s.offsets - lo]
    return first


def first_dot_spans(s: Strings, dots: I64 | None = None, ends: Ints | None = None) -> Spans:
    """For each row with a dot: the span after its first dot (the parent domain), up to
    ``ends`` (default: the row ends)."""
    dots = _dots_of(s) if dots is None else dots
    first = _dots_before_rows(s)
    rows = np.flatnonzero(first[1:] > first[:-1])
    if s.valid is not None:
        rows = rows[s.valid[rows]]
    end = s.offsets[rows + 1] if ends is None else ends[rows]
    return Spans(rows, dots[first[rows]] + 1, np.maximum(end, dots[first[rows]] + 1))


def public_suffix_rows(
    s: Strings, whole: Spans, whole_hashes: U64, parent: Spans, parent_hashes: U64
) -> Bool:
    """Per row of ``s``: whether it is a public suffix, from the hashes of each row whole
    (``whole``) and of its parent domain (``parent``, :func:`first_dot_spans`)."""
    plain, wildcard, exception = _suffix_sets()
    n = len(s)
    lengths = whole.ends - whole.starts
    result = whole_per_row(whole, plain.lookup_hashes(s, whole.starts, lengths, whole_hashes), n)
    suffix = result >= 0
    if len(parent) and parent.rows is not None:
        under = wildcard.lookup_hashes(s, parent.starts, parent.ends - parent.starts, parent_hashes)
        rows = parent.rows[(under >= 0) & ~suffix[parent.rows]]
        if len(rows):
            excepted = exception.lookup(s.array.take(pa.array(rows))) >= 0
            suffix[rows[~excepted]] = True
    return suffix


def is_public_suffix(hosts: HostInput) -> Bool:
    """Whether each normalised host is itself a public suffix (``com``, ``co.uk``,
    ``x.ck`` by a wildcard rule) per tldextract's bundled list, private rules excluded."""
    array = as_string_array(hosts)
    result = np.zeros(len(array), bool)
    for start, part in batches(array):
        s = Strings.of(part)
        whole = Spans.whole(s)
        parent = first_dot_spans(s)
        h_whole, h_parent = span_hashes(s, whole, parent)
        result[start : start + len(part)] = public_suffix_rows(s, whole, h_whole, parent, h_parent)
    return result
