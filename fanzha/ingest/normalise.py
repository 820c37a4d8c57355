"""Vectorised validation and normalisation of a raw batch into an event table.

Each field kind has a kernel over a whole column. Kernels take a fast Arrow path for the
common canonical shapes (an 11-digit mobile, a digits-only account, an ISO timestamp) and run
the scalar parser from :mod:`fanzha.model.values` once per *distinct* remaining value, so the
scalar parser stays the single definition of what is valid and per-row Python is rare.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from fanzha.model import values
from fanzha.model.events import Event, WebVisit, parse_direction, parse_fraud_type
from fanzha.model.fields import SCALAR_CHECKS, Kind
from fanzha.model.schema import FieldSpec, arrow_schema, field_specs

BoolMask = np.ndarray  # numpy bool array, one entry per row


@dataclass
class Problems:
    """Row-level problems found while normalising: row index → (field, reason)."""

    rows: dict[int, tuple[str | None, str]] = field(default_factory=dict)

    def add(self, row: int, field_name: str | None, reason: str) -> None:
        """Keep the first problem of each row (the one a person should fix first)."""
        self.rows.setdefault(row, (field_name, reason))

    def add_mask(self, mask: BoolMask, field_name: str, reasons: list[str | None]) -> None:
        """Record a problem for every row set in ``mask`` with its per-row reason."""
        for row in np.flatnonzero(mask):
            self.add(int(row), field_name, reasons[row] or "invalid value")


@dataclass(frozen=True, slots=True)
class Options:
    """Normalisation options that come from settings and the command line."""

    tz: str = values.DEFAULT_TZ
    max_field_bytes: int = 65_536
    default_source: str = "unknown"


@dataclass
class Column:
    """The result of one kernel: values (null where bad) and per-row reasons for bad rows."""

    array: pa.Array
    bad: BoolMask
    reasons: list[str | None]


def _chunk(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _blank_to_null(col: pa.Array) -> pa.Array:
    """Treat empty and whitespace-only strings as missing."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return col
    trimmed = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, col.type), trimmed)


def _as_text(col: pa.Array) -> pa.Array:
    if pa.types.is_string(col.type):
        return col
    if pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type):
        return col.cast(pa.string())
    if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        return col.cast(pa.string(), safe=False)
    return col.cast(pa.string())


def _ok(array: pa.Array) -> Column:
    return Column(array, np.zeros(len(array), dtype=bool), [None] * len(array))


def _via_uniques(
    col: pa.Array, check: Callable[[str], object], out_type: pa.DataType, todo: BoolMask
) -> Column:
    """Run ``check`` once per distinct value among the rows in ``todo``."""
    n = len(col)
    reasons: list[str | None] = [None] * n
    bad = np.zeros(n, dtype=bool)
    if not todo.any():
        return Column(pa.nulls(n, out_type), bad, reasons)
    subset = pc.filter(col, pa.array(todo))
    uniques = pc.unique(subset).drop_null()
    results: list[object] = []
    errors: list[str | None] = []
    for raw in uniques.to_pylist():
        try:
            results.append(check(raw))
            errors.append(None)
        except values.InvalidValue as exc:
            results.append(None)
            errors.append(exc.reason)
        except (ValueError, TypeError, OverflowError) as exc:
            # A library's own error on a pathological value is still the record's problem.
            results.append(None)
            errors.append(f"unreadable value: {exc}")
    index = pc.index_in(col, value_set=uniques).to_numpy(zero_copy_only=False)
    index = np.where(todo, index, np.nan)
    valid = ~np.isnan(index)
    positions = np.where(valid, index, 0).astype(np.int64)
    out_values = pa.array(results, type=out_type)
    out = pc.take(out_values, pa.array(positions, mask=~valid))
    err_np = np.array([e is not None for e in errors], dtype=bool)
    if err_np.any():
        bad = valid & err_np[positions]
        for row in np.flatnonzero(bad):
            reasons[row] = errors[positions[row]]
    return Column(out, bad, reasons)


def _merge(fast: pa.Array, fast_mask: BoolMask, slow: Column) -> Column:
    array = pc.if_else(pa.array(fast_mask), fast, slow.array)
    return Column(array, slow.bad, slow.reasons)


