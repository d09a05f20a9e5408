"""The SIP trunk settings, parsed once from the OUTDIAL_SIP_* settings (outdial.config.Settings).

Parsing refuses a bad value with a ValueError naming the setting, so `outdial serve --telephony sip`
stops at start with one clear line instead of failing on the first call.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from outdial.engine.telephony.sip.amd import AmdSettings
from outdial.engine.telephony.sip.outcomes import DEFAULT_TABLE, OutcomeTable

_HOST_PORT = re.compile(r"^(?P<host>[0-9A-Za-z.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>[0-9]{1,5})$")
_RANGE = re.compile(r"^([0-9]{1,5})-([0-9]{1,5})$")


@dataclass(frozen=True)
class SipSettings:
    """One trunk. `route` turns a called number into a request URI ("sip:{number}@trunk.example");
    `caller_id` is sent as P-Asserted-Identity ("{caller}" is the request's caller number; empty: none).
    The password never appears in repr() or logs."""

    route: str = "sip:{number}@127.0.0.1:5070"
    trunk: str | None = (
        None  # outbound proxy (and registrar when `username` is set), e.g. "sip:10.0.0.1:5060"
    )
    username: str | None = None
    password: str = field(default="", repr=False)
    caller_id: str = "<sip:{caller}@{domain}>"
    listen_host: str = "127.0.0.1"
    listen_port: int = 5062
    rtp_ports: tuple[int, int] = (10000, 20000)
    max_lines: int = 100
    outcomes: OutcomeTable = DEFAULT_TABLE
    amd: bool = True
    amd_settings: AmdSettings = field(default_factory=AmdSettings)  # OUTDIAL_SIP_AMD_* thresholds
    ivr_flows: Mapping[str, str] = field(default_factory=dict)  # IVR flow code (deviceSign) -> SIP URI
    agent_answer_s: float = 5.0
    wrapup_s: float = 15.0
    abandon_after_s: float = 2.0
    record: bool = False
    transfer: Literal["bridge", "refer"] = "bridge"
    # refer: an agent the customer was transferred to is taken as talking this long (outdial no longer
    # sees the call), then in wrap-up; the agent's "wrap-up done" ends both early
    refer_talk_s: float = 180.0
    register_interval_s: int = 600

    def __post_init__(self) -> None:
        if "{number}" not in self.route or not self.route.startswith(("sip:", "sips:")):
            raise ValueError(f"OUTDIAL_SIP_ROUTE: {self.route!r} must be a sip: URI containing {{number}}")
        if self.max_lines < 1:
            raise ValueError("OUTDIAL_SIP_MAX_LINES: must be at least 1")
        low, high = self.rtp_ports
        if not 1024 <= low < high <= 65535:
            raise ValueError(f"OUTDIAL_SIP_RTP_PORTS: {low}-{high} is not a range within 1024-65535")
        if self.agent_answer_s <= 0:
            raise ValueError("OUTDIAL_SIP_AGENT_ANSWER_S: must be positive")
        if self.transfer not in ("bridge", "refer"):
            raise ValueError(f"OUTDIAL_SIP_TRANSFER: {self.transfer!r} must be bridge or refer")
        if self.refer_talk_s < 0:
            raise ValueError("OUTDIAL_SIP_REFER_TALK_S: cannot be negative")
        if self.username and not self.trunk:
            raise ValueError("OUTDIAL_SIP_TRUNK: needed to register OUTDIAL_SIP_USERNAME")

    @property
    def domain(self) -> str:
        """The trunk's host (the From domain, and the P-Asserted-Identity domain)."""
        if self.trunk:
            host = self.trunk.split(":", 1)[1] if self.trunk.startswith("sip") else self.trunk
            return host.split(";", 1)[0].split(":", 1)[0]
        return self.route.split("@", 1)[-1].split(";", 1)[0].split(":", 1)[0]

    def request_uri(self, number: str) -> str:
        return self.route.format(number=number)

    def caller_header(self, caller: str | None) -> str | None:
        if not self.caller_id or not caller:
            return None
        return self.caller_id.format(caller=caller, domain=self.domain)

    @classmethod
    def from_settings(cls, settings: Any) -> SipSettings:
        """From outdial.config.Settings (the sip_* fields)."""
        listen = _HOST_PORT.match(settings.sip_listen.strip())
        if listen is None:
            raise ValueError(f"OUTDIAL_SIP_LISTEN: {settings.sip_listen!r} is not host:port")
        ports = _RANGE.match(settings.sip_rtp_ports.strip())
        if ports is None:
            raise ValueError(f"OUTDIAL_SIP_RTP_PORTS: {settings.sip_rtp_ports!r} is not min-max")
        return cls(
            route=settings.sip_route,
            trunk=settings.sip_trunk or None,
            username=settings.sip_username or None,
            password=settings.sip_password.get_secret_value(),
            caller_id=settings.sip_caller_id,
            listen_host=listen.group("host"),
            listen_port=int(listen.group("port")),
            rtp_ports=(int(ports.group(1)), int(ports.group(2))),
            max_lines=settings.sip_max_lines,
            outcomes=OutcomeTable.parse(settings.sip_outcomes),
            amd=_on_off("OUTDIAL_SIP_AMD", settings.sip_amd),
            amd_settings=AmdSettings.from_env(os.environ),
            ivr_flows=parse_ivr_flows(settings.sip_ivr_flows),
            agent_answer_s=settings.sip_agent_answer_s,
            wrapup_s=settings.sip_wrapup_s,
            record=_on_off("OUTDIAL_SIP_RECORD", settings.sip_record),
            transfer=settings.sip_transfer,
            refer_talk_s=settings.sip_refer_talk_s,
        )


def parse_ivr_flows(text: str) -> dict[str, str]:
    """ "welcome=sip:ivr@10.0.0.5,survey=sip:survey@10.0.0.5" -> {flow code: URI}."""
    flows: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        code, sep, uri = (s.strip() for s in part.partition("="))
        if not sep or not code or not uri.startswith(("sip:", "sips:")):
            raise ValueError(f"OUTDIAL_SIP_IVR_FLOWS: {part!r} is not flowcode=sip:uri")
        flows[code] = uri
    return flows


def _on_off(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text not in ("on", "off"):
        raise ValueError(f"{name}: {value!r} must be on or off")
    return text == "on"
