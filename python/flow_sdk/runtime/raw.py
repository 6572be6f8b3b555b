"""`flow-sdk raw spec | discover | validate`: one unary request each, like `flowctl raw`.

`spec` and `validate` address every kind of task by `--name` (as flowctl's `preview` does;
`--capture` still names a capture): a capture, a materialization or a derivation. A catalog
with several tasks needs the name, and the error lists them. `validate` checks the catalog
against Flow's rules first, then prints one line per binding (per transform for a
derivation): a capture's resource paths and state keys, a materialization's constraints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flow_sdk.protocol import capture, derive, materialize
from flow_sdk.protocol.flow import MaterializationSpec, Spec
from flow_sdk.runtime.capture.build import (
    capture_spec,
    check_against_spec,
    check_unique_resources,
    check_validated,
    validate_request,
)
from flow_sdk.runtime.catalog.load import CaptureDef, Catalog, MaterializationDef, load_catalog
from flow_sdk.runtime.catalog.rules import check_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.derive.catalog import DerivationDef, derivations
from flow_sdk.runtime.errors import CatalogError
from flow_sdk.runtime.launcher import ConnectorLauncher
from flow_sdk.runtime.materialize.build import (
    check_spec as check_materialize_spec,
)
from flow_sdk.runtime.materialize.build import (
    check_validated as check_materialize_validated,
)
from flow_sdk.runtime.materialize.build import (
    materialization_spec,
)
from flow_sdk.runtime.materialize.build import (
    validate_request as materialize_validate_request,
)

Task = CaptureDef | MaterializationDef | DerivationDef
RESPONSES: dict[type, Any] = {
    CaptureDef: capture.Response,
    MaterializationDef: materialize.Response,
    DerivationDef: derive.Response,
}


def kind_of(task: Task) -> str:
    if isinstance(task, CaptureDef):
        return "capture"
    return "materialization" if isinstance(task, MaterializationDef) else "derivation"


def select_task(catalog: Catalog, name: str | None, capture_name: str | None = None) -> Task:
    """The task `--name` names (any kind), or the capture `--capture` names, or the only
    task of the catalog; with several tasks and no name, a sentence listing them."""
    if name is not None and capture_name is not None:
        raise CatalogError("give either --name or --capture, not both")
    if capture_name is not None:
        return catalog.capture(capture_name)
    tasks: dict[str, Task] = {
        **catalog.captures,
        **catalog.materializations,
        **derivations(catalog),
    }
    order = ("capture", "materialization", "derivation")
    ranked = sorted(tasks.items(), key=lambda item: (order.index(kind_of(item[1])), item[0]))
    listing = ", ".join(f"{kind_of(t)} {n}" for n, t in ranked) or "none"
    if name is not None:
        if name not in tasks:
            raise CatalogError(f"{catalog.root} has no task named {name!r} (it has: {listing})")
        return tasks[name]
    if len(tasks) == 1:
        return next(iter(tasks.values()))
    if not tasks:
        raise CatalogError(f"{catalog.root} (with its imports) defines no task")
    raise CatalogError(
        f"{catalog.root} defines {len(tasks)} tasks ({listing}); choose one with --name"
    )


def raw_spec(
    source: str | Path,
    name: str | None,
    console: Console,
    network: str = "bridge",
    capture_name: str | None = None,
) -> Spec:
    """The task connector's Spec, asked with its (unsealed) endpoint config."""
    task = select_task(load_catalog(source), name, capture_name)
    return _spec(task, ConnectorLauncher(task, console, network))  # type: ignore[arg-type]  # has name, endpoint, log_level


def _spec(task: Task, launcher: ConnectorLauncher) -> Spec:
    payload = {"connectorType": launcher.connector_type, "config": launcher.config}
    return launcher.unary(RESPONSES[type(task)], "spec", payload, "spec").spec


def raw_discover(
    source: str | Path, name: str | None, console: Console, network: str = "bridge"
) -> tuple[Catalog, CaptureDef, capture.Discovered, list[str]]:
    """The capture connector's Discovered response, and the `resourcePathPointers` of the
    Spec it answered first (how a merge tells which existing binding is which resource)."""
    catalog = load_catalog(source)
    task = catalog.capture(name)
    launcher = ConnectorLauncher(task, console, network)
    request = capture.Discover(
        name=task.name, connectorType=launcher.connector_type, config=launcher.config
    )
    response = launcher.unary(capture.Response, "discover", request.to_wire(), "discovered")
    pointers = list(launcher.probe.spec.resourcePathPointers or []) if launcher.probe else []
    return catalog, task, response.discovered, pointers


def validated_capture(
    catalog: Catalog, task: CaptureDef, launcher: ConnectorLauncher
) -> tuple[capture.Validate, capture.Validated, Any]:
    """Spec (to check config and resources against the connector's schemas), then Validate.

    Returns the request, the checked response and the CaptureSpec built from them."""
    spec = _spec(task, launcher)
    check_against_spec(task, spec, launcher.config)
    check_unique_resources(task, spec.resourcePathPointers)
    request = validate_request(task, catalog, launcher.config, launcher.connector_type)
    validated = launcher.unary(
        capture.Response, "validate", request.to_wire(), "validated"
    ).validated
    check_validated(request, validated)
    return request, validated, capture_spec(task, request, validated)


def validated_materialization(
    catalog: Catalog, task: MaterializationDef, launcher: ConnectorLauncher
) -> tuple[materialize.Validate, materialize.Validated, MaterializationSpec]:
    """Spec (the resource name annotation, config and resources checked), then Validate;
    the request, the checked response and the MaterializationSpec built from them."""
    check_materialize_spec(task, _spec(task, launcher), launcher.config)
    request = materialize_validate_request(task, catalog, launcher.config, launcher.connector_type)
    response = launcher.unary(materialize.Response, "validate", request.to_wire(), "validated")
    check_materialize_validated(request, response.validated)
    return request, response.validated, materialization_spec(task, request, response.validated)


def raw_validate(
    source: str | Path,
    name: str | None,
    console: Console,
    network: str = "bridge",
    capture_name: str | None = None,
) -> list[dict[str, Any]]:
    """Flow's catalog rules, then the task's Validate: one line per binding (or transform)."""
    catalog = load_catalog(source)
    task = select_task(catalog, name, capture_name)
    check_catalog(catalog)
    launcher = ConnectorLauncher(task, console, network)  # type: ignore[arg-type]  # has name, endpoint, log_level
    if isinstance(task, CaptureDef):
        _, _, spec = validated_capture(catalog, task, launcher)
        return [
            {
                "binding": i,
                "collection": b.collection.name,
                "resourcePath": b.resourcePath,
                "stateKey": b.stateKey,
            }
            for i, b in enumerate(spec.bindings)
        ]
    if isinstance(task, MaterializationDef):
        _, validated, mspec = validated_materialization(catalog, task, launcher)
        return [
            {
                "binding": i,
                "collection": b.collection.name,
                "resourcePath": b.resourcePath,
                "stateKey": b.stateKey,
                "deltaUpdates": b.deltaUpdates,
                "constraints": {
                    field: constraint.to_wire()
                    for field, constraint in sorted(res.constraints.items())
                },
            }
            for i, (b, res) in enumerate(zip(mspec.bindings, validated.bindings, strict=True))
        ]
    from flow_sdk.runtime.derive.preview import validated_derivation

    validated_transforms = validated_derivation(catalog, task, launcher).validated.transforms
    return [
        {"transform": i, "name": t.name, "source": t.source, "readOnly": v.readOnly}
        for i, (t, v) in enumerate(zip(task.enabled_transforms, validated_transforms, strict=True))
    ]
