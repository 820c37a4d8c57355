"""Readers: turn files (NDJSON, CSV, Parquet, ISO 20022 XML) into raw Arrow batches.

Readers stream: memory is bounded by the batch size and the longest accepted record, never
by the file size. Every row keeps its location (line, row or record) and a way to recover its
original bytes, so a rejected record can be dead-lettered exactly as it arrived. Text is
decoded from UTF-8 (with or without BOM), GB18030/GBK or UTF-16 (with BOM).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from fanzha.ingest import sheets
from fanzha.ingest.deadletter import DeadLetter

csv.field_size_limit(2**31 - 1)  # our own byte limit applies first; csv's default is 128 KiB

BINARY_MAGIC = {
    b"\x89PNG": "PNG image",
    b"PK\x03\x04": "ZIP archive (xlsx/docx?)",
    b"\x1f\x8b": "gzip archive",
    b"%PDF": "PDF document",
    b"\xd0\xcf\x11\xe0": "legacy Office document (xls?)",
    b"\x7fELF": "executable",
}


@dataclass
class RawBatch:
    """Raw rows from one source, with where each row came from."""

    table: pa.Table
    source: str  # file path or API name
    unit: str  # "line", "row" or "record"
    locations: np.ndarray  # 1-based line / row / record number of each row
    raw_of: Callable[[int], bytes]  # original bytes of row i
    early: list[DeadLetter] = field(default_factory=list)  # rejected before becoming rows
    groups: np.ndarray | None = None  # rows of one group land together or not at all

    def location(self, row: int) -> str:
        """Human-readable location of a row, e.g. ``line 17``."""
        return f"{self.unit} {int(self.locations[row])}"


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Limits and choices for readers."""

    batch_rows: int = 65_536
    chunk_bytes: int = 8 * 1024 * 1024
    max_record_bytes: int = 1_048_576
    keep_bytes: int = 1_048_576
    columns: frozenset[str] | None = None  # only these columns are kept (None: all)
    #: a CSV header's repeated names read as ``X``, ``X.1``, ``X.2`` (for layouts the user
    #: maps by name, e.g. two columns headed ``Account``); else such a header is refused
    rename_duplicates: bool = False


class FileRejected(Exception):
    """A whole file cannot be read (binary, unknown encoding, broken Parquet, no header)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _letter(source: str, location: str, reason: str, raw: bytes, opts: ReadOptions) -> DeadLetter:
    cut = len(raw) > opts.keep_bytes
    return DeadLetter(
        source=source,
        location=location,
        event_type=None,
        field=None,
        reason=reason,
        raw=raw[: opts.keep_bytes],
        truncated=cut,
    )


# --------------------------------------------------------------------------- encodings


def sniff_binary(head: bytes) -> str | None:
    """Why ``head`` looks like a binary file, or None if it may be text."""
    for magic, what in BINARY_MAGIC.items():
        if head.startswith(magic):
            return f"file is a {what}, not text"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 text has many NULs
    sample = head[:65_536]
    if sample and sample.count(0) > max(8, len(sample) // 100):
        return "file looks binary (many NUL bytes); expected UTF-8 or GB18030 text"
    return None


def detect_encoding(head: bytes) -> str:
    """The text encoding of a file from its first bytes: utf-8-sig, utf-16, utf-8 or gb18030."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        return "utf-8"  # mostly undecodable: records fail one by one with a reason


def _utf16_stream(fh: BinaryIO) -> BinaryIO:
    """Re-encode a UTF-16 file to UTF-8 on the fly (its newlines are two bytes wide)."""
    text = io.TextIOWrapper(fh, encoding="utf-16", errors="replace", newline="")

    class _Recode(io.RawIOBase):
        def __init__(self) -> None:
            self.buffer = b""

        def readable(self) -> bool:
            return True

        def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
            while len(self.buffer) < len(b):
                piece = text.read(65_536)
                if not piece:
                    break
                self.buffer += piece.encode("utf-8")
            n = min(len(b), len(self.buffer))
            b[:n] = self.buffer[:n]
            self.buffer = self.buffer[n:]
            return n

    return io.BufferedReader(_Recode(), buffer_size=1 << 20)