def _regex_fast(
    col: pa.Array,
    pattern: str,
    replacement: str | None,
    check: Callable[[str], object],
) -> Column:
    """Values matching ``pattern`` are canonical (optionally rewritten); the rest go scalar.

    Low-cardinality columns (source, city …) are worked on their distinct values only.
    """
    col = _as_text(col)
    encoded = pc.dictionary_encode(col)
    if len(encoded.dictionary) > 0 and len(encoded.dictionary) * 4 < len(col):  # not all null
        inner = _regex_fast_plain(encoded.dictionary, pattern, replacement, check)
        indices = encoded.indices
        positions = pc.fill_null(indices, 0)
        bad = inner.bad[positions.to_numpy(zero_copy_only=False)] & indices.is_valid().to_numpy(
            zero_copy_only=False
        )
        reasons: list[str | None] = [None] * len(col)
        if bad.any():
            reasons = [
                inner.reasons[int(i)] if b else None
                for i, b in zip(positions.to_numpy(zero_copy_only=False), bad, strict=True)
            ]
        return Column(pc.take(inner.array, indices), bad, reasons)
    return _regex_fast_plain(col, pattern, replacement, check)


def _regex_fast_plain(
    col: pa.Array,
    pattern: str,
    replacement: str | None,
    check: Callable[[str], object],
) -> Column:
    fast_mask = pc.fill_null(pc.match_substring_regex(col, pattern), False).to_numpy(
        zero_copy_only=False
    )
    fast = col if replacement is None else pc.replace_substring_regex(col, pattern, replacement)
    todo = ~fast_mask & col.is_valid().to_numpy(zero_copy_only=False)
    return _merge(fast, fast_mask, _via_uniques(col, check, pa.string(), todo))


def _scalar(col: pa.Array, kind: Kind, out_type: pa.DataType) -> Column:
    check = SCALAR_CHECKS[kind]
    if not (pa.types.is_string(col.type) or pa.types.is_list(col.type)):
        col = _as_text(col)
    todo = col.is_valid().to_numpy(zero_copy_only=False)
    return _via_uniques(col, check, out_type, todo)


def k_msisdn(col: pa.Array, opts: Options) -> Column:
    """Phone numbers: bare, +86 and 0086 mobiles fast; everything else via phonenumbers."""
    return _regex_fast(col, values.MSISDN_FAST_PATTERN, r"+86\1", SCALAR_CHECKS[Kind.MSISDN])


def k_account(col: pa.Array, opts: Options) -> Column:
    """Account numbers: digits-only numbers are canonical; others (IBAN, Othr) via scalar."""
    return _regex_fast(col, r"^[0-9]{6,34}$", None, SCALAR_CHECKS[Kind.ACCOUNT])


def k_label(col: pa.Array, opts: Options) -> Column:
    """Short labels: printable ASCII up to 512 characters is already clean."""
    return _regex_fast(col, r"^[\x21-\x7e](?:[\x20-\x7e]{0,510}[\x21-\x7e])?$", None, _str_check)


def _str_check(value: str) -> str:
    return SCALAR_CHECKS[Kind.STRING](value)  # type: ignore[return-value]


def k_id(col: pa.Array, opts: Options) -> Column:
    """Identifiers: printable ASCII up to 256 characters is canonical."""
    return _regex_fast(
        col, r"^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$", None, SCALAR_CHECKS[Kind.ID]
    )


def k_text(col: pa.Array, opts: Options) -> Column:
    """Free text: cleaned, Traditional → Simplified, bounded in size."""
    limit = opts.max_field_bytes

    def check(value: str) -> str:
        return values.clean_text(value, max_bytes=limit)

    col = _as_text(col)
    return _via_uniques(col, check, pa.string(), col.is_valid().to_numpy(zero_copy_only=False))


# Canonical ISO text with a year the scalar parser accepts (1970–2100) and a valid offset.
_TS_FAST_RE = (
    r"^(?:19[7-9][0-9]|20[0-9][0-9]|2100)-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?$"
)
_WALL = "%Y-%m-%d %H:%M:%S"
_TS_MIN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TS_MAX = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
_UTC_US = pa.timestamp("us", tz="UTC")


