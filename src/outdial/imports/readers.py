"""Read an outbound call data file (.xlsx or .csv) into raw cells, one list per record.

The rows are not validated here (calldata/records.py does that); this module only makes sure the file is
what it claims to be, the header matches the template, and the cells come back as the text a person sees:

- Rows always have six cells in TEMPLATE_COLUMNS order, whatever the file's column order; a column the
  file leaves out (all but `called` are optional) is None in every row. An empty cell is None.
- Excel keeps every number as a float: 13800000001.0 comes back as "13800000001", 1e20 as
  "100000000000000000000", 0.5 as "0.5" (never exponent notation). Date cells come back as
  "yyyy-MM-dd HH:mm:ss" (a date alone gets 00:00:00), time cells as "HH:mm:ss", booleans as TRUE/FALSE.
- The header is the first non-empty row. A header cell matches a template column when, with surrounding
  spaces and a trailing parenthesised note removed ("called (Mandatory)", "called（必填）"), it equals
  the column name ignoring case. An unknown, repeated or unnamed column, or a missing `called`, fails the
  whole file and the reason names the column.
- Blank lines between records are kept as rows of None, so a row's line number (`first_line` + its
  index) is its line in the file; blank lines after the last record are dropped.
- More than MAX_RECORDS records fails the whole file ("A maximum of 500,000 records can be imported
  using a file at a time"), checked before the first row is returned.
- .xlsx: only the first sheet is read. Before calamine opens it, the file must be a zip archive whose
  declared sizes stay under MAX_UNCOMPRESSED_BYTES in total and MAX_COMPRESSION_RATIO per member (a zip
  bomb is refused from its directory alone); then every member is inflated once in small chunks to check
  its CRC, which refuses an archive whose directory lies about its sizes, with memory bounded by the chunk.
- The format follows the extension of `name` (the file's real name) or of the path; without either, a
  zip archive is read as .xlsx and anything else as .csv.
- .csv: UTF-8 with or without a byte-order mark; comma, semicolon or tab separated (the one that makes
  the header match); cells past the header's width are ignored.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import Any

from outdial.imports.failures import ImportFailure

TEMPLATE_COLUMNS: tuple[str, ...] = (
    "sessionId",
    "called",
    "caller",
    "callData",
    "customField",
    "recycleTime",
)
MANDATORY_COLUMNS = ("called",)
MAX_RECORDS = 500_000

MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024  # a full 500,000-record workbook inflates to ~150 MB
MAX_COMPRESSION_RATIO = 200  # Excel's XML deflates 10-40x; zip bombs reach 1000x
RATIO_CHECK_FROM_BYTES = 1024 * 1024  # tiny members may compress oddly well and cannot hurt
MAX_MEMBERS = 10_000
INFLATE_CHUNK = 1024 * 1024
TEXT_CHUNK = 256 * 1024  # a .csv's text is decoded this much at a time (read_csv_stream)

_BY_KEY = {name.lower(): name for name in TEMPLATE_COLUMNS}
_NOTE = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")
_STRIP = " \t\r\n\u00a0\u3000\ufeff"


@dataclass
class SheetRows:
    """A file's records. Unpacks as `header, rows = read_rows(path)`.

    header: TEMPLATE_COLUMNS as a list (the order of every row's cells).
    file_header: the header row as written in the file.
    rows: lazy iterator of lists of six `str | None` cells.
    first_line: the file's line number (1-based) of the first record.
    raw_rows: for a .csv whose header is the template's six columns in order, the same records as the
        csv module's rows ("" for an empty cell, [] for a blank line, any width); for a workbook whose
        header is exactly those six columns, its rows as text cells ("" when empty). It shares one
        stream with `rows` (read one or the other); `shape` turns such a row into what `rows` yields.
        For the import's fast path (imports/fastrows.py); None otherwise.
    plain_text: with raw_rows, [True] while every byte of the file read so far (after a BOM) is
        printable ASCII other than the backslash, or CR or LF. The bytes are checked as they are read,
        before any row made of them is returned, so while it holds the cells of the rows returned need
        no character check of their own except for CR and LF (a quoted cell may hold a line break).
    """

    header: list[str]
    file_header: list[str]
    rows: Iterator[list[str | None]]
    first_line: int
    raw_rows: Iterator[list[str]] | None = None
    shape: Callable[[list[Any]], list[str | None]] | None = None
    plain_text: list[bool] | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.header, self.rows))


def read_rows(path: str | Path, *, name: str | None = None, max_records: int = MAX_RECORDS) -> SheetRows:
    """Open an .xlsx or .csv call data file. `name` is the file's real name (e.g. the remote fileName
    when the download was saved under another name): its extension decides the format and it is the
    name the reasons use. Without a known extension, a zip archive is read as .xlsx, anything else as
    .csv."""
    path = Path(path)
    label = name or path.name
    suffix = Path(label).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        suffix = Path(path).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        with path.open("rb") as f:
            suffix = ".xlsx" if f.read(4) == b"PK\x03\x04" else ".csv"
    if suffix == ".xlsx":
        return _read_xlsx(path, max_records, label)
    return _read_csv(path, max_records, label)


# ---------------------------------------------------------------- header


def header_key(cell: str) -> str:
    """A header cell reduced to what is compared: no surrounding spaces, no trailing note, lower case."""
    text = cell.strip(_STRIP)
    text = _NOTE.sub("", text)
    return text.strip(_STRIP).lower()


def map_header(cells: list[Any]) -> list[int]:
    """For each template column, the index of its cell in the file's rows, or -1 when absent."""
    texts = ["" if c is None else str(c) for c in cells]
    while texts and not texts[-1].strip(_STRIP):
        texts.pop()  # trailing empty header cells are not columns
    positions: dict[str, int] = {}
    for index, text in enumerate(texts):
        key = header_key(text)
        if not key:
            raise ImportFailure(f"header: column {_column_letter(index)} has no name")
        name = _BY_KEY.get(key)
        if name is None:
            expected = ", ".join(TEMPLATE_COLUMNS)
            raise ImportFailure(
                f"header: unknown column {text.strip()!r} (the template's columns are {expected})"
            )
        if name in positions:
            raise ImportFailure(f"header: column {name!r} appears twice")
        positions[name] = index
    for name in MANDATORY_COLUMNS:
        if name not in positions:
            raise ImportFailure(f"header: the mandatory column {name!r} is missing")
    return [positions.get(name, -1) for name in TEMPLATE_COLUMNS]


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# ---------------------------------------------------------------- cells