def _decode_line(line: bytes) -> str | None:
    # Strict UTF-8 first: GB18030 decodes almost any bytes, UTF-8 lines included (as mojibake),
    # while GB18030 Chinese text is almost never valid UTF-8.
    for enc in ("utf-8", "gb18030"):
        try:
            return line.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


# --------------------------------------------------------------------------- text chunks


@dataclass
class TextChunk:
    """Whole records of a text file: original bytes, decoded text and line offsets."""

    raw: bytes
    first_line: int  # 1-based line number of the first line in ``raw``
    starts: np.ndarray  # byte offset of each line in raw, plus len(raw) at the end
    lines: list[str]  # decoded lines (undecodable ones are "")
    bad_lines: dict[int, str]  # index → reason

    def line_bytes(self, i: int, j: int | None = None) -> bytes:
        """Original bytes of lines i..j (inclusive), without the final newline."""
        end = self.starts[(j if j is not None else i) + 1]
        return self.raw[self.starts[i] : end].rstrip(b"\r\n")


def _record_ends(buf: bytes, quote_aware: bool) -> np.ndarray:
    """Offsets just after each newline that ends a record (outside quotes for CSV)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    if quote_aware and nl.size:
        # Only the parity matters: a one-byte running count (wrapping) keeps it, in 1/8 the memory.
        quotes = np.cumsum(arr == 34, dtype=np.uint8)
        nl = nl[(quotes[nl] & 1) == 0]
    return nl + 1


def iter_text_chunks(
    path: Path, opts: ReadOptions, *, quote_aware: bool, source: str
) -> Iterator[TextChunk | DeadLetter]:
    """Stream a text file as chunks of whole records; oversized records become dead letters."""
    with path.open("rb") as fh:
        head = fh.read(65_536)
        why = sniff_binary(head)
        if why:
            raise FileRejected(why)
        encoding = detect_encoding(head)
        fh.seek(0)
        stream: BinaryIO = fh
        if encoding == "utf-16":
            stream = _utf16_stream(fh)
            encoding = "utf-8"
        elif encoding == "utf-8-sig":
            fh.seek(len(codecs.BOM_UTF8))
            encoding = "utf-8"
        yield from _chunks(stream, encoding, opts, quote_aware, source)


def _chunks(
    stream: BinaryIO, encoding: str, opts: ReadOptions, quote_aware: bool, source: str
) -> Iterator[TextChunk | DeadLetter]:
    carry = b""
    line_no = 1
    while True:
        block = stream.read(opts.chunk_bytes)
        eof = not block
        buf = carry + block
        ends = _record_ends(buf, quote_aware)
        cut = len(buf) if eof else (int(ends[-1]) if ends.size else 0)
        carry = buf[cut:]
        if cut:
            chunk = _make_chunk(buf[:cut], line_no, encoding, opts.max_record_bytes)
            line_no += len(chunk.starts) - 1
            yield chunk
        if eof:
            return
        while len(carry) > opts.max_record_bytes:
            # An oversized record: keep its head as a dead letter, skip to the next newline
            # without holding the rest in memory.
            reason = (
                f"record is longer than {opts.max_record_bytes} bytes"
                " (FANZHA_MAX_RECORD_BYTES); skipped to the next line"
            )
            letter = _letter(source, f"line {line_no}", reason, carry, opts)
            carry, found = _skip_line(stream, carry, opts.chunk_bytes)
            yield letter
            line_no += 1
            if not found:
                return


def _skip_line(stream: BinaryIO, carry: bytes, chunk_bytes: int) -> tuple[bytes, bool]:
    """Drop bytes up to and including the next newline; return what follows it."""
    nl = carry.find(b"\n")
    while nl < 0:
        carry = stream.read(chunk_bytes)
        if not carry:
            return b"", False
        nl = carry.find(b"\n")
    return carry[nl + 1 :], True


def _make_chunk(raw: bytes, first_line: int, encoding: str, max_line: int) -> TextChunk:
    arr = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10) + 1
    starts = (
        np.concatenate([[0], nl])
        if nl.size and nl[-1] == len(raw)
        else (np.concatenate([[0], nl, [len(raw)]]))
    )
    bad: dict[int, str] = {}
    try:
        # A GB18030 file may still hold UTF-8 lines: only a chunk that is all UTF-8 is
        # decoded in one go; any other chunk line by line.
        text = raw.decode("utf-8")
        lines = text.split("\n")
        if raw.endswith(b"\n"):
            lines.pop()
    except UnicodeDecodeError:
        lines = []
        for i in range(len(starts) - 1):
            piece = raw[starts[i] : starts[i + 1]].rstrip(b"\n")
            decoded = _decode_line(piece)
            if decoded is None:
                bad[i] = "line is not valid UTF-8 or GB18030 text"
                decoded = ""
            lines.append(decoded)
    for long_line in np.flatnonzero(np.diff(starts) > max_line + 2).tolist():
        bad[long_line] = f"line is longer than {max_line} bytes (FANZHA_MAX_RECORD_BYTES)"
        lines[long_line] = ""
    return TextChunk(raw, first_line, starts.astype(np.int64), lines, bad)


# --------------------------------------------------------------------------- NDJSON


def _json_scalar(value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [
            _json_scalar(v) if not isinstance(v, dict | list) else orjson.dumps(v).decode()
            for v in value
        ]
    raise TypeError("an object")


def _ndjson_slow(
    chunk: TextChunk, keep: Callable[[str], bool], source: str, opts: ReadOptions
) -> tuple[pa.Table, list[int], list[DeadLetter]]:
    """Parse line by line: precise reasons for the lines that are not JSON objects."""
    records: list[dict[str, object]] = []
    rows: list[int] = []
    letters: list[DeadLetter] = []
    for i, line in enumerate(chunk.lines):
        loc = f"line {chunk.first_line + i}"
        if i in chunk.bad_lines:
            letters.append(_letter(source, loc, chunk.bad_lines[i], chunk.line_bytes(i), opts))
            continue
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            reason = f"not valid JSON: {exc}"
            letters.append(_letter(source, loc, reason, chunk.line_bytes(i), opts))
            continue
        if not isinstance(obj, dict):
            reason = f"line is JSON {type(obj).__name__}, expected an object {{...}}"
            letters.append(_letter(source, loc, reason, chunk.line_bytes(i), opts))
            continue
        record: dict[str, object] = {}
        try:
            for key, value in obj.items():
                if keep(key):
                    record[key] = _json_scalar(value)
        except TypeError:
            reason = f"field {key!r} is a JSON object, expected a value"
            letters.append(_letter(source, loc, reason, chunk.line_bytes(i), opts))
            continue
        records.append(record)
        rows.append(i)
    return _table_from_records(records), rows, letters


def _table_from_records(records: list[dict[str, object]]) -> pa.Table:
    names: dict[str, None] = {}
    for rec in records:
        names.update(dict.fromkeys(rec))
    cols = {}
    for name in names:
        column = [rec.get(name) for rec in records]
        has_list = any(isinstance(v, list) for v in column)
        if has_list:
            column = [v if isinstance(v, list) or v is None else [v] for v in column]
            cols[name] = pa.array(column, pa.list_(pa.string()))
        else:
            cols[name] = pa.array(column, pa.string())
    return pa.table(cols) if cols else pa.table({"__empty__": pa.nulls(len(records))})


def _ndjson_fast(chunk: TextChunk, keep: Callable[[str], bool]) -> tuple[pa.Table, list[int]]:
    """Arrow's JSON reader over the whole chunk; raises if anything is unusual."""
    if chunk.bad_lines:
        raise ValueError("undecodable lines")
    if not _all_objects(chunk):
        raise ValueError("a line is not a JSON object")
    data = "\n".join(chunk.lines).encode("utf-8")
    opts = pajson.ReadOptions(use_threads=False, block_size=max(len(data) + 1, 1 << 16))
    table = pajson.read_json(io.BytesIO(data), read_options=opts)
    rows = [i for i, line in enumerate(chunk.lines) if line.strip()]
    if table.num_rows != len(rows):
        raise ValueError("row count mismatch")
    wanted = [c for c in table.column_names if keep(c)]
    table = table.select(wanted)
    for col in table.columns:
        if pa.types.is_struct(col.type) or pa.types.is_map(col.type):
            raise ValueError("nested object")
        if pa.types.is_list(col.type) and not _plain_list(col.type):
            raise ValueError("nested list")
    if not wanted:
        table = pa.table({"__empty__": pa.nulls(len(rows))})
    return table, rows


