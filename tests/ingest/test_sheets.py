"""Workbooks read as rows of text: cells, the header under a bank's title rows, sheets."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from factories import workbook
from hypothesis import given
from hypothesis import strategies as st

from fanzha.ingest.sheets import (
    CellError,
    WorkbookError,
    cell_text,
    header_index,
    is_workbook,
    read_workbook,
    sheet_header,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("6222021001123456789", "6222021001123456789"),
        (13800138000.0, "13800138000"),
        (12000.0, "12000"),
        (11950.5, "11950.5"),
        (0.1, "0.1"),
        (-3, "-3"),
        (10**15 - 1, "999999999999999"),
        (True, "true"),
        (dt.datetime(2026, 3, 1, 10, 1, 2), "2026-03-01 10:01:02"),
        (dt.date(2026, 3, 1), "2026-03-01"),
        (dt.time(9, 30), "09:30:00"),
        (dt.timedelta(minutes=5), "300"),
        ("", ""),
    ],
)
def test_cell_text(value: int | float | str | dt.date | dt.time | dt.timedelta, text: str) -> None:
    assert cell_text(value) == text


@pytest.mark.parametrize("value", [6.222021001123457e18, 10**15, -(10**16), float("nan")])
def test_a_number_that_lost_digits_is_refused(value: float) -> None:
    with pytest.raises(CellError):
        cell_text(value)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e14, max_value=1e14))
def test_numbers_read_back_exactly(value: float) -> None:
    assert float(cell_text(value)) == value


def test_header_index_skips_title_rows() -> None:
    rows = [
        ["", "", "", ""],
        ["某银行个人客户交易明细", "", "", ""],
        ["账号：6222…", "", "币种：人民币", ""],
        ["交易时间", "付款账号", "收款账号", "交易金额"],
        ["2026-03-01", "1", "2", "3"],
    ]
    assert header_index(rows) == 3
    query = ["账号", "6222021001123456789", "起止日期", "2026-03-01 至 2026-03-31"]
    assert header_index([query, rows[3], rows[4]]) == 1  # as wide, but it holds numbers
    dated = [["2026-03-01", "6222021001123456789"], ["2026-03-02", "6217001234000011112"]]
    assert header_index(dated) == 0  # no row of names: the first wide one
    assert header_index([["only"], ["1"]]) == 0  # one column: its first row
    assert header_index([["", ""], []]) is None


def test_read_workbook_rows_numbers_and_sheets(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "流水.xlsx",
        {
            "交易明细": [
                ["账号：6222021001123456789", None, "币种：人民币"],
                ["交易时间", "付款账号", None, "交易金额(元)"],
                [dt.datetime(2026, 3, 1, 10, 1, 2), "6222021001123456789", "x", 12000.0],
                [None, None, None, None],
                [dt.datetime(2026, 3, 1, 10, 5), 6.222021001123457e18, None, 11950.5],
            ],
            "空表": [],
            "二": [["a", "b"], ["1", "2"]],
        },
        title="某银行个人客户交易明细",
    )
    got = list(read_workbook(path))
    assert [s.name for s in got] == ["交易明细", "二"]  # a sheet without data is left out
    first = got[0]
    assert first.header == ["交易时间", "付款账号", "column_C", "交易金额(元)"]
    assert first.header_row == 3
    rows = list(first.rows)
    assert [r.number for r in rows] == [4, 6]  # the empty row 5 is left out
    assert rows[0].cells == ["2026-03-01 10:01:02", "6222021001123456789", "x", "12000"]
    assert rows[0].problem is None
    assert rows[1].problem is not None and rows[1].problem.startswith("cell B6: the number")
    assert [r.cells for r in got[1].rows] == [["1", "2"]]
    assert sheet_header(path, "二") == ["a", "b"]
    assert sheet_header(path, "gone") is None
    assert sheet_header(tmp_path / "gone.xlsx", "二") is None


def test_is_workbook_by_name_or_content(tmp_path: Path) -> None:
    book = workbook(tmp_path / "a.xlsx", {"s": [["a", "b"]]})
    renamed = tmp_path / "statement.dat"
    renamed.write_bytes(book.read_bytes())
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    text = tmp_path / "a.csv"
    text.write_text("a,b\n", encoding="utf-8")
    assert is_workbook(book) and is_workbook(renamed)
    assert not is_workbook(other_zip) and not is_workbook(text)
    assert not is_workbook(tmp_path / "missing.dat")


def test_a_damaged_workbook_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(WorkbookError, match=r"^cannot read the workbook: "):
        list(read_workbook(path))


HTML_XLS = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
</head><body><table border="1">
<tr><td colspan="4">某银行 账户交易明细</td></tr>
<thead><tr><th>交易时间</th><th>付款账号</th><th>收款账号</th><th>交易金额(元)</th></tr></thead>
<tbody>
<tr><td>2026-03-01 10:01:02</td><td>6222021001123456789</td><td>6217 0012</td>
<td>12,000.00</td></tr>
<tr><td>2026-03-01 10:05</td><td><b>6217001234000011112</b></td><td>x</td></tr>
<tr><td><table><tr><td>nested</td><td>a</td></tr><tr><td>n</td><td>1</td></tr></table></td></tr>
</tbody></table></body></html>
"""


