"""The agents interface /rest/outdial/v1/{vdnId}/agents through the signed client, on the real app."""

from __future__ import annotations

import pytest

from outdial.agents import repository as repo
from outdial.engine.telephony.agentpool import AgentLogin

URI = "sip:1001@127.0.0.1:5062"


@pytest.fixture
def queues(client, client_vdn2):
    for skill_id, name in ((1, "sales"), (2, "support")):
        assert client.add_skill_queue(1, skill_id, name).ok
    assert client_vdn2.add_skill_queue(2, 3, "theirs").ok


def test_login_ready_notready_wrapupdone_logout(client, clock, ctx, queues):
    t0 = ctx.clock.now_ms()
    answer = client.agent_login(1, "alice", [2, 1], URI)
    assert answer.ok, answer.body
    assert answer.body["data"] == {
        "agentId": "alice",
        "skillIds": [1, 2],
        "uri": URI,
        "ready": True,
        "notReadyReason": None,
        "readySince": t0,
        "wrapupDoneAt": None,
        "loggedInAt": t0,
        "state": None,
        "stateSince": None,
    }
    clock.advance(2)
    assert client.agent_not_ready(1, "alice").ok
    (row,) = client.agent_logins(1).body["data"]["agents"]
    assert (row["ready"], row["notReadyReason"], row["readySince"]) == (False, "requested", t0 + 2_000)
    clock.advance(2)
    assert client.agent_ready(1, "alice").ok
    assert client.agent_wrapup_done(1, "alice").ok
    clock.advance(1)
    (row,) = client.agent_logins(1).body["data"]["agents"]
    assert (row["ready"], row["notReadyReason"], row["wrapupDoneAt"]) == (True, None, t0 + 4_000)
    with ctx.db.read() as conn:
        assert repo.logins(conn) == [AgentLogin("alice", (1, 2), URI, True, t0 + 4_000, t0 + 4_000)]
    assert client.agent_logout(1, "alice").ok
    clock.advance(1)
    assert client.agent_logins(1).body["data"]["agents"] == []
    with ctx.db.read() as conn:
        assert repo.logins(conn) == []


def test_logging_in_again_replaces_skill_queues_uri_and_readiness(client, clock, ctx, queues):
    assert client.agent_login(1, "alice", [1, 2], URI).ok
    clock.advance(5)
    again = client.agent_login(1, "alice", [2], "sips:alice@phone.example;transport=tls", ready=False)
    assert again.ok, again.body
    data = again.body["data"]
    assert (data["skillIds"], data["uri"], data["ready"], data["notReadyReason"]) == (
        [2],
        "sips:alice@phone.example;transport=tls",
        False,
        "requested",
    )
    assert data["loggedInAt"] == data["readySince"] - 5_000  # still the first login


def test_agent_ids_are_global_and_logins_are_per_vdn(client, client_vdn2, clock, queues):
    assert client.agent_login(1, "alice", [1], URI).ok
    taken = client_vdn2.agent_login(2, "alice", [3], URI)
    assert taken.code == "02000007" and taken.body["resultDesc"].startswith("agentId"), taken.body
    for action in (client_vdn2.agent_ready, client_vdn2.agent_not_ready, client_vdn2.agent_logout):
        refused = action(2, "alice")
        assert refused.code == "0200007" and refused.body["resultDesc"].startswith("agentId"), refused.body
    assert client_vdn2.agent_logins(2).body["data"]["agents"] == []
    assert [a["agentId"] for a in client.agent_logins(1).body["data"]["agents"]] == ["alice"]
    # another VDN's skill queue is not this VDN's
    theirs = client.agent_login(1, "bob", [3], URI)
    assert theirs.code == "0200017" and theirs.body["resultDesc"].startswith("skillIds[0]"), theirs.body