def _fast_iso(text: pa.Array, tz: str) -> tuple[pa.Array, BoolMask]:
    """Canonical ISO timestamps in Arrow; the mask says which rows were read exactly.

    Arrow's strptime rolls impossible times over (02-30 → 03-01, :60 → next minute) and
    picks its own instant for local times in a DST gap, so a row takes this path only when
    its wall time prints back to the same text and maps to exactly one instant; every other
    row goes to the scalar parser, which stays the one definition of what is valid.
    """
    shape = pc.fill_null(pc.match_substring_regex(text, _TS_FAST_RE), False)
    wall_text = pc.replace_substring(pc.utf8_slice_codeunits(text, 0, 19), "T", " ")
    wall = pc.strptime(wall_text, format=_WALL, unit="s", error_is_null=True)
    exact = pc.fill_null(pc.equal(pc.strftime(wall, format=_WALL), wall_text), False)
    has_offset = pc.not_equal(pc.utf8_slice_codeunits(text, 19), "")
    early = pc.assume_timezone(wall, tz, ambiguous="earliest", nonexistent="earliest")
    late = pc.assume_timezone(wall, tz, ambiguous="latest", nonexistent="latest")
    one_instant = pc.fill_null(pc.equal(early, late), False)
    iso = pc.replace_substring(text, " ", "T", max_replacements=1)
    aware = pc.strptime(iso, format="%Y-%m-%dT%H:%M:%S%z", unit="us", error_is_null=True)
    fast = pc.if_else(has_offset, aware.cast(_UTC_US), early.cast(_UTC_US))
    ok = pc.and_(pc.and_(shape, exact), pc.if_else(has_offset, aware.is_valid(), one_instant))
    mask = pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
    return fast, mask


def k_timestamp(col: pa.Array, opts: Options) -> Column:
    """Timestamps: Arrow timestamps and ISO text fast; other layouts via parse_timestamp."""
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            col = pc.assume_timezone(col, opts.tz, ambiguous="earliest", nonexistent="earliest")
        out = col.cast(_UTC_US)
        return _range_checked(out, np.zeros(len(out), dtype=bool), [None] * len(out))
    text = _as_text(col)
    fast, fast_mask = _fast_iso(text, opts.tz)
    todo = ~fast_mask & text.is_valid().to_numpy(zero_copy_only=False)
    tz = opts.tz

    def check(value: str) -> dt.datetime:
        # parse_timestamp rejects years outside 1970–2100 (of the time as written).
        return values.parse_timestamp(value, tz=tz).astimezone(dt.UTC)

    return _merge(fast, fast_mask, _via_uniques(text, check, _UTC_US, todo))


def _range_checked(array: pa.Array, bad: BoolMask, reasons: list[str | None]) -> Column:
    """Reject times before 1970 or after 2100 (almost always a unit or format mistake)."""
    low = pc.less(array, pa.scalar(_TS_MIN, _UTC_US))
    high = pc.greater_equal(array, pa.scalar(_TS_MAX, _UTC_US))
    out = pc.fill_null(pc.or_(low, high), False).to_numpy(zero_copy_only=False)
    for row in np.flatnonzero(out & ~bad):
        reasons[row] = f"time {array[row].as_py().isoformat()} is outside 1970–2100"
    bad = bad | out
    array = pc.if_else(pa.array(out), pa.scalar(None, _UTC_US), array)
    return Column(array, bad, reasons)


_FAST_INT_LIMIT = 10**15


def _whole_numbers(col: pa.Array, check: Callable[[object], object]) -> Column:
    """Integers fast (with a range check), digit strings fast, anything else via ``check``."""
    if pa.types.is_integer(col.type):
        # Below 10^15 every check agrees (fen < 10^15, counts < 2^53); others go to the check.
        low, high = pc.min_max(col).values()
        if low.as_py() is None or (low.as_py() >= 0 and high.as_py() < _FAST_INT_LIMIT):
            return _ok(col.cast(pa.int64()))
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = _as_text(col)
        digits = pc.fill_null(pc.match_substring_regex(col, r"^[0-9]{1,15}$"), False)
        fast_mask = digits.to_numpy(zero_copy_only=False)
        fast = pc.if_else(digits, col, pa.scalar(None, pa.string())).cast(pa.int64())
        todo = ~fast_mask & col.is_valid().to_numpy(zero_copy_only=False)
        return _merge(fast, fast_mask, _via_uniques(col, check, pa.int64(), todo))
    if pa.types.is_decimal(col.type):
        # A whole decimal (30.0 from a NUMERIC column) is a whole number: drop the zeros.
        text = pc.replace_substring_regex(col.cast(pa.string()), r"^(-?[0-9]+)\.0+$", r"\1")
        return _whole_numbers(text, check)
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        # Floats must be whole (12.0 is 12); decimals and negatives go to the precise check.
        col = col.cast(pa.string())
        return _whole_numbers(col, check)
    return _scalar(col, Kind.INT, pa.int64())