def _all_objects(chunk: TextChunk) -> bool:
    """Whether every non-empty line starts with ``{``.

    pyarrow's JSON reader crashes the process (SIGSEGV, pyarrow 26) when the first record is
    ``null`` and reads later ``null`` lines as empty records, so only chunks of objects take
    the fast path; the line-by-line path gives every other line its precise reason.
    """
    arr = np.frombuffer(chunk.raw, dtype=np.uint8)
    starts, ends = chunk.starts[:-1], chunk.starts[1:]
    first = arr[np.minimum(starts, max(len(arr) - 1, 0))] if len(arr) else np.zeros(0, np.uint8)
    empty = (ends - starts <= 1) | ((ends - starts == 2) & (first == 13))  # "\n" or "\r\n"
    return bool(np.all(empty | (first == ord("{"))))


def _plain_list(t: pa.DataType) -> bool:
    v = t.value_type
    return not (pa.types.is_struct(v) or pa.types.is_list(v) or pa.types.is_map(v))


def read_ndjson(path: Path, opts: ReadOptions, source: str) -> Iterator[RawBatch]:
    """Stream an NDJSON file (one JSON object per line)."""
    keep = _keeper(opts)
    for item in iter_text_chunks(path, opts, quote_aware=False, source=source):
        if isinstance(item, DeadLetter):
            yield _only_letters(source, "line", [item])
            continue
        try:
            table, rows = _ndjson_fast(item, keep)
            letters: list[DeadLetter] = []
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, TypeError):
            table, rows, letters = _ndjson_slow(item, keep, source, opts)
        yield _text_batch(table, rows, item, source, letters)


