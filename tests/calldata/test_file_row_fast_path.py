"""validate_file_row tests each text cell with an inline fast check before its rule: the checks must
accept exactly what the rules accept, at the limits and for the characters the rules care about."""

from __future__ import annotations

import pytest

from outdial.calldata.records import CalledNumber, CallRecord, validate_file_row

COLUMNS = ("sessionId", "called", "caller", "callData", "customField", "recycleTime")


def row(**cells: str) -> list[str | None]:
    values: dict[str, str | None] = {"called": '[{"calledNo":"138"}]', **cells}
    return [values.get(c) for c in COLUMNS]


@pytest.mark.parametrize(
    ("column", "limit"), [("sessionId", 32), ("caller", 24), ("customField", 200), ("callData", 1024)]
)
def test_each_text_column_at_its_limit_is_accepted_and_one_more_is_refused(column: str, limit: int) -> None:
    assert isinstance(validate_file_row(row(**{column: "a" * limit})), CallRecord)
    reason = validate_file_row(row(**{column: "a" * (limit + 1)}))
    assert isinstance(reason, str)
    assert reason.startswith(f"{column}: ") and reason.endswith(f"must be at most {limit} characters long")


@pytest.mark.parametrize("column", ["sessionId", "caller", "customField", "callData"])
def test_nul_and_lone_surrogates_are_refused_in_every_text_column(column: str) -> None:
    assert validate_file_row(row(**{column: "a\x00b"})) == f"{column}: 'a\\x00b' must not contain the NUL character"
    assert validate_file_row(row(**{column: "a\ud800b"})) == (
        f"{column}: 'a\\ud800b' must not contain an unpaired surrogate character"
    )


def test_non_ascii_text_goes_through_the_rules_and_is_kept() -> None:
    record = validate_file_row(row(sessionId="会话1", caller="中文", customField="客户 A", callData="数据"))
    assert record == CallRecord("会话1", (CalledNumber("138", None, 0),), "中文", "数据", "客户 A", None)
    assert validate_file_row(row(customField="price ¥5")) == "customField: 'price ¥5' must not contain '¥'"
    assert validate_file_row(row(customField="a–b")) == "customField: 'a–b' must not contain '–'"


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ('[{"calledNo":"' + "1" * 24 + '"}]', None),
        ("1" * 24, None),
        ("[{'calledNo':" + "1" * 25 + "}]", "called: calledNo '" + "1" * 25 + "' must be at most 24 characters long"),
        ('[{"calledNo":""}]', "called: calledNo is required"),
        ("[{'calledNo':'*#0'}]", None),
        ('[{"calledNo":"12a"}]', "called: calledNo '12a' may contain only digits, * and #"),
    ],
)
def test_the_one_number_called_forms_at_their_limits(cell: str, reason: str | None) -> None:
    result = validate_file_row(row(called=cell))
    if reason is None:
        assert isinstance(result, CallRecord) and len(result.numbers) == 1
        assert result.numbers[0].called in ("1" * 24, "*#0")
    else:
        assert result == reason