def k_int(col: pa.Array, opts: Options) -> Column:
    """Whole non-negative numbers (durations, counts)."""
    return _whole_numbers(col, SCALAR_CHECKS[Kind.INT])


def k_fen(col: pa.Array, opts: Options) -> Column:
    """Money already in fen."""
    return _whole_numbers(col, SCALAR_CHECKS[Kind.MONEY_FEN])


def k_yuan(col: pa.Array, opts: Options) -> Column:
    """Money in yuan (``123.45``) converted to integer fen without floating point."""
    text = _as_text(col)
    simple = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{1,12}(\.[0-9]{1,2})?$"), False)
    fast_mask = simple.to_numpy(zero_copy_only=False)
    chosen = pc.if_else(simple, text, pa.scalar(None, pa.string()))
    cents = pc.multiply(chosen.cast(pa.decimal128(16, 2)), pa.scalar(100, pa.int64()))
    fast = cents.cast(pa.int64())

    def check(value: str) -> int:
        return values.parse_money_fen(value, unit="yuan")

    todo = ~fast_mask & text.is_valid().to_numpy(zero_copy_only=False)
    return _merge(fast, fast_mask, _via_uniques(text, check, pa.int64(), todo))


def k_bool(col: pa.Array, opts: Options) -> Column:
    """Yes/no flags."""
    if pa.types.is_boolean(col.type):
        return _ok(col)
    return _scalar(col, Kind.BOOL, pa.bool_())


def k_date(col: pa.Array, opts: Options) -> Column:
    """Calendar dates."""
    if pa.types.is_date32(col.type):
        return _ok(col)
    return _scalar(col, Kind.DATE, pa.date32())


def _simple(kind: Kind) -> Callable[[pa.Array, Options], Column]:
    def kernel(col: pa.Array, opts: Options) -> Column:
        return _scalar(col, kind, pa.string())

    kernel.__doc__ = f"{kind.value} values through the scalar parser, once per distinct value."
    return kernel


def _list_kernel(element: Kind) -> Callable[[pa.Array, Options], Column]:
    check = SCALAR_CHECKS[element]

    def kernel(col: pa.Array, opts: Options) -> Column:
        if not pa.types.is_list(col.type):
            text = _as_text(col)
            col = pc.split_pattern_regex(text, r"[;,|、，；]")
        flat = _as_text(pc.list_flatten(col))
        flat = pc.utf8_trim_whitespace(flat)
        # Blank and null items are skipped, as split_list does ("a;;b", "a;", [null]).
        empty = pc.fill_null(pc.equal(flat, ""), True).to_numpy(zero_copy_only=False)
        res = _via_uniques(flat, check, pa.string(), ~empty)
        parents = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
        n = len(col)
        bad = np.zeros(n, dtype=bool)
        reasons: list[str | None] = [None] * n
        for i in np.flatnonzero(res.bad):
            bad[parents[i]] = True
            reasons[parents[i]] = reasons[parents[i]] or res.reasons[i]
        keep = pa.array(~empty)
        values_ = pc.filter(res.array, keep)
        kept_parents = parents[~empty]
        counts = np.bincount(kept_parents, minlength=n)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        out = pa.ListArray.from_arrays(pa.array(offsets), values_)
        return Column(out, bad, reasons)

    kernel.__doc__ = f"Lists of {element.value} values (array or ;-separated text)."
    return kernel


def _enum_kernel(name: str, parse: Callable[[object], object]) -> Callable[[str], str]:
    def check(value: str) -> str:
        return str(getattr(parse(value), "value", parse(value)))

    check.__name__ = f"check_{name}"
    return check


ENUM_PARSERS: dict[str, Callable[[str], str]] = {
    "fraud_type": _enum_kernel("fraud_type", parse_fraud_type),
    "direction": _enum_kernel("direction", parse_direction),
}