def _number_text(value: float) -> str:
    if value.is_integer():
        return str(int(value))  # also turns -0.0 into "0"
    return format(Decimal(repr(value)), "f")  # shortest round-trip digits, no exponent


def cell_text(value: Any) -> str | None:
    """One spreadsheet value as the text a person sees in the cell (None when empty)."""
    if value is None:
        return None
    cls = value.__class__
    if cls is str:
        return value or None
    if cls is float:
        return _number_text(value)
    if cls is bool:
        return "TRUE" if value else "FALSE"
    if cls is int:
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d 00:00:00")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(value)


_MEMO_LIMIT = 4096


def _memo_cell_text() -> Callable[[Any], str | None]:
    """cell_text, remembering the text of numbers and dates: a file's callers and recycle times repeat.
    Only floats and datetimes are kept (True == 1 == 1.0 as dict keys, but their texts differ), and at
    most _MEMO_LIMIT of them (unique numbers such as session ids fill it and then pass through)."""
    memo: dict[Any, str | None] = {}

    def text(value: Any) -> str | None:
        cls = value.__class__
        if cls is not float and cls is not datetime:
            return cell_text(value)
        found = memo.get(value)
        if found is None:
            found = cell_text(value)
            if len(memo) < _MEMO_LIMIT:
                memo[value] = found
        return found

    return text


