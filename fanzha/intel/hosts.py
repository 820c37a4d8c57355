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
    Bytes,
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

# byte classes: 0 other, 1 host byte (a-z 0-9 _ -), 2 upper-case letter, 3 dot
_CLASS: Final = np.zeros(256, np.uint8)
for _ch in b"abcdefghijklmnopqrstuvwxyz0123456789_-":
    _CLASS[_ch] = 1
for _ch in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _CLASS[_ch] = 2
_CLASS[_DOT] = 3
_LOWER: Final = np.arange(256, dtype=np.uint8)
_LOWER[ord("A") : ord("Z") + 1] += 32
_IS_DIGIT: Final = np.zeros(256, bool)
_IS_DIGIT[ord("0") : ord("9") + 1] = True

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
    """One batch after the fast check: ``ok`` rows are settled, normalised, in ``out``."""

    array: pa.Array  # the raw input (what the scalar parser gets)
    ok: Bool
    out: pa.Array
    dots: I64 | None  # dot positions in ``out``'s data, when ``out`` is ``array``


def _check_hosts(array: pa.Array) -> _Checked:
    """Settle the rows that are plain ASCII host names or dotted-quad IPv4 addresses.

    A row is settled when every byte is a letter, digit, ``_``, ``-`` or ``.``, no label is
    empty or longer than 63, the host (without one trailing dot) is at most 253 bytes, and,
    when its last label is all digits, it is a dotted-quad IPv4 address. Settled rows are
    lower-cased and lose their trailing dot; the others are left to the scalar parser.
    """
    s = Strings.of(array)
    n = len(s)
    offsets = s.offsets
    lo, hi = int(offsets[0]), int(offsets[-1])
    seg = s.data[lo:hi]
    lengths = np.diff(offsets)
    ok = s.live()
    # most bytes are a-z: classify only the others
    other = np.flatnonzero((seg - np.uint8(97)) >= 26)
    classes = _CLASS[seg[other]]
    bad = other[classes == 0]
    if len(bad):
        ok[_row_of(offsets, bad + lo)] = False
    dots = other[classes == 3]
    upper = bool((classes == 2).any())
    del other, classes
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
    ok[_regex_rows(array, long_rows, _LONG_LABEL_RE)] = False
    before = last
    if trailing.any():
        before = last.copy()
        t = np.flatnonzero(trailing)
        before[t] = s.data[offsets[t + 1] - 2]
    numeric = _regex_rows(array, np.flatnonzero(ok & _IS_DIGIT[before]), _LAST_LABEL_NUMERIC_RE)
    if len(numeric):
        ipv4 = np.zeros(n, bool)
        ipv4[_regex_rows(array, numeric, _IPV4_RE)] = True
        ok[numeric] = ipv4[numeric]
    if not upper and not trailing.any():
        return _Checked(array, ok, array, dots + lo)
    data: Bytes = _LOWER[seg] if upper else seg
    new_offsets = (offsets - lo).astype(np.int64)
    drop = np.flatnonzero(trailing)
    if len(drop):
        data = np.delete(data, offsets[drop + 1] - 1 - lo)
        new_offsets -= np.concatenate(([0], np.cumsum(trailing)))
    return _Checked(array, ok, _from_numpy(data, new_offsets, array), None)


def _from_numpy(data: Bytes, offsets: I64, like: pa.Array) -> pa.Array:
    """A string array of ``data`` / ``offsets`` with the nulls of ``like``."""
    large = int(offsets[-1]) >= 2**31
    out = pa.Array.from_buffers(
        pa.large_string() if large else pa.string(),
        len(offsets) - 1,
        [
            None,
            pa.py_buffer(offsets.astype(np.int64 if large else np.int32)),
            pa.py_buffer(np.ascontiguousarray(data)),
        ],
    )
    if like.null_count:
        out = pc.if_else(like.is_valid(), out, pa.scalar(None, out.type))
    return out