KERNELS: dict[Kind, Callable[[pa.Array, Options], Column]] = {
    Kind.ID: k_id,
    Kind.STRING: k_label,
    Kind.TEXT: k_text,
    Kind.MSISDN: k_msisdn,
    Kind.ACCOUNT: k_account,
    Kind.ID_NUMBER: _simple(Kind.ID_NUMBER),
    Kind.URL: _simple(Kind.URL),
    Kind.DOMAIN: _simple(Kind.DOMAIN),
    Kind.MONEY_FEN: k_fen,
    Kind.CURRENCY: _simple(Kind.CURRENCY),
    Kind.TIMESTAMP: k_timestamp,
    Kind.DATE: k_date,
    Kind.INT: k_int,
    Kind.BOOL: k_bool,
    Kind.MSISDN_LIST: _list_kernel(Kind.MSISDN),
    Kind.ACCOUNT_LIST: _list_kernel(Kind.ACCOUNT),
    Kind.URL_LIST: _list_kernel(Kind.URL),
}


def _enum_column(spec: FieldSpec, col: pa.Array) -> Column:
    parse = ENUM_PARSERS.get(spec.name)
    choices = spec.choices

    def check(value: str) -> str:
        if parse is not None:
            return parse(value)
        text = value.strip().lower()
        if text not in choices:
            raise values.InvalidValue(f"unknown value {text[:40]!r}; expected {', '.join(choices)}")
        return text

    text = _as_text(col)
    return _via_uniques(text, check, pa.string(), text.is_valid().to_numpy(False))


def _column_for(spec: FieldSpec, table: pa.Table, opts: Options) -> Column:
    """Find the raw column for a field (or its yuan alias) and run its kernel."""
    n = table.num_rows
    if spec.name in table.column_names:
        return _checked(spec, _chunk(table[spec.name]), opts, _kernel_of(spec))
    alias = spec.name.removesuffix("_fen")
    if spec.kind is Kind.MONEY_FEN and alias != spec.name and alias in table.column_names:
        return _checked(spec, _chunk(table[alias]), opts, k_yuan)
    return _ok(pa.nulls(n, spec.arrow_type))


def _kernel_of(spec: FieldSpec) -> Callable[[pa.Array, Options], Column]:
    if spec.kind is Kind.ENUM:
        return lambda col, opts: _enum_column(spec, col)
    return KERNELS[spec.kind]


def _checked(
    spec: FieldSpec,
    raw: pa.Array,
    opts: Options,
    kernel: Callable[[pa.Array, Options], Column],
) -> Column:
    """Run a kernel; a column of an odd Arrow type (a list where one value belongs, a struct,
    bytes …) is first rebuilt as text row by row, its unusable rows rejected."""
    try:
        return kernel(_blank_to_null(raw), opts)
    except pa.ArrowException:
        text, bad, reasons = _plain_column(spec, raw)
    result = kernel(_blank_to_null(text), opts)
    for row in np.flatnonzero(bad):
        result.reasons[row] = reasons[row]
    return Column(result.array, result.bad | bad, result.reasons)


def _plain_column(spec: FieldSpec, raw: pa.Array) -> tuple[pa.Array, BoolMask, list[str | None]]:
    wants_list = pa.types.is_list(spec.arrow_type)
    n = len(raw)
    bad = np.zeros(n, dtype=bool)
    reasons: list[str | None] = [None] * n
    out: list[object] = []
    for row, value in enumerate(raw.to_pylist()):
        if not wants_list and isinstance(value, list) and len(value) == 1:
            value = value[0]  # readers wrap values when a column mixes them with lists
        items = value if wants_list and isinstance(value, list) else [value]
        nested = any(isinstance(v, list | dict) for v in items)
        if value is None or nested:
            if nested:
                bad[row] = True
                what = "a list of values" if wants_list else "one value"
                reasons[row] = f"expected {what}, got {type(value).__name__} {str(value)[:40]}"
            out.append(None)
            continue
        texts = [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            for v in items
            if v is not None
        ]
        out.append(texts if wants_list else texts[0])
    return pa.array(out, spec.arrow_type if wants_list else pa.string()), bad, reasons


def _fill_default(spec: FieldSpec, array: pa.Array) -> pa.Array:
    if spec.default is None or isinstance(spec.default, list):
        if isinstance(spec.default, list):
            return pc.if_else(array.is_null(), pa.scalar([], spec.arrow_type), array)
        return array
    return pc.fill_null(array, pa.scalar(spec.default, spec.arrow_type))


@dataclass
class Normalised:
    """An event table of the good rows, their input row numbers, and the bad rows."""

    table: pa.Table
    rows: np.ndarray  # input row index of every output row
    problems: Problems


