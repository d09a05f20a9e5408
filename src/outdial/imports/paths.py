"""Where on the file server an import reads from: the server's default path, the request's optional
`filePath` (always relative to the default path, even when written with a leading slash, as in the
document's example "/isales/upload") and the request's `fileName`.

Pure. The request fields come from API callers, so anything that could leave the default path is
refused before a connection is ever made: `..` segments, backslashes (a Windows-style server would read
them as separators), NUL and other control characters, and a fileName that is not a bare name.
"""

from __future__ import annotations

import posixpath
import unicodedata

from outdial import errors
from outdial.errors import ApiError

ALLOWED_SUFFIXES = (".xlsx", ".csv")
MAX_FILE_PATH_LEN = 255
MAX_FILE_NAME_LEN = 255
MAX_SEGMENT_LEN = 255  # NAME_MAX on the usual servers


def _bad_char(text: str) -> str | None:
    """The first character a path field may not hold, or None."""
    for ch in text:
        if ch == "\\" or unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029":
            return ch
    return None


def _refuse_chars(field: str, text: str) -> None:
    ch = _bad_char(text)
    if ch is not None:
        shown = "\\" if ch == "\\" else f"U+{ord(ch):04X}"
        raise ApiError(errors.INVALID_CHARS, f"{field} contains an invalid character ({shown})")


def _segments(file_path: str) -> list[str]:
    """The folder names of a request filePath, relative to the default path."""
    if len(file_path) > MAX_FILE_PATH_LEN:
        raise ApiError(errors.TOO_LONG, f"filePath cannot exceed {MAX_FILE_PATH_LEN} characters")
    _refuse_chars("filePath", file_path)
    parts = []
    for part in file_path.split("/"):
        if part in ("", "."):
            continue  # "/isales//upload/" and "./isales" mean the same folder
        if part == "..":
            raise ApiError(errors.WRONG_VALUE, "filePath must not contain '..' segments")
        if len(part.encode()) > MAX_SEGMENT_LEN:
            raise ApiError(errors.TOO_LONG, f"filePath folder names cannot exceed {MAX_SEGMENT_LEN} bytes")
        parts.append(part)
    return parts


def is_inside(base: str, path: str) -> bool:
    """Whether `path` (once normalized) is `base` or below it; `base` already normalized."""
    norm = posixpath.normpath(path)
    if base == ".":
        return not norm.startswith("/") and norm != ".." and not norm.startswith("../")
    return norm == base or norm.startswith(base.rstrip("/") + "/")


def check_file_name(file_name: str) -> str:
    """A bare file name ending in .xlsx or .csv (any case); returns it unchanged."""
    if file_name is None or file_name == "":
        raise ApiError(errors.EMPTY, "fileName is required")
    if len(file_name) > MAX_FILE_NAME_LEN or len(file_name.encode()) > MAX_SEGMENT_LEN:
        raise ApiError(errors.TOO_LONG, f"fileName cannot exceed {MAX_FILE_NAME_LEN} characters")
    _refuse_chars("fileName", file_name)
    if "/" in file_name:
        raise ApiError(errors.INVALID_CHARS, "fileName must be a bare file name without '/'")
    lower = file_name.lower()
    suffix = next((s for s in ALLOWED_SUFFIXES if lower.endswith(s)), None)
    if suffix is None:
        raise ApiError(errors.WRONG_VALUE, "fileName must end in .xlsx or .csv")
    if len(file_name) == len(suffix):
        raise ApiError(errors.WRONG_VALUE, "fileName must have a name before its extension")
    return file_name


def resolve_remote_path(default_path: str, file_path: str | None, file_name: str) -> str:
    """The remote file's path: default path / filePath / fileName, never outside the default path.

    `default_path` is the administrator's setting (addServer's serverInfo.filePath) and is trusted; it is
    only normalized. A blank filePath means the default path itself.
    """
    base = posixpath.normpath(default_path) if default_path else "."
    if base.startswith("//"):
        base = "/" + base.lstrip("/")  # normpath keeps a leading "//" (POSIX); one root is enough
    parts = _segments(file_path) if file_path and file_path.strip() else []
    name = check_file_name(file_name)
    result = posixpath.join(base, *parts, name)
    # By construction the result is under base; checked again so a future change cannot loosen it.
    if not is_inside(base, result):
        raise ApiError(errors.WRONG_VALUE, "filePath must stay inside the file server's default path")
    return result
