"""Airbyte's catalog → Flow's discovered bindings, and the checks of `validate`.

Keys come from `source_defined_primary_key` as escaped JSON pointers; full-refresh streams
without one are keyed by the row id the shim stamps on each document (`/_meta/row_id`).
Every schema gains `_meta.row_id`, on a copy: the source's own objects are never changed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flow_sdk.capture.schema import ROW_ID_POINTER, document_schema, escape_pointer_token
from flow_sdk.errors import ConnectorError, ValidateError
from flow_sdk.protocol.capture import Discovered, DiscoveredBinding, ValidatedBinding

log = logging.getLogger("flow")


def key_pointers(primary_key: Any) -> list[str]:
    """JSON pointers of an Airbyte primary key in any of its forms: `"id"`, `["id", "ts"]`
    (two fields) or `[["id"], ["meta", "ts"]]` (paths)."""
    if isinstance(primary_key, str):
        return ["/" + escape_pointer_token(primary_key)]
    pointers = []
    for component in primary_key or []:
        if isinstance(component, str):
            pointers.append("/" + escape_pointer_token(component))
        elif isinstance(component, Sequence) and component:
            pointers.append("/" + "/".join(escape_pointer_token(p) for p in component))
        else:
            raise ConnectorError(
                f"the source declared a primary key component {component!r} that is not a field or a path"
            )
    return pointers


def resource_path(resource_config: Mapping[str, Any]) -> list[str]:
    namespace = resource_config.get("namespace")
    return [namespace, resource_config["stream"]] if namespace else [resource_config["stream"]]


def discovered(catalog: Mapping[str, Any], schema_inference: bool) -> Discovered:
    """Bindings for every stream of an Airbyte catalog (a plain dict)."""
    bindings = []
    problems = []
    for stream in catalog.get("streams") or []:
        name = stream["name"]
        modes = stream.get("supported_sync_modes") or []
        primary_key = stream.get("source_defined_primary_key")
        if "incremental" in modes and (primary_key or "full_refresh" not in modes):
            sync_mode = "incremental"
        elif "full_refresh" in modes:
            sync_mode = "full_refresh"
            if "incremental" in modes:
                log.warning(
                    "stream %r supports incremental reads but declares no primary key; "
                    "it is discovered as full_refresh, keyed by the row id",
                    name,
                )
        else:
            problems.append(f"{name!r} has no supported sync mode ({modes!r})")
            continue
        if primary_key:
            key = key_pointers(primary_key)
        elif sync_mode == "full_refresh":
            key = [ROW_ID_POINTER]
        else:
            problems.append(
                f"{name!r} is incremental-only but declares no source_defined_primary_key, "
                "so its documents have no key"
            )
            continue
        resource: dict[str, Any] = {"stream": name, "syncMode": sync_mode}
        if namespace := stream.get("namespace"):
            resource["namespace"] = namespace
        if cursor := stream.get("default_cursor_field"):
            resource["cursorField"] = list(cursor)
        bindings.append(
            DiscoveredBinding(
                recommendedName=name,
                resourceConfig=resource,
                documentSchema=document_schema(stream.get("json_schema"), schema_inference),
                key=key,
                resourcePath=resource_path(resource),
            )
        )
    if problems:
        raise ConnectorError(
            "cannot discover the source's streams: "
            + "; ".join(problems)
            + ". Fix the source's stream definitions (declare a primary key, or support full_refresh)."
        )
    return Discovered(bindings=bindings)


def validated_bindings(
    catalog: Mapping[str, Any], resource_configs: Sequence[Mapping[str, Any]]
) -> list[ValidatedBinding]:
    """One ValidatedBinding per resource config, in order; a stream the source does not have
    is an error naming it and the streams it does have."""
    available = {(s.get("namespace") or None, s["name"]) for s in catalog.get("streams") or []}
    out, missing = [], []
    for config in resource_configs:
        if not isinstance(config, Mapping) or not isinstance(config.get("stream"), str):
            raise ValidateError(f"a binding's resource config {config!r} has no `stream` name")
        if config.get("syncMode") not in ("incremental", "full_refresh"):
            raise ValidateError(
                f"binding for stream {config['stream']!r}: syncMode must be incremental or full_refresh, got {config.get('syncMode')!r}"
            )
        if (config.get("namespace") or None, config["stream"]) not in available:
            missing.append("/".join(resource_path(config)))
        out.append(ValidatedBinding(resourcePath=resource_path(config)))
    if missing:
        names = ", ".join(sorted("/".join(filter(None, s)) for s in available)) or "none"
        raise ValidateError(
            f"the source has no stream {', '.join(repr(m) for m in missing)} "
            f"(its streams are: {names}); remove the binding or fix its stream name"
        )
    return out
