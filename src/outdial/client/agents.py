from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from outdial.client.base import BaseClient, Response

_AGENTS = "/rest/outdial/v1/{vdn}/agents"


class AgentsMixin(BaseClient):
    """outdial's own: real agents logged in to skill queues with their phones' SIP URIs (docs/agents.md)."""

    def agent_login(
        self, vdn_id: int, agent_id: str, skill_ids: Sequence[int], uri: str, *, ready: bool | None = None
    ) -> Response:
        """Log in to skill queues of the VDN (again: replaces skill queues, URI and readiness)."""
        body: dict[str, Any] = {"skillIds": list(skill_ids), "uri": uri}
        if ready is not None:
            body["ready"] = ready
        return self.request("POST", _AGENTS.format(vdn=vdn_id) + f"/{agent_id}/login", body)

    def agent_ready(self, vdn_id: int, agent_id: str) -> Response:
        return self.request("POST", _AGENTS.format(vdn=vdn_id) + f"/{agent_id}/ready", {})

    def agent_not_ready(self, vdn_id: int, agent_id: str) -> Response:
        return self.request("POST", _AGENTS.format(vdn=vdn_id) + f"/{agent_id}/notready", {})

    def agent_wrapup_done(self, vdn_id: int, agent_id: str) -> Response:
        """End the agent's current wrap-up now."""
        return self.request("POST", _AGENTS.format(vdn=vdn_id) + f"/{agent_id}/wrapupdone", {})

    def agent_logout(self, vdn_id: int, agent_id: str) -> Response:
        return self.request("POST", _AGENTS.format(vdn=vdn_id) + f"/{agent_id}/logout", {})

    def agent_logins(self, vdn_id: int) -> Response:
        """The VDN's logged-in agents: stored login (skillIds, uri, ready, notReadyReason, ...) and the
        live `state` the telephony port reports (None when it does not know the agent)."""
        return self.request("GET", _AGENTS.format(vdn=vdn_id))
