from __future__ import annotations

import io
import struct
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from hypothesis import given
from hypothesis import strategies as st

from outdial.imports import readers
from outdial.imports.failures import ImportFailure
from outdial.imports.readers import TEMPLATE_COLUMNS, cell_text, read_rows

TEMPLATE_HEADER = [
    "sessionId (Optional)",
    "called (Mandatory)",
    "caller (Optional)",
    "callData (Optional)",
    "customField (Optional)",
    "recycleTime (Optional)",
]


def write_xlsx(path: Path, rows: list[list[Any]], *, first_row: int = 0) -> Path:
    """Rows as Excel stores them: numbers as numbers, datetimes/dates/times with a date format."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    fmt = {
        datetime: book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        date: book.add_format({"num_format": "yyyy-mm-dd"}),
        time: book.add_format({"num_format": "hh:mm:ss"}),
    }
    for r, row in enumerate(rows, start=first_row):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, datetime | date | time):
                sheet.write_datetime(r, c, value, fmt[type(value)])
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write(r, c, value)
    book.close()
    return path


def read_all(path: Path, **kw: Any) -> tuple[list[str], list[list[str | None]]]:
    header, rows = read_rows(path, **kw)
    return header, list(rows)


def failure(path: Path, **kw: Any) -> str:
    with pytest.raises(ImportFailure) as caught:
        read_all(path, **kw)
    return caught.value.reason


# ---------------------------------------------------------------- xlsx cells


def test_xlsx_template_with_excel_numbers_and_dates(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx",
        [
            TEMPLATE_HEADER,
            [
                "s1",
                '[{"calledNo":"13800000001"}]',
                13800000001,
                '{"k":1}',
                20221103,
                datetime(2026, 11, 23, 9, 5, 7),
            ],
            [123 * 10**17, '[{"calledNo":13800000002}]', 0.5, None, 1e20, date(2026, 12, 1)],
            [None, '[{"calledNo":"3"}]', -0.0, True, 1.5e-7, time(8, 30, 0)],
        ],
    )
    header, rows = read_all(path)
    assert header == list(TEMPLATE_COLUMNS)
    assert rows == [
        ["s1", '[{"calledNo":"13800000001"}]', "13800000001", '{"k":1}', "20221103", "2026-11-23 09:05:07"],
        # 1.23e19 is an exact double (123 * 5**17 fits in 53 bits), so all its digits come back.
        [
            "12300000000000000000",
            '[{"calledNo":13800000002}]',
            "0.5",
            None,
            "100000000000000000000",
            "2026-12-01 00:00:00",
        ],
        [None, '[{"calledNo":"3"}]', "0", "TRUE", "0.00000015", "08:30:00"],
    ]


def test_xlsx_columns_in_another_order_and_optional_ones_missing(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx",
        [
            ["customField", "CALLED", "sessionid"],
            ["cf", '[{"calledNo":"1"}]', 7],
            [None, '[{"calledNo":"2"}]'],
        ],
    )
    _, rows = read_all(path)
    assert rows == [
        ["7", '[{"calledNo":"1"}]', None, None, "cf", None],
        [None, '[{"calledNo":"2"}]', None, None, None, None],
    ]


def test_xlsx_blank_rows_inside_are_kept_so_line_numbers_stay_true(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx",
        [["called"], ['[{"calledNo":"1"}]'], [None], ['[{"calledNo":"3"}]']],
        first_row=2,  # header on line 3
    )
    result = read_rows(path)
    assert result.first_line == 4
    assert list(result.rows) == [
        [None, '[{"calledNo":"1"}]', None, None, None, None],
        [None] * 6,
        [None, '[{"calledNo":"3"}]', None, None, None, None],
    ]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_text_is_plain_digits_that_read_back_as_the_same_number(value: float) -> None:
    text = cell_text(value)
    assert text is not None
    assert "e" not in text.lower()
    assert float(text) == value
    if value.is_integer():
        assert text == str(int(value))


def test_cell_text_of_each_kind() -> None:
    assert cell_text("") is None
    assert cell_text(None) is None
    assert cell_text(13800000001.0) == "13800000001"
    assert cell_text(False) == "FALSE"
    assert cell_text(42) == "42"
    assert cell_text(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05"


# ---------------------------------------------------------------- header


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["sessionId", "caller"], "mandatory column 'called' is missing"),
        (["called", "phone"], "unknown column 'phone'"),
        (["called", "Called (Mandatory)"], "column 'called' appears twice"),
        (["called", None, "caller"], "column B has no name"),
        (["called", "called_no"], "unknown column 'called_no'"),
    ],
)
def test_wrong_header_names_the_column(tmp_path: Path, header: list[Any], expected: str) -> None:
    path = write_xlsx(tmp_path / "h.xlsx", [header, ["x", "y", "z"]])
    assert expected in failure(path)


def test_header_tolerates_notes_case_spaces_and_trailing_empty_cells() -> None:
    index = readers.map_header([" SessionID ", "called（必填）", "caller (optional)", None, ""])
    assert index == [0, 1, 2, -1, -1, -1]


# ---------------------------------------------------------------- limits


def test_record_limit_is_checked_before_any_row(tmp_path: Path) -> None:
    rows: list[list[Any]] = [["called"]] + [[f'[{{"calledNo":"{i}"}}]'] for i in range(4)]
    path = write_xlsx(tmp_path / "a.xlsx", rows)
    assert "holds 4 records; at most 3" in failure(path, max_records=3)
    assert len(read_all(path, max_records=4)[1]) == 4


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_blank_lines_between_records_do_not_count_toward_the_limit(suffix: str, tmp_path: Path) -> None:
    # 4 records over 7 lines after the header: two blank lines between them, one at the end.
    called = [f'[{{"calledNo":"{i}"}}]' for i in range(4)]
    lines: list[list[Any]] = [["called"], [called[0]], [], [called[1]], [], [called[2]], [called[3]], []]
    path = tmp_path / f"a.{suffix}"
    if suffix == "xlsx":
        write_xlsx(path, lines)
    else:
        path.write_text("".join((line[0].replace('"', '""').join('""') if line else "") + "\n" for line in lines))
    records = [row for row in read_all(path, max_records=4)[1] if any(row)]
    assert [row[1] for row in records] == called
    assert "holds 4 records; at most 3" in failure(path, max_records=3)


def test_header_only_file_fails(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", [TEMPLATE_HEADER])
    assert "no records" in failure(path)


# ---------------------------------------------------------------- not a workbook


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def test_png_renamed_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "photo.xlsx"
    path.write_bytes(PNG)
    assert failure(path) == "photo.xlsx is not an .xlsx workbook: it is a PNG image"


def test_empty_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"")
    assert failure(path) == "a.xlsx is empty"


def test_truncated_archive_is_damaged(tmp_path: Path) -> None:
    good = write_xlsx(tmp_path / "good.xlsx", [["called"], ["x"]]).read_bytes()
    path = tmp_path / "a.xlsx"
    path.write_bytes(good[: len(good) // 2])
    assert "damaged .xlsx archive" in failure(path)


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    assert "is a zip archive but not an Excel workbook" in failure(path)


def _bomb(path: Path, data: bytes, declared: int) -> Path:
    """A workbook-looking zip whose one big part holds `data` but whose headers declare `declared` bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", data)
    raw = bytearray(buf.getvalue())
    name = b"xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        local = z.getinfo(name.decode()).header_offset
    struct.pack_into("<I", raw, local + 22, declared)  # local header: uncompressed size
    central = raw.index(b"PK\x01\x02", raw.index(b"PK\x01\x02"))
    while raw[central + 46 : central + 46 + len(name)] != name:
        central = raw.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", raw, central + 24, declared)  # central directory: uncompressed size
    path.write_bytes(bytes(raw))
    return path


