"""The runtime's `store` lines, built member by member, are orjson's encoding of the request;
a pointer's `get` reads what `find` finds."""

from __future__ import annotations

from base64 import b64encode
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from flow_sdk.protocol.tuple_pack import pack
from flow_sdk.runtime.keys import KeyExtractor, Pointer, pointer
from flow_sdk.runtime.materialize.run import _StoreLines

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab0"), inner),
    max_leaves=10,
)
TOKENS = st.lists(st.sampled_from(["a", "b", "0", "1"]), max_size=3)


@given(JSON, TOKENS)
def test_get_is_what_find_finds(doc: Any, tokens: list[str]) -> None:
    ptr = Pointer("/" + "/".join(tokens) if tokens else "", tuple(tokens))
    assert ptr.get(doc) == ptr.find(doc)[1]


@given(
    st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(max_size=8),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), JSON, max_size=3),
    st.integers(min_value=0, max_value=300),
    st.lists(st.sampled_from(["/a", "/b", "/a/0", "/c/a", "/missing"]), max_size=3),
    st.booleans(),
)
def test_a_store_line_is_orjsons_encoding_of_the_request(
    key: int | str, rest: dict[str, Any], binding: int, values: list[str], with_doc: bool
) -> None:
    doc = {"id": key, **rest}
    raw = orjson.dumps(doc) + b"\n"
    lines = _StoreLines(
        index=binding,
        keys=KeyExtractor("acmeCo/things", ["/id"]),
        values=[pointer(v) for v in values],
        with_doc=with_doc,
        deletes=False,
    )
    comparable, line = lines.line(doc, raw)
    store: dict[str, Any] = {
        "binding": binding,
        "key": [key],
        "keyPacked": b64encode(pack([key])).decode(),
        "values": [pointer(v).find(doc)[1] for v in values],
    }
    if with_doc:
        store["doc"] = doc
    assert line == orjson.dumps({"store": store}) + b"\n"
    assert comparable == lines.keys.key(doc)
