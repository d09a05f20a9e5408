from dataclasses import dataclass

from outdial.engine.callpolicy import call_order, candidates_after, first_number, pick_caller


@dataclass(frozen=True)
class N:
    called: str
    type: str | None = None
    delay_s: int = 0


NUMS = (N("1", "HOME"), N("2", "MOBILE"), N("3", "HOME"), N("4", None))


def test_sequence_order_and_candidates():
    assert call_order(NUMS, None) == (0, 1, 2, 3)
    assert call_order(NUMS, {"callType": 0}) == (0, 1, 2, 3)
    assert candidates_after(1, NUMS, None) == (1, 2, 3)


def test_round_by_category():
    policy = {
        "callType": 1,
        "chooseType": 0,
        "turns": [{"turnType": "MOBILE"}, {"turnType": "HOME"}, {"turnType": "MOBILE"}],
    }
    assert call_order(NUMS, policy) == (1, 0, 2)  # untyped number 4 is never called
    assert first_number(NUMS, policy) == 1
    assert candidates_after(0, NUMS, policy) == (2, 1, 0)


def test_round_by_position():
    policy = {"callType": 1, "chooseType": 1, "turns": [{"turnOrder": 3}, {"turnOrder": 1}, {"turnOrder": 9}]}
    assert call_order(NUMS, policy) == (2, 0)
    assert candidates_after(2, NUMS, policy) == (0, 2)
    assert first_number(NUMS, {"callType": 1, "chooseType": 0, "turns": [{"turnType": "FAX"}]}) is None


def test_caller_priority_and_rotation():
    callers = [("8002", 3), ("8001", 2), ("8003", 2), ("8009", 5)]
    assert [pick_caller(callers, n) for n in (1, 2, 3)] == ["8001", "8003", "8001"]
    assert pick_caller(callers, 1, frozenset({"8001", "8003"})) == "8002"
    assert pick_caller([], 1) is None
