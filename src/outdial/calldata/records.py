"""The one call-record validator, shared by the add-numbers API and the file importer.

Both paths run the SAME rule functions (`*_problem` below); each rule returns None when the value is
acceptable, or `(code, message)` where the message does not name the field, so each path adds its own
name: the API raises ApiError "callDataList[3].called may contain only digits, * and #", the file row
gets the reason "called: calledNo '12a' may contain only digits, * and #". Rules return instead of raise
because the importer checks 500,000 rows and an exception per refused cell costs more than the check.

Field rules (seed "Adding Outbound Numbers", Table 4, and the file template, Tables 2 and 3):
- sessionId: at most 32 characters.
- called: required; at most 24 characters, only digits, '*' and '#' (empty 02000001, invalid characters
  02000002, too long 02000003; length is checked before characters, as everywhere in outdial).
- caller: at most 24 characters (the document sets no character rule, so none is added).
- customField: at most 200 characters and none of `~!@#$%^&*()+=|{}'":;<>/?.\\[]¥–, (the yen sign
  U+00A5 and the en dash U+2013 included, exactly the document's list).
- callData: at most 1024 characters (JSON is recommended, never required).
- recycleTime: "yyyy-MM-dd HH:mm:ss" and a real calendar date and time, else 0200030. It is not compared
  with the clock here (a past recycle time only means the record is recycled when the engine sees it).
- Every text field: no NUL character and no unpaired surrogate (02000002). Neither can be stored in
  PostgreSQL text, and one such row would otherwise fail a whole import's transaction.
- Lengths count Unicode code points, as the database's varchar columns do.
- Absent, null and "" all mean "not given" for the optional fields; no value is trimmed (" 123" is refused
  as a called number, not silently changed). A called number of only spaces counts as empty.

API request (`parse_add_request`): callDataList required (missing or [] is 02000001), at most 20 records
(0200029), every called number unique within the request (0200018). Checked in this order: the list,
its size, then each record in order and field by field in the document's order (sessionId, called,
caller, customField, recycleTime, callData); the first problem found is reported. A string field also
takes a JSON number (written back as its digits), as Jackson does; a boolean, object or array is 02000006.

File rows (`validate_file_row`): six text cells in template order (sessionId, called, caller, callData,
customField, recycleTime). `called` is a JSON array of {calledNo, delayTime, type}; decisions:
- single-quoted strings ({'calledNo':'138'}) and bare values ({'calledNo':0138}) are accepted; a bare
  value is kept as written, so leading zeros survive;
- a cell holding only a valid called number (e.g. 13800000001, what Excel leaves when someone types the
  number alone) is accepted as one calledNo;
- at most MAX_NUMBERS_PER_RECORD (10) numbers per record, matching callPolicy turnOrder 1-10;
- a calledNo given twice in one record is refused; an unknown key is refused (a misspelt "delaytime"
  would otherwise silently become 0);
- delayTime: a whole number of seconds 0-7200, as a number or a string; absent, null or "" is 0;
- type: optional text, at most MAX_TYPE_LEN (50) characters;
- the cell is at most MAX_CALLED_CELL_LEN (4096) characters (bounded parsing cost).
Duplicates across rows and the blacklist are the importer's business (imports/pipeline.py).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from outdial import errors
from outdial.errors import ApiError
from outdial.validation import fail, str_value

MAX_RECORDS_PER_REQUEST = 20
MAX_SESSION_ID_LEN = 32
MAX_CALLED_LEN = 24
MAX_CALLER_LEN = 24
MAX_CUSTOM_FIELD_LEN = 200
MAX_CALL_DATA_LEN = 1024
MAX_NUMBERS_PER_RECORD = 10
MAX_DELAY_S = 7200
MAX_TYPE_LEN = 50
MAX_CALLED_CELL_LEN = 4096

DIALABLE = "0123456789*#"
# Exactly the document's list: `~!@#$%^&*()+=|{}'":;<>/?.\[]¥–,  (U+00A5 yen sign, U+2013 en dash)
CUSTOM_FIELD_FORBIDDEN = "`~!@#$%^&*()+=|{}'\":;<>/?.\\[]\u00a5\u2013,"

FILE_COLUMNS = ("sessionId", "called", "caller", "callData", "customField", "recycleTime")
NUMBER_KEYS = ("calledNo", "delayTime", "type")


@dataclass(frozen=True, slots=True)
class CalledNumber:
    called: str
    type: str | None
    delay_s: int  # 0-7200, default 0


@dataclass(frozen=True, slots=True)
class CallRecord:
    session_id: str | None
    numbers: tuple[CalledNumber, ...]  # in the order given; API records have exactly one
    caller: str | None
    call_data: str | None
    custom_field: str | None
    recycle_time: str | None  # "yyyy-MM-dd HH:mm:ss" local to the campaign's zone


Problem = tuple[str, str]  # (iSales code, message that follows the field's name)

# ---------------------------------------------------------------- the rules (one set, both paths)

_REQUIRED: Problem = (errors.EMPTY, "is required")
_CALLED_TOO_LONG: Problem = (errors.TOO_LONG, f"must be at most {MAX_CALLED_LEN} characters long")
_CALLED_CHARS: Problem = (errors.INVALID_CHARS, "may contain only digits, * and #")
_NUL: Problem = (errors.INVALID_CHARS, "must not contain the NUL character")
_SURROGATE: Problem = (errors.INVALID_CHARS, "must not contain an unpaired surrogate character")
_TIME_SHAPE: Problem = (errors.BAD_TIME_FORMAT, "must be formatted yyyy-MM-dd HH:mm:ss")
_TIME_UNREAL: Problem = (errors.BAD_TIME_FORMAT, "is not a real date and time")
_DELAY_TYPE: Problem = (errors.WRONG_TYPE, "must be a whole number of seconds")
_DELAY_RANGE: Problem = (errors.WRONG_VALUE, f"must be between 0 and {MAX_DELAY_S}")

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_FORBIDDEN = re.compile("[" + re.escape(CUSTOM_FIELD_FORBIDDEN) + "]")
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _too_long(limit: int) -> Problem:
    return (errors.TOO_LONG, f"must be at most {limit} characters long")


_TOO_LONG = {
    n: _too_long(n)
    for n in (MAX_SESSION_ID_LEN, MAX_CALLER_LEN, MAX_CUSTOM_FIELD_LEN, MAX_CALL_DATA_LEN, MAX_TYPE_LEN)
}


def _storable(text: str) -> Problem | None:
    # ASCII is the common case and needs only a substring test.
    if text.isascii():
        return _NUL if "\x00" in text else None
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return _NUL if found.group() == "\x00" else _SURROGATE


def _free_text(text: str, limit: int) -> Problem | None:
    if len(text) > limit:
        return _TOO_LONG[limit]
    return _storable(text)


def called_problem(text: str) -> Problem | None:
    """A called number (API `called`, file `calledNo`, blacklist numbers): 1-24 of 0-9 * #."""
    if not text or text.isspace():
        return _REQUIRED
    if len(text) > MAX_CALLED_LEN:
        return _CALLED_TOO_LONG
    # lstrip removes every leading allowed character; anything left is a disallowed one (ASCII digits
    # only: "٣".isdigit() is True, but it is not in DIALABLE).
    if text.lstrip(DIALABLE):
        return _CALLED_CHARS
    return None


