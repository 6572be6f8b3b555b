"""Airbyte's catalog → Flow's discovered bindings, and the checks of `validate`.

Keys come from `source_defined_primary_key` as escaped JSON pointers; streams without one
are keyed by the row id the shim stamps on each document (`/_meta/row_id`): a full-refresh
stream's row ids restart at each sweep (a re-read rewrites the same documents), an
incremental one's continue across sessions (an append log). A stream is incremental when it
supports it, with the source's default cursor; a full-refresh binding never has a cursor.
Every schema gains `_meta.row_id`, on a copy: the source's own objects are never changed.

Streams of the same name in several namespaces (tenants, schemas) get distinct collections:
their recommended names are `<namespace>/<name>`. A stream whose name is unique keeps its
plain name, so catalogs discovered before keep theirs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from flow_sdk import json_pointer
from flow_sdk.capture.schema import ROW_ID_POINTER, document_schema, keyed
from flow_sdk.errors import ConnectorError, ValidateError
from flow_sdk.protocol.capture import Discovered, DiscoveredBinding, ValidatedBinding

log = logging.getLogger("flow")


def key_pointers(primary_key: Any) -> list[str]:
    """JSON pointers of an Airbyte primary key in any of its forms: `"id"`, `["id", "ts"]`
    (two fields) or `[["id"], ["meta", "ts"]]` (paths)."""
    if isinstance(primary_key, str):
        return [json_pointer.join([primary_key])]
    pointers = []
    for component in primary_key or []:
        if isinstance(component, str):
            pointers.append(json_pointer.join([component]))
        elif isinstance(component, Sequence) and component:
            pointers.append(json_pointer.join(component))
        else:
            raise ConnectorError(
                f"the source declared a primary key component {component!r} that is not a field or a path"
            )
    return pointers


def stream_resource_path(resource_config: Mapping[str, Any]) -> list[str]:
    """A discovered stream's `[namespace, name]`, or `[name]` (its config is known good)."""
    namespace = resource_config.get("namespace")
    return [namespace, resource_config["stream"]] if namespace else [resource_config["stream"]]


def stream_label(namespace: str | None, name: str) -> str:
    """How errors and logs name a stream: `namespace/name`, or just `name`."""
    return f"{namespace}/{name}" if namespace else name


def recommended_names(streams: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each stream's recommended collection name: its name, or `<namespace>/<name>` when
    another stream of the same name exists in another namespace."""
    shared = Counter(s["name"] for s in streams)
    return [
        stream_label(s.get("namespace"), s["name"]) if shared[s["name"]] > 1 else s["name"]
        for s in streams
    ]


def discovered(catalog: Mapping[str, Any], schema_inference: bool) -> Discovered:
    """Bindings for every stream of an Airbyte catalog (a plain dict)."""
    streams = list(catalog.get("streams") or [])
    names = recommended_names(streams)
    problems = _indistinct(streams, names)
    bindings = []
    for stream, recommended in zip(streams, names, strict=True):
        name = stream["name"]
        label = stream_label(stream.get("namespace"), name)
        modes = stream.get("supported_sync_modes") or []
        primary_key = stream.get("source_defined_primary_key")
        if "incremental" in modes:
            sync_mode = "incremental"
        elif "full_refresh" in modes:
            sync_mode = "full_refresh"
        else:
            problems.append(f"{label!r} has no supported sync mode ({modes!r})")
            continue
        if primary_key:
            key = key_pointers(primary_key)
        else:
            key = [ROW_ID_POINTER]
            if sync_mode == "incremental":
                log.info(
                    "stream %r is incremental without a primary key: it is discovered as an "
                    "append log keyed by the row id (%s), which continues across sessions",
                    label,
                    ROW_ID_POINTER,
                )
        resource: dict[str, Any] = {"stream": name, "syncMode": sync_mode}
        if namespace := stream.get("namespace"):
            resource["namespace"] = namespace
        if sync_mode == "incremental" and (cursor := stream.get("default_cursor_field")):
            resource["cursorField"] = list(cursor)
        schema = document_schema(stream.get("json_schema"), schema_inference)
        bindings.append(
            DiscoveredBinding(
                recommendedName=recommended,
                resourceConfig=resource,
                documentSchema=schema,
                key=keyed(schema, key, f"stream {label!r}"),
                resourcePath=stream_resource_path(resource),
            )
        )
    if problems:
        raise ConnectorError(
            "cannot discover the source's streams: "
            + "; ".join(problems)
            + ". Fix the source's stream definitions."
        )
    return Discovered(bindings=bindings)


def _indistinct(streams: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    """Streams listed twice, or whose collections would share a name (a stream name that
    holds a `/`, such as `a/users` beside `users` in namespace `a`)."""
    problems = []
    listed = Counter((s.get("namespace") or None, s["name"]) for s in streams)
    for (namespace, name), count in listed.items():
        if count > 1:
            problems.append(f"stream {stream_label(namespace, name)!r} is listed {count} times")
    by_name: dict[str, set[tuple[str | None, str]]] = {}
    for stream, recommended in zip(streams, names, strict=True):
        by_name.setdefault(recommended, set()).add(
            (stream.get("namespace") or None, stream["name"])
        )
    for recommended, pairs in by_name.items():
        if len(pairs) > 1:
            described = [
                f"{name!r} in namespace {namespace!r}" if namespace else repr(name)
                for namespace, name in sorted(pairs, key=lambda p: (p[0] or "", p[1]))
            ]
            problems.append(
                f"streams {' and '.join(described)} would both be captured into "
                f"collection {recommended!r}"
            )
    return problems


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
            missing.append("/".join(stream_resource_path(config)))
        out.append(ValidatedBinding(resourcePath=stream_resource_path(config)))
    if missing:
        names = ", ".join(sorted("/".join(filter(None, s)) for s in available)) or "none"
        raise ValidateError(
            f"the source has no stream {', '.join(repr(m) for m in missing)} "
            f"(its streams are: {names}); remove the binding or fix its stream name"
        )
    return out
