"""One typed settings object, read from the environment (OUTDIAL_ prefix)."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def server_timezone() -> str:
    """The server's IANA zone: $TZ, else /etc/timezone, else the /etc/localtime link, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and ("/" in tz or tz == "UTC"):
        return tz
    try:
        name = Path("/etc/timezone").read_text().strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTDIAL_", extra="ignore")

    data_dir: Path = Path("outdial-data")
    database_url: str = ""  # empty: a SQLite file in data_dir
    host: str = "127.0.0.1"
    port: int = 8080
    timezone: str = Field(default_factory=server_timezone)

    # SQLite: past this size of the -wal file (MiB), writers wait for a checkpoint that empties it
    # (docs/internals.md); 0: no limit.
    sqlite_wal_limit_mb: float = 64

    # auth-v2: accepted clock skew either side of the server's time, and how long a used signature is kept
    auth_window_seconds: int = 300
    max_body_bytes: int = 1_048_576

    # Call data limits of the documents
    max_unfinished_per_campaign: int = 200_000
    max_records_per_file: int = 500_000
    # Address space an import's reading process may use beyond what it inherits (MiB): a file whose
    # reading needs more fails its task instead of exhausting the machine (imports/forked.py).
    import_memory_mb: int = 2048

    # SFTP file servers (imports): CIDRs their host may resolve to; empty means "public addresses only".
    fileserver_allowed_networks: str = ""

    # Encrypts secrets at rest (SKs, file-server passwords and keys). Empty: a key file in data_dir.
    secret_key: str = ""

    # Callbacks: CIDRs callback targets may resolve to; empty means "public addresses only".
    callback_allowed_networks: str = ""
    callback_url: str = ""  # the system-level callback URL, used when neither campaign nor tenant has one
    callback_max_pushes: int = 6  # pushes per result before it is given up (a tenant may set its own; 1-6)
    callback_timeout_seconds: float = 10.0  # per push: connect, send and wait for the receiver's answer
    # Delivered results and the delivery log are deleted this many days after delivery (0: kept forever).
    callback_retention_days: int = 7

    # The built-in telephony simulator behind the engine (docs/telephony.md). Shares are fractions of dials:
    # "person=0.25,machine=0.15,no_answer=0.4,busy=0.1,vacant=0.1" (the names of OutcomeMix); empty: that mix.
    sim_seed: int = 0
    sim_agents_per_queue: int = 20  # simulated agents of every skill queue, created when first used
    sim_mix: str = ""
    sim_answer_mean_s: float = 10.0
    sim_talk_mean_s: float = 120.0
    sim_wrapup_s: float = 15.0
    # answer (200 OK) to the person / machine decision, as a real adapter's answering-machine detection
    sim_detect_delay_s: float = Field(default=1.8, ge=0)

    @field_validator("callback_allowed_networks", "fileserver_allowed_networks")
    @classmethod
    def _cidr_list(cls, value: str) -> str:
        """Refuse a bad allow-list at start-up rather than at the first push or import."""
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # its ValueError names the bad entry
        return value

    # Which telephony the engine dials through: the built-in simulator, or a SIP trunk (docs/telephony.md,
    # "The SIP adapter"; parsed and checked by engine/telephony/sip/settings.py).
    telephony: str = "simulator"  # simulator | sip
    sip_trunk: str = ""  # outbound proxy / registrar URI, e.g. "sip:10.0.0.1:5060"; empty: dial the route
    sip_username: str = ""  # set: REGISTER to the trunk with these credentials
    sip_password: SecretStr = SecretStr("")  # a secret: never logged, never answered
    sip_route: str = "sip:{number}@127.0.0.1:5070"  # called number -> request URI
    sip_caller_id: str = "<sip:{caller}@{domain}>"  # sent as P-Asserted-Identity; empty: none
    sip_listen: str = "127.0.0.1:5062"  # local SIP address
    sip_rtp_ports: str = "10000-20000"
    sip_max_lines: int = 100  # calls at once over the trunk; beyond it 34606
    sip_outcomes: str = ""  # overrides of the outcome table, e.g. "480=no_answer,q850:31=rejected"
    sip_amd: str = "on"  # answering-machine detection: on | off
    sip_ivr_flows: str = ""  # "flowcode=sip:uri,...": the IVR flow of each deviceSign
    sip_agent_answer_s: float = 5.0  # an agent phone silent this long: agent not ready, next agent
    sip_wrapup_s: float = 15.0
    sip_record: str = "off"  # on: both legs of bridged calls to WAV files under data_dir/recordings
    sip_transfer: str = "bridge"  # bridge | refer (a blind transfer; falls back to bridge when refused)
    sip_refer_talk_s: float = 180.0  # refer: the talk time assumed before a transferred agent's wrap-up

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'outdial.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
