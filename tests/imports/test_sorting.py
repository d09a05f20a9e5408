"""pipeline.sorted_records: the pure rule that decides, row by row, stored / repeat / failed."""

from __future__ import annotations

from outdial.imports.pipeline import sort_rows


def row(called: str | None, session: str | None = None) -> list[str | None]:
    return [session, called, None, None, None, None]


def test_order_of_the_checks_and_line_numbers() -> None:
    rows = [
        row('[{"calledNo":"1"}]'),  # line 5: stored
        row('[{"calledNo":"1"}]'),  # 6: repeat within the file
        row('[{"calledNo":"2"}]'),  # 7: repeat of the campaign's unfinished number
        row('[{"calledNo":"3"}]'),  # 8: blacklisted (the blacklist wins over being new)
        row('[{"calledNo":"4"},{"calledNo":"3"}]'),  # 9: its second number is blacklisted
        row('[{"calledNo":"2"},{"calledNo":"3"}]'),  # 10: blacklisted AND a repeat: counted as failed
        [None] * 6,  # 11: blank line, no record
        row('[{"calledNo":"x"}]'),  # 12: invalid
        row(None, "s"),  # 13: called missing
        row('[{"calledNo":"5"}]', "s5"),  # 14: stored
    ]
    records, tally = sort_rows(
        rows, existing_numbers={"2"}, refuse_number={"3": "called: 3 is in the blacklist"}, first_line=5
    )
    assert [(r.numbers[0].called, r.session_id) for r in records] == [("1", None), ("5", "s5")]
    assert (tally.stored, tally.repeat, tally.fail) == (2, 2, 5)
    assert [(line, kind) for line, kind, _ in tally.failures] == [
        (6, "duplicate"),
        (7, "duplicate"),
        (8, "blacklist"),
        (9, "blacklist"),
        (10, "blacklist"),
        (12, "invalid"),
        (13, "invalid"),
    ]
    reasons = dict((line, reason) for line, _, reason in tally.failures)
    assert reasons[8] == "called: 3 is in the blacklist"
    assert reasons[13].startswith("called: is required")


def test_duplicates_compare_the_first_number_only() -> None:
    """Two records sharing a second number are two customers; the first number identifies a record
    (as the add interface and the engine use it)."""
    rows = [row('[{"calledNo":"1"},{"calledNo":"9"}]'), row('[{"calledNo":"2"},{"calledNo":"9"}]')]
    records, tally = sort_rows(rows, existing_numbers=set(), refuse_number={})
    assert len(records) == 2 and tally.failures == []
