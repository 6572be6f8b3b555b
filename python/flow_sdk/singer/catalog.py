"""A Singer catalog → Flow's discovered bindings, the checks of `validate`, and the catalog
that selects a capture's bindings for a sync.

Each stream is one binding whose resource path is its `tap_stream_id`. Keys come from
`key_properties` (escaped JSON pointers); streams without them are keyed by the row id the
shim stamps on each document (`/_meta/row_id`). Replication method and key come from the
entry or its stream metadata (breadcrumb `[]`), as Singer taps write either.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flow_sdk import json_pointer
from flow_sdk.capture.schema import ROW_ID_POINTER, document_schema, keyed
from flow_sdk.errors import ConnectorError, ValidateError
from flow_sdk.protocol.capture import Discovered, DiscoveredBinding, ValidatedBinding

INCREMENTAL = "INCREMENTAL"
FULL_TABLE = "FULL_TABLE"
log = logging.getLogger("flow")


def stream_metadata(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata of the stream itself (breadcrumb `[]`), or `{}`."""
    for item in entry.get("metadata") or []:
        if isinstance(item, Mapping) and list(item.get("breadcrumb") or []) == []:
            return dict(item.get("metadata") or {})
    return {}


def tap_stream_id(entry: Mapping[str, Any]) -> str:
    """The entry's `tap_stream_id` (falling back to `stream`, as older taps write only that)."""
    name = entry.get("tap_stream_id") or entry.get("stream")
    if not isinstance(name, str) or not name:
        raise ConnectorError(
            f"the tap's catalog has a stream without a tap_stream_id: {str(dict(entry))[:200]}"
        )
    return name


def replication(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    """The stream's replication method and key as the tap declares them."""
    meta = stream_metadata(entry)
    key = entry.get("replication_key") or meta.get("replication-key")
    if not key:
        valid = meta.get("valid-replication-keys") or []
        key = valid[0] if valid else None
    method = (
        entry.get("replication_method")
        or meta.get("forced-replication-method")
        or meta.get("replication-method")
        or (INCREMENTAL if key else FULL_TABLE)
    )
    method = str(method).upper()
    if method == "LOG_BASED":
        method = INCREMENTAL
    return method, key


def key_of(entry: Mapping[str, Any]) -> list[str]:
    """The collection key: `key_properties` as JSON pointers (a property already written as a
    pointer, `/a/b`, is kept as is), else the row id."""
    props = entry.get("key_properties") or stream_metadata(entry).get("table-key-properties")
    if not props:
        return [ROW_ID_POINTER]
    return [p if p.startswith("/") else "/" + json_pointer.escape(p) for p in props]


def discovered(catalog: Mapping[str, Any], schema_inference: bool) -> Discovered:
    """Bindings for every stream of a Singer catalog (a plain dict)."""
    bindings = []
    for entry in catalog.get("streams") or []:
        name = tap_stream_id(entry)
        method, key = replication(entry)
        if method == INCREMENTAL and not key:
            log.warning(
                "stream %r is INCREMENTAL but has no replication key; discovered as FULL_TABLE",
                name,
            )
            method = FULL_TABLE
        resource: dict[str, Any] = {"tap_stream_id": name, "replication_method": method}
        if method == INCREMENTAL:
            resource["replication_key"] = key
        schema = document_schema(entry.get("schema"), schema_inference)
        bindings.append(
            DiscoveredBinding(
                recommendedName=name,
                resourceConfig=resource,
                documentSchema=schema,
                key=keyed(schema, key_of(entry), f"stream {name!r}"),
                resourcePath=[name],
            )
        )
    return Discovered(bindings=bindings)


def _streams_by_id(catalog: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {tap_stream_id(e): e for e in catalog.get("streams") or []}


def validated_bindings(
    catalog: Mapping[str, Any], resource_configs: Sequence[Any]
) -> list[ValidatedBinding]:
    """One ValidatedBinding per resource config, in order. A stream the tap does not have, or
    INCREMENTAL replication without a replication key, is an error naming the stream."""
    streams = _streams_by_id(catalog)
    out, missing = [], []
    for config in resource_configs:
        name = resource_stream(config)
        method = config.get("replication_method")
        if method not in (INCREMENTAL, FULL_TABLE):
            raise ValidateError(
                f"binding for stream {name!r}: replication_method must be INCREMENTAL or "
                f"FULL_TABLE, got {method!r}"
            )
        entry = streams.get(name)
        if entry is None:
            missing.append(name)
        elif method == INCREMENTAL and not (config.get("replication_key") or replication(entry)[1]):
            raise ValidateError(
                f"stream {name!r} cannot be replicated INCREMENTAL: it has no replication key; "
                "set replication_key in the binding's resource or use FULL_TABLE"
            )
        out.append(ValidatedBinding(resourcePath=[name]))
    if missing:
        names = ", ".join(sorted(streams)) or "none"
        raise ValidateError(
            f"the tap has no stream {', '.join(repr(m) for m in missing)} (its streams are: "
            f"{names}); remove the binding or fix its tap_stream_id"
        )
    return out


def resource_stream(config: Any) -> str:
    """The tap_stream_id a binding's resource config names (flow-sdk 0.1.x wrote `stream` too)."""
    name = (
        (config.get("tap_stream_id") or config.get("stream"))
        if isinstance(config, Mapping)
        else None
    )
    if not isinstance(name, str) or not name:
        raise ValidateError(f"a binding's resource config {config!r} has no `tap_stream_id`")
    return name


def selected_catalog(catalog: Mapping[str, Any], resource_configs: Sequence[Any]) -> dict[str, Any]:
    """The tap's own catalog reduced to the bound streams, each selected (with all its
    properties) and replicated as its binding says."""
    streams = _streams_by_id(catalog)
    out = []
    for config in resource_configs:
        name = resource_stream(config)
        if name not in streams:
            raise ConnectorError(
                f"the tap no longer has stream {name!r} (its streams are: "
                f"{', '.join(sorted(streams)) or 'none'}); remove the binding or fix its tap_stream_id"
            )
        entry = copy.deepcopy(dict(streams[name]))
        method = config.get("replication_method") or replication(entry)[0]
        key = config.get("replication_key") or replication(entry)[1]
        entry["replication_method"] = method
        if method == INCREMENTAL and key:
            entry["replication_key"] = key
        else:
            entry.pop("replication_key", None)
        metadata = [dict(m) for m in entry.get("metadata") or []]
        if not any(list(m.get("breadcrumb") or []) == [] for m in metadata):
            metadata.append({"breadcrumb": [], "metadata": {}})
        for item in metadata:
            inner = dict(item.get("metadata") or {})
            if list(item.get("breadcrumb") or []) == []:
                inner["selected"] = True
                inner["forced-replication-method"] = method
                if method == INCREMENTAL and key:
                    inner["replication-key"] = key
                else:
                    inner.pop("replication-key", None)
            elif inner.get("inclusion") != "unsupported" and "selected" not in inner:
                inner["selected"] = True
            item["metadata"] = inner
        entry["metadata"] = metadata
        out.append(entry)
    return {"streams": out}
