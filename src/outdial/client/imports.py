from __future__ import annotations

from typing import Any

from outdial.client.base import BaseClient, Response

_V1 = "/rest/isales/v1/openapi/campaigns/{vdn}"


class ImportsMixin(BaseClient):
    """Methods for the file-server and file-import interfaces (bodies are the documents' JSON)."""

    # --- file servers -------------------------------------------------------------------------------

    def add_file_server(self, vdn_id: int, body: dict[str, Any]) -> Response:
        """body: userName, serverPwd (or outdial's privateKey), serverInfo {ip, port, filePath}, and
        optionally outdial's hostKey (the server's public key to pin). Answers serverId."""
        return self.request("POST", _V1.format(vdn=vdn_id) + "/file/addServer", body)

    def update_file_server(self, vdn_id: int, server_id: str, body: dict[str, Any]) -> Response:
        return self.request("POST", _V1.format(vdn=vdn_id) + f"/file/{server_id}/updateServer", body)

    def delete_file_server(self, vdn_id: int, server_id: str) -> Response:
        return self.request("POST", _V1.format(vdn=vdn_id) + f"/file/{server_id}/deleteServer")

    def query_file_servers(self, vdn_id: int, *, offset: int = 0, limit: int = 10) -> Response:
        return self.request(
            "POST", _V1.format(vdn=vdn_id) + "/file/queryServer", {"offset": offset, "limit": limit}
        )

    # --- imports ------------------------------------------------------------------------------------

    def import_file(
        self,
        vdn_id: int,
        campaign_id: int,
        server_id: str,
        file_name: str,
        *,
        file_path: str | None = None,
        hour: str | int | None = None,
        minute: str | int | None = None,
    ) -> Response:
        """Start (or schedule, with hour and minute) an import; answers importTaskId."""
        body: dict[str, Any] = {"serverId": server_id, "fileName": file_name}
        for key, value in (("filePath", file_path), ("hour", hour), ("minute", minute)):
            if value is not None:
                body[key] = value
        return self.request(
            "POST", _V1.format(vdn=vdn_id) + f"/calldatafile/uploadFileServer/{campaign_id}", body
        )

    def query_import_tasks(
        self,
        vdn_id: int,
        campaign_id: int,
        *,
        offset: int = 0,
        limit: int = 10,
        import_task_ids: list[str] | None = None,
    ) -> Response:
        body: dict[str, Any] = {"offset": offset, "limit": limit}
        if import_task_ids is not None:
            body["importTaskIds"] = import_task_ids
        return self.request(
            "POST", _V1.format(vdn=vdn_id) + f"/calldatafile/queryDataImportTask/{campaign_id}", body
        )

    def import_failures(
        self, vdn_id: int, import_task_id: str, *, offset: int = 0, limit: int = 1000
    ) -> Response:
        """outdial's own: the failed and duplicate rows of an import (line, kind, reason)."""
        return self.request(
            "GET",
            f"/rest/outdial/v1/{vdn_id}/imports/{import_task_id}/failures",
            query={"offset": offset, "limit": limit},
        )
