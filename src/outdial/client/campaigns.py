from __future__ import annotations

from typing import Any

from outdial.client.base import BaseClient, Response

_V1 = "/rest/isales/v1/openapi/campaigns/{vdn}"
_V2 = "/rest/isales/v2/openapi/campaigns/{vdn}"
_OWN = "/rest/outdial/v1/{vdn}"


class CampaignsMixin(BaseClient):
    """Methods for the campaigns interfaces (one per interface; bodies are the documents' JSON)."""

    # --- campaigns ----------------------------------------------------------------------------------

    def add_campaign(self, vdn_id: int, body: dict[str, Any]) -> Response:
        return self.request("POST", _V2.format(vdn=vdn_id), body)

    def modify_campaign(self, vdn_id: int, campaign_id: int, body: dict[str, Any]) -> Response:
        return self.request("PUT", _V2.format(vdn=vdn_id) + f"/{campaign_id}", body)

    def get_campaign(self, vdn_id: int, campaign_id: int) -> Response:
        return self.request("GET", _V1.format(vdn=vdn_id) + f"/{campaign_id}")

    def list_campaigns(self, vdn_id: int, **query: Any) -> Response:
        """query: name, status, deviceType, beginTime, endTime, curPage, rowsPerPage."""
        return self.request("GET", _V1.format(vdn=vdn_id), query=query)

    def pause_campaign(self, vdn_id: int, campaign_id: int) -> Response:
        return self.request("PUT", _V1.format(vdn=vdn_id) + f"/{campaign_id}/pause")

    def resume_campaign(self, vdn_id: int, campaign_id: int) -> Response:
        return self.request("PUT", _V1.format(vdn=vdn_id) + f"/{campaign_id}/resume")

    def delete_campaign(self, vdn_id: int, campaign_id: int, archive_history: int | None = None) -> Response:
        body = None if archive_history is None else {"archiveHistory": archive_history}
        return self.request("DELETE", _V1.format(vdn=vdn_id) + f"/{campaign_id}", body)

    # --- retry policy -------------------------------------------------------------------------------

    def set_retry_policy(self, vdn_id: int, campaign_id: int, body: dict[str, Any]) -> Response:
        return self.request("POST", _V1.format(vdn=vdn_id) + f"/retryPolicy/{campaign_id}", body)

    def get_retry_policy(self, vdn_id: int, campaign_id: int) -> Response:
        return self.request("GET", _V1.format(vdn=vdn_id) + f"/retryPolicy/{campaign_id}")

    # --- holidays -----------------------------------------------------------------------------------

    def list_holidays(self, vdn_id: int, campaign_id: int) -> Response:
        return self.request("GET", _V1.format(vdn=vdn_id) + f"/holiday/{campaign_id}")

    def add_holiday(self, vdn_id: int, campaign_id: int, body: dict[str, Any]) -> Response:
        return self.request("POST", _V1.format(vdn=vdn_id) + f"/holiday/{campaign_id}", body)

    def update_holiday(self, vdn_id: int, campaign_id: int, body: dict[str, Any]) -> Response:
        """`body` carries the holiday's `id` beside its new fields."""
        return self.request("PUT", _V1.format(vdn=vdn_id) + f"/holiday/{campaign_id}", body)

    def delete_holidays(self, vdn_id: int, campaign_id: int) -> Response:
        return self.request("DELETE", _V1.format(vdn=vdn_id) + f"/holiday/{campaign_id}")

    def delete_holiday(self, vdn_id: int, campaign_id: int, holiday_id: int) -> Response:
        return self.request("DELETE", _V1.format(vdn=vdn_id) + f"/holiday/{campaign_id}/{holiday_id}")

    # --- calling numbers ----------------------------------------------------------------------------

    def add_caller_numbers(self, vdn_id: int, campaign_id: int, callers: list[dict[str, Any]]) -> Response:
        """callers: [{"accessCode": "8888", "priority": 1}, ...]"""
        return self.request(
            "POST", _V1.format(vdn=vdn_id) + f"/callerNo/{campaign_id}", {"callerNo": callers}
        )

    def delete_caller_numbers(self, vdn_id: int, campaign_id: int, access_codes: list[str]) -> Response:
        body = {"callerNo": [{"accessCode": code} for code in access_codes]}
        return self.request("DELETE", _V1.format(vdn=vdn_id) + f"/callerNo/{campaign_id}", body)

    # --- skill queues (outdial's own) ---------------------------------------------------------------

    def list_skill_queues(self, vdn_id: int) -> Response:
        return self.request("GET", _OWN.format(vdn=vdn_id) + "/skills")

    def add_skill_queue(self, vdn_id: int, skill_id: int, skill_name: str) -> Response:
        return self.request(
            "POST", _OWN.format(vdn=vdn_id) + "/skills", {"skillId": skill_id, "skillName": skill_name}
        )

    def delete_skill_queue(self, vdn_id: int, skill_id: int) -> Response:
        return self.request("DELETE", _OWN.format(vdn=vdn_id) + f"/skills/{skill_id}")
