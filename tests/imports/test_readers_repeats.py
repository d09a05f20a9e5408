"""The reader remembers the text of repeated Excel numbers and dates (callers and recycle times repeat
across a file's rows); the text of every cell must still be its own, whatever came before it."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from imports.test_readers import TEMPLATE_HEADER, read_all, write_xlsx
from outdial.imports import readers


def test_repeated_and_look_alike_values_each_keep_their_own_text(tmp_path: Path) -> None:
    # 1.0, True and 1 are equal as dict keys; a datetime and a date of the same day too in spirit.
    rows: list[list[object]] = [
        [1.0, '[{"calledNo":"1"}]', True, None, None, datetime(2026, 12, 1, 0, 0, 0)],
        [True, '[{"calledNo":"2"}]', 1.0, None, None, date(2026, 12, 1)],
        [1.0, '[{"calledNo":"3"}]', True, None, None, datetime(2026, 12, 1, 0, 0, 0)],
        [False, '[{"calledNo":"4"}]', 0.0, None, None, datetime(2026, 12, 1, 9, 30, 0)],
        [0.5, '[{"calledNo":"5"}]', -0.0, None, None, datetime(2026, 12, 1, 9, 30, 0)],
    ]
    _, got = read_all(write_xlsx(tmp_path / "a.xlsx", [TEMPLATE_HEADER, *rows]))
    assert [(r[0], r[2], r[5]) for r in got] == [
        ("1", "TRUE", "2026-12-01 00:00:00"),
        ("TRUE", "1", "2026-12-01 00:00:00"),
        ("1", "TRUE", "2026-12-01 00:00:00"),
        ("FALSE", "0", "2026-12-01 09:30:00"),
        ("0.5", "0", "2026-12-01 09:30:00"),
    ]


def test_more_distinct_numbers_than_remembered_still_read_right(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(readers, "_MEMO_LIMIT", 3)
    rows = [[float(100 + i % 7), f'[{{"calledNo":"{i}"}}]', float(5000 + i), None, None, None] for i in range(30)]
    _, got = read_all(write_xlsx(tmp_path / "b.xlsx", [TEMPLATE_HEADER, *rows]))
    assert [(r[0], r[2]) for r in got] == [(str(100 + i % 7), str(5000 + i)) for i in range(30)]
