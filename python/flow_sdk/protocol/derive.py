"""The derive protocol (`derive.proto`): transforms read source documents and publish."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from flow_sdk.protocol.flow import (
    CollectionSpec,
    ConnectorState,
    ConnectorType,
    RangeSpec,
    Spec,
    SpecRequest,
    UUIDParts,
)
from flow_sdk.protocol.wire import Envelope, ResponseModel, StrictEnvelope, WireModel

# ---- requests ----


class Transform(WireModel):
    name: str = ""
    collection: CollectionSpec = Field(default_factory=CollectionSpec)
    shuffleLambdaConfig: Any = None
    lambdaConfig: Any = None
    backfill: int = 0


class Validate(WireModel):
    connectorType: ConnectorType = ""
    config: Any = None
    collection: CollectionSpec = Field(default_factory=CollectionSpec)
    transforms: list[Transform] = Field(default_factory=list)
    shuffleKeyTypes: list[str] = Field(default_factory=list)
    projectRoot: str = ""
    importMap: dict[str, str] = Field(default_factory=dict)
    lastCollection: CollectionSpec | None = None
    lastVersion: str = ""


class Open(WireModel):
    collection: CollectionSpec = Field(default_factory=CollectionSpec)
    version: str = ""
    range: RangeSpec = Field(default_factory=RangeSpec)
    state: Any = None

    @model_validator(mode="after")
    def _names_its_task(self) -> Open:
        if not self.collection.name:
            raise ValueError(
                "`open` carries no collection spec with a name; the runtime always sends the task's spec"
            )
        return self


class Shuffle(WireModel):
    key: list[Any] = Field(default_factory=list)
    packed: str = ""
    hash: int = 0


class Read(WireModel):
    transform: int = 0
    uuid: UUIDParts | None = None
    shuffle: Shuffle | None = None
    doc: Any = None


class Flush(WireModel):
    pass


class StartCommit(WireModel):
    runtimeCheckpoint: Any = None


class Reset(WireModel):
    pass


class Request(Envelope):
    variants: ClassVar[tuple[str, ...]] = (
        "spec",
        "validate",
        "open",
        "read",
        "flush",
        "startCommit",
        "reset",
    )
    spec: SpecRequest | None = None
    # `validate` is a (deprecated) BaseModel method; read it as `validate_` or `["validate"]`.
    validate_: Validate | None = Field(default=None, alias="validate")
    open: Open | None = None
    read: Read | None = None
    flush: Flush | None = None
    startCommit: StartCommit | None = None
    reset: Reset | None = None


# ---- responses ----


class ValidatedTransform(ResponseModel):
    readOnly: bool = False


class Validated(ResponseModel):
    transforms: list[ValidatedTransform] = Field(default_factory=list)
    generatedFiles: dict[str, str] = Field(default_factory=dict)


class Opened(ResponseModel):
    runtimeCheckpoint: Any = None


class Published(ResponseModel):
    doc: Any = None


class Flushed(ResponseModel):
    state: ConnectorState | None = None


class StartedCommit(ResponseModel):
    state: ConnectorState | None = None


class Response(StrictEnvelope):
    variants: ClassVar[tuple[str, ...]] = (
        "spec",
        "validated",
        "opened",
        "published",
        "flushed",
        "startedCommit",
    )
    spec: Spec | None = None
    validated: Validated | None = None
    opened: Opened | None = None
    published: Published | None = None
    flushed: Flushed | None = None
    startedCommit: StartedCommit | None = None