def session_id_problem(text: str) -> Problem | None:
    return _free_text(text, MAX_SESSION_ID_LEN)


def caller_problem(text: str) -> Problem | None:
    return _free_text(text, MAX_CALLER_LEN)


def call_data_problem(text: str) -> Problem | None:
    return _free_text(text, MAX_CALL_DATA_LEN)


def number_type_problem(text: str) -> Problem | None:
    return _free_text(text, MAX_TYPE_LEN)


def custom_field_problem(text: str) -> Problem | None:
    if len(text) > MAX_CUSTOM_FIELD_LEN:
        return _TOO_LONG[MAX_CUSTOM_FIELD_LEN]
    if _FORBIDDEN.search(text):
        bad = "".join(sorted({ch for ch in text if ch in CUSTOM_FIELD_FORBIDDEN}))
        return (errors.INVALID_CHARS, f"must not contain {bad!r}")
    return _storable(text)


def recycle_time_problem(text: str) -> Problem | None:
    """'yyyy-MM-dd HH:mm:ss' naming a real date and time (no exceptions, no regex: a file may hold 500k)."""
    if (
        len(text) != 19
        or text[4] != "-"
        or text[7] != "-"
        or text[10] != " "
        or text[13] != ":"
        or text[16] != ":"
    ):
        return _TIME_SHAPE
    digits = text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
    if not (digits.isascii() and digits.isdigit()):
        return _TIME_SHAPE
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    if year < 1 or not 1 <= month <= 12 or day < 1:
        return _TIME_UNREAL
    last = _DAYS_IN_MONTH[month]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        last = 29
    if day > last or int(text[11:13]) > 23 or int(text[14:16]) > 59 or int(text[17:19]) > 59:
        return _TIME_UNREAL
    return None


