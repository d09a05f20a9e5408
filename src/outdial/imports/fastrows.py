"""The import's CSV fast path: validate, sort and format the common row in one step.

A CSV in the template's layout gives the csv module's rows straight to `sorted_blocks`, which yields
the same blocks as `bulk_blocks(sorted_records(...))` (calldata/repository.py, imports/pipeline.py) and
fills the same tally. Per row it costs one pass of cheap checks and one f-string or tuple, instead of
shaping the cells, a CallRecord, its CalledNumber and the formatter's attribute reads (~1 CPU s per
500,000 rows).

The fast path only ever ACCEPTS, and only a row that validate_file_row accepts as it stands: six cells,
a `called` of the template's plain one-number form (records._fast_called), every other text cell within
its length, printable ASCII without a backslash (so nothing to escape for COPY and no character rule
applies, except customField's forbidden characters, checked), and a valid recycleTime. Every other row,
including every refused one, goes through pipeline.RowSorter and the repository's formatter, so reasons
and stored values are those of the slow path (tests/imports/test_fastrows.py compares the two).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from outdial.calldata import records as rec
from outdial.calldata import repository as calldata_repo
from outdial.calldata.records import CallRecord
from outdial.calldata.repository import LockedCampaign

if TYPE_CHECKING:
    from outdial.imports.pipeline import RowSorter

_GOOD_TIMES_LIMIT = 4096  # valid recycle times remembered (a file's rows often share one)

# The template's several-number form as Excel and most exports write it: double quotes, no spaces,
# keys in the order calledNo, type, delayTime; every value within its rule (a type of letters, digits
# and _; a delay of 1-4 digits, checked <= 7200 below). Anything else takes the full parser.
_CALLED_LEN, _TYPE_LEN = str(rec.MAX_CALLED_LEN), str(rec.MAX_TYPE_LEN)
_OBJECT = (
    r'\{"calledNo":"([0-9*#]{1,' + _CALLED_LEN + r'})"(?:,"type":"([A-Za-z0-9_]{1,' + _TYPE_LEN + r'})")?'
    r'(?:,"delayTime":(?:"([0-9]{1,4})"|([0-9]{1,4})))?\}'
)
_MORE = str(rec.MAX_NUMBERS_PER_RECORD - 1)
_NUMBERS_CELL = re.compile(r"\[" + _OBJECT + "(?:," + _OBJECT + "){0," + _MORE + r"}\]").fullmatch
_OBJECTS = re.compile(_OBJECT).findall


def fast_numbers(cell: str) -> tuple[list[str], str | None] | None:
    """The called numbers of a `called` cell in the common several-number form, and their `numbers`
    column (repository._numbers_json's text: None for one plain number); None sends the cell to the
    full parser (records.parse_called_cell), which accepts it the same or explains the refusal."""
    if not _NUMBERS_CELL(cell):
        return None
    numbers: list[str] = []
    parts: list[str] = []
    plain = True
    for called, type_, quoted, bare in _OBJECTS(cell):
        if called in numbers:
            return None  # refused: a calledNo twice in one record
        delay = int(quoted or bare or "0")
        if delay > rec.MAX_DELAY_S:
            return None
        numbers.append(called)
        shown_type = f'"{type_}"' if type_ else "null"  # letters, digits and _: nothing to escape
        parts.append(f'["{called}",{shown_type},{delay}]')
        plain = plain and not type_ and not delay
    if plain and len(numbers) == 1:
        return numbers, None
    return numbers, "[" + ",".join(parts) + "]"


def _feeder(slot: list[CallRecord]) -> Iterator[CallRecord]:
    while True:
        yield slot.pop()


def sorted_blocks(
    dialect: str,
    campaign: LockedCampaign,
    raw_rows: Iterator[list[str]],
    shape: Callable[[list[Any]], list[str | None]],
    sorter: RowSorter,
    *,
    first_line: int,
    import_task_id: str | None,
    now_ms: int,
    plain_text: list[bool] | None = None,
) -> Iterator[Any]:
    """bulk_blocks(dialect, campaign, sorted_records(map(shape, raw_rows), ...)), faster: the rows
    the fast path accepts share the sorter's numbers seen and its tally. `plain_text`: the reader's
    SheetRows.plain_text; while it holds, a cell's characters need checking for CR and LF only."""
    plain = plain_text or [False]
    tally, refuse_number, duplicate_reason = sorter.tally, sorter.refuse_number, sorter.duplicate_reason
    seen, failures, slow_sort = sorter.seen, tally.failures, sorter.sort
    pg = dialect == "postgresql"
    # The repository's own formatter for the rows that take the slow path: one generator kept alive
    # (fed one record at a time), so its recycle-time cache lasts the whole file.
    slot: list[CallRecord] = []
    slow_format: Iterator[Any]
    if pg:
        slow_format = calldata_repo._copy_lines(campaign, _feeder(slot), import_task_id, now_ms)
    else:
        slow_format = calldata_repo._bulk_rows(campaign, _feeder(slot), import_task_id, now_ms)
    recycle_at = calldata_repo._LocalTimes(campaign.timezone)
    good_times: set[str] = set()
    time_problem = rec._recycle_time_problem_cached
    fast_called, template_called = rec._fast_called, rec._TEMPLATE_CALLED
    many_prefix = '[{"calledNo":"'
    unplain = rec._CUSTOM_FIELD_UNPLAIN
    max_session, max_caller = rec.MAX_SESSION_ID_LEN, rec.MAX_CALLER_LEN
    max_data, max_custom = rec.MAX_CALL_DATA_LEN, rec.MAX_CUSTOM_FIELD_LEN
    null = "\\N"
    head = f"{campaign.id}\t{campaign.vdn_id}\t"
    tail = f"\t{now_ms}\t{calldata_repo._copy_value(import_task_id)}\t{now_ms}\n"
    # A block is _BULK_BLOCK_ROWS COPY lines, or as many rows' values in one flat list (SQLite)
    block_size = calldata_repo._BULK_BLOCK_ROWS * (1 if pg else len(calldata_repo._ROW_COLUMNS))
    stored = repeat = 0
    out: list[Any] = []
    line = first_line - 1
    for row in raw_rows:
        line += 1
        if len(row) == 6:
            session_id, called, caller, call_data, custom_field, recycle_time = row
            number = (m[1] if (m := template_called(called)) else fast_called(called)) if called else None
            numbers_json = numbers = None
            if number is None and called[:14] == many_prefix and (many := fast_numbers(called)):
                numbers, numbers_json = many
                number = numbers[0]
            if number is not None:
                text = session_id + caller + call_data + custom_field
                if (
                    ("\n" not in text and "\r" not in text)
                    if plain[0]
                    else (text.isascii() and text.isprintable() and "\\" not in text)  # no NUL, tab, LF or CR
                ) and (
                    len(session_id) <= max_session
                    and len(caller) <= max_caller
                    and len(call_data) <= max_data
                    and len(custom_field) <= max_custom
                    and not (custom_field and unplain(custom_field))
                ):
                    if recycle_time and recycle_time not in good_times:
                        if time_problem(recycle_time):
                            number = None  # refused: the slow path says why
                        elif len(good_times) < _GOOD_TIMES_LIMIT:
                            good_times.add(recycle_time)
                    if number is not None:
                        if refuse_number and (
                            refused := refuse_number.get(number)
                            if numbers is None
                            else next((r for n in numbers if (r := refuse_number.get(n))), None)
                        ):
                            failures.append((line, "blacklist", refused))
                        elif number in seen:
                            repeat += 1
                            failures.append((line, "duplicate", duplicate_reason(number)))
                        else:
                            seen.add(number)
                            stored += 1
                            if pg:
                                out.append(
                                    f"{head}{session_id or null}\t{number}\t{numbers_json or null}\t{caller or null}"
                                    f"\t{call_data or null}\t{custom_field or null}"
                                    f"\t{recycle_at(recycle_time) if recycle_time else null}{tail}"
                                )
                            else:
                                out += (
                                    session_id or None,
                                    number,
                                    numbers_json,
                                    caller or None,
                                    call_data or None,
                                    custom_field or None,
                                    recycle_at(recycle_time) if recycle_time else None,
                                )
                            if len(out) == block_size:
                                yield "".join(out).encode() if pg else out
                                out = []
                        continue
        record = slow_sort(line, shape(row))
        if record is not None:
            slot.append(record)
            if pg:
                out.append(next(slow_format))
            else:
                out += next(slow_format)
            if len(out) == block_size:
                yield "".join(out).encode() if pg else out
                out = []
    tally.stored += stored
    tally.repeat += repeat
    if out:
        yield "".join(out).encode() if pg else out
