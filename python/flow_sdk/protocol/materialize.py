"""The materialize protocol (`materialize.proto`) and its transaction messages."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from flow_sdk.protocol.flow import (
    CollectionSpec,
    ConnectorState,
    ConnectorType,
    MaterializationSpec,
    RangeSpec,
    Spec,
    SpecRequest,
)
from flow_sdk.protocol.wire import Envelope, ResponseModel, StrictEnvelope, WireModel

# ---- requests ----


class ValidateBinding(WireModel):
    resourceConfig: Any = None
    collection: CollectionSpec = Field(default_factory=CollectionSpec)
    fieldConfig: dict[str, Any] = Field(default_factory=dict)
    backfill: int = 0
    groupBy: list[str] = Field(default_factory=list)


class Validate(WireModel):
    name: str = ""
    connectorType: ConnectorType = ""
    config: Any = None
    bindings: list[ValidateBinding] = Field(default_factory=list)
    lastMaterialization: MaterializationSpec | None = None
    lastVersion: str = ""


class Apply(WireModel):
    materialization: MaterializationSpec = Field(default_factory=MaterializationSpec)
    version: str = ""
    lastMaterialization: MaterializationSpec | None = None
    lastVersion: str = ""
    state: Any = None

    @model_validator(mode="after")
    def _names_its_task(self) -> Apply:
        if not self.materialization.name:
            raise ValueError(
                "`apply` carries no materialization spec with a name; the runtime always sends the task's spec"
            )
        return self


class Open(WireModel):
    materialization: MaterializationSpec = Field(default_factory=MaterializationSpec)
    version: str = ""
    range: RangeSpec = Field(default_factory=RangeSpec)
    state: Any = None

    @model_validator(mode="after")
    def _names_its_task(self) -> Open:
        if not self.materialization.name:
            raise ValueError(
                "`open` carries no materialization spec with a name; the runtime always sends the task's spec"
            )
        return self


class Acknowledge(WireModel):
    pass


class Load(WireModel):
    binding: int = 0
    key: list[Any] = Field(default_factory=list)
    keyPacked: str = ""


class BackfillSignal(WireModel):
    """A capture's backfill of the binding's collection began or completed: documents
    published before `truncatedAt` (RFC 3339) are superseded by the backfill's."""

    binding: int = 0
    truncatedAt: str = ""


class Flush(WireModel):
    """The end of the load phase, with the backfill signals the runtime read since the last
    Flush (Flow's `Request.Flush.backfill_begin` / `backfill_complete`)."""

    backfillBegin: list[BackfillSignal] = Field(default_factory=list)
    backfillComplete: list[BackfillSignal] = Field(default_factory=list)


class Store(WireModel):
    binding: int = 0
    key: list[Any] = Field(default_factory=list)
    keyPacked: str = ""
    values: list[Any] = Field(default_factory=list)
    valuesPacked: str = ""
    doc: Any = None
    exists: bool = False
    delete: bool = False


class StartCommit(WireModel):
    runtimeCheckpoint: Any = None


class Request(Envelope):
    variants: ClassVar[tuple[str, ...]] = (
        "spec",
        "validate",
        "apply",
        "open",
        "acknowledge",
        "load",
        "flush",
        "store",
        "startCommit",
    )
    spec: SpecRequest | None = None
    # `validate` is a (deprecated) BaseModel method; read it as `validate_` or `["validate"]`.
    validate_: Validate | None = Field(default=None, alias="validate")
    apply: Apply | None = None
    open: Open | None = None
    acknowledge: Acknowledge | None = None
    load: Load | None = None
    flush: Flush | None = None
    store: Store | None = None
    startCommit: StartCommit | None = None


# ---- responses ----


class Constraint(ResponseModel):
    type: str = ""
    reason: str = ""
    foldedField: str = ""


class ValidatedBinding(ResponseModel):
    constraints: dict[str, Constraint] = Field(default_factory=dict)
    resourcePath: list[str] = Field(default_factory=list)
    deltaUpdates: bool = False
    serPolicy: Any = None
    caseInsensitiveFields: bool = False


class Validated(ResponseModel):
    bindings: list[ValidatedBinding] = Field(default_factory=list)


class Applied(ResponseModel):
    actionDescription: str = ""
    state: ConnectorState | None = None


class Opened(ResponseModel):
    runtimeCheckpoint: Any = None
    disableLoadOptimization: bool = False


class Loaded(ResponseModel):
    binding: int = 0
    doc: Any = None


class Flushed(ResponseModel):
    state: ConnectorState | None = None


class StartedCommit(ResponseModel):
    state: ConnectorState | None = None


class Acknowledged(ResponseModel):
    state: ConnectorState | None = None


class Response(StrictEnvelope):
    variants: ClassVar[tuple[str, ...]] = (
        "spec",
        "validated",
        "applied",
        "opened",
        "loaded",
        "flushed",
        "startedCommit",
        "acknowledged",
    )
    spec: Spec | None = None
    validated: Validated | None = None
    applied: Applied | None = None
    opened: Opened | None = None
    loaded: Loaded | None = None
    flushed: Flushed | None = None
    startedCommit: StartedCommit | None = None
    acknowledged: Acknowledged | None = None
