"""How fast the file importer's row validator runs: rows per second of `validate_file_row` by kind of row.

    .venv/bin/python bench/validate_rows.py [--rows 500000] [--repeat 3]

Each kind is a list of distinct rows (distinct numbers, so nothing is cached by accident) validated in one
tight loop, best of --repeat runs. The target is 450,000 simple rows/s (one calledNo and a sessionId).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

from outdial.calldata.records import CallRecord, validate_file_row

Row = list[str | None]


def simple(i: int) -> Row:
    return [f"S{i:07d}", f"[{{'calledNo':{13800000000 + i}}}]", None, None, None, None]


def simple_double_quoted(i: int) -> Row:
    return [f"S{i:07d}", f'[{{"calledNo":"{13800000000 + i}"}}]', None, None, None, None]


def lone_number(i: int) -> Row:
    return [f"S{i:07d}", str(13800000000 + i), None, None, None, None]


def full(i: int) -> Row:
    return [
        f"S{i:07d}",
        f"[{{'calledNo':{13800000000 + i}}}]",
        "4001234",
        '{"fullName":"Lin Zihang","riskName":"traffic insurance"}',
        f"batch {i % 100}",
        "2026-12-31 18:00:00",
    ]


def three_numbers(i: int) -> Row:
    cell = (
        f"[{{'calledNo':'{13800000000 + i}','type':'mobile'}},"
        f"{{'calledNo':'{13900000000 + i}','delayTime':60,'type':'home'}},"
        f"{{'calledNo':'0{755000000 + i}','delayTime':'120'}}]"
    )
    return [f"S{i:07d}", cell, None, None, None, None]


def invalid_called(i: int) -> Row:
    return [f"S{i:07d}", f"[{{'calledNo':'{13800000000 + i}x'}}]", None, None, None, None]


KINDS: list[tuple[str, Callable[[int], Row], bool]] = [
    ("simple: one calledNo + sessionId", simple, True),
    ('simple, "double" quoted', simple_double_quoted, True),
    ("called cell is a lone number", lone_number, True),
    ("all six columns", full, True),
    ("three numbers with delayTime/type", three_numbers, True),
    ("invalid calledNo (refused)", invalid_called, False),
]


def measure(rows: list[Row], repeat: int) -> float:
    best = float("inf")
    validate = validate_file_row
    for _ in range(repeat):
        gc.collect()
        gc.disable()  # as the importer does while it validates a file
        start = time.perf_counter()
        for cells in rows:
            validate(cells)
        elapsed = time.perf_counter() - start
        gc.enable()
        best = min(best, elapsed)
    return len(rows) / best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(f"{'row kind':<38} {'rows':>9} {'rows/s':>12} {'us/row':>8}")
    print("-" * 70)
    for name, make, valid in KINDS:
        count = args.rows if valid else max(args.rows // 5, 1)
        rows = [make(i) for i in range(count)]
        result = validate_file_row(rows[0])
        assert isinstance(result, CallRecord) == valid, (name, result)
        rate = measure(rows, args.repeat)
        print(f"{name:<38} {count:>9,} {rate:>12,.0f} {1e6 / rate:>8.2f}")


if __name__ == "__main__":
    main()
