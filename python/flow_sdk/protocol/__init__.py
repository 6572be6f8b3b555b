"""Wire types of Flow's capture, materialize and derive protocols, and the shared Flow types.

Modules: `flow` (shared types), `capture`, `materialize`, `derive` (each with `Request` and
`Response` envelopes), `wire` (codec rules), `state_key`, `merge_patch`.
"""

from flow_sdk.protocol.flow import (
    CaptureBinding,
    CaptureSpec,
    CollectionSpec,
    ConnectorState,
    FieldSelection,
    MaterializationBinding,
    MaterializationSpec,
    OAuth2,
    Projection,
    RangeSpec,
    Spec,
    SpecRequest,
)
from flow_sdk.protocol.merge_patch import merge_patch
from flow_sdk.protocol.state_key import encode_state_key
from flow_sdk.protocol.wire import PROTOCOL, ProtocolError, encode, parse_message

__all__ = [
    "PROTOCOL",
    "CaptureBinding",
    "CaptureSpec",
    "CollectionSpec",
    "ConnectorState",
    "FieldSelection",
    "MaterializationBinding",
    "MaterializationSpec",
    "OAuth2",
    "Projection",
    "ProtocolError",
    "RangeSpec",
    "Spec",
    "SpecRequest",
    "encode",
    "encode_state_key",
    "merge_patch",
    "parse_message",
]
