"""Document schemas and keys of captures that adapt another protocol's streams: pointer
escaping, and the `_meta.row_id` every adapted document carries (the key of streams that
have none).

Flow owns a document's `_meta` (its runtime adds `_meta/uuid`; shims add `row_id`), so a
source's own field named `_meta` is moved aside to `_source_meta`, in the schema and in
every record, never overwritten.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from flow_sdk import json_pointer
from flow_sdk.errors import ConnectorError

ROW_ID_POINTER = "/_meta/row_id"
"""The key of a stream without a primary key: the document's position in its sweep."""

log = logging.getLogger("flow")

SOURCE_META = "_source_meta"
"""Where a source's own `_meta` field goes."""

OP_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": ["c", "u", "d"],
    "description": "Change operation: 'u' for every record the source wrote, 'd' for a row "
    "its change data capture marked deleted (the source's own deleted-at field was set).",
}
"""`_meta/op` of adapted documents. Neither Airbyte nor Singer tells an insert from an update,
so a record is an upsert (`u`, as estuary-cdk's shim writes) and a CDC delete is `d`."""


CDC_DELETED_AT_FIELDS = ("_ab_cdc_deleted_at", "_sdc_deleted_at")
"""The fields Airbyte's and Singer's CDC sources set on a deleted row."""

DELETE_ON_OP_D: dict[str, Any] = {
    "if": {"properties": {"_meta": {"properties": {"op": {"const": "d"}}}}},
    "then": {"reduce": {"strategy": "lastWriteWins", "delete": True}},
}
"""The annotation Flow's CDC captures write so a `d` document deletes its key downstream
(materializations then get `store.delete`); only streams with a CDC deleted-at field get it."""


def change_op(data: dict[str, Any], deleted_at: str) -> str:
    """`_meta/op` of a record: `d` when its CDC deleted-at field holds a value, else `u`."""
    return "u" if data.get(deleted_at) is None else "d"


def _rename_property(schema: dict[str, Any], old: str, new: str) -> None:
    """Rename property `old` of an object schema in place (properties and required)."""
    properties = schema.get("properties")
    if isinstance(properties, dict) and old in properties:
        schema["properties"] = {(new if k == old else k): v for k, v in properties.items()}
    required = schema.get("required")
    if isinstance(required, list) and old in required:
        schema["required"] = [new if k == old else k for k in required]