@pytest.mark.parametrize("declared", [True, False])
def test_an_html_table_saved_as_xls(tmp_path: Path, declared: bool) -> None:
    """Online banking's "Excel" export: an HTML table (GB2312 declared, or undeclared GBK),
    read as a sheet; a nested table is a sheet of its own, never cells of its parent."""
    html = HTML_XLS if declared else HTML_XLS.replace(" charset=gb2312", "")
    path = tmp_path / "明细.xls"
    path.write_bytes(html.encode("gb18030"))
    assert is_workbook(path)
    first, nested = list(read_workbook(path))
    assert (first.name, first.header_row) == ("table 1", 2)
    assert first.header == ["交易时间", "付款账号", "收款账号", "交易金额(元)"]
    got = [(r.number, r.cells) for r in first.rows]
    assert got == [
        (3, ["2026-03-01 10:01:02", "6222021001123456789", "6217 0012", "12,000.00"]),
        (4, ["2026-03-01 10:05", "6217001234000011112", "x", ""]),
        (5, ["nestedan1", "", "", ""]),  # the outer cell's text, the nested table's too
    ]
    assert (nested.name, nested.header, [r.cells for r in nested.rows]) == (
        "table 2",
        ["nested", "a"],
        [["n", "1"]],
    )


def test_text_saved_as_xls_is_not_a_workbook(tmp_path: Path) -> None:
    from fanzha.ingest.readers import guess_format

    tsv = tmp_path / "export.xls"
    tsv.write_text("交易时间\t金额\n2026-03-01\t1\n", encoding="gb18030")
    assert not is_workbook(tsv) and guess_format(tsv) == "csv"
    book = workbook(tmp_path / "real.xls", {"s": [["a", "b"]]})  # xlsx content, .xls name
    assert is_workbook(book) and guess_format(book) == "sheet"


def test_a_workbook_too_large_to_hold_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet is parsed in memory: a workbook unpacking past the limit (a zip bomb too)
    is refused before it is read, with the way out."""
    import fanzha.ingest.sheets as sheets

    book = workbook(tmp_path / "big.xlsx", {"s": [["a", "b"], ["1", "2"]]})
    html = tmp_path / "big.xls"
    html.write_text("<table><tr><td>a</td><td>b</td></tr></table>" * 50, encoding="utf-8")
    monkeypatch.setattr(sheets, "MAX_UNPACKED", 1000)
    for path in (book, html):
        with pytest.raises(WorkbookError, match=r"unpacks to .* export it as CSV"):
            list(read_workbook(path))
