"""The V2 add body of the document (seed 004) and a helper that adds a campaign through the signed client.

Other domains' tests import these: `create_campaign(client, **overrides) -> int`."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from outdial.client import Client

# The document's example, with its dates moved to the tests' clock (Mon 2026-11-23 09:00 UTC; the
# example starts at 00:00 of "today" and ends at 23:59:59 of the next day). Everything else is as printed.
EXAMPLE_BODY: dict[str, Any] = {
    "name": "test0827shwocase1",
    "description": "long0825",
    "strBeginTime": "2026-11-23 00:00:00",
    "strEndTime": "2026-11-24 23:59:59",
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

# An IVR campaign (deviceType 3, automatic calls to a common IVR flow).
IVR_OVERRIDES: dict[str, Any] = {
    "deviceType": 3,
    "skillParam": None,
    "ivrParam": {"deviceSign": "1001", "callCount": 3, "callInterval": 3},
}

EXAMPLE_SKILL = (2, "defaultAudioSkill")
_names = itertools.count(1)


def example_body(**overrides: Any) -> dict[str, Any]:
    """A fresh copy of the example; an override of None removes the key."""
    body = copy.deepcopy(EXAMPLE_BODY)
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = copy.deepcopy(value)
    return body


def ensure_skill_queue(client: Client, vdn_id: int = 1, skill: tuple[int, str] = EXAMPLE_SKILL) -> None:
    """Create the skill queue unless this client already did. Remembered on the client because the same
    signed request twice in one (virtual) second would be refused as a replay."""
    done: set[tuple[int, int]] = client.__dict__.setdefault("_ensured_skill_queues", set())
    if (vdn_id, skill[0]) in done:
        return
    added = client.add_skill_queue(vdn_id, skill[0], skill[1])
    assert added.ok or added.code == "02000007", added.body  # 02000007: it exists already
    done.add((vdn_id, skill[0]))


def create_campaign(client: Client, *, vdn_id: int = 1, **overrides: Any) -> int:
    """Add a campaign through the API (a unique name unless `name` is given) and return its id. The
    example's skill queue is created first when the campaign uses it."""
    body = example_body(**{"name": f"campaign{next(_names)}", **overrides})
    if body.get("skillParam", {}).get("skillId") == EXAMPLE_SKILL[0]:
        ensure_skill_queue(client, vdn_id)
    response = client.add_campaign(vdn_id, body)
    assert response.ok, response.body
    return int(response.body["returnObject"]["id"])