def parse_delay(text: str) -> int | Problem:
    """A calledNo's delayTime as written (number or string): whole seconds 0-7200; "" means 0."""
    if not text:
        return 0
    digits = text[1:] if text[0] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        return _DELAY_TYPE
    if len(digits) > 6 or text[0] == "-" and int(digits) != 0:
        return _DELAY_RANGE
    value = int(digits)
    return value if value <= MAX_DELAY_S else _DELAY_RANGE


# Optional record fields in the API document's order, with their rule and CallRecord position.
_OPTIONAL_RULES = (
    ("caller", caller_problem),
    ("customField", custom_field_problem),
    ("recycleTime", recycle_time_problem),
    ("callData", call_data_problem),
)

# ---------------------------------------------------------------- fast construction

# A frozen dataclass's __init__ sets each field through object.__setattr__, about half the cost of a
# simple file row. Values here are already validated, so the slots are filled directly; the result is an
# ordinary CallRecord (equal, hashable, frozen). Tests compare it with the normal constructor.
_new = object.__new__
_set_called, _set_type, _set_delay = (CalledNumber.__dict__[n].__set__ for n in ("called", "type", "delay_s"))
(_set_session, _set_numbers, _set_caller, _set_call_data, _set_custom, _set_recycle) = (
    CallRecord.__dict__[n].__set__
    for n in ("session_id", "numbers", "caller", "call_data", "custom_field", "recycle_time")
)


def _number(called: str, type_: str | None, delay_s: int) -> CalledNumber:
    number = _new(CalledNumber)
    _set_called(number, called)
    _set_type(number, type_)
    _set_delay(number, delay_s)
    return number


def _record(
    session_id: str | None,
    numbers: tuple[CalledNumber, ...],
    caller: str | None,
    call_data: str | None,
    custom_field: str | None,
    recycle_time: str | None,
) -> CallRecord:
    record = _new(CallRecord)
    _set_session(record, session_id)
    _set_numbers(record, numbers)
    _set_caller(record, caller)
    _set_call_data(record, call_data)
    _set_custom(record, custom_field)
    _set_recycle(record, recycle_time)
    return record


# ---------------------------------------------------------------- API: POST .../calldata/{campaignId}


def _api_text(item: dict[str, Any], key: str, path: str) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    return str_value(value, path)  # a JSON number becomes its digits; bool/object/array is 02000006


def _raise(problem: Problem, path: str) -> ApiError:
    return fail(problem[0], path, problem[1])


def parse_add_request(body: object) -> list[CallRecord]:
    """Validate an add-numbers body into records (each with exactly one number), or raise ApiError."""
    if not isinstance(body, dict):
        raise fail(errors.WRONG_TYPE, "request body", "must be a JSON object")
    items = body.get("callDataList")
    if items is None:
        raise fail(errors.EMPTY, "callDataList", "is required")
    if not isinstance(items, list):
        raise fail(errors.WRONG_TYPE, "callDataList", "must be a JSON array")
    if not items:
        raise fail(errors.EMPTY, "callDataList", "must hold at least one record")
    if len(items) > MAX_RECORDS_PER_REQUEST:
        raise ApiError(
            errors.TOO_MANY_RECORDS,
            f"callDataList holds {len(items)} records; at most {MAX_RECORDS_PER_REQUEST} can be added at a time",
        )
    records: list[CallRecord] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        path = f"callDataList[{index}]"
        if not isinstance(item, dict):
            raise fail(errors.WRONG_TYPE, path, "must be a JSON object")
        session_id = _api_text(item, "sessionId", f"{path}.sessionId")
        if session_id is not None and (problem := session_id_problem(session_id)):
            raise _raise(problem, f"{path}.sessionId")
        called = _api_text(item, "called", f"{path}.called")
        if problem := called_problem(called or ""):
            raise _raise(problem, f"{path}.called")
        assert called is not None  # called_problem refuses None/""
        values: dict[str, str | None] = {}
        for key, rule in _OPTIONAL_RULES:
            text = _api_text(item, key, f"{path}.{key}")
            if text is not None and (problem := rule(text)):
                raise _raise(problem, f"{path}.{key}")
            values[key] = text
        if called in first_index:
            raise ApiError(
                errors.DUPLICATE_NUMBERS,
                f"{path}.called {called} is also callDataList[{first_index[called]}].called",
            )
        first_index[called] = index
        records.append(
            CallRecord(
                session_id=session_id,
                numbers=(CalledNumber(called, None, 0),),
                caller=values["caller"],
                call_data=values["callData"],
                custom_field=values["customField"],
                recycle_time=values["recycleTime"],
            )
        )
    return records


