from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outdial import errors
from outdial.errors import ApiError
from outdial.imports.paths import resolve_remote_path


def test_document_example_leading_slash_is_relative_to_default_path() -> None:
    assert resolve_remote_path("/home/sftp", "/isales/upload", "demogl50w.xlsx") == (
        "/home/sftp/isales/upload/demogl50w.xlsx"
    )


def test_no_file_path_means_the_default_path() -> None:
    assert resolve_remote_path("/home/sftp", None, "demo.xlsx") == "/home/sftp/demo.xlsx"
    assert resolve_remote_path("/home/sftp/", "", "demo.csv") == "/home/sftp/demo.csv"
    assert resolve_remote_path("/home/sftp", "   ", "demo.csv") == "/home/sftp/demo.csv"


def test_redundant_slashes_and_dots_collapse() -> None:
    assert resolve_remote_path("/srv//data/", "./a//b/./", "f.CSV") == "/srv/data/a/b/f.CSV"


def test_root_default_path() -> None:
    assert resolve_remote_path("/", "/isales", "a.xlsx") == "/isales/a.xlsx"


def test_relative_default_path_stays_relative() -> None:
    assert resolve_remote_path("upload", "x", "a.csv") == "upload/x/a.csv"


def test_extension_is_case_insensitive() -> None:
    assert resolve_remote_path("/d", None, "A.XlSx").endswith("/A.XlSx")


@pytest.mark.parametrize(
    ("file_path", "file_name", "code", "field"),
    [
        ("../etc", "a.xlsx", errors.WRONG_VALUE, "filePath"),
        ("/isales/../../etc", "a.xlsx", errors.WRONG_VALUE, "filePath"),
        ("a/..", "a.xlsx", errors.WRONG_VALUE, "filePath"),
        ("..\\etc", "a.xlsx", errors.INVALID_CHARS, "filePath"),
        ("a\x00b", "a.xlsx", errors.INVALID_CHARS, "filePath"),
        ("a\nb", "a.xlsx", errors.INVALID_CHARS, "filePath"),
        ("a\x7fb", "a.xlsx", errors.INVALID_CHARS, "filePath"),
        ("x" * 256, "a.xlsx", errors.TOO_LONG, "filePath"),
        (None, "../a.xlsx", errors.INVALID_CHARS, "fileName"),
        (None, "sub/a.xlsx", errors.INVALID_CHARS, "fileName"),
        (None, "..\\a.xlsx", errors.INVALID_CHARS, "fileName"),
        (None, "a\x00.xlsx", errors.INVALID_CHARS, "fileName"),
        (None, "a.xls", errors.WRONG_VALUE, "fileName"),
        (None, "a.xlsx.exe", errors.WRONG_VALUE, "fileName"),
        (None, "a.xlsx ", errors.WRONG_VALUE, "fileName"),
        (None, ".csv", errors.WRONG_VALUE, "fileName"),
        (None, "..", errors.WRONG_VALUE, "fileName"),
        (None, "", errors.EMPTY, "fileName"),
        (None, "x" * 252 + ".csv", errors.TOO_LONG, "fileName"),
    ],
)
def test_refusals_name_the_field(file_path: str | None, file_name: str, code: str, field: str) -> None:
    with pytest.raises(ApiError) as caught:
        resolve_remote_path("/home/sftp", file_path, file_name)
    assert caught.value.code == code
    assert caught.value.desc.startswith(field + " ")


def test_longest_accepted_file_name() -> None:
    name = "x" * 250 + ".xlsx"  # 255 characters
    assert resolve_remote_path("/d", None, name) == "/d/" + name


# Any text, biased towards the characters that matter for escaping.
_path_text = st.lists(
    st.sampled_from(["/", ".", "..", "\\", "a", "b", "\x00", "\n", " ", "é", "~", "%2e"]), max_size=12
).map("".join)
_names = st.one_of(
    _path_text.map(lambda t: t + ".xlsx"),
    _path_text.map(lambda t: t + ".csv"),
    _path_text,
)


@given(
    default=st.sampled_from(["/home/sftp", "/", "/srv/a/b/", "upload", "."]),
    file_path=st.one_of(st.none(), _path_text),
    file_name=_names,
)
def test_result_always_stays_under_the_default_path(
    default: str, file_path: str | None, file_name: str
) -> None:
    try:
        result = resolve_remote_path(default, file_path, file_name)
    except ApiError:
        return
    base = posixpath.normpath(default)
    norm = posixpath.normpath(result)
    assert norm == result.rstrip("/") or result.startswith("./")  # nothing left to normalize
    if base == ".":
        assert not norm.startswith("/") and norm.split("/")[0] != ".."
    else:
        assert norm.startswith(base.rstrip("/") + "/")
    assert ".." not in norm.split("/")
    assert posixpath.basename(norm) == file_name
    assert file_name.lower().endswith((".xlsx", ".csv"))
