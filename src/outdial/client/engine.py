from __future__ import annotations

from typing import Any

from outdial.client.base import BaseClient, Response

_V1 = "/rest/isales/v1/openapi/campaigns/{vdn}"
_OWN = "/rest/outdial/v1/{vdn}"


class EngineMixin(BaseClient):
    """Methods for the engine interfaces."""

    def call_business_result(
        self,
        vdn_id: int,
        data_id: int,
        busi_result: str,
        *,
        sub_status: str | None = None,
        busi_result_desc: str | None = None,
        work_no: str | None = None,
        **extra: Any,
    ) -> Response:
        """Write a business result back for one record (`POST …/callBusiResult/{dataId}`)."""
        body: dict[str, Any] = {"busiResult": busi_result, **extra}
        for key, value in (("subStatus", sub_status), ("busiResultDesc", busi_result_desc), ("workNo", work_no)):
            if value is not None:
                body[key] = value
        return self.request("POST", _V1.format(vdn=vdn_id) + f"/callBusiResult/{data_id}", body)

    def list_agents(self, vdn_id: int, skill_id: int) -> Response:
        """outdial's own: the agents of a skill queue and their states (idle, reserved, talking, wrapup,
        offline)."""
        return self.request("GET", _OWN.format(vdn=vdn_id) + f"/skills/{skill_id}/agents")

    def telephony_status(self, vdn_id: int) -> Response:
        """outdial's own: what the serving process dials through; for a SIP trunk registered, up,
        callsInProgress, linesFree and reason."""
        return self.request("GET", _OWN.format(vdn=vdn_id) + "/telephony")

    def result_codes(self, vdn_id: int) -> Response:
        """outdial's own: what each failCode becomes as the resultCode of call results, for this VDN."""
        return self.request("GET", _OWN.format(vdn=vdn_id) + "/resultcodes")

    def set_result_codes(self, vdn_id: int, mapping: dict[str, str | None]) -> Response:
        """outdial's own: override resultCodes ({failCode: resultCode}; None or "" goes back to the
        default)."""
        entries = [{"failCode": f, "resultCode": r} for f, r in mapping.items()]
        return self.request("PUT", _OWN.format(vdn=vdn_id) + "/resultcodes", {"resultCodes": entries})