def _row_shaper(index: list[int], width: int) -> Callable[[list[Any]], list[str | None]]:
    """The cheapest function that turns a file row into six template-ordered text cells."""
    conv = _memo_cell_text()
    if index == list(range(len(TEMPLATE_COLUMNS))) and width == len(TEMPLATE_COLUMNS):

        def shape_same(row: list[Any]) -> list[str | None]:
            # The common case: the template's own layout; strings (almost every cell) cost one check.
            return [(c or None) if c.__class__ is str else conv(c) for c in row]

        return shape_same

    def shape_mapped(row: list[Any]) -> list[str | None]:
        n = len(row)
        out: list[str | None] = []
        for i in index:
            c = row[i] if 0 <= i < n else None
            out.append((c or None) if c.__class__ is str else conv(c))
        return out

    if width == -1 and index == list(range(len(TEMPLATE_COLUMNS))):

        def shape_text(row: list[Any]) -> list[str | None]:
            # CSV in the template's layout: every cell is already text; a row of another width (short,
            # or with cells past the header) is mapped.
            return [c or None for c in row] if len(row) == 6 else shape_mapped(row)

        return shape_text

    return shape_mapped


def _count_error(count: int, limit: int) -> ImportFailure:
    return ImportFailure(
        f"the file holds {count} records; at most {limit} can be imported from one file (split the file)"
    )


# ---------------------------------------------------------------- xlsx


_NOT_XLSX = [
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 (.xls) or password-protected workbook; save it as .xlsx"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
]


def check_xlsx_archive(path: Path, label: str = "") -> None:
    """Refuse anything but a sound, reasonably sized zip archive holding a workbook (see module doc)."""
    label = label or path.name
    with path.open("rb") as f:
        magic = f.read(4)
    if not magic:
        raise ImportFailure(f"{label} is empty")
    if magic != b"PK\x03\x04":
        what = next((name for prefix, name in _NOT_XLSX if magic.startswith(prefix)), None)
        raise ImportFailure(f"{label} is not an .xlsx workbook" + (f": it is {what}" if what else ""))
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise ImportFailure(f"{label}: the archive holds {len(members)} parts; refused")
            names = {m.filename for m in members}
            if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
                raise ImportFailure(f"{label} is a zip archive but not an Excel workbook")
            if "xl/workbook.bin" in names:
                raise ImportFailure(f"{label} is a binary workbook (.xlsb); save it as .xlsx")
            total = 0
            for m in members:
                if m.flag_bits & 0x1:
                    raise ImportFailure(f"{label} is encrypted; save it without a password")
                total += m.file_size
                ratio = m.file_size / max(m.compress_size, 1)
                if m.file_size > RATIO_CHECK_FROM_BYTES and ratio > MAX_COMPRESSION_RATIO:
                    raise ImportFailure(
                        f"{label}: part {m.filename} would inflate {ratio:.0f} times; refused as a zip bomb"
                    )
            if total > MAX_UNCOMPRESSED_BYTES:
                raise ImportFailure(
                    f"{label} would inflate to {total} bytes (limit {MAX_UNCOMPRESSED_BYTES}); "
                    "refused as a zip bomb"
                )
            # Inflate each part once, in small chunks: zipfile stops at the declared size and checks the
            # CRC, so a directory that lies about sizes is refused here instead of inside calamine.
            for m in members:
                with archive.open(m) as part:
                    while part.read(INFLATE_CHUNK):
                        pass
    except ImportFailure:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        EOFError,
        OSError,
        ValueError,
    ) as exc:
        raise ImportFailure(f"{label} is a damaged .xlsx archive ({exc})") from None
    except Exception as exc:  # zlib.error and friends: the archive is damaged whatever the cause
        raise ImportFailure(f"{label} is a damaged .xlsx archive ({type(exc).__name__}: {exc})") from None