def test_zip_bomb_refused_from_its_directory_without_inflating(tmp_path: Path) -> None:
    # The part really holds 2 MiB of zeros, but claims 4 GiB: refused before a byte is inflated
    # (inflating would instead fail on the size/CRC mismatch with a "damaged" message).
    path = _bomb(tmp_path / "bomb.xlsx", b"\x00" * (2 * 1024 * 1024), 0xFFFF0000)
    reason = failure(path)
    assert "refused as a zip bomb" in reason


def test_high_compression_ratio_refused(tmp_path: Path) -> None:
    zeros = 8 * 1024 * 1024
    path = tmp_path / "ratio.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b" " * zeros)  # deflates about 1000 times
    assert "times; refused as a zip bomb" in failure(path)


def test_directory_lying_small_is_refused_as_damaged(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "liar.xlsx", b"<x/>" * 100_000, 1000)
    assert "damaged .xlsx archive" in failure(path)


# ---------------------------------------------------------------- csv


def write_csv(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_with_bom_and_suffixed_header(tmp_path: Path) -> None:
    text = (
        ",".join(TEMPLATE_HEADER) + '\r\ns1,"[{""calledNo"":""1""}]",,"{""a"":1}",cf,2026-11-23 09:00:00\r\n'
    )
    path = write_csv(tmp_path / "a.CSV", text, encoding="utf-8-sig")
    header, rows = read_all(path)
    assert header == list(TEMPLATE_COLUMNS)
    assert rows == [["s1", '[{"calledNo":"1"}]', None, '{"a":1}', "cf", "2026-11-23 09:00:00"]]


def test_csv_without_bom_semicolons_short_rows_and_blank_lines(tmp_path: Path) -> None:
    text = "called;caller\n1;2\n\n3\n\n\n"
    path = write_csv(tmp_path / "a.csv", text)
    result = read_rows(path)
    assert result.first_line == 2
    assert list(result.rows) == [
        [None, "1", "2", None, None, None],
        [None] * 6,
        [None, "3", None, None, None, None],
    ]


def test_csv_quoted_newlines_count_as_one_record(tmp_path: Path) -> None:
    # 5 newlines after the header but only 2 records: the exact count decides.
    text = 'called,callData\n1,"a\nb\nc"\n2,"d\ne"\n'
    path = write_csv(tmp_path / "a.csv", text)
    assert read_all(path, max_records=2)[1] == [
        [None, "1", None, "a\nb\nc", None, None],
        [None, "2", None, "d\ne", None, None],
    ]
    assert "holds 2 records; at most 1" in failure(path, max_records=1)


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", "called,caller\n1,张三\n", encoding="gbk")
    assert "is not UTF-8 text" in failure(path)


def test_png_renamed_csv(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(PNG)
    assert "not" in failure(path)


def test_csv_wrong_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", "phone,caller\n1,2\n")
    assert "unknown column 'phone'" in failure(path)


def test_format_follows_the_given_name_then_the_content(tmp_path: Path) -> None:
    book = write_xlsx(tmp_path / "src.xlsx", [["called"], ["1"]]).read_bytes()
    download = tmp_path / "file"  # a download saved without its extension
    download.write_bytes(book)
    assert read_all(download)[1] == [[None, "1", None, None, None, None]]  # a zip: read as .xlsx
    assert "demo.csv is not a text file" in failure(download, name="demo.csv")  # the name decides
    download.write_bytes(b"called\n2\n")
    assert read_all(download)[1] == [[None, "2", None, None, None, None]]  # not a zip: read as .csv
    assert failure(download, name="demo.xlsx") == "demo.xlsx is not an .xlsx workbook"


def test_same_rows_from_xlsx_and_csv(tmp_path: Path) -> None:
    rows = [[f"s{i}", f'[{{"calledNo":"1380000{i:04d}"}}]', None, None, f"b{i % 3}", None] for i in range(50)]
    xlsx = write_xlsx(tmp_path / "a.xlsx", [list(TEMPLATE_COLUMNS)] + rows)
    lines = [",".join(TEMPLATE_COLUMNS)] + [
        ",".join("" if c is None else '"' + c.replace('"', '""') + '"' for c in r) for r in rows
    ]
    csv_path = write_csv(tmp_path / "a.csv", "\n".join(lines) + "\n")
    assert read_all(xlsx)[1] == read_all(csv_path)[1] == rows
