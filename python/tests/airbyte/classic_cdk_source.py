"""A small Airbyte source on the pydantic-model airbyte-cdk generations (0.x with pydantic v1,
2.x–4.x with pydantic v2): the same code runs on both, as real connectors of those years do.

Streams:
- `users`: incremental (IncrementalMixin), key `id`, cursor `updated_at`, a STREAM state every
  `config.every` records; resumes after the cursor in its state. Its state also holds a
  null (`since`), which it reads back strictly, as sources do: a shim that drops nulls from
  state blobs breaks the resume.
- `events`: full refresh, no primary key.

`config.state_kind` picks how `users` checkpoints: `stream` (the CDK's own AbstractSource read),
or `global` / `legacy`, where this source's own `read` writes GLOBAL (cursor in the shared
state and in the stream state) or LEGACY (`data`) state messages as model objects.

Run it as:
- `python classic_cdk_source.py spec|check|discover|read ...`: the CDK's entrypoint, an
  Airbyte connector (CDK 0.x–4.x entrypoints write a GLOBAL state's key as `global_`);
- `python classic_cdk_source.py --flow`: in process behind the `CaptureShim` of the flow-sdk
  installed beside it: flow-sdk 0.2 (pydantic v2, so CDK 2.x–4.x) or flow-sdk 0.1.9 (CDK 0.x).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteGlobalState,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    ConnectorSpecification,
    StreamDescriptor,
    SyncMode,
    Type,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import IncrementalMixin, Stream

SPEC = {
    "type": "object",
    "required": ["count"],
    "properties": {
        "count": {"type": "integer"},
        "every": {"type": "integer"},
        "api_key": {"type": "string", "airbyte_secret": True},
        "state_kind": {"type": "string", "enum": ["stream", "global", "legacy"]},
    },
}


def user(n: int) -> dict[str, Any]:
    return {"id": n, "updated_at": n, "name": f"user {n}"}


class Users(Stream, IncrementalMixin):
    primary_key = "id"
    cursor_field = "updated_at"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._cursor = 0

    @property
    def state_checkpoint_interval(self) -> int:
        return self.config.get("every", 10)

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {"updated_at": self._cursor, "since": None}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor = value["updated_at"] if value else 0
        if value and value["since"] is not None:
            raise ValueError(f"state with a `since` this source never wrote: {value!r}")

    def get_json_schema(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "updated_at": {"type": "integer"},
                "name": {"type": "string"},
            },
        }

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Any = None,
        stream_slice: Any = None,
        stream_state: Any = None,
    ) -> Iterable[Mapping[str, Any]]:
        start = self._cursor if sync_mode == SyncMode.incremental else 0
        for n in range(start + 1, self.config["count"] + 1):
            self._cursor = n
            yield user(n)


class Events(Stream):
    primary_key = None

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def get_json_schema(self) -> Mapping[str, Any]:
        return {"type": "object", "properties": {"kind": {"type": "string"}}}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Any = None,
        stream_slice: Any = None,
        stream_state: Any = None,
    ) -> Iterable[Mapping[str, Any]]:
        for n in range(self.config["count"]):
            yield {"kind": f"event {n}"}


class ClassicSource(AbstractSource):
    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(
            documentationUrl="https://example.com/classic-cdk-source",
            connectionSpecification=SPEC,
        )

    def check_connection(
        self, logger: logging.Logger, config: Mapping[str, Any]
    ) -> tuple[bool, Any]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        return [Users(config), Events(config)]

    def read(
        self, logger: logging.Logger, config: Mapping[str, Any], catalog: Any, state: Any = None
    ) -> Iterator[AirbyteMessage]:
        kind = config.get("state_kind", "stream")
        if kind == "stream":
            yield from super().read(logger, config, catalog, state)
            return
        wanted = {s.stream.name for s in catalog.streams}
        if "users" in wanted:
            yield from self._users_with_own_state(config, kind, _cursor_in(state, kind))

    def _users_with_own_state(
        self, config: Mapping[str, Any], kind: str, cursor: int
    ) -> Iterator[AirbyteMessage]:
        every = config.get("every", 10)
        for n in range(cursor + 1, config["count"] + 1):
            record = AirbyteRecordMessage(
                stream="users", data=user(n), emitted_at=int(time.time() * 1000)
            )
            yield AirbyteMessage(type=Type.RECORD, record=record)
            if n % every == 0 or n == config["count"]:
                yield AirbyteMessage(type=Type.STATE, state=_state_message(kind, n))


def _state_message(kind: str, cursor: int) -> AirbyteStateMessage:
    if kind == "legacy":
        return AirbyteStateMessage(type=AirbyteStateType.LEGACY, data={"users": {"cursor": cursor}})
    stream = AirbyteStreamState(
        stream_descriptor=StreamDescriptor(name="users"),
        stream_state=AirbyteStateBlob(updated_at=cursor, since=None),
    )
    shared = {"cursor": cursor, "source": "classic", "lsn": None}
    return AirbyteStateMessage(
        type=AirbyteStateType.GLOBAL,
        global_=AirbyteGlobalState(shared_state=shared, stream_states=[stream]),
    )


def _cursor_in(state: Any, kind: str) -> int:
    """The `users` cursor of the input state: GLOBAL messages keep it in `shared_state`,
    LEGACY ones in `data` (the CDK hands legacy state as a list of one LEGACY message, or
    as the bare dict on 0.x)."""
    for message in state or []:
        if kind == "global" and message.global_ is not None:
            shared = _plain(message.global_.shared_state)
            assert shared["lsn"] is None, shared  # a null it wrote, read back strictly
            return int(shared["cursor"])
        if kind == "legacy" and message.data is not None:
            return int(message.data.get("users", {}).get("cursor", 0))
    if kind == "legacy" and isinstance(state, Mapping):
        return int(state.get("users", {}).get("cursor", 0))
    return 0


def _plain(blob: Any) -> dict[str, Any]:
    if blob is None:
        return {}
    if hasattr(blob, "model_dump"):
        return blob.model_dump()
    if hasattr(blob, "dict"):
        return blob.dict()
    return dict(blob)


if __name__ == "__main__":
    if sys.argv[1:] == ["--flow"]:
        # flow-sdk 0.1.x's name, which 0.2 keeps: the same script runs under either.
        from flow_sdk.shim_airbyte_cdk import CaptureShim

        CaptureShim(delegate=ClassicSource(), oauth2=None).main()
    else:
        from airbyte_cdk.entrypoint import launch

        launch(ClassicSource(), sys.argv[1:])
