from __future__ import annotations

from typing import Any

from outdial.client.base import BaseClient, Response

_V1 = "/rest/isales/v1/openapi/campaigns/{vdn}"
_V2 = "/rest/isales/v2/openapi/campaigns/{vdn}"
_OWN = "/rest/outdial/v1/{vdn}/callbacks"


class ResultsMixin(BaseClient):
    """Methods for the results interfaces."""

    def query_call_results(
        self, vdn_id: int, campaign_id: int, body: dict[str, Any] | None = None
    ) -> Response:
        return self.request("POST", _V1.format(vdn=vdn_id) + f"/callresult/{campaign_id}", body or {})

    def call_result_detail(self, vdn_id: int, call_id: str) -> Response:
        return self.request("GET", _V1.format(vdn=vdn_id) + f"/callresultdetail/{call_id}", None)

    def fail_category_statistics(
        self, vdn_id: int, campaign_id: int | str, start_date: str | None = None, end_date: str | None = None
    ) -> Response:
        query = {"campaignId": str(campaign_id)}
        if start_date is not None:
            query["startDate"] = start_date
        if end_date is not None:
            query["endDate"] = end_date
        return self.request("GET", _V1.format(vdn=vdn_id) + "/failcategorystatistics", None, query=query)

    def campaign_statistics(
        self, vdn_id: int, campaign_id: int | str, batch_id: str | None = None
    ) -> Response:
        query = {"campaignId": str(campaign_id)}
        if batch_id is not None:
            query["batchId"] = batch_id
        return self.request("GET", _V2.format(vdn=vdn_id) + "/statistics", None, query=query)

    def list_callback_deliveries(self, vdn_id: int, **query: Any) -> Response:
        """outdial's own: pushes made, newest first (campaignId, failedOnly, offset, limit)."""
        return self.request("GET", _OWN.format(vdn=vdn_id) + "/deliveries", None, query=_text(query))

    def list_callback_results(self, vdn_id: int, **query: Any) -> Response:
        """outdial's own: outbox results (campaignId, state pending|delivered|failed, offset, limit)."""
        return self.request("GET", _OWN.format(vdn=vdn_id) + "/results", None, query=_text(query))

    def redeliver_callbacks(self, vdn_id: int, campaign_id: int) -> Response:
        return self.request("POST", _OWN.format(vdn=vdn_id) + "/redeliver", {"campaignId": campaign_id})

    def callback_settings(self, vdn_id: int) -> Response:
        return self.request("GET", _OWN.format(vdn=vdn_id) + "/settings", None)

    def set_callback_settings(self, vdn_id: int, body: dict[str, Any]) -> Response:
        """outdial's own: {"callBackUrl": url or "", "maxPushes": 1-6 or None}."""
        return self.request("PUT", _OWN.format(vdn=vdn_id) + "/settings", body)


def _text(query: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in query.items() if value is not None}
