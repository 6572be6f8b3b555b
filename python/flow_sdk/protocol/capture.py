"""The capture protocol (`capture.proto`): requests named for the verb, responses in the
past tense, and the `Request` / `Response` envelopes that carry exactly one of them."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from flow_sdk.protocol.flow import (
    CaptureSpec,
    CollectionSpec,
    ConnectorState,
    ConnectorType,
    RangeSpec,
    Spec,
    SpecRequest,
)
from flow_sdk.protocol.wire import Envelope, ResponseModel, StrictEnvelope, WireModel

# ---- requests (runtime → connector) ----


class Discover(WireModel):
    connectorType: ConnectorType = ""
    config: Any = None
    name: str = ""


class ValidateBinding(WireModel):
    resourceConfig: Any = None
    collection: CollectionSpec = Field(default_factory=CollectionSpec)
    backfill: int = 0


class Validate(WireModel):
    name: str = ""
    connectorType: ConnectorType = ""
    config: Any = None
    bindings: list[ValidateBinding] = Field(default_factory=list)
    lastCapture: CaptureSpec | None = None
    lastVersion: str = ""


class Apply(WireModel):
    capture: CaptureSpec = Field(default_factory=CaptureSpec)
    version: str = ""
    lastCapture: CaptureSpec | None = None
    lastVersion: str = ""
    state: Any = None

    @model_validator(mode="after")
    def _names_its_task(self) -> Apply:
        if not self.capture.name:
            raise ValueError(
                "`apply` carries no capture spec with a name; the runtime always sends the task's spec"
            )
        return self


class Open(WireModel):
    capture: CaptureSpec = Field(default_factory=CaptureSpec)
    version: str = ""
    range: RangeSpec = Field(default_factory=RangeSpec)
    state: Any = None

    @model_validator(mode="after")
    def _names_its_task(self) -> Open:
        if not self.capture.name:
            raise ValueError(
                "`open` carries no capture spec with a name; the runtime always sends the task's spec"
            )
        return self


class Acknowledge(WireModel):
    checkpoints: int = 0


class Request(Envelope):
    variants: ClassVar[tuple[str, ...]] = (
        "spec",
        "discover",
        "validate",
        "apply",
        "open",
        "acknowledge",
    )
    spec: SpecRequest | None = None
    discover: Discover | None = None
    # `validate` is a (deprecated) BaseModel method; read it as `validate_` or `["validate"]`.
    validate_: Validate | None = Field(default=None, alias="validate")
    apply: Apply | None = None
    open: Open | None = None
    acknowledge: Acknowledge | None = None


# ---- responses (connector → runtime) ----


class DiscoveredBinding(ResponseModel):
    recommendedName: str = ""
    resourceConfig: Any = None
    documentSchema: Any = None
    key: list[str] = Field(default_factory=list)
    disable: bool = False
    resourcePath: list[str] = Field(default_factory=list)
    isFallbackKey: bool = False


class Discovered(ResponseModel):
    bindings: list[DiscoveredBinding] = Field(default_factory=list)


class ValidatedBinding(ResponseModel):
    resourcePath: list[str] = Field(default_factory=list)


class Validated(ResponseModel):
    bindings: list[ValidatedBinding] = Field(default_factory=list)


class Applied(ResponseModel):
    actionDescription: str = ""
    state: ConnectorState | None = None


class Opened(ResponseModel):
    explicitAcknowledgements: bool = False


class Captured(ResponseModel):
    binding: int = 0
    doc: Any = None


class SourcedSchema(ResponseModel):
    binding: int = 0
    documentSchema: Any = None


class Checkpoint(ResponseModel):
    state: ConnectorState | None = None


class BackfillBegin(ResponseModel):
    binding: int = 0


class BackfillComplete(ResponseModel):
    binding: int = 0


class Response(StrictEnvelope):
    variants: ClassVar[tuple[str, ...]] = (
        "spec",
        "discovered",
        "validated",
        "applied",
        "opened",
        "captured",
        "sourcedSchema",
        "checkpoint",
        "backfillBegin",
        "backfillComplete",
    )
    spec: Spec | None = None
    discovered: Discovered | None = None
    validated: Validated | None = None
    applied: Applied | None = None
    opened: Opened | None = None
    captured: Captured | None = None
    sourcedSchema: SourcedSchema | None = None
    checkpoint: Checkpoint | None = None
    backfillBegin: BackfillBegin | None = None
    backfillComplete: BackfillComplete | None = None
