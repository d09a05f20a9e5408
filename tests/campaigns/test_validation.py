import copy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outdial import errors
from outdial.campaigns.validation import validate_campaign_v2
from outdial.errors import ApiError

# The document's example body (seed 004).
EXAMPLE = {
    "name": "test0827shwocase1",
    "description": "long0825",
    "strBeginTime": "2021-08-27 00:00:00",
    "strEndTime": "2021-08-28 23:59:59",
    "deviceType": 2,
    "callerNo": [{"accessCode": "88889527", "priority": 3}, {"accessCode": "88880066", "priority": 4}],
    "maxAlertingTime": 20,
    "priority": 4,
    "scheduleParam": {
        "workdayBeginTime1": "00:00",
        "workdayEndTime1": "23:59",
        "workdayBeginTime2": "",
        "workdayEndTime2": "",
        "workdayBeginTime3": "",
        "workdayEndTime3": "",
        "holidayBeginTime1": "10:00",
        "holidayEndTime1": "11:00",
        "holidayBeginTime2": "13:00",
        "holidayEndTime2": "17:30",
        "holidayBeginTime3": "",
        "holidayEndTime3": "",
    },
    "skillParam": {
        "skillId": 2,
        "skillName": "defaultAudioSkill",
        "outBoundType": 2,
        "predictParam": {
            "predictMethod": 1,
            "expPredictParam": {"maxAvgCallTime": 100, "minAvgCallTime": 50, "outBoundRate": 50},
        },
    },
    "retryPolicy": {
        "policyType": 1,
        "policyJson": "[{'dataType':'SI','type':1,'policy':[{'result':4,'retryNumber':3,'callInterval':600}]}]",
    },
    "callPolicy": {"callType": 1, "chooseType": 0, "turns": [{"turnType": "SI"}]},
    "initStatus": 0,
    "callBackUrl": "https://10.10.10.10/xxx/xxx/xxx",
}
TZ = "Asia/Shanghai"
# 2021-08-26 12:00 in Shanghai: before the example's dates.
NOW = int(datetime(2021, 8, 26, 12, 0, tzinfo=ZoneInfo(TZ)).timestamp() * 1000)


def run(body):
    return validate_campaign_v2(body, now_ms=NOW, default_tz=TZ)


def test_example_validates_and_parses_policy():
    c = run(copy.deepcopy(EXAMPLE))
    assert c.name == "test0827shwocase1"
    assert c.device_type == 2 and c.skill_id == 2 and c.priority == 4 and c.init_status == 0
    # 2021-08-27 00:00 +08:00 == 2021-08-26 16:00 UTC
    assert c.begin_ms == 1629993600000
    assert c.spec["timeZone"] == TZ
    assert c.spec["scheduleParam"]["workdayBeginTime2"] is None
    assert c.spec["retryPolicy"]["parsed"] == {
        "policyType": 1,
        "common": None,
        "byResult": None,
        "byNumberType": [
            {
                "dataType": "SI",
                "type": 1,
                "common": None,
                "byResult": [{"result": 4, "retryNumber": 3, "callInterval": 600}],
            }
        ],
        "business": [],
        "noRetry": [],
    }
    assert c.spec["callPolicy"] == {"callType": 1, "chooseType": 0, "turns": [{"turnType": "SI"}]}


def mutate(path, value):
    body = copy.deepcopy(EXAMPLE)
    *parents, last = path.split(".")
    target = body
    for p in parents:
        target = target[p]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return body


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        ("name", DELETE, errors.EMPTY),
        ("name", "x" * 33, errors.TOO_LONG),
        ("description", "a;b", errors.INVALID_CHARS),
        ("description", "x" * 201, errors.TOO_LONG),
        ("strBeginTime", "2021/08/27 00:00:00", errors.UNPARSABLE),
        ("strBeginTime", "2021-08-25 23:59:59", errors.BEGIN_BEFORE_TODAY),
        ("strEndTime", "2021-08-27 00:00:00", errors.BAD_COMBINATION),
        ("deviceType", 4, errors.WRONG_VALUE),
        ("callerNo", [], errors.EMPTY),
        ("maxAlertingTime", 4, errors.WRONG_VALUE),
        ("maxAlertingTime", 121, errors.WRONG_VALUE),
        ("priority", 6, errors.WRONG_VALUE),
        ("scheduleParam.workdayBeginTime1", "24:00", errors.UNPARSABLE),
        ("scheduleParam.workdayEndTime1", "", errors.HOUR_MINUTE_PAIR),
        ("skillParam.skillId", 1001, errors.WRONG_VALUE),
        ("skillParam.outBoundType", 5, errors.BAD_COMBINATION),
        ("skillParam.predictParam.predictMethod", 4, errors.WRONG_VALUE),
        ("skillParam.predictParam.expPredictParam.minAvgCallTime", 101, errors.BAD_COMBINATION),
        ("skillParam.predictParam.expPredictParam.maxAvgCallTime", 201, errors.WRONG_VALUE),
        ("skillParam.predictParam.expPredictParam.outBoundRate", 101, errors.WRONG_VALUE),
        ("initStatus", 2, errors.WRONG_VALUE),
        ("callBackUrl", "ftp://x", errors.WRONG_VALUE),
        ("callBackUrl", DELETE, errors.EMPTY),
        ("retryPolicy.policyJson", "[{", errors.UNPARSABLE),
        ("retryPolicy.policyType", 0, errors.BAD_COMBINATION),
        ("callPolicy.chooseType", 2, errors.WRONG_VALUE),
        ("timeZone", "Mars/Base", errors.WRONG_VALUE),
    ],
)
def test_rule(path, value, code):
    with pytest.raises(ApiError) as exc:
        run(mutate(path, value))
    assert exc.value.code == code
    # the pairing and end-after-begin errors name the segment begin; others the field itself
    expected = {
        "scheduleParam.workdayEndTime1": "scheduleParam.workdayBeginTime1",
        "skillParam.predictParam.expPredictParam.minAvgCallTime": "skillParam.predictParam.expPredictParam.minAvgCallTime",
        "retryPolicy.policyType": "retryPolicy.policyJson",
        "callPolicy.chooseType": "callPolicy.chooseType",
    }.get(path, path)
    assert exc.value.desc.startswith(expected), exc.value.desc


