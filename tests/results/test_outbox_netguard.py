import ipaddress
import json

import pytest
import sqlalchemy as sa

from outdial.db import Database
from outdial.models.results import PENDING, callback_outbox
from outdial.results import netguard, outbox


def test_loopback_and_private_refused_by_default() -> None:
    with pytest.raises(netguard.RefusedTarget):
        netguard.check_url("http://127.0.0.1:9/cb", [])
    for text in ("10.1.2.3", "192.168.0.1", "169.254.1.1", "0.0.0.0", "224.0.0.1", "::1"):
        assert not netguard.address_allowed(ipaddress.ip_address(text), [])
    assert netguard.address_allowed(ipaddress.ip_address("8.8.8.8"), [])


def test_allow_list_admits_only_its_networks() -> None:
    allowed = netguard.parse_networks("127.0.0.0/8, 10.0.0.0/8")
    netguard.check_url("http://127.0.0.1:9/cb", allowed)
    assert not netguard.address_allowed(ipaddress.ip_address("8.8.8.8"), allowed)
    with pytest.raises(netguard.RefusedTarget):
        netguard.check_url("ftp://127.0.0.1/cb", allowed)


def test_enqueue_freezes_the_payload(database: Database) -> None:
    attempt = {
        "id": 7,
        "call_id": "c-7",
        "session_id": "s1",
        "called": "60584",
        "created_at": 1795424400000,
        "call_status": 6,
        "fail_code": None,
        "result_code": "0",
        "record_path": None,
        "custom_field": "cf",
    }
    with database.write() as conn:
        oid = outbox.enqueue(conn, attempt, campaign_id=3, vdn_id=1, now_ms=1000, zone="Asia/Shanghai")
    with database.read() as conn:
        row = conn.execute(sa.select(callback_outbox)).one()
    assert row.id == oid and row.state == PENDING and row.next_push_at == 1000
    # 1795424400000 = 2026-11-23 09:00:00 UTC = 17:00:00 in Shanghai (UTC+8)
    assert json.loads(row.payload) == {
        "campaignId": "3",
        "sessionId": "s1",
        "called": "60584",
        "callTimeStr": "2026-11-23 17:00:00",
        "callStatus": 6,
        "failCode": "0",
        "resultCode": "0",
        "vdnId": 1,
        "callId": "c-7",
        "recordPath": "",
        "customField": "cf",
    }  # delivery adds "resultId": the outbox id
