"""An Airbyte destination's spec and catalog in Flow terms: the materialize Spec, Validated
bindings, and the configured catalog each `write()` gets.

Airbyte destinations cannot load documents, so every binding is delta updates: the root
document and the key locations are required, other fields optional. The collection key
becomes the stream's primary key, so `append_dedup` makes replayed transactions idempotent.
Every stream's schema declares Airbyte's CDC delete marker `_ab_cdc_deleted_at`, which the
shim sets on the record of a deleted document (Airbyte's dedup destinations then delete the
row, as they do for a CDC source's deletes).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any

from flow_sdk import json_pointer
from flow_sdk.airbyte.spec import connection_schema
from flow_sdk.connector import DOCS_URL_ENV
from flow_sdk.errors import ValidateError
from flow_sdk.protocol.flow import CollectionSpec, MaterializationBinding, Spec
from flow_sdk.protocol.materialize import Constraint, Validate, Validated, ValidatedBinding
from flow_sdk.secrets import with_secret_marks

RESOURCE_CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Airbyte destination stream",
    "properties": {
        "stream": {
            "type": "string",
            "title": "Stream",
            "description": "Name of the destination stream (table) to write",
            "x-collection-name": True,
        },
        "namespace": {
            "type": "string",
            "title": "Namespace",
            "description": "Namespace (schema) of the stream, if the destination uses one",
            "x-schema-name": True,
        },
        "delta_updates": {
            "type": "boolean",
            "title": "Delta updates",
            "description": "Always on: Airbyte destinations append records and cannot load documents",
            "default": True,
            "x-delta-updates": True,
        },
    },
    "required": ["stream"],
}

APPEND, APPEND_DEDUP, OVERWRITE = "append", "append_dedup", "overwrite"
CDC_DELETED_AT = "_ab_cdc_deleted_at"
"""Airbyte's CDC delete marker: a record with it set (a timestamp) deletes its key's row."""
CDC_DELETED_AT_SCHEMA: dict[str, Any] = {"type": ["null", "string"], "format": "date-time"}


def materialize_spec(airbyte_spec: Mapping[str, Any], documentation_url: str = "") -> Spec:
    """The Flow materialize Spec of a destination whose Airbyte spec is `airbyte_spec`."""
    docs = (
        documentation_url
        or os.environ.get(DOCS_URL_ENV)
        or airbyte_spec.get("documentationUrl")
        or ""
    )
    return Spec(
        configSchema=with_secret_marks(connection_schema(airbyte_spec)),
        resourceConfigSchema=copy.deepcopy(RESOURCE_CONFIG_SCHEMA),
        documentationUrl=docs,
    )


def checked_resource_path(resource_config: Any, index: int) -> list[str]:
    """`[namespace, stream]` or `[stream]`; a clear error when the stream name is missing."""
    stream = resource_config.get("stream") if isinstance(resource_config, Mapping) else None
    if not isinstance(stream, str) or not stream.strip():
        raise ValidateError(
            f"binding {index} has no `stream` in its resource config; name the destination "
            "stream (table) to write, e.g. `resource: {stream: users}`"
        )
    namespace = resource_config.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise ValidateError(f"binding {index} (stream {stream!r}): `namespace` must be a string")
    return [namespace, stream] if namespace else [stream]


def validated(validate: Validate) -> Validated:
    """Constraints, resource paths and delta updates for every binding, in request order."""
    bindings = []
    seen: dict[tuple[str, ...], int] = {}
    for index, binding in enumerate(validate.bindings):
        path = checked_resource_path(binding.resourceConfig, index)
        if (other := seen.get(tuple(path))) is not None:
            raise ValidateError(
                f"bindings {other} and {index} both write stream {'/'.join(path)!r}; give each "
                "binding its own stream (or namespace)"
            )
        seen[tuple(path)] = index
        if binding.resourceConfig.get("delta_updates") is False:
            raise ValidateError(
                f"binding {index} (stream {'/'.join(path)!r}) sets `delta_updates: false`, but "
                "Airbyte destinations cannot load documents; remove the setting"
            )
        bindings.append(
            ValidatedBinding(
                constraints=constraints(binding.collection),
                resourcePath=path,
                deltaUpdates=True,
            )
        )
    return Validated(bindings=bindings)


def constraints(collection: CollectionSpec) -> dict[str, Constraint]:
    """The root document and key locations are required; every other projection is optional."""
    keys = set(collection.key)
    out: dict[str, Constraint] = {}
    for projection in collection.projections:
        if projection.ptr == "":
            out[projection.field] = Constraint(
                type="LOCATION_REQUIRED", reason="The document is the Airbyte record"
            )
        elif projection.ptr in keys:
            out[projection.field] = Constraint(
                type="LOCATION_REQUIRED", reason="The collection key is the stream's primary key"
            )
        else:
            out[projection.field] = Constraint(
                type="FIELD_OPTIONAL", reason="Stored in records built from selected fields"
            )
    return out


def primary_key(collection_key: Sequence[str]) -> list[list[str]]:
    """Collection key pointers (`/a/b`) as Airbyte primary-key paths (`["a", "b"]`)."""
    return [json_pointer.parse(ptr) for ptr in collection_key]


def sync_mode(supported: Sequence[str], *, overwrite: bool) -> str:
    """`overwrite` for the first write after a backfill (when supported), else `append_dedup`
    when supported (replays deduplicate on the key), else `append`."""
    if overwrite and OVERWRITE in supported:
        return OVERWRITE
    if APPEND_DEDUP in supported:
        return APPEND_DEDUP
    return APPEND


def stream_schema(binding: MaterializationBinding) -> dict[str, Any]:
    """The stream's JSON schema: the collection's read schema when the document is the record,
    else an object of the selected fields; either way with `_ab_cdc_deleted_at`."""
    selection = binding.fieldSelection
    if selection.document:
        schema = binding.collection.schema_for_reads
        if isinstance(schema, dict):
            properties = schema.get("properties")
            properties = dict(properties) if isinstance(properties, dict) else {}
            properties.setdefault(CDC_DELETED_AT, CDC_DELETED_AT_SCHEMA)
            return {**schema, "properties": properties}
    inferred = {p.field: p.inference for p in binding.collection.projections}
    properties: dict[str, Any] = {}
    for field in [*selection.keys, *selection.values]:
        inference = inferred.get(field)
        types = [t for t in (inference.types if inference else []) if t]
        properties[field] = {"type": types} if types else {}
    properties.setdefault(CDC_DELETED_AT, CDC_DELETED_AT_SCHEMA)
    return {"type": "object", "properties": properties}


def configured_stream(
    binding: MaterializationBinding,
    mode: str,
    sync_id: int,
    generation: int | None = None,
    minimum: int | None = None,
) -> dict[str, Any]:
    """One entry of the configured catalog (the protocol's JSON shape). `generation`
    defaults to the binding's backfill counter; `minimum` (the generation below which the
    destination drops rows) to the generation in overwrite mode, else 0."""
    path = binding.resourcePath or checked_resource_path(binding.resourceConfig, 0)
    stream: dict[str, Any] = {
        "name": path[-1],
        "json_schema": stream_schema(binding),
        "supported_sync_modes": ["incremental"],
    }
    if len(path) > 1:
        stream["namespace"] = path[0]
    if generation is None:
        generation = binding.backfill
    if minimum is None:
        minimum = generation if mode == OVERWRITE else 0
    out: dict[str, Any] = {
        "stream": stream,
        "sync_mode": "incremental",
        "destination_sync_mode": mode,
        "generation_id": generation,
        "minimum_generation_id": minimum,
        "sync_id": sync_id,
    }
    if binding.collection.key:
        out["primary_key"] = primary_key(binding.collection.key)
    return out