# ---------------------------------------------------------------- file rows


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _cell_reason(column: str, text: str, problem: Problem) -> str:
    return f"{column}: {_shown(text)} {problem[1]}"


_FAST_PREFIXES = frozenset(("[{'calledNo':", '[{"calledNo":'))  # both 13 characters
_QUOTES = frozenset("'\"")
# customField's forbidden characters and NUL, in one search (the fast path below)
_CUSTOM_FIELD_UNPLAIN = re.compile("[" + re.escape(CUSTOM_FIELD_FORBIDDEN) + "\x00]").search
# A file's rows mostly share a few recycle times: the rule is pure, so its answers are kept.
_recycle_time_problem_cached = functools.lru_cache(maxsize=1024)(recycle_time_problem)


# The commonest `called` cell of a file, the template's plain form as Excel writes it
# ([{"calledNo":"138..."}]), in one regex call: the number is group 1 (imports/fastrows.py; about half
# the time of _fast_called, which takes the other quotings and the bare number).
_TEMPLATE_CALLED = re.compile(
    r'\[\{"calledNo":"([' + re.escape(DIALABLE) + "]{1," + str(MAX_CALLED_LEN) + r'})"\}\]'
).fullmatch


def _fast_called(cell: str) -> str | None:
    """The calledNo of the template's plain one-number form ([{'calledNo':138...}], quoted or not), or
    of a cell holding only the number; None sends the cell to the full parser (which explains refusals)."""
    if cell[-2:] == "}]" and cell[:13] in _FAST_PREFIXES:
        number = cell[13:-2]
        if len(number) > 2 and number[0] in _QUOTES and number[-1] == number[0]:
            number = number[1:-1]
    else:
        number = cell
    # called_problem's rule, inline: 1-24 characters, all of them dialable
    return number if 0 < len(number) <= MAX_CALLED_LEN and not number.lstrip(DIALABLE) else None


def validate_file_row(cells: list[str | None]) -> CallRecord | str:
    """One file row (six text cells in template order) as a CallRecord, or a short reason naming the
    column, e.g. "called: calledNo '12a' may contain only digits, * and #".

    A file may hold 500,000 rows, so each text cell first takes a fast test that accepts only what its
    rule accepts (within the length, ASCII, no NUL, and for customField none of its forbidden
    characters); a cell that fails it goes through the rule itself, which accepts it or says why not."""
    if len(cells) != 6:
        return f"the row has {len(cells)} cells; the template has 6"
    session_id, called, caller, call_data, custom_field, recycle_time = cells
    if session_id:
        if not (
            len(session_id) <= MAX_SESSION_ID_LEN and session_id.isascii() and "\x00" not in session_id
        ) and (problem := session_id_problem(session_id)):
            return _cell_reason("sessionId", session_id, problem)
    else:
        session_id = None
    if not called:
        return "called: is required" + ("" if any(cells) else " (the row is empty)")
    number = _fast_called(called)
    if number is not None:
        numbers: tuple[CalledNumber, ...] = (_number(number, None, 0),)
    else:
        parsed = parse_called_cell(called)
        if isinstance(parsed, str):
            return parsed
        numbers = parsed
    if caller:
        if not (len(caller) <= MAX_CALLER_LEN and caller.isascii() and "\x00" not in caller) and (
            problem := caller_problem(caller)
        ):
            return _cell_reason("caller", caller, problem)
    else:
        caller = None
    if custom_field:
        if not (
            len(custom_field) <= MAX_CUSTOM_FIELD_LEN
            and custom_field.isascii()
            and not _CUSTOM_FIELD_UNPLAIN(custom_field)
        ) and (problem := custom_field_problem(custom_field)):
            return _cell_reason("customField", custom_field, problem)
    else:
        custom_field = None
    if recycle_time:
        if problem := _recycle_time_problem_cached(recycle_time):
            return _cell_reason("recycleTime", recycle_time, problem)
    else:
        recycle_time = None
    if call_data:
        if not (len(call_data) <= MAX_CALL_DATA_LEN and call_data.isascii() and "\x00" not in call_data) and (
            problem := call_data_problem(call_data)
        ):
            return _cell_reason("callData", call_data, problem)
    else:
        call_data = None
    return _record(session_id, numbers, caller, call_data, custom_field, recycle_time)


