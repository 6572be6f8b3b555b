"""Compatibility names of flow-sdk 0.1.x (`from flow_sdk import flow`).

Replaced by `flow_sdk.protocol` (the same types as pydantic models); kept so connectors
written for 0.1.x keep importing. New code should import from `flow_sdk.protocol`."""

from flow_sdk.protocol.flow import (
    CaptureBinding,
    CaptureSpec,
    CollectionSpec,
    ConnectorState,
    ConnectorType,
    OAuth2,
    Projection,
    RangeSpec,
    Spec,
)

__all__ = [
    "CaptureBinding",
    "CaptureSpec",
    "CollectionSpec",
    "ConnectorState",
    "ConnectorType",
    "OAuth2",
    "Projection",
    "RangeSpec",
    "Spec",
]