def _read_xlsx(path: Path, max_records: int, label: str = "") -> SheetRows:
    label = label or path.name
    import python_calamine

    check_xlsx_archive(path, label)
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        if not workbook.sheet_names:
            raise ImportFailure(f"{label} has no sheet")
        sheet = workbook.get_sheet_by_index(0)
        end = sheet.end
        cells = sheet.iter_rows()  # from the sheet's first line, blank leading lines included
        header_at = 0
        file_header = None
        if end is not None:
            for row in cells:
                if any(c != "" for c in row):
                    file_header = row
                    break
                header_at += 1
    except ImportFailure:
        raise
    except Exception as exc:  # calamine's errors (zip, XML, password) all mean the same to the user
        raise ImportFailure(f"{label} cannot be read as a workbook ({type(exc).__name__}: {exc})") from None
    if file_header is None or end is None:
        raise ImportFailure(f"{label}: the first sheet is empty (no header row)")
    index = map_header(file_header)
    records = end[0] - header_at  # the sheet's range ends at its last non-empty line
    if records > max_records:
        # Lines, not records: a blank line between records is none. Counted only when it matters.
        records = sum(1 for row in islice(sheet.iter_rows(), header_at + 1, None) if any(c != "" for c in row))
        if records > max_records:
            raise _count_error(records, max_records)
    if records <= 0:
        raise ImportFailure(f"{label} has a header but no records")
    shape = _row_shaper(index, len(file_header))
    first_line = header_at + 2
    rows = _xlsx_rows(cells, shape, label)
    raw_rows = None
    if index == list(range(len(TEMPLATE_COLUMNS))) and len(file_header) == len(TEMPLATE_COLUMNS):
        # The template's own layout: the import's fast path takes the cells as text, "" when empty (as
        # the csv module gives them), and shapes only the rows it leaves to the validator.
        raw_rows = _xlsx_rows(cells, _xlsx_text_cells(), label)
    return SheetRows(
        header=list(TEMPLATE_COLUMNS),
        file_header=[cell_text(c) or "" for c in file_header],
        rows=rows,
        first_line=first_line,
        raw_rows=raw_rows,
        shape=_empty_as_none if raw_rows is not None else None,
    )


def _xlsx_rows(cells: Iterator[list[Any]], convert: Callable[[list[Any]], Any], name: str) -> Iterator[Any]:
    try:
        yield from map(convert, cells)
    except Exception as exc:
        raise ImportFailure(f"{name} cannot be read as a workbook ({type(exc).__name__}: {exc})") from None


def _xlsx_text_cells() -> Callable[[list[Any]], list[str]]:
    """A workbook row as the text each cell shows ("" when empty): the cells of _row_shaper's rows,
    with "" for None."""
    conv = _memo_cell_text()

    def text_cells(row: list[Any]) -> list[str]:
        return [c if c.__class__ is str else (conv(c) or "") for c in row]

    return text_cells


def _empty_as_none(row: list[str]) -> list[str | None]:
    """What SheetRows.rows gives for a row of _xlsx_text_cells (a workbook in the template's layout)."""
    return [c or None for c in row]


# ---------------------------------------------------------------- csv


# The bytes of SheetRows.plain_text: printable ASCII but the backslash, and CR and LF
_PLAIN_BYTES = bytes(range(0x20, 0x7F)).replace(b"\\", b"") + b"\r\n"


def _plain(chunk: bytes, offset: int) -> bool:
    """Whether the chunk (at `offset` in its file) holds only _PLAIN_BYTES, a leading BOM aside."""
    if offset == 0 and chunk.startswith(codecs.BOM_UTF8):
        chunk = chunk[len(codecs.BOM_UTF8) :]
    return not chunk.translate(None, _PLAIN_BYTES)


