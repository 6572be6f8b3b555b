from __future__ import annotations

import copy

import pytest

from flow_sdk.airbyte.source.discover import (
    discovered,
    document_schema,
    key_pointers,
    validated_bindings,
)
from flow_sdk.errors import ConnectorError, ValidateError

CATALOG = {
    "streams": [
        {
            "name": "users",
            "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
            "supported_sync_modes": ["full_refresh", "incremental"],
            "source_defined_primary_key": [["id"]],
            "default_cursor_field": ["updated_at"],
        },
        {
            "name": "events",
            "json_schema": {
                "type": "object",
                "properties": {
                    "_meta": {"type": "object", "properties": {"src": {"type": "string"}}}
                },
            },
            "supported_sync_modes": ["full_refresh"],
        },
        {
            "name": "orders",
            "namespace": "shop",
            "json_schema": {
                "type": "object",
                "properties": {
                    "order": {"type": "object", "properties": {"id/x~y": {"type": "string"}}}
                },
            },
            "supported_sync_modes": ["incremental"],
            "source_defined_primary_key": [["order", "id/x~y"]],
        },
    ]
}


def test_key_forms_become_escaped_pointers() -> None:
    assert key_pointers("a/b") == ["/a~1b"]
    assert key_pointers(["id", "t~s"]) == ["/id", "/t~0s"]
    assert key_pointers([["pizza", "che/ese"], "potato"]) == ["/pizza/che~1ese", "/potato"]
    assert key_pointers([["id"], ["meta", "ts"]]) == ["/id", "/meta/ts"]


def test_discovered_bindings() -> None:
    original = copy.deepcopy(CATALOG)
    out = discovered(CATALOG, schema_inference=True).to_wire()["bindings"]
    users, events, orders = out
    assert users["resourceConfig"] == {
        "stream": "users",
        "syncMode": "incremental",
        "cursorField": ["updated_at"],
    }
    assert users["key"] == ["/id"] and users["resourcePath"] == ["users"]
    assert [b["recommendedName"] for b in out] == ["users", "events", "orders"]
    assert users["documentSchema"]["x-infer-schema"] is True
    assert users["documentSchema"]["properties"]["_meta"]["properties"]["row_id"] == {
        "type": "integer"
    }
    assert users["documentSchema"]["properties"]["_meta"]["required"] == ["op", "row_id"]
    assert events["resourceConfig"] == {"stream": "events", "syncMode": "full_refresh"}
    assert events["key"] == ["/_meta/row_id"]
    # The source's own `_meta` moves aside: Flow owns `_meta`.
    assert events["documentSchema"]["properties"]["_source_meta"] == {
        "type": "object",
        "properties": {"src": {"type": "string"}},
    }
    assert set(events["documentSchema"]["properties"]["_meta"]["properties"]) == {"op", "row_id"}
    assert orders["resourceConfig"] == {
        "stream": "orders",
        "syncMode": "incremental",
        "namespace": "shop",
    }
    assert orders["key"] == ["/order/id~1x~0y"] and orders["resourcePath"] == ["shop", "orders"]
    # key fields are required, at every level of a nested key
    assert orders["documentSchema"]["required"] == ["order"]
    assert orders["documentSchema"]["properties"]["order"]["required"] == ["id/x~y"]
    assert "namespace" not in users["resourceConfig"]
    assert original == CATALOG, "the source's catalog must not be mutated"


def test_schema_inference_can_be_off() -> None:
    assert "x-infer-schema" not in document_schema({"type": "object"}, False)


def test_keyless_incremental_streams_are_append_logs_keyed_by_the_row_id() -> None:
    catalog = {
        "streams": [
            {
                "name": "log",
                "json_schema": {},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "default_cursor_field": ["_ab_source_file_last_modified"],
            },
            {"name": "tail", "json_schema": {}, "supported_sync_modes": ["incremental"]},
        ]
    }
    log, tail = discovered(catalog, True).bindings
    assert log.resourceConfig == {
        "stream": "log",
        "syncMode": "incremental",
        "cursorField": ["_ab_source_file_last_modified"],
    }
    assert log.key == ["/_meta/row_id"] and log.recommendedName == "log"
    assert tail.resourceConfig == {"stream": "tail", "syncMode": "incremental"}
    assert tail.key == ["/_meta/row_id"]


