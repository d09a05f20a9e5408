"""imports/fastrows.py must give exactly what the slow path gives (validate_file_row, RowSorter,
repository's formatters): the same blocks, counts and failed rows, for rows it accepts and for rows it
leaves to the slow path, and it must actually take the common rows itself."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imports.helpers import TEMPLATE_HEADER, xlsx_bytes
from outdial.calldata import records
from outdial.calldata import repository as calldata_repo
from outdial.calldata.repository import LockedCampaign
from outdial.imports import fastrows
from outdial.imports.pipeline import RowSorter, Tally, sorted_records
from outdial.imports.readers import _row_shaper, read_rows

CAMPAIGN = LockedCampaign(7, 3, 0, 0, 0, "Asia/Shanghai", None)
SHAPE = _row_shaper(list(range(6)), -1)

CALLED = [
    '[{"calledNo":"13800000001"}]',
    "[{'calledNo':'13800000002'}]",
    "[{'calledNo':13800000003}]",
    "13800000004",
    "0013800000005",
    "*#123",
    "1" * 24,
    "1" * 25,
    '[{"calledNo":"' + "2" * 24 + '"}]',
    '[{"calledNo":"' + "2" * 25 + '"}]',
    '[{"calledNo":"12a"}]',
    '[{"calledNo":""}]',
    '[{"calledNo":"13800000006","type":"SI"},{"calledNo":"013800000006","delayTime":"60"}]',
    '[{"calledNo":"13800000007","type":"SI","delayTime":7200}]',
    '[{"calledNo":"13800000008","delayTime":"7201"}]',
    '[{"calledNo":"13800000009","delayTime":"0"}]',
    '[{"calledNo":"13800000010","delayTime":"0060"}]',
    '[{"calledNo":"13800000011","type":""}]',
    '[{"calledNo":"13800000012","type":"' + "t" * 50 + '"}]',
    '[{"calledNo":"13800000013","type":"' + "t" * 51 + '"}]',
    '[{"calledNo":"13800000014"},{"calledNo":"13800000014"}]',
    "[" + ",".join(f'{{"calledNo":"{13900000000 + i}"}}' for i in range(10)) + "]",
    "[" + ",".join(f'{{"calledNo":"{13900000100 + i}"}}' for i in range(11)) + "]",
    '[{"delayTime":"5","calledNo":"13800000015"}]',
    '[{"calledNo":"13800000016","type":"中文"}]',
    '[{"calledNo":"13800000017","type":"a b"}]',
    '[{"calledNo":"13800000018", "type":"SI"}]',
    '[{"calledNo":"13800000019","typo":"SI"}]',
    '[{"calledNo":"13800000020"}',
    "[]",
    " 13800000021",
    "",
]
SESSION = ["", "s1", "a" * 32, "a" * 33, "会话", "a\\b", "a\tb", "a\nb", "a\x00b"]
CALLER = ["", "4008001000", "1" * 24, "1" * 25, "中文", "a\\b"]
CALL_DATA = ["", '{"iSales":{"ServiceID":"0"}}', "x" * 1024, "x" * 1025, "数据", "a\rb", 'a\\"b']
CUSTOM = ["", "batch0", "c" * 200, "c" * 201, "a.b", "price ¥5", "a–b", "客户 A", "a b"]
RECYCLE = ["", "2026-11-24 09:00:00", "2026-02-30 09:00:00", "2026-11-24 9:00:00", "２０２６-11-24 09:00:00"]


def random_called(rng: random.Random) -> str:
    number = str(13700000000 + rng.randrange(3000))
    pick = rng.randrange(4)
    if pick == 0:
        return number
    if pick == 1:
        return f'[{{"calledNo":"{number}"}}]'
    if pick == 2:
        second = rng.choice(["13700000002", number[::-1], number])
        delay = rng.randrange(7300)
        return f'[{{"calledNo":"{number}","type":"SI"}},{{"calledNo":"{second}","delayTime":"{delay}"}}]'
    return rng.choice(CALLED)


def variant_rows() -> list[list[str]]:
    rng = random.Random(4)
    rows: list[list[str]] = []
    for called in CALLED:  # each called form with plain cells, then with each odd cell
        rows.append(["", called, "", "", "", ""])
        for column, values in ((0, SESSION), (2, CALLER), (3, CALL_DATA), (4, CUSTOM), (5, RECYCLE)):
            for value in values:
                row = ["s", called, "1", "d", "f", ""]
                row[column] = value
                rows.append(row)

    def cell(values: list[str]) -> str:  # mostly valid cells, so that many rows are stored
        return rng.choice(values[:2] if rng.random() < 0.9 else values)

    for _ in range(3000):  # random mixtures, with repeats of numbers across rows
        rows.append(
            [cell(SESSION), random_called(rng), cell(CALLER), cell(CALL_DATA), cell(CUSTOM), cell(RECYCLE)]
        )
    # Other widths, blank lines and empty rows go to the slow path too.
    rows += [
        [],
        ["", "", "", "", "", ""],
        ["s", "13600000001"],
        ["s", "13600000002", "", "", "", "", "extra"],
    ]
    rng.shuffle(rows)
    return rows


def content(dialect: str, blocks: list[Any]) -> Any:
    """What the blocks write, in order (where one block ends and the next begins does not matter; a
    SQLite block holds whole rows)."""
    if dialect == "postgresql":
        return b"".join(blocks)
    assert all(len(block) % len(calldata_repo._ROW_COLUMNS) == 0 for block in blocks)
    return [value for block in blocks for value in block]


def slow(
    dialect: str, rows: list[list[str]], existing: set[str], refuse: dict[str, str]
) -> tuple[Any, Tally]:
    tally = Tally()
    records_ = sorted_records(
        map(SHAPE, rows), existing_numbers=existing, refuse_number=refuse, tally=tally, first_line=2
    )
    blocks = list(calldata_repo.bulk_blocks(dialect, CAMPAIGN, records_, import_task_id="77", now_ms=1000))
    return content(dialect, blocks), tally


def fast(
    dialect: str,
    rows: list[list[str]],
    existing: set[str],
    refuse: dict[str, str],
    plain_text: list[bool] | None = None,
) -> tuple[Any, Tally]:
    tally = Tally()
    sorter = RowSorter(existing, refuse, tally)
    blocks = list(
        fastrows.sorted_blocks(
            dialect,
            CAMPAIGN,
            iter(rows),
            SHAPE,
            sorter,
            first_line=2,
            import_task_id="77",
            now_ms=1000,
            plain_text=plain_text,
        )
    )
    return content(dialect, blocks), tally


def plain(cell: str) -> bool:
    """What SheetRows.plain_text promises of every cell: printable ASCII but the backslash, or CR/LF."""
    return all(ch in "\r\n" or (" " <= ch <= "~" and ch != "\\") for ch in cell)


@pytest.mark.parametrize("chunk_rows", [1, 4, 500])
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_fast_path_gives_what_the_slow_path_gives(
    dialect: str, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the size of the chunks (one row: each decided by _Chunks.whole when it can), the same
    rows, counts and reasons as the slow path."""
    monkeypatch.setattr(calldata_repo, "_BULK_BLOCK_ROWS", 97)  # several blocks, and a last short one
    monkeypatch.setattr(fastrows, "CHUNK_ROWS", chunk_rows)
    rows = variant_rows()
    existing = {"13700000001", "13800000001", "13900000000"}
    refuse = {"13700000002": "blacklisted", "013800000006": "blacklisted (second number)", "*#123": "no"}
    fast_blocks, fast_tally = fast(dialect, rows, existing, refuse)
    slow_blocks, slow_tally = slow(dialect, rows, existing, refuse)
    assert fast_tally == slow_tally
    assert fast_blocks == slow_blocks
    kinds = {kind for _, kind, _ in slow_tally.failures}
    assert kinds == {"invalid", "blacklist", "duplicate"} and slow_tally.stored > 1000


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_plain_text_file_skips_the_character_checks_and_gives_the_same(dialect: str) -> None:
    """With the reader's word that the file is plain text, only CR and LF are looked for in a cell: the
    rows of such a file, line breaks inside cells included, still give what the slow path gives."""
    rows = [row for row in variant_rows() if all(plain(cell) for cell in row)]
    rows += [["s", "13500000001", "1", "a\nb", "f", ""], ["s", "13500000002", "1", "d", "a\rb", ""]]
    assert any("\n" in cell or "\r" in cell for row in rows for cell in row)
    existing, refuse = {"13700000001"}, {"13700000002": "blacklisted"}
    fast_blocks, fast_tally = fast(dialect, rows, existing, refuse, plain_text=[True])
    slow_blocks, slow_tally = slow(dialect, rows, existing, refuse)
    assert fast_tally == slow_tally
    assert fast_blocks == slow_blocks
    assert slow_tally.stored > 1000


