"""`flow-sdk run`'s `store` lines splice the journal's document bytes in as `doc`: each line
must be byte for byte what encoding the whole request gives."""

from __future__ import annotations

from base64 import b64encode
from typing import Any

import orjson
import pytest

from flow_sdk.protocol.tuple_pack import pack
from flow_sdk.runtime.keys import KeyExtractor, pointer
from flow_sdk.runtime.materialize.run import _StoreLines

DOCS = [
    {"id": 1, "name": "a"},
    {"id": "é 🎉", "name": None, "n": [1.5, {"x": "}}"}], "_meta": {"uuid": "u"}},
    {"id": 2, "_meta": {"uuid": "u", "op": "d"}},
    {"id": 3, "_meta": {"op": "u"}},
]


def reference(doc: dict[str, Any], with_doc: bool, deletes: bool) -> bytes:
    store: dict[str, Any] = {
        "binding": 2,
        "key": [doc["id"]],
        "keyPacked": b64encode(pack([doc["id"]])).decode(),
        "values": [doc.get("name")],
    }
    if with_doc:
        store["doc"] = doc
    if deletes and doc.get("_meta", {}).get("op") == "d":
        store["delete"] = True
    return orjson.dumps({"store": store}) + b"\n"


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("with_doc", [True, False])
@pytest.mark.parametrize("deletes", [True, False])
def test_spliced_store_lines_are_the_encoded_request(
    doc: dict[str, Any], with_doc: bool, deletes: bool
) -> None:
    lines = _StoreLines(
        index=2,
        keys=KeyExtractor("binding 2", ["/id"]),
        values=[pointer("/name")],
        with_doc=with_doc,
        deletes=deletes,
    )
    raw = orjson.dumps(doc) + b"\n"
    _, line = lines.line(orjson.loads(raw), raw)
    assert line == reference(doc, with_doc, deletes)
    assert orjson.loads(line)["store"].get("doc", doc) == doc
