import ipaddress
import json

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from outdial import netguard
from outdial.config import Settings
from outdial.db import Database
from outdial.models.results import PENDING, callback_outbox
from outdial.results import outbox


def test_loopback_and_private_refused_by_default() -> None:
    with pytest.raises(netguard.RefusedTarget):
        netguard.check_url("http://127.0.0.1:9/cb", [])
    for text in ("10.1.2.3", "192.168.0.1", "169.254.1.1", "0.0.0.0", "224.0.0.1", "::1"):
        assert not netguard.address_allowed(ipaddress.ip_address(text), [])
    assert netguard.address_allowed(ipaddress.ip_address("8.8.8.8"), [])


@pytest.mark.parametrize(
    "text",
    [
        "100.64.0.1",  # shared address space (carrier-grade NAT; a cloud's metadata service lives there)
        "100.127.255.254",
        "192.88.99.1",  # 6to4 relay anycast
        "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
        "2002:808:808::1",  # 6to4 wrapping a public address: still a tunnel, refused
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible loopback
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::1",  # NAT64 local use
        "224.0.0.1",  # multicast is "global" to ipaddress, not a unicast target
        "ff0e::1",
        "198.18.0.1",  # benchmarking
        "192.0.0.8",  # IETF protocol assignments
        "240.0.0.1",
        "255.255.255.255",
        "fd00::1",
        "fe80::1",
        "2001:db8::1",
    ],
)
def test_only_global_addresses_pass_by_default(text: str) -> None:
    assert not netguard.address_allowed(ipaddress.ip_address(text), [])


@pytest.mark.parametrize("text", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass_by_default(text: str) -> None:
    assert netguard.address_allowed(ipaddress.ip_address(text), [])


def test_refusal_does_not_tell_what_a_name_resolved_to() -> None:
    with pytest.raises(netguard.PolicyRefusal) as refused:
        netguard.check_url("http://localhost:9/cb", [])
    assert "not allowed" in str(refused.value)
    assert "127.0.0.1" not in str(refused.value) and "::1" not in str(refused.value)


def test_a_name_that_does_not_resolve_is_not_a_policy_refusal() -> None:
    # it may resolve later: retried as any failed push, not given up at once
    with pytest.raises(netguard.RefusedTarget) as refused:
        netguard.check_url("http://no-such-host.invalid/cb", [])
    assert not isinstance(refused.value, netguard.PolicyRefusal)


@pytest.mark.parametrize("name", ["callback_allowed_networks", "fileserver_allowed_networks"])
def test_a_malformed_allow_list_is_refused_when_the_settings_are_read(name: str) -> None:
    with pytest.raises(ValidationError, match="10.0.0.0/33"):
        Settings(**{name: "127.0.0.0/8, 10.0.0.0/33"})
    assert getattr(Settings(**{name: "127.0.0.0/8, ::1"}), name) == "127.0.0.0/8, ::1"


def test_allow_list_admits_only_its_networks() -> None:
    allowed = netguard.parse_networks("127.0.0.0/8, 10.0.0.0/8")
    netguard.check_url("http://127.0.0.1:9/cb", allowed)
    assert not netguard.address_allowed(ipaddress.ip_address("8.8.8.8"), allowed)
    assert netguard.address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), allowed)  # the same host
    with pytest.raises(netguard.PolicyRefusal):
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