def test_full_refresh_bindings_never_carry_a_cursor() -> None:
    catalog = {
        "streams": [
            {
                "name": "snapshot",
                "json_schema": {},
                "supported_sync_modes": ["full_refresh"],
                "default_cursor_field": ["updated_at"],
            }
        ]
    }
    (b,) = discovered(catalog, True).bindings
    assert b.resourceConfig == {"stream": "snapshot", "syncMode": "full_refresh"}


def test_a_stream_without_sync_modes_is_a_clear_error() -> None:
    catalog = {"streams": [{"name": "odd", "namespace": "x", "supported_sync_modes": []}]}
    with pytest.raises(ConnectorError) as err:
        discovered(catalog, True)
    assert str(err.value) == (
        "cannot discover the source's streams: 'x/odd' has no supported sync mode ([]). "
        "Fix the source's stream definitions."
    )


def stream(name: str, namespace: str | None = None) -> dict:
    out = {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}
    if namespace:
        out["namespace"] = namespace
    return out


def test_names_shared_across_namespaces_get_the_namespace_in_their_collection_name() -> None:
    catalog = {
        "streams": [
            stream("users", "tenant_a"),
            stream("users", "tenant_b"),
            stream("users"),
            stream("orders", "shop"),
        ]
    }
    out = discovered(catalog, True).bindings
    assert [(b.recommendedName, b.resourcePath) for b in out] == [
        ("tenant_a/users", ["tenant_a", "users"]),
        ("tenant_b/users", ["tenant_b", "users"]),
        ("users", ["users"]),
        ("orders", ["shop", "orders"]),  # a unique name keeps its plain name
    ]


def test_streams_that_cannot_be_told_apart_are_a_clear_error() -> None:
    twice = {"streams": [stream("users", "a"), stream("users", "a")]}
    with pytest.raises(ConnectorError) as err:
        discovered(twice, True)
    assert "stream 'a/users' is listed 2 times" in str(err.value)
    clash = {"streams": [stream("a/users"), stream("users", "a"), stream("users")]}
    with pytest.raises(ConnectorError) as err:
        discovered(clash, True)
    assert (
        "streams 'a/users' and 'users' in namespace 'a' would both be captured into "
        "collection 'a/users'"
    ) in str(err.value)


def test_validate_names_missing_streams_and_lists_available() -> None:
    ok = validated_bindings(
        CATALOG, [{"stream": "orders", "namespace": "shop", "syncMode": "incremental"}]
    )
    assert ok[0].resourcePath == ["shop", "orders"]
    with pytest.raises(ValidateError) as err:
        validated_bindings(
            CATALOG,
            [
                {"stream": "users", "syncMode": "incremental"},
                {"stream": "gone", "syncMode": "full_refresh"},
            ],
        )
    assert "no stream 'gone'" in err.value.message
    assert "events, shop/orders, users" in err.value.message
    with pytest.raises(ValidateError, match="syncMode"):
        validated_bindings(CATALOG, [{"stream": "users", "syncMode": "sometimes"}])


def test_configured_catalog_gives_the_source_its_schema_without_meta() -> None:
    from flow_sdk.airbyte.source.capture import configured_catalog
    from flow_sdk.protocol.flow import CaptureBinding

    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "_meta": {"type": "object"}},
        "required": ["id", "_meta"],
    }
    binding = CaptureBinding.model_validate(
        {
            "resourceConfig": {"stream": "users", "syncMode": "incremental", "cursorField": ["u"]},
            "stateKey": "users",
            "collection": {"name": "a/users", "writeSchema": schema, "key": ["/id"]},
        }
    )
    (stream,) = configured_catalog([binding])["streams"]
    assert stream["stream"]["json_schema"] == {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
        "required": ["id"],
    }
    assert stream["cursor_field"] == ["u"] and stream["sync_mode"] == "incremental"
    assert "_meta" in schema["properties"]  # the collection's schema is left alone
