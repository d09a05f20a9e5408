from __future__ import annotations

from typing import Any

from outdial.client.base import BaseClient, Response

_V1 = "/rest/isales/v1/openapi/campaigns/{vdn}"


class ResultsMixin(BaseClient):
    """Methods for the results interfaces."""

    def query_call_results(
        self, vdn_id: int, campaign_id: int, body: dict[str, Any] | None = None
    ) -> Response:
        return self.request("POST", _V1.format(vdn=vdn_id) + f"/callresult/{campaign_id}", body or {})
