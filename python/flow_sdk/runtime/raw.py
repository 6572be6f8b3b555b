"""`flow-sdk raw spec | discover | validate`: one unary request each, like `flowctl raw`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flow_sdk.protocol import capture
from flow_sdk.protocol.flow import Spec
from flow_sdk.runtime.capture_build import (
    capture_spec,
    check_against_spec,
    check_unique_resources,
    check_validated,
    validate_request,
)
from flow_sdk.runtime.catalog import CaptureDef, Catalog, load_catalog
from flow_sdk.runtime.driver import Driver
from flow_sdk.runtime.logs import Console


def _capture(source: str | Path, name: str | None) -> tuple[Catalog, CaptureDef]:
    catalog = load_catalog(source)
    return catalog, catalog.capture(name)


def raw_spec(
    source: str | Path, name: str | None, console: Console, network: str = "bridge"
) -> Spec:
    """The capture connector's Spec, asked with its (unsealed) endpoint config."""
    _, task = _capture(source, name)
    driver = Driver(task, console, network)
    payload = {"connectorType": driver.connector_type, "config": driver.config}
    return driver.unary(capture.Response, "spec", payload, "spec").spec


def raw_discover(
    source: str | Path, name: str | None, console: Console, network: str = "bridge"
) -> tuple[Catalog, CaptureDef, capture.Discovered, list[str]]:
    """The capture connector's Discovered response, and the `resourcePathPointers` of the
    Spec it answered first (how a merge tells which existing binding is which resource)."""
    catalog, task = _capture(source, name)
    driver = Driver(task, console, network)
    request = capture.Discover(
        name=task.name, connectorType=driver.connector_type, config=driver.config
    )
    response = driver.unary(capture.Response, "discover", request.to_wire(), "discovered")
    pointers = list(driver.probe.spec.resourcePathPointers or []) if driver.probe else []
    return catalog, task, response.discovered, pointers


def validated_capture(
    catalog: Catalog, task: CaptureDef, driver: Driver
) -> tuple[capture.Validate, capture.Validated, Any]:
    """Spec (to check config and resources against the connector's schemas), then Validate.

    Returns the request, the checked response and the CaptureSpec built from them."""
    spec = driver.unary(
        capture.Response,
        "spec",
        {"connectorType": driver.connector_type, "config": driver.config},
        "spec",
    ).spec
    check_against_spec(task, spec, driver.config)
    check_unique_resources(task, spec.resourcePathPointers)
    request = validate_request(task, catalog, driver.config, driver.connector_type)
    validated = driver.unary(capture.Response, "validate", request.to_wire(), "validated").validated
    check_validated(request, validated)
    return request, validated, capture_spec(task, request, validated)


def raw_validate(
    source: str | Path, name: str | None, console: Console, network: str = "bridge"
) -> list[dict[str, Any]]:
    """Each enabled binding's collection, resource path and stateKey, after Validate."""
    catalog, task = _capture(source, name)
    driver = Driver(task, console, network)
    _, _, spec = validated_capture(catalog, task, driver)
    return [
        {
            "binding": i,
            "collection": b.collection.name,
            "resourcePath": b.resourcePath,
            "stateKey": b.stateKey,
        }
        for i, b in enumerate(spec.bindings)
    ]