def _keeper(opts: ReadOptions) -> Callable[[str], bool]:
    wanted = opts.columns
    if wanted is None:
        return lambda name: len(name) <= 128
    return lambda name: name in wanted


def _text_batch(
    table: pa.Table, rows: list[int], chunk: TextChunk, source: str, letters: list[DeadLetter]
) -> RawBatch:
    idx = np.asarray(rows, dtype=np.int64)

    def raw_of(row: int) -> bytes:
        return chunk.line_bytes(int(idx[row]))

    return RawBatch(table, source, "line", idx + chunk.first_line, raw_of, letters)


def _only_letters(source: str, unit: str, letters: list[DeadLetter]) -> RawBatch:
    return RawBatch(
        pa.table({"__empty__": pa.nulls(0)}),
        source,
        unit,
        np.zeros(0, dtype=np.int64),
        lambda row: b"",
        letters,
    )


# --------------------------------------------------------------------------- CSV


DELIMITERS = (",", "\t", ";", "|")


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a header line: the most frequent of , TAB ; | (comma on a tie)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _csv_header(chunk: TextChunk, *, rename: bool = False) -> tuple[list[str], int, str]:
    """The header row (names trimmed, BOM removed; repeated names numbered when ``rename``),
    the lines it used, and its delimiter."""
    for i, line in enumerate(chunk.lines):
        if line.strip():
            delimiter = sniff_delimiter(line)
            try:
                names = next(csv.reader([line], delimiter=delimiter))
            except csv.Error as exc:  # e.g. a lone carriage return inside the line
                raise FileRejected(f"header line is not valid CSV: {exc}") from None
            names = [n.strip().lstrip("\ufeff") for n in names]
            if not any(names):
                break
            names = _unique(names, rename=rename)
            if "" in names:
                pos = names.index("") + 1
                raise FileRejected(f"header column {pos} has no name")
            return names, i + 1, delimiter
    raise FileRejected("file has no header line (expected column names on the first line)")


