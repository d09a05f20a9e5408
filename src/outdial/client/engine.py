from __future__ import annotations

from outdial.client.base import BaseClient


class EngineMixin(BaseClient):
    """Methods for the engine interfaces."""
