"""The package's one JSON-pointer helper (RFC 6901)."""

from __future__ import annotations

import pytest

from flow_sdk import json_pointer
from flow_sdk.json_pointer import MISSING

DOC = {"a": {"b/c": [10, {"m~n": None}]}, "": {"": 1}, "~1": "tilde-one"}


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        ("", []),
        ("/", [""]),
        ("/a/b~1c", ["a", "b/c"]),
        ("/m~0n", ["m~n"]),
        ("/~01", ["~1"]),  # `~0` first, so `~01` is `~1`, not `/`
        ("/a//b", ["a", "", "b"]),
        ("/0", ["0"]),
    ],
)
def test_parse_and_join_are_inverse(pointer: str, tokens: list[str]) -> None:
    assert json_pointer.parse(pointer) == tokens
    assert json_pointer.join(tokens) == pointer


def test_escape_and_unescape() -> None:
    assert json_pointer.escape("a/b~c") == "a~1b~0c"
    assert json_pointer.escape(3) == "3"
    assert json_pointer.unescape("~01") == "~1"
    assert json_pointer.unescape(json_pointer.escape("~1/~0")) == "~1/~0"


def test_get_finds_members_elements_and_null() -> None:
    assert json_pointer.get(DOC, "") is DOC
    assert json_pointer.get(DOC, "/a/b~1c/0") == 10
    assert json_pointer.get(DOC, "/a/b~1c/1/m~0n") is None  # present, and null
    assert json_pointer.get(DOC, "/~01") == "tilde-one"
    assert json_pointer.get(DOC, "//") == 1  # the empty token is a member name
    assert json_pointer.get(DOC, ["a", "b/c", "0"]) == 10  # already parsed tokens


@pytest.mark.parametrize(
    "pointer",
    ["/x", "/a/x", "/a/b~1c/2", "/a/b~1c/-", "/a/b~1c/x", "/a/b~1c/0/deeper", "/~1", "/a/b~1c/²"],
)
def test_get_returns_missing_for_a_missing_path(pointer: str) -> None:
    assert json_pointer.get(DOC, pointer) is MISSING
    assert not json_pointer.has(DOC, pointer)


def test_has_counts_null_as_present() -> None:
    assert json_pointer.has(DOC, "/a/b~1c/1/m~0n")


def test_set_value_creates_objects_on_its_way() -> None:
    doc: dict = {"list": [1, 2]}
    assert json_pointer.set_value(doc, "/new/deep~1er", 3)
    assert json_pointer.set_value(doc, "/list/1", 5)
    assert doc == {"list": [1, 5], "new": {"deep/er": 3}}


@pytest.mark.parametrize("pointer", ["", "/list/2", "/list/0/x", "/text/x", "/list/-"])
def test_set_value_refuses_what_it_cannot_reach(pointer: str) -> None:
    doc = {"list": [1], "text": "t"}
    assert not json_pointer.set_value(doc, pointer, 9)
    assert doc == {"list": [1], "text": "t"}