def test_the_common_rows_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The slow path is only for the rows the fast checks do not accept."""
    common = [
        ["S1", '[{"calledNo":"13800000001"}]', "4008001000", '{"a":"b"}', "batch0", "2026-11-24 09:00:00"],
        ["", "13800000002", "", "", "", ""],
        [
            "1",
            '[{"calledNo":"13800000003","type":"SI"},{"calledNo":"013800000003","delayTime":"60"}]',
            "",
            "",
            "",
            "",
        ],
    ]
    odd = ["会话", "13800000004", "", "", "", ""]
    validated: list[list[str | None]] = []
    real = records.validate_file_row

    def spy(cells: list[str | None]) -> Any:
        validated.append(cells)
        return real(cells)

    monkeypatch.setattr("outdial.imports.pipeline.validate_file_row", spy)
    blocks, tally = fast("postgresql", [*common, odd], set(), {})
    assert tally.stored == 4 and validated == [SHAPE(odd)]
    assert b'\t[["13800000003","SI",0],["013800000003",null,60]]\t' in blocks


@pytest.mark.parametrize("cell", [c for c in CALLED if c.startswith('[{"')])
def test_fast_numbers_agree_with_the_called_cell_parser(cell: str) -> None:
    found = fastrows.fast_numbers(cell)
    parsed = records.parse_called_cell(cell)
    if found is None:
        return  # the full parser decides
    assert not isinstance(parsed, str), parsed
    numbers, text = found
    assert numbers == [n.called for n in parsed]
    record = records.CallRecord(None, parsed, None, None, None, None)
    assert text == calldata_repo._numbers_json(record)


def test_fast_numbers_accept_the_common_forms_and_refuse_to_decide_the_rest() -> None:
    accepted = [c for c in CALLED if c.startswith('[{"') and fastrows.fast_numbers(c) is not None]
    assert len(accepted) >= 8
    for delay in ("7201", "1234567", "-1", "1.5", " 5"):
        assert fastrows.fast_numbers(f'[{{"calledNo":"1","delayTime":"{delay}"}}]') is None


@given(st.text(alphabet='0123456789*#a[]{}":calledNo ', max_size=40))
def test_the_template_form_regex_accepts_only_what_fast_called_accepts(number: str) -> None:
    """_TEMPLATE_CALLED is a shortcut to _fast_called's answer for the commonest cell: it may match
    less, never differently."""
    cell = '[{"calledNo":"' + number + '"}]'
    for text in (cell, number):
        match = records._TEMPLATE_CALLED(text)
        if match:
            assert records._fast_called(text) == match[1]
    assert bool(records._TEMPLATE_CALLED(cell)) == (records._fast_called(cell) == number)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_workbook_in_the_template_layout_takes_the_fast_path_with_the_same_result(
    dialect: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workbook's cells come as numbers, dates, booleans and text: as text cells they give the fast
    path what the validator gets from the same file (numbers typed as numbers, a date recycleTime, an
    empty row inside, refused and repeated rows)."""
    rows: list[list[Any]] = []
    for i, called in enumerate(CALLED):
        rows.append([100000000 + i, called, 4008001000.0 + i, '{"a":"b"}', f"batch{i}", None])
        rows.append([f"S{i}", called, None, None, None, datetime(2026, 11, 24, 9, 0, 0)])
    rows += [
        [None] * 6,  # an empty line inside the sheet
        [1.5, "13600000001", True, "数据", "客户 A", "2026-11-24 09:00:00"],
        ["s", 13600000002.0, "", "", "", datetime(2026, 11, 25)],
        ["s", "13600000001", "", "", "", ""],  # a repeat
        ["s", "13600000003", "", "", "c" * 201, ""],  # refused
    ]
    path = tmp_path / "calldata.xlsx"
    path.write_bytes(xlsx_bytes(rows))
    existing, refuse = {"13800000004"}, {"13800000006": "blacklisted"}

    slow_tally = Tally()
    records_ = sorted_records(
        read_rows(path).rows, existing_numbers=existing, refuse_number=refuse, tally=slow_tally
    )
    slow_blocks = list(calldata_repo.bulk_blocks(dialect, CAMPAIGN, records_, import_task_id="77", now_ms=1000))

    sheet = read_rows(path)
    assert sheet.raw_rows is not None and sheet.shape is not None
    validated: list[Any] = []
    real = records.validate_file_row
    monkeypatch.setattr("outdial.imports.pipeline.validate_file_row", lambda c: validated.append(c) or real(c))
    fast_tally = Tally()
    fast_blocks = list(
        fastrows.sorted_blocks(
            dialect,
            CAMPAIGN,
            sheet.raw_rows,
            sheet.shape,
            RowSorter(existing, refuse, fast_tally),
            first_line=sheet.first_line,
            import_task_id="77",
            now_ms=1000,
        )
    )
    assert fast_tally == slow_tally
    assert content(dialect, fast_blocks) == content(dialect, slow_blocks)
    # The template's plain form with number, date and text cells: decided by the fast path alone
    assert not [cells for cells in validated if cells[1] == CALLED[0]]
    assert len(validated) < len(rows)
    assert slow_tally.stored > 15 and {kind for _, kind, _ in slow_tally.failures} == {
        "invalid",
        "blacklist",
        "duplicate",
    }


