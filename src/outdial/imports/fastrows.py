"""The import's CSV fast path: validate, sort and format the common row in one step.

A CSV in the template's layout gives the csv module's rows straight to `sorted_blocks`, which writes
the same rows as `bulk_blocks(sorted_records(...))` (calldata/repository.py, imports/pipeline.py) and
fills the same tally, without a CallRecord per row. The rows come in chunks: a chunk of rows that are
all stored as they stand is checked column by column in C (_Chunks.whole); any other chunk row by row,
one pass of cheap checks and one f-string or tuple per row (_Chunks.one_by_one).

The fast path only ever ACCEPTS, and only a row that validate_file_row accepts as it stands: six cells,
a `called` in one of the common forms (records._fast_called, fast_numbers), every other text cell within
its length, printable ASCII without a backslash (so nothing to escape for COPY and no character rule
applies, except customField's forbidden characters, checked), and a valid recycleTime. Every other row,
including every refused one, goes through pipeline.RowSorter and the repository's formatter, so reasons
and stored values are those of the slow path (tests/imports/test_fastrows.py compares the two).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, compress, count, islice, repeat
from operator import itemgetter, ne, not_, or_
from typing import TYPE_CHECKING, Any

from outdial.calldata import records as rec
from outdial.calldata import repository as calldata_repo
from outdial.calldata.records import CallRecord
from outdial.calldata.repository import LockedCampaign

if TYPE_CHECKING:
    from outdial.imports.pipeline import RowSorter

# Rows checked together: small enough that their objects stay in the CPU's cache while each column is
# walked (reading and transposing 500,000 rows: 0.61-0.78 s in chunks of 500, 0.97-1.10 s of 5,000).
CHUNK_ROWS = 500
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
# The commonest several-number cell, two numbers, in one regex call (~60% of the general way's instructions)
_TWO_NUMBERS = re.compile(r"\[" + _OBJECT + "," + _OBJECT + r"\]").fullmatch


def fast_numbers(cell: str) -> tuple[list[str], str | None] | None:
    """The called numbers of a `called` cell in the common several-number form, and their `numbers`
    column (repository._numbers_json's text: None for one plain number); None sends the cell to the
    full parser (records.parse_called_cell), which accepts it the same or explains the refusal."""
    if two := _TWO_NUMBERS(cell):
        first, type_1, quoted_1, bare_1, second, type_2, quoted_2, bare_2 = two.groups()
        delay_1, delay_2 = int(quoted_1 or bare_1 or 0), int(quoted_2 or bare_2 or 0)
        if first == second or delay_1 > rec.MAX_DELAY_S or delay_2 > rec.MAX_DELAY_S:
            return None
        shown_1 = f'"{type_1}"' if type_1 else "null"  # letters, digits and _: nothing to escape
        shown_2 = f'"{type_2}"' if type_2 else "null"
        return [first, second], f'[["{first}",{shown_1},{delay_1}],["{second}",{shown_2},{delay_2}]]'
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


_DIALABLE_BYTES = rec.DIALABLE.encode()
_TABS = repeat("\t")


def _dialable(text: str) -> bool:
    """Whether every character of `text` is dialable (str.lstrip(DIALABLE) looks each one up: ~10x)."""
    return text.isascii() and not text.encode().translate(None, _DIALABLE_BYTES)


_PLAIN_CALLED_PREFIX = '[{"calledNo":"'  # the template's plain form: prefix + number + '"}]'
_plain_called_number = itemgetter(slice(len(_PLAIN_CALLED_PREFIX), -3))
_plain_called_cell = (_PLAIN_CALLED_PREFIX.replace("{", "{{") + '{}"}}]').format


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
    SheetRows.plain_text; while it holds, a cell's characters need checking for CR and LF only.

    The rows come CHUNK_ROWS at a time (a chunk's objects stay in the CPU's cache while they are
    worked on). A chunk whose every row is stored as it stands (the common case: no repeat, no refusal)
    is checked and formatted column by column, in C (_Chunks.whole); any other chunk row by row
    (_Chunks.one_by_one). Both give the same values in file order. A block holds about
    _BULK_BLOCK_ROWS rows: COPY text, or the rows' values in one flat list (SQLite)."""
    pg = dialect == "postgresql"
    chunks = _Chunks(pg, campaign, shape, sorter, import_task_id, now_ms, plain_text or [False])
    rows_per_block = calldata_repo._BULK_BLOCK_ROWS
    parts: list[Any] = []  # COPY text (PostgreSQL) or values (SQLite) of the rows not yet sent
    stored = 0
    line = first_line
    while rows := list(islice(raw_rows, CHUNK_ROWS)):
        before = sorter.tally.stored
        chunk = chunks.whole(rows)
        if chunk is None:
            chunk = chunks.one_by_one(rows, line)
        line += len(rows)
        stored += sorter.tally.stored - before
        if pg:
            parts.append(chunk)
        else:
            parts += chunk
        if stored >= rows_per_block:
            yield "".join(parts).encode() if pg else parts
            parts, stored = [], 0
    if parts:
        yield "".join(parts).encode() if pg else parts


class _Chunks:
    """The checks and formats of sorted_blocks, for a chunk of rows at a time."""

    def __init__(
        self,
        pg: bool,
        campaign: LockedCampaign,
        shape: Callable[[list[Any]], list[str | None]],
        sorter: RowSorter,
        import_task_id: str | None,
        now_ms: int,
        plain: list[bool],
    ) -> None:
        self.pg, self.shape, self.sorter, self.plain = pg, shape, sorter, plain
        self.null = "\\N" if pg else None
        self.head, self.tail = calldata_repo.copy_line_ends(campaign, import_task_id, now_ms)
        self.recycle_at = calldata_repo._LocalTimes(campaign.timezone)
        self.good_times: set[str] = set()
        # The repository's own formatter for the rows that take the slow path: one generator kept
        # alive (fed one record at a time), so its recycle-time cache lasts the whole file.
        self.slot: list[CallRecord] = []
        self.slow_format: Iterator[Any]
        if pg:
            self.slow_format = calldata_repo._copy_lines(campaign, _feeder(self.slot), import_task_id, now_ms)
        else:
            self.slow_format = calldata_repo._bulk_rows(campaign, _feeder(self.slot), import_task_id, now_ms)

    def _good_time(self, recycle_time: str) -> bool:
        if recycle_time in self.good_times:
            return True
        if rec._recycle_time_problem_cached(recycle_time):
            return False
        if len(self.good_times) < _GOOD_TIMES_LIMIT:
            self.good_times.add(recycle_time)
        return True

    def whole(self, rows: list[list[str]]) -> str | list[Any] | None:
        """The chunk's values (COPY lines, or SQLite's flat values), if every row of it is stored as it
        stands: six cells, each accepted by the fast checks of one_by_one, no number refused, repeated
        in the chunk or seen before. None (and nothing counted) otherwise."""
        try:
            columns = list(zip(*rows, strict=True))
        except ValueError:  # rows of different widths
            return None
        if len(columns) != 6:
            return None
        sessions, calleds, callers, datas, customs, recycles = columns
        # `called`: the template's plain form is _PLAIN_CALLED_PREFIX + digits + '"}]'. When the column
        # is the cells rebuilt that way around what lies between (the same text, so the same lengths
        # cell by cell), a cell whose middle is not digits has another form, e.g. several numbers.
        numbers = list(map(_plain_called_number, calleds))
        rebuilt = zip(repeat(_PLAIN_CALLED_PREFIX), numbers, repeat('"}]'), strict=False)
        if "".join(calleds) == "".join(chain.from_iterable(rebuilt)):
            other_form: Iterator[bool] = map(not_, map(str.isdigit, numbers))
        else:
            other_form = map(
                or_, map(ne, calleds, map(_plain_called_cell, numbers)), map(not_, map(str.isdigit, numbers))
            )
        numbers_json: list[str | None] = [self.null] * len(rows)
        more: list[str] = []  # the second and later numbers of several-number cells
        for i in compress(count(), other_form):
            called = calleds[i]
            if called[:14] == _PLAIN_CALLED_PREFIX:  # several numbers, or a number with * or #
                many = fast_numbers(called)
                if many is None:
                    return None
                numbers_i, json_i = many
                numbers[i] = numbers_i[0]
                more += numbers_i[1:]
                if json_i is not None:
                    numbers_json[i] = json_i
            elif called and (number := rec._fast_called(called)):  # another quoting, or the bare number
                numbers[i] = number
            else:
                return None
        text = "".join(chain(sessions, callers, datas, customs))
        if not (
            _dialable("".join(numbers))  # (none is empty: isdigit("") is False, and the others are checked)
            and max(map(len, numbers)) <= rec.MAX_CALLED_LEN
            and (
                ("\n" not in text and "\r" not in text)
                if self.plain[0]  # read after the chunk: the flag covers its bytes
                else (text.isascii() and text.isprintable() and "\\" not in text)  # no NUL, tab, LF or CR
            )
            and max(map(len, sessions)) <= rec.MAX_SESSION_ID_LEN
            and max(map(len, callers)) <= rec.MAX_CALLER_LEN
            and max(map(len, datas)) <= rec.MAX_CALL_DATA_LEN
            and max(map(len, customs)) <= rec.MAX_CUSTOM_FIELD_LEN
            and not rec._CUSTOM_FIELD_UNPLAIN("".join(customs))
        ):
            return None
        times: dict[str, Any] = {"": self.null}
        for recycle_time in set(recycles):
            if recycle_time:
                if not self._good_time(recycle_time):
                    return None
                at = self.recycle_at(recycle_time)
                times[recycle_time] = str(at) if self.pg else at
        refuse = self.sorter.refuse_number
        if refuse and not (refuse.keys().isdisjoint(numbers) and refuse.keys().isdisjoint(more)):
            return None
        fresh = set(numbers)
        seen = self.sorter.seen
        if len(fresh) != len(numbers) or not seen.isdisjoint(fresh):
            return None
        seen |= fresh
        self.sorter.tally.stored += len(numbers)
        null = self.null
        values = (
            _empty_as(null, sessions),
            numbers,
            numbers_json,
            _empty_as(null, callers),
            _empty_as(null, datas),
            _empty_as(null, customs),
            map(times.__getitem__, recycles),
        )
        if self.pg:  # _copy_lines' lines: the head, the values with a tab between them, the tail
            pieces: list[Iterable[Any]] = [repeat(self.head)]
            for column in values:
                pieces += (column, _TABS)
            pieces[-1] = repeat(self.tail)
            return "".join(chain.from_iterable(zip(*pieces, strict=False)))
        return list(chain.from_iterable(zip(*values, strict=True)))

    def one_by_one(self, rows: list[list[str]], first_line: int) -> str | list[Any]:
        """The chunk's values row by row: each row the fast checks accept is sorted and formatted here,
        each other one by the sorter and the repository's formatter."""
        sorter, pg, plain = self.sorter, self.pg, self.plain
        tally, refuse_number, duplicate_reason = sorter.tally, sorter.refuse_number, sorter.duplicate_reason
        seen, failures, slow_sort, shape = sorter.seen, tally.failures, sorter.sort, self.shape
        slot, slow_format, recycle_at, good_time = (
            self.slot,
            self.slow_format,
            self.recycle_at,
            self._good_time,
        )
        fast_called, template_called = rec._fast_called, rec._TEMPLATE_CALLED
        many_prefix = _PLAIN_CALLED_PREFIX
        unplain = rec._CUSTOM_FIELD_UNPLAIN
        max_session, max_caller = rec.MAX_SESSION_ID_LEN, rec.MAX_CALLER_LEN
        max_data, max_custom = rec.MAX_CALL_DATA_LEN, rec.MAX_CUSTOM_FIELD_LEN
        null = "\\N"
        head, tail = self.head, self.tail
        stored = repeat = 0
        out: list[Any] = []
        line = first_line - 1
        for row in rows:
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
                        (
                            ("\n" not in text and "\r" not in text)
                            if plain[0]
                            else (text.isascii() and text.isprintable() and "\\" not in text)
                        )
                        and len(session_id) <= max_session
                        and len(caller) <= max_caller
                        and len(call_data) <= max_data
                        and len(custom_field) <= max_custom
                        and not (custom_field and unplain(custom_field))
                        and (not recycle_time or good_time(recycle_time))  # else the slow path says why
                    ):
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
                        continue
            record = slow_sort(line, shape(row))
            if record is not None:
                slot.append(record)
                if pg:
                    out.append(next(slow_format))
                else:
                    out += next(slow_format)
        tally.stored += stored
        tally.repeat += repeat
        return "".join(out) if pg else out


def _empty_as(null: str | None, cells: tuple[str, ...]) -> Sequence[str | None]:
    """The cells with `null` for each empty one (looking each cell up in {"": null} would hash it)."""
    if all(cells):
        return cells
    patched: list[str | None] = list(cells)
    for i in compress(count(), map(not_, cells)):
        patched[i] = null
    return patched