# ---------------------------------------------------------------- the `called` cell (full parser)

# Tokens of the cell's small JSON dialect: punctuation, "double" or 'single' quoted strings (with
# backslash escapes), and bare values (numbers, true, null, unquoted keys) kept as written.
_TOKEN = re.compile(
    r"""\s*(?:(?P<punct>[\[\]{}:,])|"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'|(?P<bare>[^\s\[\]{}:,'"]+))""",
    re.S,
)
_SINGLE_QUOTED_ESCAPES = re.compile(r"\\.|\"", re.S)
_SYNTAX = "called: must be a JSON array such as [{'calledNo':'13800000001','delayTime':0,'type':'mobile'}]"


def _unquote_double(body: str) -> str:
    return json.loads('"' + body + '"', strict=False)  # escapes, \uXXXX and surrogate pairs as JSON does


def _unquote_single(body: str) -> str:
    # Make the body a double-quoted JSON string body: \' becomes ', a bare " gets escaped.
    def swap(match: re.Match[str]) -> str:
        text = match.group()
        return "'" if text == "\\'" else '\\"' if text == '"' else text

    return _unquote_double(_SINGLE_QUOTED_ESCAPES.sub(swap, body))


def _tokens(cell: str) -> list[tuple[str, str | None]] | None:
    """(kind, text) pairs: kind is the punctuation itself, "str" or "bare"; None when the cell is not
    made of such tokens. A bare null becomes ("str", None): absent."""
    out: list[tuple[str, str | None]] = []
    pos, end = 0, len(cell)
    match = _TOKEN.match
    while True:
        found = match(cell, pos)
        if found is None:
            return out if cell[pos:].strip() == "" else None
        pos = found.end()
        if found["punct"] is not None:
            out.append((found["punct"], None))
        elif found["bare"] is not None:
            bare = found["bare"]
            out.append(("str", None) if bare == "null" else ("bare", bare))
        else:
            body = found["dq"]
            double = body is not None
            if not double:
                body = found["sq"]
            if "\\" in body or (not double and '"' in body):  # escapes are rare: decode only then
                try:
                    body = _unquote_double(body) if double else _unquote_single(body)
                except ValueError:
                    return None
            out.append(("str", body))
        if pos >= end:
            return out


def _parse_objects(tokens: list[tuple[str, str | None]]) -> list[list[tuple[str, str | None]]] | None:
    """[ {key: value, ...}, ... ] as lists of (key, value) pairs, or None when the shape is wrong."""
    if len(tokens) < 2 or tokens[0][0] != "[" or tokens[-1][0] != "]":
        return None
    objects: list[list[tuple[str, str | None]]] = []
    i, last = 1, len(tokens) - 1
    if i == last:
        return objects
    while True:
        if tokens[i][0] != "{":
            return None
        i += 1
        pairs: list[tuple[str, str | None]] = []
        if tokens[i][0] == "}":
            i += 1
        else:
            while True:
                key_kind, key = tokens[i]
                if key_kind not in ("str", "bare") or key is None or tokens[i + 1][0] != ":":
                    return None
                value_kind, value = tokens[i + 2]
                if value_kind not in ("str", "bare"):
                    return None  # a nested array or object
                pairs.append((key, value))
                i += 3
                if tokens[i][0] == ",":
                    i += 1
                    continue
                if tokens[i][0] != "}":
                    return None
                i += 1
                break
        objects.append(pairs)
        if i == last:
            return objects
        if tokens[i][0] != "," or i + 1 >= last:
            return None
        i += 1