class _TextCheck:
    """A .csv's bytes checked as they pass, in order (UTF-8, no NUL, not empty), with the reasons the
    user gets, and whether they are plain text so far (SheetRows.plain_text). One for a file on disk
    (_scan_csv) and one for a file read while it downloads (_CheckedPipe)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.offset = 0
        self.plain_text = [True]

    def chunk(self, chunk: bytes) -> None:
        if self.plain_text[0] and not _plain(chunk, self.offset):
            self.plain_text[0] = False
        if b"\x00" in chunk:
            raise ImportFailure(f"{self.label} is not a text file (it holds NUL bytes)")
        try:
            # ASCII is UTF-8 (no need to decode it) unless it follows an unfinished character
            if not chunk.isascii() or self.decoder.getstate()[0]:
                self.decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise ImportFailure(
                f"{self.label} is not UTF-8 text (byte {self.offset + exc.start}); save it as 'CSV UTF-8'"
            ) from None
        self.offset += len(chunk)

    def end(self) -> None:
        if self.offset == 0:
            raise ImportFailure(f"{self.label} is empty")
        try:
            self.decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportFailure(f"{self.label} is not UTF-8 text (it ends inside a character)") from None


def _scan_csv(path: Path, label: str = "") -> tuple[int, bool]:
    """Check the file is UTF-8 text; return an upper bound of its lines and whether it is plain text
    (SheetRows.plain_text), reading 1 MiB at a time."""
    check = _TextCheck(label or path.name)
    lines = 0
    last = b""
    with path.open("rb") as f:
        while chunk := f.read(INFLATE_CHUNK):
            check.chunk(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    check.end()
    return lines + (0 if last == b"\n" else 1), check.plain_text[0]


def _csv_dialect(header_line: str) -> str:
    """The separator that makes the header a template header: comma unless only another one fits."""
    best, best_known = ",", -1
    for sep in (",", ";", "\t"):
        keys = [header_key(c) for c in next(csv.reader([header_line], delimiter=sep), [])]
        known = sum(1 for k in keys if k in _BY_KEY)
        if known > best_known:
            best, best_known = sep, known
    return best


def _csv_records(path: Path, sep: str, label: str = "", header_at: int = 0) -> Iterator[list[str]]:
    """Raw csv rows after the header (the file's line `header_at` + 1: the lines before it are blank,
    one csv row each); blank rows are kept (as []) except trailing ones."""
    label = label or path.name
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        f._CHUNK_SIZE = TEXT_CHUNK  # type: ignore[attr-defined]  # as read_csv_stream
        reader = csv.reader(f, delimiter=sep)

        def failure(exc: csv.Error) -> ImportFailure:
            return _not_valid_csv(label, reader.line_num, exc)

        try:
            # By count, not by content: a line before the header such as " ," is blank to the header's
            # search but a row of spaces to the csv module (the header would become a record).
            for _ in islice(reader, header_at + 1):
                pass
        except csv.Error as exc:
            raise failure(exc) from None
        yield from _without_trailing_blanks(reader, failure)


def _not_valid_csv(label: str, line: int, exc: csv.Error) -> ImportFailure:
    return ImportFailure(f"{label}: line {line} is not valid CSV ({exc})")


def _without_trailing_blanks(
    reader: Any, failure: Callable[[csv.Error], ImportFailure], blanks: list[int] | None = None
) -> Iterator[list[str]]:
    """The csv reader's rows, a blank one as [], except the blank rows at the end; a csv.Error becomes
    failure(error). `blanks[0]` counts the blank rows given so far. One generator between the csv module
    and the import (each layer costs ~0.03 s per 500,000 rows)."""
    pending = 0
    given = blanks if blanks is not None else [0]
    try:
        for row in reader:
            if not row or not any(row):
                pending += 1
                continue
            given[0] += pending
            while pending:
                pending -= 1
                yield []
            yield row
    except csv.Error as exc:
        raise failure(exc) from None


def _header_line(lines: Iterable[str], label: str) -> tuple[str, int]:
    """The first line with something in it (the header), and how many blank lines came before it."""
    for skipped, line in enumerate(lines):
        if line.strip(_STRIP.replace("\ufeff", "") + ",;"):
            return line, skipped
    raise ImportFailure(f"{label} is empty (no header row)")


def _csv_sheet(
    rows: Iterator[list[str]],
    index: list[int],
    file_header: list[str],
    skipped: int,
    label: str,
    plain_text: list[bool],
) -> SheetRows:
    """The SheetRows of a csv's raw records (after its header), once it is known to hold one."""
    first = next(rows, None)
    if first is None:
        raise ImportFailure(f"{label} has a header but no records")
    shape = _row_shaper(index, -1)  # csv rows vary in width, and all their cells are text
    raw = chain((first,), rows)
    return SheetRows(
        header=list(TEMPLATE_COLUMNS),
        file_header=file_header,
        rows=map(shape, raw),
        first_line=skipped + 2,
        raw_rows=raw if index == list(range(len(TEMPLATE_COLUMNS))) else None,
        shape=shape,
        plain_text=plain_text,
    )


