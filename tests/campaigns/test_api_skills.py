"""outdial's own skill-queue interface, /rest/outdial/v1/{vdnId}/skills."""

from __future__ import annotations


def test_add_list_and_delete_a_skill_queue(client, clock) -> None:
    assert client.list_skill_queues(1).body["data"] == []
    added = client.add_skill_queue(1, 7, "sales")
    assert added.ok, added.body
    assert added.body["returnObject"] == {"skillId": 7}
    client.add_skill_queue(1, 3, "support")
    clock.advance(1)  # the same signed request twice in one second would be a replay
    assert client.list_skill_queues(1).body["data"] == [
        {"skillId": 3, "skillName": "support"},
        {"skillId": 7, "skillName": "sales"},
    ]
    assert client.delete_skill_queue(1, 7).ok
    clock.advance(1)
    assert client.list_skill_queues(1).body["data"] == [{"skillId": 3, "skillName": "support"}]


def test_a_skill_queue_is_refused_twice_and_checked(client) -> None:
    assert client.add_skill_queue(1, 7, "sales").ok
    assert client.add_skill_queue(1, 7, "again").code == "02000007"
    assert client.add_skill_queue(1, 1001, "too big").code == "02000007"
    assert client.add_skill_queue(1, 8, "").code == "02000001"
    assert client.add_skill_queue(1, 8, "x" * 101).code == "02000003"
    assert client.list_skill_queues(1).body["data"] == [{"skillId": 7, "skillName": "sales"}]


def test_deleting_an_unknown_skill_queue_is_0200017(client) -> None:
    assert client.delete_skill_queue(1, 99).code == "0200017"


def test_skill_queues_are_per_vdn(client, client_vdn2, clock) -> None:
    assert client.add_skill_queue(1, 7, "sales").ok
    assert client_vdn2.list_skill_queues(2).body["data"] == []
    assert client_vdn2.delete_skill_queue(2, 7).code == "0200017"
    assert client_vdn2.add_skill_queue(2, 7, "their sales").ok
    clock.advance(1)
    # VDN 1's key cannot touch VDN 2 at all: the auth layer answers 401.
    assert client.list_skill_queues(2).status_code == 401
    assert client.list_skill_queues(1).body["data"] == [{"skillId": 7, "skillName": "sales"}]


def test_a_skill_queue_used_by_a_live_campaign_cannot_be_deleted(client, clock) -> None:
    from campaigns.factories import create_campaign

    campaign_id = create_campaign(
        client, strBeginTime="2026-11-23 10:00:00", strEndTime="2026-11-23 11:00:00"
    )
    response = client.delete_skill_queue(1, 2)
    assert response.code == "0200001"
    assert str(campaign_id) in response.body["resultDesc"]
    clock.advance(2 * 3600)  # 11:00: the campaign is completed, the queue is free
    assert client.delete_skill_queue(1, 2).ok
