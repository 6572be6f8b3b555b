"""`stamped`: a captured document's bytes with `/_meta/uuid` set, cut from its line, must be
exactly what encoding the stamped document gives; any other shape of line is left to it."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from flow_sdk.runtime.capture.session import stamped
from flow_sdk.runtime.document_meta import UUID_PLACEHOLDER
from flow_sdk.runtime.strict import decode_line

DOCS: list[dict[str, Any]] = [
    {},
    {"id": 1},
    {"id": "é 🎉", "n": 1.5e300, "big": 18446744073709551615, "nested": {"a": [1, {"b": None}]}},
    {"id": 1, "_meta": {}},
    {"id": 1, "_meta": {"op": "c", "row_id": 7}},
    {"_meta": {"row_id": 7}},
    {"_meta": {"row_id": 7}, "id": 1},  # `_meta` not last: encoded again
    {"id": 1, "_meta": {"uuid": "from-the-connector"}},  # replaced in place: encoded again
    {"id": 1, "tricky": "}}}", "_meta": {"x": "}}"}},
]


def reference(doc: dict[str, Any]) -> bytes:
    doc = copy.deepcopy(doc)
    doc.setdefault("_meta", {})["uuid"] = UUID_PLACEHOLDER
    return orjson.dumps(doc)


@pytest.mark.parametrize("binding", [0, 3])
@pytest.mark.parametrize("doc", DOCS)
def test_cut_from_the_line_or_declined(doc: dict[str, Any], binding: int) -> None:
    captured: dict[str, Any] = {"binding": binding, "doc": doc} if binding else {"doc": doc}
    line = orjson.dumps({"captured": captured}) + b"\n"
    data, canonical = decode_line(line)
    assert canonical
    cut = stamped(data["captured"]["doc"], line, binding)
    if next(iter(doc.get("_meta", {})), None) == "uuid" or (
        "_meta" in doc and next(reversed(doc)) != "_meta"
    ):
        assert cut is None
    else:
        assert cut == reference(doc)


@pytest.mark.parametrize(
    "line",
    [
        b'{"captured":{"doc":{"id":1},"binding":0}}\n',  # binding after the document
        b'{"captured":{"binding":0,"doc":{"id":1}}}\n',  # an explicit binding 0
    ],
)
def test_other_shapes_are_declined(line: bytes) -> None:
    data, _ = decode_line(line)
    assert stamped(data["captured"]["doc"], line, 0) is None


def test_a_line_that_is_not_orjsons_encoding_is_not_canonical() -> None:
    assert decode_line(b'{"captured": {"doc": {"id": 1}}}\n')[1] is False
    assert decode_line(b'{"captured":{"doc":{"id":1.0}}}\n')[1] is True
