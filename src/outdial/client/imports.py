from __future__ import annotations

from outdial.client.base import BaseClient


class ImportsMixin(BaseClient):
    """Methods for the imports interfaces."""