Pairs = list[tuple[str, str | None]]


def _scalar_text(value: object) -> str | None | bool:
    """A JSON scalar as the tokenizer would give it; False (not a scalar) for arrays and objects."""
    if value is None or value.__class__ is str:
        return value  # type: ignore[return-value]
    if value is True:
        return "true"
    if value is False:
        return "false"
    return False


def _objects_by_json(cell: str) -> list[Pairs] | None:
    """The common, plain-JSON cells (also single-quoted ones without escapes or double quotes) through the
    C JSON parser, numbers kept as written; None leaves the cell to the tokenizer, which accepts the same
    dialect more slowly (leading zeros, unquoted keys) and explains errors."""
    if "'" in cell:
        if '"' in cell or "\\" in cell:
            return None
        cell = cell.replace("'", '"')
    try:
        data = _json_pairs(cell)
    except ValueError:
        return None
    if data.__class__ is not list:
        return None
    objects: list[Pairs] = []
    for pairs in data:
        if pairs.__class__ is not _JsonObject:
            return None  # a scalar or array where an object belongs
        converted: Pairs = []
        for key, value in pairs:
            text = _scalar_text(value)
            if text is False:
                return None
            converted.append((key, text))  # type: ignore[arg-type]
        objects.append(converted)
    return objects


class _JsonObject(list[tuple[str, Any]]):
    """A decoded JSON object as its (key, value) pairs (a key given twice stays visible)."""


# Numbers stay as written (parse_* = str); objects come back as _JsonObject, told apart from arrays.
_json_pairs = json.JSONDecoder(
    object_pairs_hook=_JsonObject, parse_int=str, parse_float=str, parse_constant=str, strict=False
).decode


def parse_called_cell(cell: str) -> tuple[CalledNumber, ...] | str:
    """The `called` cell of a file row as its numbers, or a reason starting "called: "."""
    if len(cell) > MAX_CALLED_CELL_LEN:
        return f"called: the cell holds {len(cell)} characters; at most {MAX_CALLED_CELL_LEN}"
    if not cell.lstrip().startswith("["):
        # Not an array: a lone valid number is accepted (see module doc), anything else is a syntax error.
        return _SYNTAX if called_problem(cell) else (_number(cell, None, 0),)
    objects = _objects_by_json(cell)
    if objects is None:
        tokens = _tokens(cell)
        try:
            objects = _parse_objects(tokens) if tokens is not None else None
        except IndexError:  # ran off the end of an unfinished array: a syntax error like the rest
            objects = None
        if objects is None:
            return _SYNTAX
    if not objects:
        return "called: holds no calledNo"
    if len(objects) > MAX_NUMBERS_PER_RECORD:
        return f"called: holds {len(objects)} numbers; at most {MAX_NUMBERS_PER_RECORD} per record"
    numbers: list[CalledNumber] = []
    seen: set[str] = set()
    several = len(objects) > 1
    for position, pairs in enumerate(objects, start=1):
        where = f" (number {position})" if several else ""
        fields: dict[str, str | None] = {}
        for key, value in pairs:
            if key not in NUMBER_KEYS:
                return f"called: unknown key {key!r}{where}; the keys are calledNo, delayTime and type"
            if key in fields:
                return f"called: key {key!r} appears twice{where}"
            fields[key] = value
        called = fields.get("calledNo") or ""
        if problem := called_problem(called):
            if problem is _REQUIRED:
                return f"called: calledNo is required{where}"
            return f"called: calledNo {_shown(called)}{where} {problem[1]}"
        delay = parse_delay(fields.get("delayTime") or "")
        if isinstance(delay, tuple):
            return f"called: delayTime {_shown(fields.get('delayTime') or '')}{where} {delay[1]}"
        type_ = fields.get("type") or None
        if type_ is not None and (problem := number_type_problem(type_)):
            return f"called: type {_shown(type_)}{where} {problem[1]}"
        if called in seen:
            return f"called: calledNo {_shown(called)} appears twice in the record"
        seen.add(called)
        numbers.append(_number(called, type_, delay))
    return tuple(numbers)
