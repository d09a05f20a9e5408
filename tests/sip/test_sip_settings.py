"""OUTDIAL_SIP_* settings: parsed once, refused with the setting's name; the password never shown."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from outdial.config import Settings
from outdial.engine.telephony.sip.settings import SipSettings, parse_ivr_flows


def sip(**fields: object) -> SipSettings:
    return SipSettings.from_settings(Settings(**fields))  # type: ignore[arg-type]


def test_defaults_and_values_from_the_settings() -> None:
    s = sip(
        sip_trunk="sip:10.0.0.1:5060",
        sip_username="acme",
        sip_password=SecretStr("p@ss word"),
        sip_route="sip:+1{number}@carrier.example",
        sip_listen="192.0.2.7:5080",
        sip_rtp_ports="30000-30100",
        sip_max_lines=40,
        sip_outcomes="480=no_answer",
        sip_amd="off",
        sip_ivr_flows="1001=sip:ivr@10.0.0.5, survey=sip:survey@10.0.0.5:5070",
        sip_record="on",
        sip_transfer="refer",
        sip_refer_talk_s=90,
    )
    assert (s.transfer, s.refer_talk_s) == ("refer", 90.0)
    assert (s.listen_host, s.listen_port, s.rtp_ports, s.max_lines) == ("192.0.2.7", 5080, (30000, 30100), 40)
    assert s.request_uri("5550100") == "sip:+15550100@carrier.example"
    assert s.domain == "10.0.0.1"
    assert s.caller_header("88889527") == "<sip:88889527@10.0.0.1>"
    assert s.caller_header(None) is None
    assert s.outcomes.statuses[480] == "no_answer" and s.outcomes.statuses[486] == "busy"
    assert (s.amd, s.record) == (False, True)
    assert s.ivr_flows == {"1001": "sip:ivr@10.0.0.5", "survey": "sip:survey@10.0.0.5:5070"}
    assert s.password == "p@ss word" and "p@ss" not in repr(s)
    assert "p@ss" not in repr(Settings(sip_password=SecretStr("p@ss word")))


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"sip_route": "sip:127.0.0.1:5070"}, "OUTDIAL_SIP_ROUTE"),
        ({"sip_route": "tel:{number}"}, "OUTDIAL_SIP_ROUTE"),
        ({"sip_listen": "127.0.0.1"}, "OUTDIAL_SIP_LISTEN"),
        ({"sip_rtp_ports": "20000"}, "OUTDIAL_SIP_RTP_PORTS"),
        ({"sip_rtp_ports": "30000-20000"}, "OUTDIAL_SIP_RTP_PORTS"),
        ({"sip_max_lines": 0}, "OUTDIAL_SIP_MAX_LINES"),
        ({"sip_amd": "maybe"}, "OUTDIAL_SIP_AMD"),
        ({"sip_record": "yes"}, "OUTDIAL_SIP_RECORD"),
        ({"sip_outcomes": "486=nothing"}, "OUTDIAL_SIP_OUTCOMES"),
        ({"sip_ivr_flows": "1001"}, "OUTDIAL_SIP_IVR_FLOWS"),
        ({"sip_transfer": "blind"}, "OUTDIAL_SIP_TRANSFER"),
        ({"sip_refer_talk_s": -1}, "OUTDIAL_SIP_REFER_TALK_S"),
        ({"sip_username": "acme"}, "OUTDIAL_SIP_TRUNK"),
        ({"sip_agent_answer_s": 0}, "OUTDIAL_SIP_AGENT_ANSWER_S"),
    ],
)
def test_a_bad_setting_is_refused_by_name(fields: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        sip(**fields)


def test_ivr_flows_need_sip_uris() -> None:
    assert parse_ivr_flows("") == {}
    with pytest.raises(ValueError, match="OUTDIAL_SIP_IVR_FLOWS"):
        parse_ivr_flows("1001=http://ivr")


def test_the_worker_chooses_the_port_by_setting(ctx) -> None:  # type: ignore[no-untyped-def]
    from outdial.engine.telephony import Simulator
    from outdial.engine.worker import make_port

    assert isinstance(make_port(ctx), Simulator)
    ctx.settings = ctx.settings.model_copy(update={"telephony": "pbx"})
    with pytest.raises(ValueError, match="OUTDIAL_TELEPHONY"):
        make_port(ctx)
    ctx.settings = ctx.settings.model_copy(update={"telephony": "sip", "sip_route": "nope"})
    with pytest.raises(ValueError, match="OUTDIAL_SIP_ROUTE"):
        make_port(ctx)


def test_the_telephony_interface_says_what_the_process_dials_through(ctx, client) -> None:  # type: ignore[no-untyped-def]
    from outdial.engine.runner import Engine
    from outdial.engine.worker import make_port

    refused = client.telephony_status(1)
    assert refused.code == "0200001" and refused.body["resultDesc"].startswith("vdnId")  # no engine here
    ctx.extras["engine"] = Engine(ctx, make_port(ctx), owner="t")
    ctx.clock.advance(1)  # the same signed GET twice within a second would be a replay
    answer = client.telephony_status(1)
    assert answer.ok and answer.body["data"] == {"telephony": "simulator"}
