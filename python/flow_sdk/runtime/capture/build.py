"""Capture requests built from the catalog the way Flow's control plane and runtime build
them: Validate with the enabled bindings and their collections, then a CaptureSpec whose
bindings carry `resourcePath` from Validated and `stateKey` from it plus `backfill`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from flow_sdk import json_pointer
from flow_sdk.protocol import capture
from flow_sdk.protocol.flow import CaptureBinding, CaptureSpec, Spec
from flow_sdk.protocol.state_key import encode_state_key
from flow_sdk.runtime.catalog.load import CaptureDef, Catalog
from flow_sdk.runtime.errors import CatalogError
from flow_sdk.runtime.schema import check_connector_schema
from flow_sdk.runtime.strict import check_resource_paths


def validate_request(
    task: CaptureDef, catalog: Catalog, config: Any, connector_type: str
) -> capture.Validate:
    """The Validate request: only enabled bindings, in declaration order."""
    bindings = [
        capture.ValidateBinding(
            resourceConfig=b.resource,
            collection=catalog.collection(b.target, f"capture {task.name!r}").spec(),
            backfill=b.backfill,
        )
        for b in task.enabled_bindings
    ]
    return capture.Validate(
        name=task.name, connectorType=connector_type, config=config, bindings=bindings
    )


def resource_path(pointers: Sequence[str], resource: Any) -> tuple[str, ...] | None:
    """A resource config's path as Flow's control plane reads it: the string at each of the
    Spec's `resourcePathPointers`, absent and null ones skipped. None without pointers or
    when one points at something other than a string."""
    if not pointers:
        return None
    out = []
    for pointer in pointers:
        value = _resolve(resource, pointer)
        if value is None:
            continue
        if not isinstance(value, str):
            return None
        out.append(value)
    return tuple(out)


def _resolve(doc: Any, pointer: str) -> Any:
    """The value at `pointer`, None when missing."""
    value = json_pointer.get(doc, pointer)
    return None if value is json_pointer.MISSING else value


def check_unique_resources(task: CaptureDef, pointers: Sequence[str]) -> None:
    """Two enabled bindings of one resource are the catalog's mistake (Flow's catalog
    validation rejects them too), said so before the connector is asked about them."""
    seen: dict[tuple[str, ...], int] = {}
    for i, binding in enumerate(task.bindings):
        path = resource_path(pointers, binding.resource)
        if binding.disable or not path:
            continue
        first = seen.setdefault(path, i)
        if first != i:
            raise CatalogError(
                f"{task.file}: captures.{task.name}.bindings[{first}] and bindings[{i}] "
                f"capture the same resource {list(path)} (into {task.bindings[first].target!r} "
                f"and {binding.target!r}); remove one of them"
            )


def check_validated(request: capture.Validate, validated: capture.Validated) -> None:
    """One Validated binding per requested binding, with unique resource paths."""
    check_resource_paths([b.resourcePath for b in validated.bindings], len(request.bindings))


def capture_spec(
    task: CaptureDef, request: capture.Validate, validated: capture.Validated
) -> CaptureSpec:
    """The spec Apply and Open carry."""
    bindings = [
        CaptureBinding(
            resourceConfig=req.resourceConfig,
            resourcePath=list(res.resourcePath),
            collection=req.collection,
            backfill=req.backfill,
            stateKey=encode_state_key(res.resourcePath, req.backfill),
        )
        for req, res in zip(request.bindings, validated.bindings, strict=True)
    ]
    return CaptureSpec(
        name=task.name,
        connectorType=request.connectorType,
        config=request.config,
        bindings=bindings,
        intervalSeconds=round(task.interval_seconds),
    )


def spec_version(spec: CaptureSpec) -> str:
    """A build id that changes exactly when the spec does."""
    digest = hashlib.sha256(orjson.dumps(spec.to_wire(), option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()[:16]


def check_against_spec(task: CaptureDef, spec: Spec, config: Any) -> None:
    """The endpoint config and each binding's resource must match the connector's schemas,
    as Flow checks them when it builds the catalog."""
    check_connector_schema(spec.configSchema, config, task.endpoint.config_where, "configSchema")
    for i, binding in enumerate(task.bindings):
        where = f"{task.file}: captures.{task.name}.bindings[{i}].resource"
        check_connector_schema(
            spec.resourceConfigSchema, binding.resource, where, "resourceConfigSchema"
        )