def test_a_workbook_in_another_layout_has_no_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    path.write_bytes(xlsx_bytes([["13800000001", "s1"]], header=[TEMPLATE_HEADER[1], TEMPLATE_HEADER[0]]))
    sheet = read_rows(path)
    assert sheet.raw_rows is None
    assert list(sheet.rows) == [["s1", "13800000001", None, None, None, None]]


def common_rows(count: int, start: int = 13500000000) -> list[list[str]]:
    """Rows every check accepts as they stand, in the forms a file's rows commonly take."""
    rows = []
    for i in range(count):
        number = str(start + i)
        called = [
            f'[{{"calledNo":"{number}"}}]',
            f'[{{"calledNo":"{number}","type":"SI"}},{{"calledNo":"0{number}","delayTime":"60"}}]',
            f'[{{"calledNo":"{number}"}},{{"calledNo":"1{number}"}},{{"calledNo":"2{number}","delayTime":5}}]',
            f'[{{"calledNo":"*#{number}"}}]',
            number,
            f"[{{'calledNo':'{number}'}}]",
        ][i % 6]
        recycle = ["", "2026-11-24 09:00:00", "2026-11-25 18:30:00"][i % 3]
        if i % 4 == 0:
            rows.append(["", called, "", "", "", recycle])
        else:
            rows.append([f"S{i}", called, "4008001000", f'{{"iSales":{{"n":"{i}"}}}}', f"batch {i % 7}", recycle])
    return rows


