"""A source's own `_meta` is moved aside, never overwritten; `$ref` schemas admit the shim's
`_meta`. Real shim objects: the Airbyte read loop and the Emitter writing to a file."""

from __future__ import annotations

import logging
from pathlib import Path

import jsonschema
import orjson
import pytest

from flow_sdk.airbyte.source.read_loop import ReadLoop
from flow_sdk.airbyte.source.state import ShimState
from flow_sdk.capture.emitter import Emitter
from flow_sdk.capture.schema import document_schema, source_schema
from flow_sdk.errors import ConnectorError
from flow_sdk.io import ProtocolWriter
from flow_sdk.protocol.flow import CaptureBinding
from flow_sdk.protocol.state_key import encode_state_key


def captured(tmp_path: Path, records: list[dict]) -> list[dict]:
    binding = CaptureBinding(
        resourceConfig={"stream": "users", "syncMode": "full_refresh"},
        resourcePath=["users"],
        stateKey=encode_state_key(["users"], 0),
    )
    with open(tmp_path / "out", "wb") as out:
        emit = Emitter(ProtocolWriter(out.fileno()), 1, names=["users"])
        emit.opened()
        loop = ReadLoop(emit, ShimState([binding], None), logging.getLogger("flow"))
        for record in records:
            loop.record(None, "users", record)
        emit.close()
    lines = (tmp_path / "out").read_bytes().splitlines()
    return [orjson.loads(line)["captured"]["doc"] for line in lines if b"captured" in line]


def test_a_source_meta_moves_to_source_meta_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="flow"):
        docs = captured(
            tmp_path, [{"id": 1, "_meta": {"uuid": "x", "row_id": 9}}, {"id": 2, "_meta": 5}]
        )
    assert docs == [
        {"id": 1, "_source_meta": {"uuid": "x", "row_id": 9}, "_meta": {"op": "u", "row_id": 0}},
        {"id": 2, "_source_meta": 5, "_meta": {"op": "u", "row_id": 1}},
    ]
    assert [r.getMessage() for r in caplog.records] == [
        "stream 'users' has its own `_meta` field, which Flow reserves; it is captured as `_source_meta`"
    ]


def test_a_record_with_both_meta_and_source_meta_fails_naming_the_stream(tmp_path: Path) -> None:
    with pytest.raises(
        ConnectorError, match=r"stream 'users': the record has both `_meta` and `_source_meta`"
    ):
        captured(tmp_path, [{"_meta": 1, "_source_meta": 2}])


def test_schemas_rename_the_source_meta_and_give_it_back_to_the_source() -> None:
    source = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "_meta": {"type": "object"}},
        "required": ["id", "_meta"],
    }
    schema = document_schema(source, schema_inference=False)
    assert schema["properties"]["_source_meta"] == {"type": "object"}
    assert schema["required"] == ["id", "_source_meta"]
    assert schema["properties"]["_meta"]["required"] == ["op", "row_id"]
    assert source_schema(schema) == source


def test_a_top_level_ref_with_closed_properties_admits_the_shim_meta() -> None:
    source = {
        "$ref": "#/definitions/User",
        "definitions": {
            "User": {
                "type": "object",
                "properties": {"id": {"type": "integer"}},
                "additionalProperties": False,
            }
        },
    }
    schema = document_schema(source, schema_inference=False)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"id": 1, "_meta": {"op": "u", "row_id": 0}})
    assert not validator.is_valid({"id": 1, "_meta": {}}), "row_id is still required"
    assert not validator.is_valid({"id": 1, "other": 2}), "the source's own rule still holds"


def test_discovered_keys_are_required_and_keys_flow_would_refuse_become_the_row_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flow_sdk.capture.schema import keyed

    schema = document_schema(
        {
            "type": "object",
            "properties": {
                "id": {"type": ["null", "integer"]},
                "org": {"type": "object", "properties": {"id": {"type": "string"}}},
                "mixed": {"type": ["integer", "string"]},
                "blob": {"type": "object"},
            },
        },
        schema_inference=False,
    )
    assert keyed(schema, ["/id", "/org/id"], "stream 's'") == ["/id", "/org/id"]
    assert schema["required"] == ["id", "org"]
    assert schema["properties"]["org"]["required"] == ["id"]
    for pointer, why in [
        ("/mixed", "has type ['integer', 'string']"),
        ("/blob", "has type ['object']"),
        ("/nope", "is not declared in the stream's schema"),
    ]:
        caplog.clear()
        assert keyed(schema, [pointer], "stream 's'") == ["/_meta/row_id"]
        assert f"stream 's': its primary key {pointer} {why}" in caplog.text
    ref = document_schema(
        {
            "$ref": "#/definitions/R",
            "definitions": {"R": {"type": "object", "properties": {"id": {"type": "integer"}}}},
        },
        schema_inference=False,
    )
    assert keyed(ref, ["/id"], "stream 'r'") == ["/id"]
    assert ref["definitions"]["R"]["required"] == ["id"]