def _local_ref_target(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The definition a top-level local `$ref` (`#/definitions/X`, `#/$defs/X`) points at."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node: Any = schema
    for token in json_pointer.parse(ref[1:]):
        node = node.get(token) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def document_schema(json_schema: Any, schema_inference: bool) -> dict[str, Any]:
    """The stream's schema plus `_meta.row_id` (and `x-infer-schema`), as a new object.

    The source's own `_meta` property becomes `_source_meta`. A top-level `$ref` keeps
    working: its target gets the same rename and admits `_meta` (a target with
    `additionalProperties: false` would otherwise reject the documents the shim writes)."""
    schema = copy.deepcopy(json_schema) if isinstance(json_schema, dict) else {"type": "object"}
    _rename_property(schema, "_meta", SOURCE_META)
    target = _local_ref_target(schema)
    if target is not None and target is not schema:
        _rename_property(target, "_meta", SOURCE_META)
        target.setdefault("properties", {})["_meta"] = {"type": "object"}
    properties = schema.setdefault("properties", {})
    properties["_meta"] = {
        "type": "object",
        "properties": {"op": OP_SCHEMA, "row_id": {"type": "integer"}},
        "required": ["op", "row_id"],
    }
    if any(field in properties for field in CDC_DELETED_AT_FIELDS):
        schema.setdefault("allOf", []).append(copy.deepcopy(DELETE_ON_OP_D))
    if schema_inference:
        schema["x-infer-schema"] = True
    return schema


def source_schema(write_schema: Any) -> dict[str, Any]:
    """The collection's schema as the source knows it: without the shim's `_meta` and delete
    annotation, and with the source's own `_meta` under its own name again."""
    if not isinstance(write_schema, dict):
        return {"type": "object"}
    schema = dict(write_schema)
    properties = schema.get("properties")
    if isinstance(properties, dict) and "_meta" in properties:
        schema["properties"] = {k: v for k, v in properties.items() if k != "_meta"}
    if isinstance(schema.get("required"), list):
        schema["required"] = [k for k in schema["required"] if k != "_meta"]
    if isinstance(schema.get("allOf"), list) and DELETE_ON_OP_D in schema["allOf"]:
        schema["allOf"] = [s for s in schema["allOf"] if s != DELETE_ON_OP_D]
        if not schema["allOf"]:
            del schema["allOf"]
    _rename_property(schema, SOURCE_META, "_meta")
    return schema


class SourceMetaMover:
    """Moves a record's own `_meta` to `_source_meta` before the shim writes its own, warning
    once per stream. One per read loop, shared by the Airbyte and Singer adapters."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._warned: set[str] = set()

    def move(self, data: dict[str, Any], stream: str) -> None:
        if SOURCE_META in data:
            raise ConnectorError(
                f"stream {stream!r}: the record has both `_meta` and `{SOURCE_META}`; Flow owns "
                f"`_meta`, so the shim moves a source's own `_meta` to `{SOURCE_META}`, which is "
                "taken: rename one of the source's fields"
            )
        data[SOURCE_META] = data.pop("_meta")
        if stream not in self._warned:
            self._warned.add(stream)
            self.log.warning(
                "stream %r has its own `_meta` field, which Flow reserves; it is captured as `%s`",
                stream,
                SOURCE_META,
            )


_KEYABLE = frozenset(("boolean", "integer", "number", "string"))


def _declared_types(node: Any) -> set[str] | None:
    """The JSON types a property schema allows (None: it does not say)."""
    if not isinstance(node, dict) or "type" not in node:
        return None
    declared = node["type"]
    return {declared} if isinstance(declared, str) else set(declared or [])


def _key_root(schema: dict[str, Any], pointer: str) -> dict[str, Any]:
    """Where a key's first field is declared: the schema, or its top-level `$ref` target."""
    first = json_pointer.parse(pointer)[0]
    if first in (schema.get("properties") or {}):
        return schema
    return _local_ref_target(schema) or schema


def _key_problem(schema: dict[str, Any], pointer: str) -> str | None:
    """Why Flow would refuse `pointer` as a key of `schema` (None: it is fine)."""
    node: Any = _key_root(schema, pointer)
    for token in json_pointer.parse(pointer):
        properties = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(properties, dict) or token not in properties:
            return "is not declared in the stream's schema"
        node = properties[token]
    types = _declared_types(node)
    if types is None:
        return "has no declared type"
    scalar = types - {"null"}
    if len(scalar) != 1 or not scalar <= _KEYABLE:
        return f"has type {sorted(types)}, and a Flow key must be one of boolean, integer, number or string"
    return None


def keyed(schema: dict[str, Any], key: list[str], where: str) -> list[str]:
    """The collection key discovery writes for `key`, marking its fields required in
    `schema` (in place: the source guarantees them, and many materializations need keys
    present). A key Flow would refuse (undeclared, several types, not a scalar) is reported
    and replaced by the row id, never written as is."""
    if key == [ROW_ID_POINTER]:
        return key
    for pointer in key:
        if (problem := _key_problem(schema, pointer)) is not None:
            log.warning(
                "%s: its primary key %s %s; the collection is keyed by the row id (%s) instead",
                where,
                pointer,
                problem,
                ROW_ID_POINTER,
            )
            return [ROW_ID_POINTER]
    for pointer in key:
        node = _key_root(schema, pointer)
        for token in json_pointer.parse(pointer):
            required = node.setdefault("required", [])
            if token not in required:
                required.append(token)
            node = node["properties"][token]
    return key
