"""The destination mapping on its own: spec, constraints, sync modes, configured streams."""

from __future__ import annotations

import pytest

from flow_sdk.airbyte.destination.spec import (
    configured_stream,
    materialize_spec,
    primary_key,
    sync_mode,
    validated,
)
from flow_sdk.airbyte.subprocess_connector import command_name
from flow_sdk.errors import ValidateError
from flow_sdk.protocol.flow import MaterializationBinding
from flow_sdk.protocol.materialize import Validate

CDC_SCHEMA = {"type": ["null", "string"], "format": "date-time"}


def test_spec_marks_airbyte_secrets_and_has_no_resource_path_pointers() -> None:
    spec = materialize_spec(
        {
            "documentationUrl": "https://docs",
            "connectionSpecification": {
                "properties": {"key": {"type": "string", "airbyte_secret": True}}
            },
        }
    )
    wire = spec.to_wire()
    assert wire["configSchema"]["properties"]["key"]["secret"] is True
    assert "resourcePathPointers" not in wire
    assert wire["protocol"] == 3032023


def test_primary_key_unescapes_pointer_tokens() -> None:
    assert primary_key(["/id", "/a~1b/c~0d"]) == [["id"], ["a/b", "c~d"]]


@pytest.mark.parametrize(
    ("supported", "overwrite", "mode"),
    [
        (["append", "append_dedup", "overwrite"], False, "append_dedup"),
        (["append", "append_dedup", "overwrite"], True, "overwrite"),
        (["append", "overwrite"], False, "append"),
        (["append"], True, "append"),
    ],
)
def test_sync_mode(supported: list[str], overwrite: bool, mode: str) -> None:
    assert sync_mode(supported, overwrite=overwrite) == mode


def test_overwrite_truncates_below_the_backfill_generation() -> None:
    binding = MaterializationBinding.model_validate(
        {
            "resourcePath": ["raw", "users"],
            "collection": {"name": "a/users", "key": ["/id"], "writeSchema": {"type": "object"}},
            "fieldSelection": {"keys": ["id"], "document": "flow_document"},
            "backfill": 3,
        }
    )
    out = configured_stream(binding, "overwrite", 42)
    assert out["stream"] == {
        "name": "users",
        "namespace": "raw",
        "json_schema": {"type": "object", "properties": {"_ab_cdc_deleted_at": CDC_SCHEMA}},
        "supported_sync_modes": ["incremental"],
    }
    assert (out["generation_id"], out["minimum_generation_id"], out["sync_id"]) == (3, 3, 42)
    assert out["primary_key"] == [["id"]]
    assert configured_stream(binding, "append_dedup", 42)["minimum_generation_id"] == 0


def test_schema_from_selected_fields_without_a_document() -> None:
    binding = MaterializationBinding.model_validate(
        {
            "resourcePath": ["t"],
            "collection": {
                "key": ["/id"],
                "projections": [{"field": "id", "ptr": "/id", "inference": {"types": ["integer"]}}],
            },
            "fieldSelection": {"keys": ["id"], "values": ["x"]},
        }
    )
    assert configured_stream(binding, "append", 1)["stream"]["json_schema"] == {
        "type": "object",
        "properties": {"id": {"type": ["integer"]}, "x": {}, "_ab_cdc_deleted_at": CDC_SCHEMA},
    }


def test_validate_rejects_a_missing_stream_with_its_index() -> None:
    request = Validate.model_validate(
        {"bindings": [{"resourceConfig": {"stream": "a"}}, {"resourceConfig": {}}]}
    )
    with pytest.raises(ValidateError, match="binding 1 has no `stream`"):
        validated(request)


def test_command_names_for_messages() -> None:
    assert command_name(["/usr/bin/python3", "/x/main.py", "write"]) == "main.py"
    assert command_name(["python", "-m", "destination_duckdb"]) == "destination_duckdb"
    assert command_name(["destination-kvdb"]) == "destination-kvdb"