def spy_row_by_row(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first line of each chunk that _Chunks.whole did not take (decided row by row instead)."""
    first_lines: list[int] = []
    real = fastrows._Chunks.one_by_one

    def one_by_one(self: Any, rows: list[list[str]], first_line: int) -> Any:
        first_lines.append(first_line)
        return real(self, rows, first_line)

    monkeypatch.setattr(fastrows._Chunks, "one_by_one", one_by_one)
    return first_lines


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_chunks_of_common_rows_are_decided_column_by_column(
    dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = common_rows(1234)  # 3 chunks, the last short
    row_by_row = spy_row_by_row(monkeypatch)
    existing, refuse = {"13000000000"}, {"13000000001": "blacklisted"}
    fast_result = fast(dialect, rows, existing, refuse, plain_text=[True])
    assert row_by_row == []
    assert fast_result == slow(dialect, rows, existing, refuse)
    assert fast_result[1].stored == 1234


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_chunk_with_a_row_not_stored_as_it_stands_is_decided_row_by_row(
    dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only that chunk: the chunks before and after it are still decided together, and the result is
    the slow path's (reasons, line numbers, which of two repeats is stored)."""
    monkeypatch.setattr(fastrows, "CHUNK_ROWS", 10)
    rows = common_rows(60)
    rows[13][4] = "a.b"  # chunk 2 (lines 12-21 with first_line=2): a character customField refuses
    rows[35][1] = rows[31][1]  # chunk 4: a number twice in one chunk
    rows[52][1] = rows[2][1]  # chunk 6: a number an earlier chunk stored
    row_by_row = spy_row_by_row(monkeypatch)
    fast_result = fast(dialect, rows, set(), {})
    assert row_by_row == [12, 32, 52]
    assert fast_result == slow(dialect, rows, set(), {})
    assert [(line, kind) for line, kind, _ in fast_result[1].failures] == [
        (15, "invalid"),
        (37, "duplicate"),
        (54, "duplicate"),
    ]


WHOLE_REFUSES = {
    "a row of five cells": lambda rows: rows[3].pop(),
    "a row of seven cells": lambda rows: rows[3].append(""),
    "sessionId too long": lambda rows: rows[3].__setitem__(0, "s" * 33),
    "caller too long": lambda rows: rows[3].__setitem__(2, "1" * 25),
    "callData too long": lambda rows: rows[3].__setitem__(3, "d" * 1025),
    "customField too long": lambda rows: rows[3].__setitem__(4, "c" * 201),
    "customField forbidden character": lambda rows: rows[3].__setitem__(4, "a;b"),
    "a non-ASCII cell": lambda rows: rows[3].__setitem__(3, "数据"),
    "a backslash": lambda rows: rows[3].__setitem__(0, "a\\b"),
    "a tab": lambda rows: rows[3].__setitem__(3, "a\tb"),
    "a line break": lambda rows: rows[3].__setitem__(3, "a\nb"),
    "a carriage return": lambda rows: rows[3].__setitem__(2, "1\r2"),
    "a bad recycleTime": lambda rows: rows[3].__setitem__(5, "2026-02-30 09:00:00"),
    "calledNo too long": lambda rows: rows[3].__setitem__(1, '[{"calledNo":"' + "1" * 25 + '"}]'),
    "calledNo with a letter": lambda rows: rows[3].__setitem__(1, '[{"calledNo":"12a"}]'),
    "calledNo empty": lambda rows: rows[3].__setitem__(1, '[{"calledNo":""}]'),
    "called empty": lambda rows: rows[3].__setitem__(1, ""),
    "called of unicode digits": lambda rows: rows[3].__setitem__(1, '[{"calledNo":"١٢٣"}]'),
    "a number twice in a cell": lambda rows: rows[3].__setitem__(
        1, '[{"calledNo":"13900000001"},{"calledNo":"13900000001"}]'
    ),
    "a delay over 7200": lambda rows: rows[3].__setitem__(1, '[{"calledNo":"139","delayTime":"7201"}]'),
    "a number twice in the chunk": lambda rows: rows[3].__setitem__(1, rows[5][1]),
    "a number seen before": lambda rows: rows[3].__setitem__(1, "13000000000"),
    "a blacklisted number": lambda rows: rows[3].__setitem__(1, "13000000001"),
    "a blacklisted second number": lambda rows: rows[3].__setitem__(
        1, '[{"calledNo":"13900000002"},{"calledNo":"13000000001"}]'
    ),
}


# Characters a file that is plain text (SheetRows.plain_text) cannot hold, so never met with the flag
NOT_IN_PLAIN_TEXT = {"a non-ASCII cell", "a backslash", "a tab", "called of unicode digits"}


@pytest.mark.parametrize(
    ("why", "plain_text"),
    [(why, plain) for why in WHOLE_REFUSES for plain in (False, True) if not (plain and why in NOT_IN_PLAIN_TEXT)],
)
def test_whole_leaves_a_chunk_with_any_row_it_cannot_store_as_it_stands(why: str, plain_text: bool) -> None:
    """_Chunks.whole declines (returning None, counting nothing and remembering no number) a chunk with
    one row that is refused, repeated or needs a character check; row by row, the slow path decides it."""
    rows = common_rows(12)
    sorter = RowSorter({"13000000000"}, {"13000000001": "blacklisted"}, Tally())
    chunks = fastrows._Chunks(False, CAMPAIGN, SHAPE, sorter, "77", 1000, [plain_text])
    assert chunks.whole([list(row) for row in rows]) is not None  # the rows as they are: taken
    sorter = RowSorter({"13000000000"}, {"13000000001": "blacklisted"}, Tally())
    chunks = fastrows._Chunks(False, CAMPAIGN, SHAPE, sorter, "77", 1000, [plain_text])
    WHOLE_REFUSES[why](rows)
    assert chunks.whole(rows) is None
    assert sorter.seen == {"13000000000"} and sorter.tally == Tally()
