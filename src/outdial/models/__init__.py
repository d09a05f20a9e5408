"""Table definitions (SQLAlchemy Core), one module per domain.

Conventions: every instant is epoch milliseconds UTC in a BIGINT column named *_at; ids that the API shows
as numbers (campaign id, dataId) are integers; ids the API shows as long strings (serverId, importTaskId)
are strings.
"""

from outdial.models import agents, calldata, engine, foundation, imports, results  # noqa: F401  (registers tables)
from outdial.models.base import metadata

__all__ = ["metadata"]
