"""One error type carries the iSales result code; api/envelope.py turns it into the response envelope."""

from __future__ import annotations

SUCCESS = "0200000"

# Business codes of the seed documents (7 digits).
PARAMETER_ERROR = "0200001"
BEGIN_BEFORE_TODAY = "0200002"
SKILL_CAMPAIGN_LIMIT = "0200003"
IVR_CAMPAIGN_LIMIT = "0200004"
DUPLICATE_NAME = "0200005"
DATABASE_ERROR = "0200006"
NOT_FOUND = "0200007"  # campaign does not exist; also "already blacklisted" on blocklist/add
BOTH_OR_NEITHER = "0200008"
BAD_TIME_FORMAT_RESULT = "0200009"  # callresult: bad time format; delete: refused while executing
BEGIN_NOT_BEFORE_END = "0200010"
RANGE_TOO_LONG = "0200011"  # callresult: > 30 days; pause/resume: status does not allow it
SKILL_NOT_FOUND = "0200017"
DUPLICATE_NUMBERS = "0200018"
WRONG_STATE_FOR_NUMBERS = "0200019"
TOO_MANY_UNFINISHED = "0200020"
TOO_FREQUENT = "0200022"
BLACKLISTED = "0200024"
TOO_MANY_RECORDS = "0200029"
BAD_TIME_FORMAT = "0200030"
DATA_NOT_FOUND = "0200033"
SUB_STATUS_MISMATCH = "0200034"
WRITE_BACK_FAILED = "0200999"

# Field validation codes (8 digits), one per kind of failure.
EMPTY = "02000001"
INVALID_CHARS = "02000002"
TOO_LONG = "02000003"
TOO_SHORT = "02000004"
LENGTH_RANGE = "02000005"
WRONG_TYPE = "02000006"
WRONG_VALUE = "02000007"
UNPARSABLE = "02000008"
BAD_COMBINATION = "02000009"
HOUR_MINUTE_PAIR = "02000010"
TOO_MANY = "02000011"


class ApiError(Exception):
    """A refusal with its iSales code. `http_status` stays 200 for business errors, as iSales does."""

    def __init__(self, code: str, desc: str, http_status: int = 200) -> None:
        super().__init__(f"{code}: {desc}")
        self.code = code
        self.desc = desc
        self.http_status = http_status


class AuthError(Exception):
    """Any authentication failure. Always answered with HTTP 401 and no detail that leaks data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
