"""Flow types shared by the capture, materialize and derive protocols (`flow.proto`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_serializer

from flow_sdk.protocol.wire import PROTOCOL, Int64, ResponseModel, WireModel

ConnectorType = str
"""`IMAGE`, `LOCAL` (and `DEKAF`, `SQLITE`, `TYPESCRIPT` in some protocols)."""

FULL_RANGE_END = 0xFFFFFFFF


class RangeSpec(WireModel):
    """Inclusive key and r-clock ranges of a shard; zeros are omitted on the wire."""

    keyBegin: int = 0
    keyEnd: int = 0
    rClockBegin: int = 0
    rClockEnd: int = 0

    @classmethod
    def full(cls) -> RangeSpec:
        return cls(keyEnd=FULL_RANGE_END, rClockEnd=FULL_RANGE_END)


class Inference(WireModel):
    types: list[str] = Field(default_factory=list)
    string: dict[str, Any] | None = None
    title: str = ""
    description: str = ""
    default: Any = None
    secret: bool = False
    exists: str = ""
    numeric: dict[str, Any] | None = None
    array: dict[str, Any] | None = None


class Projection(WireModel):
    ptr: str = ""
    field: str = ""
    explicit: bool = False
    isPartitionKey: bool = False
    isPrimaryKey: bool = False
    inference: Inference | None = None


class CollectionSpec(WireModel):
    name: str = ""
    writeSchema: Any = None
    readSchema: Any = None
    key: list[str] = Field(default_factory=list)
    uuidPtr: str = ""
    partitionFields: list[str] = Field(default_factory=list)
    projections: list[Projection] = Field(default_factory=list)
    ackTemplate: Any = None
    partitionTemplate: Any = None
    derivation: Any = None

    @property
    def schema_for_reads(self) -> Any:
        """The read schema when there is one, else the write schema."""
        return self.readSchema if self.readSchema is not None else self.writeSchema


class ConnectorState(ResponseModel):
    """State a connector checkpoints: `updated` replaces the state, or with `mergePatch`
    is applied to it as an RFC 7396 merge patch."""

    updated: Any = None
    mergePatch: bool = False


class OAuth2(ResponseModel):
    provider: str = ""
    authUrlTemplate: str = ""
    accessTokenUrlTemplate: str = ""
    accessTokenMethod: str = ""
    accessTokenBody: str = ""
    accessTokenHeaders: dict[str, Any] = Field(default_factory=dict)
    accessTokenResponseMap: dict[str, Any] = Field(default_factory=dict)
    refreshTokenUrlTemplate: str = ""
    refreshTokenMethod: str = ""
    refreshTokenBody: str = ""
    refreshTokenHeaders: dict[str, Any] = Field(default_factory=dict)
    refreshTokenResponseMap: dict[str, Any] = Field(default_factory=dict)


class Spec(ResponseModel):
    """The Spec response of every protocol. `protocol` is always written as 3032023."""

    protocol: int = PROTOCOL
    configSchema: Any = None
    resourceConfigSchema: Any = None
    documentationUrl: str = ""
    oauth2: OAuth2 | None = None
    resourcePathPointers: list[str] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _always_protocol(self, handler: Any) -> dict[str, Any]:
        out = handler(self)
        out["protocol"] = self.protocol
        return out


class SpecRequest(WireModel):
    """The Spec request: may carry a partial config, or `{}` for the runtime's probe."""

    connectorType: ConnectorType = ""
    config: Any = None


class CaptureBinding(WireModel):
    resourceConfig: Any = None
    resourcePath: list[str] = Field(default_factory=list)
    collection: CollectionSpec = Field(default_factory=CollectionSpec)
    backfill: int = 0
    stateKey: str = ""


class CaptureSpec(WireModel):
    name: str = ""
    connectorType: ConnectorType = ""
    config: Any = None
    bindings: list[CaptureBinding] = Field(default_factory=list)
    intervalSeconds: int = 0
    shardTemplate: Any = None
    recoveryLogTemplate: Any = None
    networkPorts: list[Any] = Field(default_factory=list)


class FieldSelection(WireModel):
    keys: list[str] = Field(default_factory=list)
    values: list[str] = Field(default_factory=list)
    document: str = ""
    fieldConfig: dict[str, Any] = Field(default_factory=dict)


class MaterializationBinding(WireModel):
    resourceConfig: Any = None
    resourcePath: list[str] = Field(default_factory=list)
    collection: CollectionSpec = Field(default_factory=CollectionSpec)
    partitionSelector: Any = None
    priority: int = 0
    fieldSelection: FieldSelection = Field(default_factory=FieldSelection)
    deltaUpdates: bool = False
    journalReadSuffix: str = ""
    notBefore: str = ""
    notAfter: str = ""
    backfill: int = 0
    stateKey: str = ""
    serPolicy: Any = None


class MaterializationSpec(WireModel):
    name: str = ""
    connectorType: ConnectorType = ""
    config: Any = None
    bindings: list[MaterializationBinding] = Field(default_factory=list)
    shardTemplate: Any = None
    recoveryLogTemplate: Any = None
    networkPorts: list[Any] = Field(default_factory=list)


class UUIDParts(WireModel):
    node: Int64 = 0
    clock: Int64 = 0
