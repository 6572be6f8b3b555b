"""Materialization requests built from the catalog the way Flow's control plane builds them:
collection projections, Validate with the enabled bindings, a field selection from the
connector's constraints, and the MaterializationSpec that Apply and Open carry.

Field selection is a simplified version of Flow's: key fields (or `fields.groupBy`), the
root document when the connector allows it, and — with `recommended` (the default) — every
top-level field the connector accepts, plus `require`d fields, minus `exclude`d ones.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from flow_sdk import json_pointer
from flow_sdk.protocol import materialize
from flow_sdk.protocol.flow import (
    CollectionSpec,
    FieldSelection,
    Inference,
    MaterializationBinding,
    MaterializationSpec,
    Projection,
    Spec,
)
from flow_sdk.protocol.state_key import encode_state_key
from flow_sdk.runtime.catalog.load import Catalog, CollectionDef, MaterializationDef
from flow_sdk.runtime.errors import CatalogError, ProtocolViolation
from flow_sdk.runtime.schema import check_connector_schema
from flow_sdk.runtime.strict import check_resource_paths

DOCUMENT_FIELD = "flow_document"
CONSTRAINT_TYPES = {
    "FIELD_REQUIRED",
    "LOCATION_REQUIRED",
    "LOCATION_RECOMMENDED",
    "FIELD_OPTIONAL",
    "FIELD_FORBIDDEN",
    "INCOMPATIBLE",
    "UNSATISFIABLE",
}
SELECTABLE = {"FIELD_REQUIRED", "LOCATION_REQUIRED", "LOCATION_RECOMMENDED", "FIELD_OPTIONAL"}


def collection_spec(collection: CollectionDef) -> CollectionSpec:
    """The collection with its projections: the root document, every object property of
    the read schema (nested ones as `a/b`), the key locations, and explicit projections."""
    spec = collection.spec()
    schema = spec.schema_for_reads if isinstance(spec.schema_for_reads, dict) else {}
    keys = set(collection.key)
    projections: dict[str, Projection] = {
        DOCUMENT_FIELD: Projection(
            ptr="", field=DOCUMENT_FIELD, inference=Inference(types=["object"])
        )
    }
    for ptr, node in _locations(schema, ""):
        field = ptr[1:]
        projections[field] = Projection(
            ptr=ptr, field=field, isPrimaryKey=ptr in keys, inference=_inference(node)
        )
    for ptr in collection.key:
        field = ptr[1:]
        projections.setdefault(field, Projection(ptr=ptr, field=field, isPrimaryKey=True))
    for field, location in collection.projections.items():
        ptr = location["location"] if isinstance(location, dict) else location
        partition = bool(location.get("partition")) if isinstance(location, dict) else False
        projections[field] = Projection(
            ptr=ptr, field=field, explicit=True, isPartitionKey=partition, isPrimaryKey=ptr in keys
        )
    spec.projections = [projections[f] for f in sorted(projections)]
    return spec


def _locations(schema: Any, prefix: str, depth: int = 0) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if not isinstance(schema, dict) or depth > 3:
        return out
    for name, node in (schema.get("properties") or {}).items():
        ptr = f"{prefix}/{json_pointer.escape(name)}"
        out.append((ptr, node))
        out.extend(_locations(node, ptr, depth + 1))
    return out


def _inference(node: Any) -> Inference:
    types = node.get("type") if isinstance(node, dict) else None
    if isinstance(types, str):
        types = [types]
    return Inference(types=[t for t in types or [] if isinstance(t, str)])


def validate_request(
    task: MaterializationDef, catalog: Catalog, config: Any, connector_type: str
) -> materialize.Validate:
    """Validate with only the enabled bindings, in declaration order."""
    bindings = []
    for b in task.enabled_bindings:
        collection = catalog.collection(b.source, f"materialization {task.name!r}")
        resource = dict(b.resource) if isinstance(b.resource, dict) else b.resource
        if isinstance(resource, dict):
            resource.pop("_meta", None)
        bindings.append(
            materialize.ValidateBinding(
                resourceConfig=resource,
                collection=collection_spec(collection),
                fieldConfig=dict(b.fields.get("require") or b.fields.get("include") or {}),
                backfill=b.backfill,
                groupBy=list(b.fields.get("groupBy") or []),
            )
        )
    return materialize.Validate(
        name=task.name, connectorType=connector_type, config=config, bindings=bindings
    )


def check_spec(task: MaterializationDef, spec: Spec, config: Any) -> None:
    """A materialize Spec names its resource with `x-collection-name` and never sends
    `resourcePathPointers`; the config and resources must match its schemas."""
    if spec.resourcePathPointers:
        raise ProtocolViolation(
            "materialize-spec",
            "a materialization's Spec must not send resourcePathPointers; annotate the "
            "resource schema's name property with `x-collection-name: true` instead",
        )
    props = (spec.resourceConfigSchema or {}).get("properties") or {}
    if not any(isinstance(p, dict) and p.get("x-collection-name") for p in props.values()):
        raise ProtocolViolation(
            "materialize-spec",
            "the resource config schema has no property annotated `x-collection-name: true`",
        )
    check_connector_schema(spec.configSchema, config, task.endpoint.config_where, "configSchema")
    for i, b in enumerate(task.bindings):
        where = f"{task.file}: materializations.{task.name}.bindings[{i}].resource"
        check_connector_schema(spec.resourceConfigSchema, b.resource, where, "resourceConfigSchema")


def check_validated(request: materialize.Validate, validated: materialize.Validated) -> None:
    """One binding per request binding, non-empty unique resource paths, known constraints."""
    paths = [b.resourcePath for b in validated.bindings]
    check_resource_paths(paths, len(request.bindings), non_empty=True)
    for i, binding in enumerate(validated.bindings):
        for field, constraint in binding.constraints.items():
            if constraint.type not in CONSTRAINT_TYPES:
                raise ProtocolViolation(
                    "constraint-type",
                    f"binding {i}: field {field!r} has constraint type {constraint.type!r}; "
                    f"send one of {', '.join(sorted(CONSTRAINT_TYPES))} by name",
                )


def field_selection(
    task: MaterializationDef,
    index: int,
    req: materialize.ValidateBinding,
    res: materialize.ValidatedBinding,
) -> FieldSelection:
    """Keys, values and document of binding `index` from the connector's constraints."""
    fields_cfg = task.enabled_bindings[index].fields
    where = f"materializations.{task.name}.bindings[{index}]"
    by_ptr = {p.ptr: p.field for p in req.collection.projections}
    constraints = {f: c.type for f, c in res.constraints.items()}
    keys = list(req.groupBy) or [by_ptr.get(ptr, ptr[1:]) for ptr in req.collection.key]
    for key in keys:
        if constraints.get(key) not in SELECTABLE:
            raise CatalogError(f"{where}: the connector does not accept key field {key!r}")
    document = DOCUMENT_FIELD if constraints.get(DOCUMENT_FIELD) in SELECTABLE else ""
    recommended = fields_cfg.get("recommended", True) is not False
    required = set(fields_cfg.get("require") or fields_cfg.get("include") or {})
    excluded = set(fields_cfg.get("exclude") or [])
    for field in required:
        if constraints.get(field) not in SELECTABLE:
            raise CatalogError(
                f"{where}: fields.require names {field!r}, which the connector does not accept"
            )
    values = []
    top_level = {p.field for p in req.collection.projections if p.ptr.count("/") == 1}
    for field, kind in constraints.items():
        if field in keys or field == document or field in excluded or kind not in SELECTABLE:
            continue
        if kind == "FIELD_REQUIRED" or field in required or (recommended and field in top_level):
            values.append(field)
    return FieldSelection(
        keys=keys,
        values=sorted(values),
        document=document,
        fieldConfig=dict(fields_cfg.get("require") or fields_cfg.get("include") or {}),
    )


def materialization_spec(
    task: MaterializationDef, request: materialize.Validate, validated: materialize.Validated
) -> MaterializationSpec:
    """The spec Apply and Open carry."""
    bindings = []
    for i, (req, res) in enumerate(zip(request.bindings, validated.bindings, strict=True)):
        state_key = encode_state_key(res.resourcePath, req.backfill)
        bindings.append(
            MaterializationBinding(
                resourceConfig=req.resourceConfig,
                resourcePath=list(res.resourcePath),
                collection=req.collection,
                priority=task.enabled_bindings[i].priority,
                fieldSelection=field_selection(task, i, req, res),
                deltaUpdates=res.deltaUpdates,
                journalReadSuffix=f"materialize/{task.name}/{state_key}",
                backfill=req.backfill,
                stateKey=state_key,
                serPolicy=res.serPolicy,
            )
        )
    return MaterializationSpec(
        name=task.name,
        connectorType=request.connectorType,
        config=request.config,
        bindings=bindings,
    )


def spec_version(spec: MaterializationSpec) -> str:
    """A build id that changes exactly when the spec does."""
    digest = hashlib.sha256(orjson.dumps(spec.to_wire(), option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()[:16]