def test_body_not_object():
    with pytest.raises(ApiError) as exc:
        run([1])
    assert exc.value.code == errors.WRONG_TYPE


@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59))
def test_any_ordered_hhmm_pair_accepted(h1, m1, h2, m2):
    if (h1, m1) >= (h2, m2):
        return
    body = mutate("scheduleParam.workdayBeginTime1", f"{h1:02d}:{m1:02d}")
    body["scheduleParam"]["workdayEndTime1"] = f"{h2:02d}:{m2:02d}"
    assert run(body).spec["scheduleParam"]["workdayEndTime1"] == f"{h2:02d}:{m2:02d}"


def common_form_body(**retry):
    body = copy.deepcopy(EXAMPLE)
    del body["callPolicy"]
    body["retryPolicy"] = {"policyType": 0, **retry}
    return body


def test_common_form_with_numbers_as_strings_and_business_policy():
    body = common_form_body(
        retryDay="2",
        retryTimes="2",
        callInterval=60,
        busiPolicy="{'busiResultCode':'A1','busiResultPolicy':1,'callInterval':'30'}",
        noRetryPolicy=["0101"],
    )
    parsed = run(body).spec["retryPolicy"]["parsed"]
    assert parsed["common"] == {"retryDay": 2, "retryTimes": 2, "callInterval": 60}
    assert parsed["business"] == [
        {"busiResultCode": "A1", "busiResultSubCode": None, "busiResultPolicy": 1, "callInterval": 30}
    ]
    assert parsed["noRetry"] == ["0101"]


@pytest.mark.parametrize(
    ("retry", "code", "path"),
    [
        ({"retryDay": 6, "retryTimes": 1, "callInterval": 1}, errors.WRONG_VALUE, "retryPolicy.retryDay"),
        ({"retryDay": 1, "retryTimes": 7, "callInterval": 1}, errors.WRONG_VALUE, "retryPolicy.retryTimes"),
        ({"retryDay": 1, "retryTimes": 1}, errors.EMPTY, "retryPolicy.callInterval"),
        (
            {"retryDay": 1, "retryTimes": 1, "callInterval": 1, "resultRetry": "[]"},
            errors.BAD_COMBINATION,
            "retryPolicy.resultRetry",
        ),
        (
            {"resultRetry": "[{'result':10,'retryNumber':1,'callInterval':5}]"},
            errors.WRONG_VALUE,
            "retryPolicy.resultRetry[0].result",
        ),
        (
            {
                "retryDay": 1,
                "retryTimes": 1,
                "callInterval": 1,
                "busiPolicy": "{'busiResultCode':'A','busiResultPolicy':2}",
            },
            errors.EMPTY,
            "retryPolicy.busiPolicy.callInterval",
        ),
    ],
)
def test_retry_rules(retry, code, path):
    with pytest.raises(ApiError) as exc:
        run(common_form_body(**retry))
    assert exc.value.code == code
    assert exc.value.desc.startswith(path), exc.value.desc


def test_call_type_1_needs_policy_type_1():
    body = common_form_body(retryDay=1, retryTimes=1, callInterval=1)
    body["callPolicy"] = EXAMPLE["callPolicy"]
    with pytest.raises(ApiError) as exc:
        run(body)
    assert exc.value.code == errors.BAD_COMBINATION
    assert exc.value.desc.startswith("callPolicy.callType")


def device_body(device_type, **extra):
    body = copy.deepcopy(EXAMPLE)
    body["deviceType"] = device_type
    del body["skillParam"]
    body.update(extra)
    return body


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        (device_body(1), errors.EMPTY, "ivrParam"),
        (
            device_body(1, ivrParam={"deviceSign": "s", "callCount": 101, "callInterval": 1}),
            errors.WRONG_VALUE,
            "ivrParam.callCount",
        ),
        (
            device_body(3, ivrParam={"deviceSign": "s", "callCount": 1, "callInterval": 10000}),
            errors.WRONG_VALUE,
            "ivrParam.callInterval",
        ),
        (device_body(5), errors.EMPTY, "skillParam"),
        (
            device_body(5, skillParam={"skillId": 1, "outBoundType": 5}),
            errors.EMPTY,
            "skillParam.previewParam",
        ),
        (
            device_body(
                5,
                skillParam={
                    "skillId": 1,
                    "outBoundType": 5,
                    "previewParam": {"failInterval": 3, "obCallCount": 1, "autoCallTime": 18},
                },
            ),
            errors.WRONG_VALUE,
            "skillParam.previewParam.autoCallTime",  # maxAlertingTime 20 - 3 = 17
        ),
        (device_body(5, maxAlertingTime=8), errors.WRONG_VALUE, "maxAlertingTime"),
    ],
)
def test_device_rules(body, code, path):
    with pytest.raises(ApiError) as exc:
        run(body)
    assert exc.value.code == code
    assert exc.value.desc.startswith(path), exc.value.desc


def test_ivr_campaign_validates():
    c = run(device_body(1, ivrParam={"deviceSign": "flow1", "callCount": 3, "callInterval": 3}))
    assert c.skill_id is None and c.spec["ivrParam"]["callCount"] == 3