def _unique(names: list[str], *, rename: bool, where: str = "") -> list[str]:
    """A header's names, repeated ones numbered (``rename``) or refused."""
    if rename:
        names = _numbered(names)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FileRejected(f"{where}header has duplicate columns: {', '.join(dupes)}")
    return names


def _numbered(names: list[str]) -> list[str]:
    """Repeated names as ``X``, ``X.1``, ``X.2`` (pandas' convention), skipping a number
    the header already uses; empty names stay empty (refused later)."""
    taken = set(names)
    seen: set[str] = set()
    out = []
    for name in names:
        if name and name in seen:
            k = 1
            while f"{name}.{k}" in taken:
                k += 1
            name = f"{name}.{k}"
            taken.add(name)
        seen.add(name)
        out.append(name)
    return out


def read_csv(path: Path, opts: ReadOptions, source: str) -> Iterator[RawBatch]:
    """Stream a CSV file with a header line; quoted fields may span lines."""
    header: list[str] | None = None
    delimiter = ","
    for item in iter_text_chunks(path, opts, quote_aware=True, source=source):
        if isinstance(item, DeadLetter):
            yield _only_letters(source, "line", [item])
            continue
        skip = 0
        if header is None:
            if item.bad_lines and 0 in item.bad_lines:
                raise FileRejected("header line is not valid UTF-8 or GB18030 text")
            header, skip, delimiter = _csv_header(item, rename=opts.rename_duplicates)
        yield _csv_batch(item, header, skip, source, opts, delimiter)
    if header is None:  # no text at all (a BOM only)
        raise FileRejected("file has no header line (expected column names on the first line)")


def _csv_batch(
    chunk: TextChunk,
    header: list[str],
    skip: int,
    source: str,
    opts: ReadOptions,
    delimiter: str = ",",
) -> RawBatch:
    keep_idx = [j for j, name in enumerate(header) if _keeper(opts)(name)]
    columns: list[list[str | None]] = [[] for _ in keep_idx]
    first_lines: list[int] = []
    spans: list[tuple[int, int]] = []
    letters: list[DeadLetter] = []
    text = "\n".join(chunk.lines[skip:])
    reader = csv.reader(io.StringIO(text), strict=True, delimiter=delimiter)
    consumed = skip
    while True:
        start = consumed
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            consumed = skip + reader.line_num
            raw = chunk.line_bytes(start, consumed - 1)
            letters.append(
                _letter(
                    source, f"line {chunk.first_line + start}", f"malformed CSV: {exc}", raw, opts
                )
            )
            continue
        consumed = skip + reader.line_num
        bad = next((i for i in range(start, consumed) if i in chunk.bad_lines), None)
        loc = f"line {chunk.first_line + start}"
        raw_bytes = chunk.line_bytes(start, consumed - 1)
        if bad is not None:  # before the blank check: an undecodable line reads as blank
            letters.append(_letter(source, loc, chunk.bad_lines[bad], raw_bytes, opts))
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(header):
            reason = f"row has {len(row)} fields, the header has {len(header)}"
            letters.append(_letter(source, loc, reason, raw_bytes, opts))
            continue
        for col, j in zip(columns, keep_idx, strict=True):
            col.append(row[j])
        first_lines.append(start)
        spans.append((start, consumed - 1))
    names = [header[j] for j in keep_idx]
    table = pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, columns, strict=True)})
    if not names:
        table = pa.table({"__empty__": pa.nulls(len(first_lines))})

    def raw_of(row: int) -> bytes:
        return chunk.line_bytes(*spans[row])

    locs = np.asarray(first_lines, dtype=np.int64) + chunk.first_line
    return RawBatch(table, source, "line", locs, raw_of, letters)


# --------------------------------------------------------------------------- Parquet


