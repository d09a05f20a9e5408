"""The call-record validator: every field rule of the add-numbers API with its code and field path, the
file template's `called` cell, and (hypothesis) that both paths judge the same values the same way."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outdial import errors
from outdial.calldata.records import (
    CUSTOM_FIELD_FORBIDDEN,
    CalledNumber,
    CallRecord,
    parse_add_request,
    parse_called_cell,
    validate_file_row,
)
from outdial.errors import ApiError


def one(**record: Any) -> dict[str, Any]:
    return {"callDataList": [record]}


def refused(body: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_add_request(body)
    return caught.value


def row(called: str | None, **cells: str | None) -> list[str | None]:
    return [
        cells.get("sessionId"),
        called,
        cells.get("caller"),
        cells.get("callData"),
        cells.get("customField"),
        cells.get("recycleTime"),
    ]


# ---------------------------------------------------------------- API: the list


def test_the_documents_example_gives_four_records_of_one_number_each():
    body = {
        "callDataList": [
            {"sessionId": "00750", "called": "80021"},
            {"sessionId": "00850", "called": "80022"},
            {"sessionId": "00950", "called": "80023"},
            {"sessionId": "01050", "called": "80024"},
        ]
    }
    records = parse_add_request(body)
    assert [r.session_id for r in records] == ["00750", "00850", "00950", "01050"]
    assert [r.numbers for r in records] == [(CalledNumber(f"8002{i}", None, 0),) for i in range(1, 5)]
    assert all(r.caller is None and r.call_data is None and r.custom_field is None for r in records)


def test_every_field_is_carried_into_the_record():
    (record,) = parse_add_request(
        one(
            sessionId="s-1",
            called="*86#138",
            caller="4001234",
            customField="batch 7_a-b 批次",
            recycleTime="2026-12-31 18:00:00",
            callData='{"name":"Lin"}',
        )
    )
    assert record == CallRecord(
        session_id="s-1",
        numbers=(CalledNumber("*86#138", None, 0),),
        caller="4001234",
        call_data='{"name":"Lin"}',
        custom_field="batch 7_a-b 批次",
        recycle_time="2026-12-31 18:00:00",
    )


@pytest.mark.parametrize("body", [None, [], "x", 5])
def test_a_body_that_is_not_an_object_is_the_wrong_type(body):
    assert refused(body).code == errors.WRONG_TYPE


@pytest.mark.parametrize("body", [{}, {"callDataList": None}])
def test_missing_call_data_list_is_empty(body):
    error = refused(body)
    assert (error.code, error.desc) == (errors.EMPTY, "callDataList is required")


def test_an_empty_call_data_list_is_empty():
    error = refused({"callDataList": []})
    assert error.code == errors.EMPTY
    assert error.desc.startswith("callDataList ")


def test_call_data_list_must_be_an_array():
    assert refused({"callDataList": {"called": "1"}}).code == errors.WRONG_TYPE


def test_twenty_records_pass_and_twenty_one_are_too_many():
    twenty = {"callDataList": [{"called": str(1000 + i)} for i in range(20)]}
    assert len(parse_add_request(twenty)) == 20
    error = refused({"callDataList": [{"called": str(1000 + i)} for i in range(21)]})
    assert error.code == errors.TOO_MANY_RECORDS == "0200029"


def test_a_record_that_is_not_an_object_names_its_index():
    error = refused({"callDataList": [{"called": "1"}, "2"]})
    assert error.code == errors.WRONG_TYPE
    assert error.desc.startswith("callDataList[1] ")


def test_a_number_given_twice_is_a_duplicate_naming_both_records():
    body = {"callDataList": [{"called": "80021"}, {"called": "80022"}, {"called": "80021"}]}
    error = refused(body)
    assert error.code == errors.DUPLICATE_NUMBERS == "0200018"
    assert error.desc == "callDataList[2].called 80021 is also callDataList[0].called"


# ---------------------------------------------------------------- API: called


@pytest.mark.parametrize("record", [{}, {"called": None}, {"called": ""}, {"called": "   "}])
def test_called_is_required(record):
    error = refused({"callDataList": [{"called": "1"}, record]})
    assert (error.code, error.desc) == (errors.EMPTY, "callDataList[1].called is required")


def test_called_with_a_letter_has_invalid_characters_and_names_its_index():
    body = {"callDataList": [{"called": str(i)} for i in range(3)] + [{"called": "12a"}]}
    error = refused(body)
    assert error.code == errors.INVALID_CHARS == "02000002"
    assert error.desc == "callDataList[3].called may contain only digits, * and #"


@pytest.mark.parametrize(
    "called", ["+8613800000001", "138 0000", "138-0000", "١٣٨", "１３８", " 138", "138\x00"]
)
def test_called_allows_only_ascii_digits_star_and_hash(called):
    assert refused(one(called=called)).code == errors.INVALID_CHARS


def test_called_of_24_characters_passes_and_25_is_too_long():
    assert parse_add_request(one(called="1" * 24))[0].numbers[0].called == "1" * 24
    error = refused(one(called="1" * 25))
    assert (error.code, error.desc) == (
        errors.TOO_LONG,
        "callDataList[0].called must be at most 24 characters long",
    )


def test_length_is_checked_before_characters():
    assert refused(one(called="a" * 25)).code == errors.TOO_LONG


def test_called_as_a_json_number_is_its_digits():
    assert parse_add_request(one(called=80021))[0].numbers[0].called == "80021"


@pytest.mark.parametrize("value", [True, {"no": "1"}, ["1"]])
def test_called_of_another_json_type_is_the_wrong_type(value):
    error = refused(one(called=value))
    assert error.code == errors.WRONG_TYPE
    assert error.desc.startswith("callDataList[0].called ")


# ---------------------------------------------------------------- API: the optional fields


@pytest.mark.parametrize(
    ("field", "limit", "attr"),
    [
        ("sessionId", 32, "session_id"),
        ("caller", 24, "caller"),
        ("customField", 200, "custom_field"),
        ("callData", 1024, "call_data"),
    ],
)
def test_text_fields_pass_at_their_limit_and_are_too_long_past_it(field, limit, attr):
    (record,) = parse_add_request(one(called="1", **{field: "x" * limit}))
    assert getattr(record, attr) == "x" * limit
    error = refused(one(called="1", **{field: "x" * (limit + 1)}))
    assert error.code == errors.TOO_LONG
    assert error.desc == f"callDataList[0].{field} must be at most {limit} characters long"


def test_length_counts_characters_not_bytes():
    (record,) = parse_add_request(one(called="1", sessionId="号" * 32))
    assert record.session_id == "号" * 32


@pytest.mark.parametrize("field", ["sessionId", "caller", "customField", "callData", "recycleTime"])
@pytest.mark.parametrize("empty", [None, ""])
def test_absent_null_and_empty_optional_fields_are_not_given(field, empty):
    attr = {
        "sessionId": "session_id",
        "caller": "caller",
        "customField": "custom_field",
        "callData": "call_data",
        "recycleTime": "recycle_time",
    }[field]
    (record,) = parse_add_request(one(called="1", **{field: empty}))
    assert getattr(record, attr) is None


def test_the_forbidden_list_is_the_documents_with_yen_sign_and_en_dash():
    assert set(CUSTOM_FIELD_FORBIDDEN) == set("`~!@#$%^&*()+=|{}'\":;<>/?.\\[],") | {"\u00a5", "\u2013"}
    assert len(CUSTOM_FIELD_FORBIDDEN) == 32


@pytest.mark.parametrize("char", list("`~!@#$%^&*()+=|{}'\":;<>/?.\\[],") + ["¥", "–"])
def test_custom_field_refuses_each_forbidden_character(char):
    error = refused(one(called="1", customField=f"batch{char}7"))
    assert error.code == errors.INVALID_CHARS
    assert error.desc == f"callDataList[0].customField must not contain {char!r}"


@pytest.mark.parametrize("text", ["batch-7", "batch_7", "lot 7", "批次七", "—em dash", "a\tb"])
def test_custom_field_allows_what_the_list_leaves_out(text):
    # The hyphen and the em dash are not in the list (only the en dash U+2013 is).
    assert parse_add_request(one(called="1", customField=text))[0].custom_field == text


def test_sessions_and_callers_have_no_character_rule_but_nul_cannot_be_stored():
    (record,) = parse_add_request(one(called="1", sessionId="a@b.c", caller="+86 (400) 123"))
    assert (record.session_id, record.caller) == ("a@b.c", "+86 (400) 123")
    error = refused(one(called="1", sessionId="a\x00b"))
    assert (error.code, error.desc) == (
        errors.INVALID_CHARS,
        "callDataList[0].sessionId must not contain the NUL character",
    )
    assert refused(one(called="1", callData="x\ud800y")).code == errors.INVALID_CHARS


@pytest.mark.parametrize(
    "when", ["2026-11-23 10:00:00", "2028-02-29 23:59:59", "2000-02-29 00:00:00", "0001-01-01 00:00:00"]
)
def test_recycle_time_passes_for_real_dates(when):
    assert parse_add_request(one(called="1", recycleTime=when))[0].recycle_time == when


@pytest.mark.parametrize(
    "when",
    [
        "2026-11-23T10:00:00",
        "2026-11-23 10:00",
        "2026-1-23 10:00:00",
        "2026/11/23 10:00:00",
        "２０２６-11-23 10:00:00",
        "2026-11-23 10:00:00 ",
        "2026-02-29 10:00:00",  # not a leap year
        "1900-02-29 10:00:00",  # divisible by 100, not by 400
        "2026-04-31 10:00:00",
        "2026-13-01 10:00:00",
        "2026-00-10 10:00:00",
        "2026-11-00 10:00:00",
        "2026-11-23 24:00:00",
        "2026-11-23 10:60:00",
        "2026-11-23 10:00:60",
        "0000-01-01 00:00:00",
    ],
)
def test_recycle_time_of_the_wrong_shape_or_no_real_date_is_a_time_format_error(when):
    error = refused(one(called="1", recycleTime=when))
    assert error.code == errors.BAD_TIME_FORMAT == "0200030"
    assert error.desc.startswith("callDataList[0].recycleTime ")


def test_the_first_problem_in_document_order_is_reported():
    error = refused(one(sessionId="x" * 33, called="12a", customField="@"))
    assert error.desc.startswith("callDataList[0].sessionId ")
    error = refused(one(called="1", customField="@", callData="x" * 2000))
    assert error.desc.startswith("callDataList[0].customField ")


# ---------------------------------------------------------------- file rows


def test_the_templates_example_row_is_one_number_without_delay_or_type():
    record = validate_file_row(row("[{'calledNo':1234566}]"))
    assert record == CallRecord(None, (CalledNumber("1234566", None, 0),), None, None, None, None)


def test_a_full_row_keeps_every_column():
    record = validate_file_row(
        row(
            '[{"calledNo":"13800000001","delayTime":"30","type":"mobile"},{"calledNo":"0755123","delayTime":0}]',
            sessionId="S1",
            caller="4001234",
            callData='{"a":1}',
            customField="lot 7",
            recycleTime="2026-12-31 18:00:00",
        )
    )
    assert record == CallRecord(
        session_id="S1",
        numbers=(CalledNumber("13800000001", "mobile", 30), CalledNumber("0755123", None, 0)),
        caller="4001234",
        call_data='{"a":1}',
        custom_field="lot 7",
        recycle_time="2026-12-31 18:00:00",
    )


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("[{'calledNo':'13800000001'}]", ("13800000001", None, 0)),
        ('[{"calledNo":13800000001}]', ("13800000001", None, 0)),
        ("[{'calledNo':0755123}]", ("0755123", None, 0)),  # a bare number keeps its leading zero
        ("[ { 'calledNo' : '*86#' , 'delayTime' : '7200' , 'type' : 'SI' } ]", ("*86#", "SI", 7200)),
        ("[{calledNo: 138, delayTime: 5, type: home}]", ("138", "home", 5)),  # unquoted keys and values
        ("[{'calledNo':'138','delayTime':null,'type':null}]", ("138", None, 0)),
        ("[{'calledNo':'138','delayTime':'','type':''}]", ("138", None, 0)),
        ("[{'calledNo':'138','type':1}]", ("138", "1", 0)),
        ("[{'calledNo':'138','type':'it\\'s'}]", ("138", "it's", 0)),
        ("[{'calledNo':'138','type':'say \"hi\"'}]", ("138", 'say "hi"', 0)),
        ('[{"calledNo":"138","type":"\\u53f7"}]', ("138", "号", 0)),
        ("13800000001", ("13800000001", None, 0)),  # the number alone, as Excel leaves a typed number
    ],
)
def test_called_cells_the_template_dialect_accepts(cell, expected):
    record = validate_file_row(row(cell))
    assert isinstance(record, CallRecord), record
    assert record.numbers == (CalledNumber(*expected),)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("[{'calledNo':'12a'}]", "called: calledNo '12a' may contain only digits, * and #"),
        ("[{'calledNo':13800000001.0}]", "called: calledNo '13800000001.0' may contain only digits, * and #"),
        (
            "[{'calledNo':'" + "1" * 25 + "'}]",
            f"called: calledNo '{'1' * 25}' must be at most 24 characters long",
        ),
        ("[{'calledNo':''}]", "called: calledNo is required"),
        ("[{'type':'SI'}]", "called: calledNo is required"),
        ("[{}]", "called: calledNo is required"),
        ("[]", "called: holds no calledNo"),
        ("[{'calledNo':'1','delayTime':7201}]", "called: delayTime '7201' must be between 0 and 7200"),
        ("[{'calledNo':'1','delayTime':-1}]", "called: delayTime '-1' must be between 0 and 7200"),
        ("[{'calledNo':'1','delayTime':'1.5'}]", "called: delayTime '1.5' must be a whole number of seconds"),
        (
            "[{'calledNo':'1','delayTime':'soon'}]",
            "called: delayTime 'soon' must be a whole number of seconds",
        ),
        (
            "[{'calledNo':'1','type':'" + "t" * 51 + "'}]",
            f"called: type '{'t' * 40}…' must be at most 50 characters long",
        ),
        (
            "[{'calledNo':'1','calledno':'2'}]",
            "called: unknown key 'calledno'; the keys are calledNo, delayTime and type",
        ),
        ("[{'calledNo':'1','calledNo':'2'}]", "called: key 'calledNo' appears twice"),
        (
            "[{'calledNo':'1'},{'calledNo':'2'},{'calledNo':'1'}]",
            "called: calledNo '1' appears twice in the record",
        ),
        (
            "[{'calledNo':'1'},{'calledNo':'x'}]",
            "called: calledNo 'x' (number 2) may contain only digits, * and #",
        ),
    ],
)
def test_called_cells_refused_with_a_reason_naming_the_column(cell, reason):
    assert validate_file_row(row(cell)) == reason


@pytest.mark.parametrize(
    "cell",
    [
        "[{'calledNo':'1'},]",
        "[{'calledNo':'1'}",
        "{'calledNo':'1'}",
        "[{'calledNo':['1']}]",
        "[{'calledNo':{'n':'1'}}]",
        "[['1']]",
        "[['calledNo','1']]",
        "['1']",
        "[{'calledNo' '1'}]",
        "[{'calledNo':'1}]",
        "[{'calledNo':'1'}] x",
        "138-0000",
        "abc",
    ],
)
def test_called_cells_that_are_not_the_array_are_a_syntax_error(cell):
    reason = validate_file_row(row(cell))
    assert isinstance(reason, str)
    assert reason.startswith("called: must be a JSON array such as [{'calledNo'")


def test_ten_numbers_per_record_pass_and_eleven_are_refused():
    ten = json.dumps([{"calledNo": str(100 + i)} for i in range(10)])
    record = validate_file_row(row(ten))
    assert isinstance(record, CallRecord)
    assert [n.called for n in record.numbers] == [str(100 + i) for i in range(10)]
    eleven = json.dumps([{"calledNo": str(100 + i)} for i in range(11)])
    assert validate_file_row(row(eleven)) == "called: holds 11 numbers; at most 10 per record"


def test_an_oversized_called_cell_is_refused_before_parsing():
    cell = "[" + ",".join(["{'calledNo':'1'}"] * 300) + "]"
    assert len(cell) > 4096
    assert parse_called_cell(cell) == f"called: the cell holds {len(cell)} characters; at most 4096"


def test_a_row_without_called_says_so_and_an_empty_row_says_it_is_empty():
    assert validate_file_row(row(None, sessionId="S1")) == "called: is required"
    assert validate_file_row([None] * 6) == "called: is required (the row is empty)"


def test_a_row_of_the_wrong_width_is_refused():
    assert validate_file_row(["S1", "138"]) == "the row has 2 cells; the template has 6"


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"sessionId": "s" * 33}, f"sessionId: '{'s' * 33}' must be at most 32 characters long"),
        ({"caller": "1" * 25}, f"caller: '{'1' * 25}' must be at most 24 characters long"),
        ({"customField": "a@b"}, "customField: 'a@b' must not contain '@'"),
        (
            {"recycleTime": "2026-02-30 10:00:00"},
            "recycleTime: '2026-02-30 10:00:00' is not a real date and time",
        ),
        ({"recycleTime": "46000"}, "recycleTime: '46000' must be formatted yyyy-MM-dd HH:mm:ss"),
        ({"callData": "x" * 1025}, f"callData: '{'x' * 40}…' must be at most 1024 characters long"),
    ],
)
def test_other_columns_refused_with_their_name_and_value(cells, reason):
    assert validate_file_row(row("138", **cells)) == reason


def test_empty_text_cells_are_not_given():
    record = validate_file_row(["", "138", "", "", "", ""])
    assert record == CallRecord(None, (CalledNumber("138", None, 0),), None, None, None, None)


def test_records_built_for_speed_are_ordinary_frozen_records():
    record = validate_file_row(row("[{'calledNo':138}]", sessionId="S1"))
    normal = CallRecord("S1", (CalledNumber("138", None, 0),), None, None, None, None)
    assert record == normal
    assert hash(record) == hash(normal)
    assert type(record) is CallRecord and type(record.numbers[0]) is CalledNumber
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.session_id = "S2"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.numbers[0].delay_s = 5  # type: ignore[misc]


# ---------------------------------------------------------------- one rule set (hypothesis)

_FIELD_CHARS = st.sampled_from(list("0123456789*#aZ -_@.,'\"\\¥–—号\x00 ") + ["\ud800", "😀"])


def _text(max_size: int) -> st.SearchStrategy[str | None]:
    digits = st.text(alphabet="0123456789*#", min_size=0, max_size=max_size + 2)
    anything = st.text(alphabet=_FIELD_CHARS, min_size=0, max_size=max_size + 2)
    at_limit = st.integers(max_size - 1, max_size + 1).map(lambda n: "7" * n)
    return st.one_of(st.none(), digits, anything, at_limit)


_times = st.one_of(
    st.none(),
    st.tuples(
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
    ).map(lambda t: "{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}".format(*t)),
    st.text(alphabet="0123456789-: T", max_size=21),
)

_FIELDS = st.fixed_dictionaries(
    {
        "sessionId": _text(32),
        "called": st.one_of(
            st.text(alphabet="0123456789*#", min_size=1, max_size=26),
            st.text(alphabet=_FIELD_CHARS, min_size=1, max_size=26),
            st.sampled_from([None, "", "  ", "7" * 24, "7" * 25]),
        ),
        "caller": _text(24),
        "callData": _text(1024 // 64).map(
            lambda t: t if t is None else t * 64
        ),  # around 1024 without huge draws
        "customField": _text(200),
        "recycleTime": _times,
    }
)


def _outcome_api(fields: dict[str, str | None]) -> CallRecord | tuple[str, str]:
    record = {k: v for k, v in fields.items() if v is not None}
    try:
        return parse_add_request({"callDataList": [record]})[0]
    except ApiError as error:
        head, message = error.desc.split(" ", 1)
        assert head.startswith("callDataList[0].")
        return head.removeprefix("callDataList[0]."), message


def _outcome_file(fields: dict[str, str | None], quote: str) -> CallRecord | tuple[str, str]:
    called = fields["called"]
    if called is None:
        cell = None
    elif quote == '"':
        cell = '[{"calledNo":' + json.dumps(called, ensure_ascii=False) + "}]"
    else:
        cell = "[{'calledNo':'" + called.replace("\\", "\\\\").replace("'", "\\'") + "'}]"
    result = validate_file_row(
        [
            fields["sessionId"],
            cell,
            fields["caller"],
            fields["callData"],
            fields["customField"],
            fields["recycleTime"],
        ]
    )
    if isinstance(result, CallRecord):
        return result
    column, message = result.split(": ", 1)
    return column, message


@settings(max_examples=400, deadline=None)
@given(fields=_FIELDS, quote=st.sampled_from(['"', "'"]))
def test_the_api_and_the_file_judge_the_same_values_the_same_way(fields, quote):
    api = _outcome_api(fields)
    file = _outcome_file(fields, quote)
    if isinstance(api, CallRecord):
        assert file == api
        return
    assert not isinstance(file, CallRecord), (api, file)
    assert file[0] == api[0]  # the same field
    # The same rule's message, after the file's value ("calledNo '12a' may contain only digits, * and #").
    assert api[1] in file[1]


_valid_numbers = st.lists(
    st.tuples(
        st.text(alphabet="0123456789*#", min_size=1, max_size=24),
        st.one_of(st.none(), st.text(alphabet="abcXYZ 号_-'\"\\", min_size=1, max_size=50)),
        st.integers(0, 7200),
    ),
    min_size=1,
    max_size=10,
    unique_by=lambda n: n[0],
)


def _render(numbers: list[tuple[str, str | None, int]], style: str) -> str:
    """The `called` cell as a person might write it: JSON, or the template's single quotes with bare values."""
    if style == "json":
        objects = []
        for called, type_, delay in numbers:
            item: dict[str, Any] = {"calledNo": called, "delayTime": str(delay) if delay % 2 else delay}
            if type_ is not None:
                item["type"] = type_
            objects.append(item)
        return json.dumps(objects)

    def quoted(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    parts = []
    for called, type_, delay in numbers:
        number = called if called.isdigit() else quoted(called)  # digits bare, leading zeros and all
        fields = [f"'calledNo':{number}", f"'delayTime':{delay}"]
        if type_ is not None:
            fields.append(f"'type':{quoted(type_)}")
        parts.append("{" + ", ".join(fields) + "}")
    return "[" + ", ".join(parts) + "]"


@settings(max_examples=300, deadline=None)
@given(numbers=_valid_numbers, style=st.sampled_from(["json", "template"]))
def test_valid_called_cells_come_back_as_written(numbers, style):
    record = validate_file_row(row(_render(numbers, style)))
    assert isinstance(record, CallRecord), record
    assert record.numbers == tuple(CalledNumber(c, t, d) for c, t, d in numbers)


@settings(max_examples=500, deadline=None)
@given(
    cell=st.one_of(
        st.text(max_size=60),
        st.text(alphabet="[]{}:,'\"\\ calledNo0123*#delayTimetype-.enul", max_size=60),
    )
)
def test_any_called_cell_gives_a_record_or_a_reason_never_an_exception(cell):
    result = validate_file_row(row(cell))
    if isinstance(result, str):
        assert result.startswith("called: ")
    else:
        assert 1 <= len(result.numbers) <= 10
        for number in result.numbers:
            assert parse_add_request(one(called=number.called))  # every accepted number passes the API rule
            assert 0 <= number.delay_s <= 7200