@pytest.mark.parametrize(
    ("agent_id", "body", "code", "field"),
    [
        ("a" * 33, {"skillIds": [1], "uri": URI}, "02000005", "agentId"),
        ("a*b", {"skillIds": [1], "uri": URI}, "02000002", "agentId"),
        ("alice", {"uri": URI}, "02000001", "skillIds"),
        ("alice", {"skillIds": [], "uri": URI}, "02000001", "skillIds"),
        ("alice", {"skillIds": 1, "uri": URI}, "02000006", "skillIds"),
        ("alice", {"skillIds": ["x"], "uri": URI}, "02000006", "skillIds[0]"),
        ("alice", {"skillIds": [1, 0], "uri": URI}, "02000007", "skillIds[1]"),
        ("alice", {"skillIds": [1, 1001], "uri": URI}, "02000007", "skillIds[1]"),
        ("alice", {"skillIds": [1, 2, 1], "uri": URI}, "02000007", "skillIds[2]"),
        ("alice", {"skillIds": list(range(1, 34)), "uri": URI}, "02000011", "skillIds"),
        ("alice", {"skillIds": [1, 9], "uri": URI}, "0200017", "skillIds[1]"),
        ("alice", {"skillIds": [1]}, "02000001", "uri"),
        ("alice", {"skillIds": [1], "uri": ""}, "02000001", "uri"),
        ("alice", {"skillIds": [1], "uri": 5}, "02000007", "uri"),
        ("alice", {"skillIds": [1], "uri": "tel:+15551234"}, "02000007", "uri"),
        ("alice", {"skillIds": [1], "uri": "http://127.0.0.1/"}, "02000007", "uri"),
        ("alice", {"skillIds": [1], "uri": "sip:"}, "02000007", "uri"),
        ("alice", {"skillIds": [1], "uri": "sip:1001@"}, "02000007", "uri"),
        ("alice", {"skillIds": [1], "uri": "sip:1001@host:99999"}, "02000007", "uri"),
        ("alice", {"skillIds": [1], "uri": "sip:10 01@host"}, "02000002", "uri"),
        ("alice", {"skillIds": [1], "uri": "sip:a@" + "h" * 250}, "02000003", "uri"),
        ("alice", {"skillIds": [1], "uri": URI, "ready": "yes"}, "02000006", "ready"),
    ],
)
def test_login_refusals_name_the_field_and_store_nothing(client, ctx, queues, agent_id, body, code, field):
    answer = client.request("POST", f"/rest/outdial/v1/1/agents/{agent_id}/login", body)
    assert answer.code == code, answer.body
    assert answer.body["resultDesc"].startswith(field), answer.body
    with ctx.db.read() as conn:
        assert repo.stored_logins(conn) == []


def test_actions_on_an_agent_not_logged_in_are_refused(client, queues):
    for action in (
        client.agent_ready,
        client.agent_not_ready,
        client.agent_wrapup_done,
        client.agent_logout,
    ):
        refused = action(1, "nobody")
        assert refused.code == "0200007", refused.body
        assert refused.body["resultDesc"] == "agentId: agent nobody is not logged in"
    bad = client.agent_ready(1, "x" * 40)
    assert bad.code == "02000005" and bad.body["resultDesc"].startswith("agentId"), bad.body


def test_a_skill_queue_id_another_vdn_also_uses_is_refused(client, client_vdn2, ctx, queues):
    """The port keys skill queues by id alone: VDN 2's agents on its queue 2 would take VDN 1's calls."""
    assert client_vdn2.add_skill_queue(2, 2, "their support").ok
    refused = client_vdn2.agent_login(2, "carol", [3, 2], URI)
    assert refused.code == "02000007", refused.body
    assert refused.body["resultDesc"].startswith("skillIds[1] skill queue 2 also exists in another VDN")
    assert client_vdn2.agent_login(2, "carol", [3], URI).ok


def test_a_body_that_is_not_an_object_is_refused(client, queues):
    answer = client.request("POST", "/rest/outdial/v1/1/agents/alice/login", [1])
    assert answer.code == "02000006", answer.body
    assert answer.body["resultDesc"] == "request body must be a JSON object"


def test_a_deleted_skill_queue_drops_out_of_its_agents_logins(client, clock, ctx, queues):
    assert client.agent_login(1, "alice", [1, 2], URI).ok
    assert client.delete_skill_queue(1, 2).ok
    clock.advance(1)
    (row,) = client.agent_logins(1).body["data"]["agents"]
    assert row["skillIds"] == [1]
    with ctx.db.read() as conn:
        assert [login.skill_ids for login in repo.logins(conn)] == [(1,)]


def test_requests_must_be_signed_for_the_vdn(client, http, queues):
    assert (
        http.post("/rest/outdial/v1/1/agents/alice/login", json={"skillIds": [1], "uri": URI}).status_code
        == 401
    )
    assert client.agent_logins(2).status_code == 401  # VDN 1's key
