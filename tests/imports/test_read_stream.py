"""readers.read_csv_stream (a .csv read from a pipe while the fetch writes it) gives what read_rows gives
for the same file: the same rows and line numbers, or the same reason, also when the reason is found
only after rows were returned (UTF-8, NUL, the record count)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from outdial.imports import readers
from outdial.imports.failures import ImportFailure
from outdial.imports.readers import read_csv_stream, read_rows

HEADER = b"sessionId,called,caller,callData,customField,recycleTime\n"


def body(count: int, start: int = 0) -> bytes:
    return b"".join(
        b's%d,"[{""calledNo"":""%d""}]",400,"{""a"":""x, y""}",batch,\n' % (i, 13800000000 + i)
        for i in range(start, start + count)
    )


BIG = HEADER + body(40_000)  # ~2.8 MB: several of the reader's 1 MiB chunks
FILES: dict[str, bytes] = {
    "plain": BIG,
    "bom, blank lines before the header, between records and after them": b"\xef\xbb\xbf\n ,\n"
    + HEADER
    + body(3)
    + b"\n,,\n"
    + body(2, 10)
    + b"\n\n",
    "semicolons and another column order": b"called;sessionId\n138;s1\n139;s2\n",
    "a cell over two lines, CRLF": HEADER.replace(b"\n", b"\r\n") + b's1,138,,"a\r\nb",,\r\n',
    "short and long rows": HEADER + b"s1,138\ns2,139,1,2,3,4,5,6\n",
    "non-ASCII": HEADER + "会话,138,,数据,客户 A,\n".encode(),
    "bad UTF-8 after the first chunk": BIG + b"s,\xff\xfe,,,,\n",
    "ends inside a character": BIG + "s,138,,数".encode()[:-1],
    "NUL after the first chunk": BIG + b"s,1\x0038,,,,\n",
    "empty": b"",
    "no header": b"\n\n",
    "header only": HEADER,
    "unknown column": b"called,phone\n1,2\n",
    "invalid CSV late": HEADER + body(5) + b'"' + b"1" * 200_000 + b"\n",
}


def outcome_of(read: Any) -> Any:
    try:
        sheet = read()
        return sheet.first_line, sheet.file_header, list(sheet.rows)
    except ImportFailure as failure:
        return failure.reason


def streamed(data: bytes, max_records: int) -> Any:
    read_fd, write_fd = os.pipe()

    def write() -> None:
        with open(write_fd, "wb") as out:
            try:
                for start in range(0, len(data), 70_000):  # arrives in pieces, as a download does
                    out.write(data[start : start + 70_000])
                    out.flush()
            except BrokenPipeError:
                pass  # the reader stopped at a failure

    writer = threading.Thread(target=write)
    writer.start()
    try:
        return outcome_of(lambda: read_csv_stream(read_fd, "f.csv", max_records=max_records))
    finally:
        os.close(read_fd)
        writer.join()


@pytest.mark.parametrize("name", list(FILES))
def test_a_streamed_csv_reads_as_the_file_does(name: str, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(FILES[name])
    expected = outcome_of(lambda: read_rows(path))
    assert streamed(FILES[name], 500_000) == expected
    if name == "plain":
        assert len(expected[2]) == 40_000
    if name.startswith("bom"):  # the lines before the header are not records, and neither is it
        assert expected[0] == 4 and expected[2][0][0] == "s0"
    if "after the first chunk" in name or "inside" in name:
        assert isinstance(expected, str) and ("UTF-8" in expected or "NUL" in expected)


@pytest.mark.parametrize("limit", [39_999, 40_000])
def test_the_record_count_is_checked_as_the_rows_pass(limit: int, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(BIG + b"\n\n")  # trailing blank lines are no records
    expected = outcome_of(lambda: read_rows(path, max_records=limit))
    assert streamed(BIG + b"\n\n", limit) == expected
    if limit == 39_999:
        assert expected == (
            "the file holds 40000 records; at most 39999 can be imported from one file (split the file)"
        )


@pytest.mark.parametrize("limit", [4, 5])
def test_blank_lines_between_records_do_not_count_toward_the_limit(limit: int, tmp_path: Path) -> None:
    # 5 records on 9 lines: past the first `limit` lines the stream must still tell blank from record.
    data = HEADER + body(1) + b"\n,,\n" + body(2, 1) + b"\n\n" + body(2, 3) + b"\n"
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    expected = outcome_of(lambda: read_rows(path, max_records=limit))
    assert streamed(data, limit) == expected
    if limit == 5:
        assert [row[0] for row in expected[2] if any(row)] == ["s0", "s1", "s2", "s3", "s4"]
    else:
        assert expected == "the file holds 5 records; at most 4 can be imported from one file (split the file)"


PLAIN_FILES = {
    # name: (file, plain as a whole, plain at first)
    "plain, with a BOM": (b"\xef\xbb\xbf" + BIG, True, True),
    "a line break inside a quoted cell (CR and LF are plain)": (FILES["a cell over two lines, CRLF"], True, True),
    "a tab at the end": (BIG + b"s,138,,a\tb,,\n", False, True),
    "a backslash at the end": (BIG + b"s,138,,a\\b,,\n", False, True),
    "DEL at the end": (BIG + b"s,138,,a\x7fb,,\n", False, True),
    "non-ASCII from the start": (FILES["non-ASCII"], False, False),
}


@pytest.mark.parametrize("name", list(PLAIN_FILES))
def test_plain_text_is_known_before_the_rows_made_of_it(name: str, tmp_path: Path) -> None:
    """SheetRows.plain_text (the import's fast path skips its per-cell character checks while it holds)
    is True only while every byte read is plain, and turns False before the row holding the first other
    byte is returned: streamed, every row returned while it held is plain; from a file, it is known at
    once."""
    data, whole_file_plain, plain_at_first = PLAIN_FILES[name]
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert read_rows(path).plain_text == [whole_file_plain]
    read_fd, write_fd = os.pipe()
    writer = threading.Thread(target=lambda: _write_all(write_fd, data))
    writer.start()
    try:
        sheet = read_csv_stream(read_fd, "f.csv")
        assert sheet.raw_rows is not None and sheet.plain_text is not None
        seen_plain = []
        for row in sheet.raw_rows:
            if sheet.plain_text[0]:
                seen_plain.append(row)
                assert all(ch in "\r\n" or (" " <= ch <= "~" and ch != "\\") for cell in row for ch in cell)
        assert sheet.plain_text == [whole_file_plain]
        assert bool(seen_plain) == plain_at_first
    finally:
        os.close(read_fd)
        writer.join()


def _write_all(fd: int, data: bytes) -> None:
    with open(fd, "wb") as out:
        for start in range(0, len(data), 70_000):
            out.write(data[start : start + 70_000])
            out.flush()


def test_a_character_cut_between_chunks_is_checked_whole() -> None:
    """An ASCII chunk is not decoded again, unless it follows an unfinished character: then it must
    complete it, or the file is not UTF-8 (the byte named is the one that breaks it)."""
    whole = readers._TextCheck("f.csv")
    for piece in (b"ab\xe4\xb8", b"\xadcd", b"ef"):  # 中 cut in two, then plain ASCII
        whole.chunk(piece)
    whole.end()
    broken = readers._TextCheck("f.csv")
    broken.chunk(b"ab\xe4")
    with pytest.raises(ImportFailure) as caught:
        broken.chunk(b"cd")  # ASCII where the character's next byte belongs
    assert caught.value.reason == "f.csv is not UTF-8 text (byte 3); save it as 'CSV UTF-8'"
