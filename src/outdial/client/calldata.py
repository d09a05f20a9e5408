from __future__ import annotations

from outdial.client.base import BaseClient


class CalldataMixin(BaseClient):
    """Methods for the calldata interfaces."""
