"""The real SFTP servers of tests/sftp_servers.py, for the import tests, and settings that let the
service dial them (loopback is refused by default)."""

import pytest

from fake_dns import rebinding_dns  # noqa: F401
from outdial.config import Settings
from sftp_servers import (  # noqa: F401
    LOOPBACK_NETWORKS,
    asyncssh_sftp,
    closed_port,
    openssh_sftp,
    sftp_server,
    silent_port,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.fileserver_allowed_networks = LOOPBACK_NETWORKS
    return settings
