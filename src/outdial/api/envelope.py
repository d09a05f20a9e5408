"""The iSales response envelope: resultCode/resultDesc/returnCode/returnDesc plus the interface's fields."""

from __future__ import annotations

from typing import Any

from outdial.errors import SUCCESS


def envelope(code: str = SUCCESS, desc: str = "", **fields: Any) -> dict[str, Any]:
    return {"resultCode": code, "resultDesc": desc, "returnCode": code, "returnDesc": desc, **fields}


def ok(desc: str = "", **fields: Any) -> dict[str, Any]:
    return envelope(SUCCESS, desc, **fields)
