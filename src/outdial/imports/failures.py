"""The one exception of the import's lower half: fetching or reading the file failed as a whole."""

from __future__ import annotations


class ImportFailure(Exception):
    """The whole file cannot be imported; `reason` is shown to the user as the task's error message,
    so it says what went wrong in plain words and never carries a password or key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
