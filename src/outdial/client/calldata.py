from __future__ import annotations

from typing import Any

from outdial.client.base import BaseClient, Response

_V1 = "/rest/isales/v1/openapi/campaigns/{vdn}"


class CalldataMixin(BaseClient):
    """Methods for the call-data and blacklist interfaces (bodies are the documents' JSON)."""

    # --- call data ----------------------------------------------------------------------------------

    def add_call_data(self, vdn_id: int, campaign_id: int, records: list[dict[str, Any]]) -> Response:
        """records: [{"called": "80021", "sessionId": "00750", ...}, ...] (at most 20)."""
        return self.request(
            "POST", _V1.format(vdn=vdn_id) + f"/calldata/{campaign_id}", {"callDataList": records}
        )

    def get_call_data(self, vdn_id: int, campaign_id: int, data_id: int) -> Response:
        return self.request("GET", _V1.format(vdn=vdn_id) + f"/calldata/{campaign_id}/{data_id}")

    def delete_call_data(self, vdn_id: int, campaign_id: int, body: dict[str, Any]) -> Response:
        """body: any of sessionId, called, customField, recycleTime + recycleType, archiveHistory."""
        return self.request("POST", _V1.format(vdn=vdn_id) + f"/calldata/{campaign_id}/delete", body)

    # --- blacklist ----------------------------------------------------------------------------------

    def add_blocklist(self, vdn_id: int, numbers: list[str], **fields: Any) -> Response:
        """fields: validityTime, validityTimeUnit, validityExpirationTime, restrictTimes, restrictPeriod,
        isCoverDupNo."""
        return self.request(
            "POST", _V1.format(vdn=vdn_id) + "/blocklist/add", {"blocklist": numbers, **fields}
        )

    def delete_blocklist_number(self, vdn_id: int, number: str) -> Response:
        return self.request("POST", _V1.format(vdn=vdn_id) + "/blocklist/delete", {"blocklistNo": number})

    def delete_blocklist(self, vdn_id: int) -> Response:
        """Deletes the VDN's whole blacklist."""
        return self.request("DELETE", _V1.format(vdn=vdn_id) + "/blocklist")

    def query_blocklist(
        self,
        vdn_id: int,
        *,
        numbers: list[str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> Response:
        """Either the numbers asked about, or a page (offset, limit 1-100)."""
        body: dict[str, Any] = {}
        if numbers is not None:
            body["blocklist"] = numbers
        if offset is not None:
            body["offset"] = offset
        if limit is not None:
            body["limit"] = limit
        return self.request("POST", _V1.format(vdn=vdn_id) + "/blocklist/query", body)