def normalise(raw: pa.Table, model: type[BaseModel], opts: Options) -> Normalised:
    """Validate and normalise every field of ``raw`` for ``model``; derive ids and defaults."""
    n = raw.num_rows
    problems = Problems()
    bad = np.zeros(n, dtype=bool)
    columns: dict[str, pa.Array] = {}
    for spec in field_specs(model):
        if spec.name == "source" and spec.name not in raw.column_names:
            columns[spec.name] = pa.array([opts.default_source] * n, pa.string())
            continue
        result = _column_for(spec, raw, opts)
        problems.add_mask(result.bad & ~bad, spec.name, result.reasons)
        bad |= result.bad
        array = _fill_default(spec, result.array)
        columns[spec.name] = array
    _derive(model, columns)
    for spec in field_specs(model):
        if spec.required and spec.name != "event_id":
            missing = columns[spec.name].is_null().to_numpy(zero_copy_only=False) & ~bad
            for row in np.flatnonzero(missing):
                problems.add(int(row), spec.name, f"required field '{spec.name}' is missing")
            bad |= missing
    keep = ~bad
    table = pa.table(columns, schema=arrow_schema(model)).filter(pa.array(keep))
    rows = np.flatnonzero(keep)
    if issubclass(model, Event):
        table = _with_event_ids(model, table)
    return Normalised(table, rows, problems)


def _derive(model: type[BaseModel], columns: dict[str, pa.Array]) -> None:
    """Fill derived fields (the registered domain of a visited URL)."""
    if model is WebVisit:
        urls = columns["url"]

        def domain_of(url: str) -> str:
            return values.parse_url(url).registered_domain

        todo = pc.and_(columns["domain"].is_null(), urls.is_valid()).to_numpy(zero_copy_only=False)
        derived = _via_uniques(urls, domain_of, pa.string(), todo)
        columns["domain"] = pc.coalesce(columns["domain"], derived.array)


_DUCK = duckdb.connect(config={"threads": 1})


def derive_event_ids(model: type[Event], table: pa.Table) -> pa.Array:
    """Stable ids ``<type>:<md5 of the identity fields>`` (a source without ids re-ingests
    to the same ids, so re-ingesting adds nothing)."""
    parts = [f"'{model.type_name}'"]
    for name in model.identity:
        col = f'"{name}"'
        if pa.types.is_timestamp(table.schema.field(name).type):
            parts.append(f"coalesce(CAST(epoch_us({col}) AS VARCHAR), chr(0))")
        else:
            parts.append(f"coalesce(CAST({col} AS VARCHAR), chr(0))")
    sql = f"SELECT '{model.type_name}:' || md5(concat_ws(chr(31), {', '.join(parts)})) AS id FROM t"
    ident = table.select(list(model.identity))
    cursor = _DUCK.cursor()
    cursor.register("t", ident)
    return _chunk(cursor.sql(sql).to_arrow_table()["id"])


def _with_event_ids(model: type[Event], table: pa.Table) -> pa.Table:
    ids = _chunk(table["event_id"])
    if table.num_rows == 0 or ids.null_count == 0:
        return table
    derived = number_repeats(derive_event_ids(model, table), ids.is_null())
    idx = table.schema.get_field_index("event_id")
    return table.set_column(idx, table.schema.field(idx), pc.coalesce(ids, derived))


def number_repeats(derived: pa.Array, applies: pa.Array) -> pa.Array:
    """Suffix ``#n`` to the n-th repeat of a derived id within the batch.

    Records without a source id that are identical in every identity field (two equal
    transfers on the same day in coarse data) stay separate events, while re-ingesting the
    same input still derives the same ids, so it adds nothing.
    """
    encoded = pc.dictionary_encode(derived).indices.to_numpy(zero_copy_only=False)
    mask = applies.to_numpy(zero_copy_only=False)
    order = np.argsort(np.where(mask, encoded, -1), kind="stable")
    sorted_keys = np.where(mask, encoded, -1)[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
    rank_sorted = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    repeat = mask & (rank > 0)
    if not repeat.any():
        return derived
    suffix = pa.array(np.char.add("#", rank.astype(str)))
    numbered = pc.binary_join_element_wise(derived, suffix, "")
    return pc.if_else(pa.array(repeat), numbered, derived)