def _read_csv(path: Path, max_records: int, label: str = "") -> SheetRows:
    label = label or path.name
    line_bound, plain = _scan_csv(path, label)
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        header_line, skipped = _header_line(f, label)
    sep = _csv_dialect(header_line)
    file_header = next(csv.reader([header_line], delimiter=sep))
    index = map_header(file_header)
    if line_bound - 1 - skipped > max_records:
        # Only an upper bound (quoted cells may span lines): count the records themselves.
        count = sum(1 for row in _csv_records(path, sep, label, skipped) if row)  # a blank line is none
        if count > max_records:
            raise _count_error(count, max_records)
    return _csv_sheet(_csv_records(path, sep, label, skipped), index, file_header, skipped, label, [plain])


# ---------------------------------------------------------------- csv, while it arrives


class _CheckedPipe(io.RawIOBase):
    """The bytes of a file descriptor (a pipe the fetch writes into), checked as _scan_csv checks a
    whole file (_TextCheck: the same checks and reasons), as they pass."""

    def __init__(self, fd: int, label: str) -> None:
        self.fd = fd
        self.check = _TextCheck(label)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = os.read(self.fd, len(buffer))
        if not chunk:
            self.check.end()
            return 0
        self.check.chunk(chunk)
        size = len(chunk)
        buffer[:size] = chunk
        return size


def read_csv_stream(fd: int, label: str, *, max_records: int = MAX_RECORDS) -> SheetRows:
    """A .csv read from a file descriptor while it arrives (the import's fetch writes the file into a
    pipe): the same rows, rules and reasons as read_rows, except that the checks which read the whole
    file first (UTF-8, NUL, the record count) happen as the rows pass, so the iterator of rows may raise
    them after some rows were returned (the import stores nothing then: its transaction rolls back).
    This call reads the header and the first record; the descriptor is not closed."""
    checked = _CheckedPipe(fd, label)
    raw = io.BufferedReader(checked, INFLATE_CHUNK)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    # TextIOWrapper asks for 8 KiB at a time: 9,200 reads of the pipe for 75 MB, and the reader waiting
    # on the fetch between them (~0.4 s per 500,000 rows); 256 KiB halves the wait, 13-19% off the pass.
    text._CHUNK_SIZE = TEXT_CHUNK  # type: ignore[attr-defined]
    header_line, skipped = _header_line(text, label)
    sep = _csv_dialect(header_line)
    file_header = next(csv.reader([header_line], delimiter=sep))
    index = map_header(file_header)
    blanks = [0]
    rows = _limited(_stream_records(text, sep, label, skipped + 1, blanks), max_records, blanks)
    return _csv_sheet(rows, index, file_header, skipped, label, checked.check.plain_text)


def _stream_records(
    text: io.TextIOWrapper, sep: str, label: str, lines_before: int, blanks: list[int]
) -> Iterator[list[str]]:
    """_csv_records for a stream positioned after the header line; blanks[0] counts the blank rows."""
    reader = csv.reader(text, delimiter=sep)

    def failure(exc: csv.Error) -> ImportFailure:
        return _not_valid_csv(label, reader.line_num + lines_before, exc)

    return _without_trailing_blanks(reader, failure, blanks)


def _limited(rows: Iterator[list[str]], max_records: int, blanks: list[int]) -> Iterator[list[str]]:
    """The rows, failing once more than max_records records came (blank rows are none; the reason gives
    the file's count: the rest is counted, not kept). The first max_records rows pass through C (islice,
    chain), not through another generator."""
    return chain(islice(rows, max_records), _over_limit(rows, max_records, blanks))


def _over_limit(rest: Iterator[list[str]], max_records: int, blanks: list[int]) -> Iterator[list[str]]:
    """The rows after the first max_records (there are some only when blank rows were among those), or
    the count error once the records pass max_records."""
    given = max_records
    for row in rest:
        given += 1
        if given - blanks[0] > max_records:
            raise _count_error(given - blanks[0] + sum(1 for later in rest if later), max_records)
        yield row
