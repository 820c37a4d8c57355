"""Spreadsheets read as rows of text: bank statements (银行流水) and police lists often arrive
as workbooks (``.xlsx``, ``.xlsm``, ``.xlsb``, legacy ``.xls``, ``.ods``), read with calamine.
Many online-banking "Excel" exports are really an HTML table saved as ``.xls``: each of its
tables is read as a sheet (lxml's HTML parser, no network); a text file saved under a
workbook's name is not a workbook (the CSV reader takes it).

Every sheet with data is read on its own. Its header is the first row (of the first
:data:`HEADER_SCAN` rows) with at least :data:`HEADER_SHARE` of the widest row's filled cells:
the title and query rows a bank puts above its table (户名、账号、起止日期) are left out (a
row as wide as that but with a number of six or more digits in a cell is a query row, not
names, unless no row is all names); rows keep their sheet row numbers. A header cell
without a name is called after its column (``column_G``).

Cells become the text a CSV export would hold: text as it is, whole numbers without ``.0``,
other numbers in their shortest exact form, dates and times in ISO 8601 (no zone: the
configured one applies), durations in seconds, ``true`` / ``false``. A whole number of 16 or
more digits is refused for its row (:class:`CellError`): a spreadsheet keeps 15 significant
digits, so a card or account number typed as a number has already lost its last digits and
only the sender's export as text can give them back.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from lxml.html import HtmlElement

SUFFIXES: Final = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
#: rows searched for the header
HEADER_SCAN: Final = 50
#: the header has at least this share of the widest row's filled cells (and two of them)
HEADER_SHARE: Final = 0.6
#: whole numbers from here on have lost digits in a spreadsheet (15 significant digits)
LOST_DIGITS: Final = 10**15
#: a workbook's parts may unpack to at most this many bytes (a sheet is parsed in memory)
MAX_UNPACKED: Final = 1 << 30
_OLE2: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DIGIT_RE: Final = re.compile(r"\d")
_CHARSET_RE: Final = re.compile(rb"charset\s*=\s*[\"']?([A-Za-z0-9_:.\-]+)", re.IGNORECASE)
_HTML_RE: Final = re.compile(rb"<(?:!doctype\s+html|html|table|meta)[\s>]", re.IGNORECASE)

Cell = int | float | str | bool | dt.time | dt.date | dt.datetime | dt.timedelta


class WorkbookError(ValueError):
    """A workbook that cannot be read at all (damaged, encrypted, not a workbook)."""


class CellError(ValueError):
    """A cell whose value cannot be given as the text it stood for."""


@dataclass(frozen=True)
class Row:
    """One row under the header: its sheet row number and its cells as text, or why not."""

    number: int
    cells: list[str]
    problem: str | None = None

    def csv_line(self) -> str:
        """The row as one CSV line (a cell's line breaks kept inside its quotes)."""
        return csv_line(self.cells)


@dataclass
class Sheet:
    """A sheet's header (names, its row number) and its rows under it, read lazily."""

    name: str
    header: list[str]
    header_row: int
    rows: Iterator[Row]


def is_workbook(path: Path) -> bool:
    """Whether ``path`` is a spreadsheet: an Office Open XML or OpenDocument archive or a
    legacy OLE2 file (by content, or by its name when it is damaged), or an HTML table
    saved under a workbook's name (what many online-banking "Excel" exports are). A text
    file under such a name is not (read it as CSV)."""
    kind = _content(path)
    if path.suffix.lower() in SUFFIXES:
        return kind != "text"
    return kind in ("ole2", "zip")


def _content(path: Path) -> str:
    """``ole2``, ``zip`` (a workbook archive), ``archive`` (another zip), ``html``, ``text``
    or ``missing``, from the first bytes."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return "missing"
    if head.startswith(_OLE2):
        return "ole2"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return "archive"
        workbook = {"xl/workbook.xml", "xl/workbook.bin", "content.xml"}
        return "zip" if names & workbook else "archive"
    if _HTML_RE.search(head.lstrip(codecs.BOM_UTF8)[:1024]):
        return "html"
    return "text" if head else "archive"


def cell_text(value: Cell) -> str:
    """A cell as the text a CSV export would hold (see the module's notes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, dt.timedelta):
        return _number(value.total_seconds())
    return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()


def _number(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise CellError(f"the number {value} is not finite")
    if value == int(value):
        whole = int(value)
        if abs(whole) >= LOST_DIGITS:
            raise CellError(
                f"the number {value:.16g} has 16 or more digits: a spreadsheet keeps 15, so"
                " a card or account number stored as a number has lost its last digits;"
                " export that column as text"
            )
        return str(whole)
    return repr(float(value))


def read_workbook(path: Path) -> Iterator[Sheet]:
    """The sheets of a workbook that have a header, in workbook order (an HTML "workbook":
    its tables, as ``table 1``, ``table 2`` …)."""
    content = _content(path)
    _check_size(path, content)
    if content == "html":
        yield from _html_tables(path)
        return
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        names = list(book.sheet_names)
    except (CalamineError, OSError, ValueError) as exc:
        raise WorkbookError(f"cannot read the workbook: {_why(exc)}") from None
    for name in names:
        try:
            sheet = book.get_sheet_by_name(name)
            start = sheet.start
            rows = iter(sheet.iter_rows())
        except (CalamineError, ValueError) as exc:
            raise WorkbookError(f"cannot read sheet {name!r}: {_why(exc)}") from None
        first_column = start[1] if start else 0
        found = _sheet(name, rows, first_column)
        if found is not None:
            yield found


def _check_size(path: Path, content: str) -> None:
    """Refuse a workbook that would take too much memory to read: an archive whose parts
    unpack to more than :data:`MAX_UNPACKED` bytes (a huge sheet, or a zip bomb), an HTML
    one larger than that (it is parsed whole)."""
    if content == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                size = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError):
            return  # the reader says what is wrong with it
    elif content == "html":
        size = path.stat().st_size
    else:
        return
    if size > MAX_UNPACKED:
        raise WorkbookError(
            f"the workbook unpacks to {size / 2**20:,.0f} MiB, more than the"
            f" {MAX_UNPACKED / 2**20:,.0f} MiB a workbook may take in memory:"
            " export it as CSV (read in bounded memory) instead"
        )


def _html_tables(path: Path) -> Iterator[Sheet]:
    """Each ``<table>`` of an HTML file as a sheet: a row's cells are its ``td`` / ``th``
    texts (a nested table is a table of its own, not cells of its parent's rows)."""
    import lxml.etree
    import lxml.html

    parser = lxml.html.HTMLParser(no_network=True, remove_comments=True)
    try:
        text = _html_text(path.read_bytes())
        root = lxml.html.document_fromstring(text, parser=parser)
    except (lxml.etree.LxmlError, OSError, ValueError) as exc:
        raise WorkbookError(f"cannot read the HTML workbook: {_why(exc)}") from None
    for k, table in enumerate(root.iter("table"), start=1):
        rows: list[list[Cell]] = [
            [" ".join(cell.text_content().split()) for cell in tr if cell.tag in ("td", "th")]
            for tr in _table_rows(table)
        ]
        width = max((len(r) for r in rows), default=0)
        padded: list[list[Cell]] = [r + [""] * (width - len(r)) for r in rows]
        found = _sheet(f"table {k}", iter(padded), 0)
        if found is not None:
            yield found


def _table_rows(table: HtmlElement) -> Iterator[HtmlElement]:
    """A table's own rows (directly, or in its head, bodies and foot), in order."""
    for part in table:
        if part.tag == "tr":
            yield part
        elif part.tag in ("thead", "tbody", "tfoot"):
            yield from (tr for tr in part if tr.tag == "tr")


def _html_text(data: bytes) -> str:
    """An HTML file's text: in the charset it declares (GB2312 and GBK read as their
    superset GB18030), else UTF-8, else GB18030 (what Chinese bank exports use)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    declared = _CHARSET_RE.search(data[:4096])
    if declared is not None:
        name = declared[1].decode("ascii").lower()
        name = "gb18030" if name in ("gb2312", "gbk", "gb_2312-80", "x-gbk") else name
        try:
            return data.decode(name, errors="replace")
        except LookupError:
            pass  # an unknown charset: guess as if none was declared
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def sheet_header(path: Path, name: str) -> list[str] | None:
    """The header of sheet ``name`` of a workbook (None when the workbook or the sheet is
    gone or has no header): what a retried row is read under."""
    try:
        return next((s.header for s in read_workbook(path) if s.name == name), None)
    except (WorkbookError, OSError):
        return None


def csv_line(cells: list[str]) -> str:
    """Cells as one CSV line (a cell's line breaks kept inside its quotes)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def _why(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _sheet(name: str, rows: Iterator[list[Cell]], first_column: int) -> Sheet | None:
    """The sheet's header and rows, or None when it has no header (no data)."""
    head = list(islice(rows, HEADER_SCAN))
    texts = [_texts(r) for r in head]
    at = header_index(texts)
    if at is None:
        return None
    header = [
        h.strip() or f"column_{_column_letter(first_column + j)}" for j, h in enumerate(texts[at])
    ]
    rest = chain(head[at + 1 :], rows)
    return Sheet(name, header, at + 1, _rows(rest, at + 2, len(header), first_column))


def _texts(row: list[Cell]) -> list[str]:
    """A row's cells as text for finding the header (a cell that cannot be given: empty)."""
    out = []
    for value in row:
        try:
            out.append(cell_text(value))
        except CellError:
            out.append("")
    return out


def header_index(rows: list[list[str]]) -> int | None:
    """The index of the header among a sheet's first rows (see the module's notes)."""
    counts = [sum(1 for c in r if c.strip()) for r in rows]
    widest = max(counts, default=0)
    if widest == 0:
        return None
    need = max(2, math.ceil(widest * HEADER_SHARE)) if widest >= 2 else 1
    wide = [i for i, n in enumerate(counts) if n >= need]
    # Column names hold no numbers: a query row (账号 6222…, 起止日期 2026-03-01 …) as wide
    # as the header is passed over for the first row of names after it.
    named = [i for i in wide if not any(len(_DIGIT_RE.findall(c)) >= 6 for c in rows[i])]
    return named[0] if named else wide[0]


def _rows(rows: Iterator[list[Cell]], number: int, width: int, first_column: int) -> Iterator[Row]:
    """Rows as text with their sheet row numbers; empty rows left out."""
    for k, values in enumerate(rows, start=number):
        cells: list[str] = []
        problem = None
        for j, value in enumerate(values):
            try:
                cells.append(cell_text(value))
            except CellError as exc:
                problem = problem or f"cell {_column_letter(first_column + j)}{k}: {exc}"
                cells.append(repr(value))
        if not any(c.strip() for c in cells):
            continue
        cells = (cells + [""] * width)[:width]
        yield Row(k, cells, problem)


def _column_letter(index: int) -> str:
    """A 0-based column index as a spreadsheet's letters (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