def read_parquet(path: Path, opts: ReadOptions, source: str) -> Iterator[RawBatch]:
    """Stream a Parquet file in record batches; rows are located by 1-based row number."""
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileRejected(f"not a readable Parquet file: {exc}") from None
    names = pf.schema_arrow.names
    cols = [n for n in names if opts.columns is None or n in opts.columns]
    offset = 0
    try:
        for batch in pf.iter_batches(batch_size=opts.batch_rows, columns=cols or None):
            table = pa.Table.from_batches([batch])
            if not cols:
                table = pa.table({"__empty__": pa.nulls(batch.num_rows)})
            yield _parquet_batch(table, offset, source)
            offset += batch.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileRejected(f"Parquet file is damaged after row {offset}: {exc}") from None


def _parquet_batch(table: pa.Table, offset: int, source: str) -> RawBatch:
    def raw_of(row: int) -> bytes:
        record = table.slice(row, 1).to_pylist()[0]
        return orjson.dumps(record, default=str)

    locs = np.arange(offset + 1, offset + table.num_rows + 1, dtype=np.int64)
    return RawBatch(table, source, "row", locs, raw_of)


# --------------------------------------------------------------------------- spreadsheets


def read_sheets(path: Path, opts: ReadOptions, source: str) -> Iterator[RawBatch]:
    """Every sheet of a workbook with a header (:mod:`fanzha.ingest.sheets`), read like a
    CSV file: rows located as ``sheet NAME row N``; a row whose cell cannot be given as
    text (a long number that lost digits) is a dead letter of its own."""
    found = False
    try:
        for sheet in sheets.read_workbook(path):
            found = True
            yield from _sheet_batches(sheet, opts, source)
    except sheets.WorkbookError as exc:
        raise FileRejected(str(exc)) from None
    if not found:
        raise FileRejected("the workbook has no sheet with data")


def _sheet_batches(sheet: sheets.Sheet, opts: ReadOptions, source: str) -> Iterator[RawBatch]:
    unit = f"sheet {sheet.name} row"
    where = f"{unit} {sheet.header_row}: "
    header = _unique(sheet.header, rename=opts.rename_duplicates, where=where)
    keep = [j for j, name in enumerate(header) if _keeper(opts)(name)]
    rows: list[sheets.Row] = []
    for row in sheet.rows:
        rows.append(row)
        if len(rows) >= opts.batch_rows:
            yield _sheet_batch(rows, header, keep, unit, source, opts)
            rows = []
    if rows:
        yield _sheet_batch(rows, header, keep, unit, source, opts)


def _sheet_batch(
    rows: list[sheets.Row],
    header: list[str],
    keep: list[int],
    unit: str,
    source: str,
    opts: ReadOptions,
) -> RawBatch:
    letters = [
        _letter(source, f"{unit} {r.number}", r.problem, r.csv_line().encode(), opts)
        for r in rows
        if r.problem is not None
    ]
    good = [r for r in rows if r.problem is None]
    table = pa.table({header[j]: pa.array([r.cells[j] for r in good], pa.string()) for j in keep})
    if not keep:
        table = pa.table({"__empty__": pa.nulls(len(good))})

    def raw_of(row: int) -> bytes:
        return good[row].csv_line().encode()

    locs = np.asarray([r.number for r in good], dtype=np.int64)
    return RawBatch(table, source, unit, locs, raw_of, letters)


# --------------------------------------------------------------------------- dispatch

FORMATS = ("ndjson", "csv", "parquet", "iso20022", "sheet")

_SUFFIXES = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xml": "iso20022",
    **dict.fromkeys(sheets.SUFFIXES, "sheet"),
}


def guess_format(path: Path) -> str:
    """The format of a file from its name, or from its first bytes."""
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in _SUFFIXES:
            if _SUFFIXES[suffix] != "sheet" or sheets.is_workbook(path):
                return _SUFFIXES[suffix]
            break  # text saved as .xls (a CSV or TSV export): read by its content
    else:
        if sheets.is_workbook(path):
            return "sheet"
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped.startswith(b"<"):
        return "iso20022"
    if stripped.startswith(b"{"):
        return "ndjson"
    return "csv"


def file_size(path: Path) -> int:
    """Size of a file in bytes (0 for special files)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0
