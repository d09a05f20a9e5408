"""Write an import file pair (.xlsx the way Excel writes it, and the same rows as .csv), then time a bare
read of each with outdial.imports.readers.

    python bench/make_import_files.py --rows 500000 --out /tmp/import-bench

The .xlsx uses shared strings (as Excel does); `called` holds the template's JSON array text
([{"calledNo":"13800000001"}], every tenth row with a second number and a delayTime); `sessionId` is a
NUMBER cell on every other row and `caller` always is, so the float-to-digits path is exercised;
`recycleTime` is a date cell on every fifth row.
"""

from __future__ import annotations

import argparse
import csv
import gc
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import xlsxwriter

from outdial.imports.readers import TEMPLATE_COLUMNS, read_rows

HEADER = [
    "sessionId (Optional)",
    "called (Mandatory)",
    "caller (Optional)",
    "callData (Optional)",
    "customField (Optional)",
    "recycleTime (Optional)",
]
BASE_TIME = datetime(2026, 11, 24, 9, 0, 0)


def make_rows(count: int) -> Iterator[list[Any]]:
    """Row i as Excel would hold it: numbers as float/int, dates as datetime, the rest as text."""
    for i in range(count):
        number = 13800000000 + i
        called = f'[{{"calledNo":"{number}"}}]'
        if i % 10 == 0:
            called = f'[{{"calledNo":"{number}","type":"SI"}},{{"calledNo":"0{number}","delayTime":"60"}}]'
        session: Any = 100000000 + i if i % 2 == 0 else f"S{i:08d}"
        call_data = f'{{"iSales":{{"ServiceID":"{i}","fullName":"Customer {i}"}}}}'
        recycle: Any = BASE_TIME + timedelta(days=i % 7) if i % 5 == 0 else None
        yield [session, called, 4008001000 + i % 50, call_data, f"batch{i % 20}", recycle]


def write_xlsx(path: Path, count: int) -> None:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": False, "strings_to_numbers": False})
    sheet = book.add_worksheet("calldata")
    date_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet.write_row(0, 0, HEADER)
    for r, row in enumerate(make_rows(count), start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, date_format)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)  # shared strings table, as Excel
            else:
                sheet.write_number(r, c, value)
    book.close()


def write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for row in make_rows(count):
            out.writerow(
                [
                    "" if v is None else v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else v
                    for v in row
                ]
            )


def time_read(path: Path) -> tuple[int, float]:
    gc.collect()
    start = time.perf_counter()
    header, rows = read_rows(path)
    count = sum(1 for _ in rows)
    elapsed = time.perf_counter() - start
    assert header == list(TEMPLATE_COLUMNS)
    return count, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--out", type=Path, default=Path("bench-import-files"))
    parser.add_argument("--repeat", type=int, default=3, help="reads per file; the best is shown")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = [args.out / f"calldata_{args.rows}.xlsx", args.out / f"calldata_{args.rows}.csv"]
    for path, writer in zip(files, (write_xlsx, write_csv), strict=True):
        start = time.perf_counter()
        writer(path, args.rows)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s")
    print()
    print(f"{'file':<28} {'rows':>9} {'best s':>8} {'rows/s':>10}")
    for path in files:
        runs = [time_read(path) for _ in range(args.repeat)]
        count = runs[0][0]
        best = min(elapsed for _, elapsed in runs)
        print(f"{path.name:<28} {count:>9} {best:>8.2f} {count / best:>10,.0f}")


if __name__ == "__main__":
    main()