def _settle(checked: _Checked, parse: Callable[[str], str | None]) -> pa.Array:
    """``checked.out`` with each row the fast check did not settle (and not null) replaced
    by ``parse`` of the raw value, once per distinct value."""
    todo = ~checked.ok
    if checked.array.null_count:
        todo &= np.asarray(checked.array.is_valid().to_numpy(zero_copy_only=False), bool)
    out = checked.out
    if not todo.any():
        return out
    cache: dict[str, str | None] = {}
    replaced: list[str | None] = []
    for value in checked.array.filter(pa.array(todo)).to_pylist():
        if value not in cache:
            cache[value] = parse(value)
        replaced.append(cache[value])
    return pc.replace_with_mask(out, pa.array(todo), pa.array(replaced, out.type))


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


def normalise_host_batch(array: pa.Array) -> tuple[pa.Array, I64 | None]:
    """:func:`normalise_hosts` of one batch, with the dot positions in the result's data
    when they are known already (the batch needed no change)."""
    checked = _check_hosts(array)
    out = _settle(checked, _parse_host)
    return out, (checked.dots if out is array else None)


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
    parts = [_url_host_batch(part) for _, part in batches(array)]
    return _joined(parts, array, False)


def _url_host_batch(array: pa.Array) -> pa.Array:
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
    return _settle(checked, _parse_url_host)


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


def walk_spans(hosts: pa.Array, *, skip_top: bool = False, dots: I64 | None = None) -> Walk:
    """The spans of the domain walk of normalised ``hosts``.

    Parent domains start after each dot. IP addresses (last label all digits, or a colon)
    have no parents. ``skip_top`` leaves out the last label alone (``com``), for key sets
    that hold no single-label key. ``dots``: the dot positions, when known already.
    """
    s = Strings.of(hosts)
    n = len(s)
    offsets = s.offsets
    live = s.live()
    whole = Spans(None, offsets[:-1], offsets[1:])
    if not live.all():
        rows = np.flatnonzero(live)
        whole = Spans(rows, offsets[rows], offsets[rows + 1])
    dots = _dots_of(s) if dots is None else dots
    first_dot = np.searchsorted(dots, offsets)
    per_row = np.diff(first_dot)
    dot_rows = np.repeat(np.arange(n, dtype=np.int64), per_row)
    ends = offsets[dot_rows + 1]
    keep = dots + 1 < ends  # a trailing dot starts no span
    if s.valid is not None:
        keep &= live[dot_rows]
    if skip_top:
        has = np.flatnonzero(per_row)
        keep[first_dot[has + 1] - 1] = False
    lo, hi = int(offsets[0]), int(offsets[-1])
    ends_all = offsets[1:]
    last_digit = np.zeros(n, bool)
    live_rows = np.flatnonzero(live)
    last_digit[live_rows] = _IS_DIGIT[s.data[ends_all[live_rows] - 1]]
    exact_only = _regex_rows(s.array, np.flatnonzero(last_digit), _LAST_LABEL_NUMERIC_RE)
    colons = np.flatnonzero(s.data[lo:hi] == _COLON)
    if len(colons):
        exact_only = np.concatenate((exact_only, _row_of(offsets, colons + lo)))
    if len(exact_only):
        ip = np.zeros(n, bool)
        ip[exact_only] = True
        keep &= ~ip[dot_rows]
    if not keep.all():
        dot_rows, dots, ends = dot_rows[keep], dots[keep], ends[keep]
    return Walk(s, whole, Spans(dot_rows, dots + 1, ends))


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


def first_dot_spans(s: Strings, dots: I64 | None = None) -> Spans:
    """For each row with a dot: the span after its first dot (the parent domain)."""
    dots = _dots_of(s) if dots is None else dots
    first_dot = np.searchsorted(dots, s.offsets)
    rows = np.flatnonzero(np.diff(first_dot))
    if s.valid is not None:
        rows = rows[s.valid[rows]]
    return Spans(rows, dots[first_dot[rows]] + 1, s.offsets[rows + 1])


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
