"""outdial's Python SDK: `Client(base_url, ak, sk)` signs every request with auth-v2 and offers one method
per interface. Each domain's methods live in a mixin of its own (client/<domain>.py)."""

from __future__ import annotations

from outdial.client.agents import AgentsMixin
from outdial.client.base import BaseClient, Response
from outdial.client.calldata import CalldataMixin
from outdial.client.campaigns import CampaignsMixin
from outdial.client.engine import EngineMixin
from outdial.client.imports import ImportsMixin
from outdial.client.results import ResultsMixin


class Client(CampaignsMixin, CalldataMixin, ImportsMixin, ResultsMixin, EngineMixin, AgentsMixin, BaseClient):
    pass


__all__ = ["Client", "Response"]
