"""A real airbyte-cdk 7 source with one stream name in two namespaces, and a keyless
incremental stream, for the shim's namespace and append-log tests.

Streams:
- `users` in namespace `tenant_a` and `users` in namespace `tenant_b`: incremental
  (IncrementalMixin), key `id`, cursor `updated_at`, a state every `config.every` records.
  airbyte-cdk writes records without a namespace; with `config.namespaced_records` the
  stream writes its records as RECORD messages that carry it (as non-CDK sources do).
- `files`: incremental with cursor `modified` and no primary key, full refresh too, as the
  file-based sources (S3, GCS, SFTP) declare their streams; `config.files` records.

airbyte-cdk's `AbstractSource.read` finds a configured stream's instance by name alone, so
two streams named `users` would both read one of them; `read` here reads each configured
stream on its own, as a source with namespaced streams has to.

Run it as `python tenant_source.py spec|check|discover|read ...` (an Airbyte connector) or
`python tenant_source.py --flow` (in process behind the `CaptureShim`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteRecordMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
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
        "files": {"type": "integer"},
        "every": {"type": "integer"},
        "namespaced_records": {"type": "boolean"},
    },
}


class Users(Stream, IncrementalMixin):
    primary_key = "id"
    cursor_field = "updated_at"

    def __init__(self, tenant: str, config: Mapping[str, Any]) -> None:
        self.tenant = tenant
        self.config = config
        self._cursor = 0

    @property
    def name(self) -> str:
        return "users"

    @property
    def namespace(self) -> str:
        return self.tenant

    @property
    def state_checkpoint_interval(self) -> int:
        return self.config.get("every", 10)

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {"updated_at": self._cursor}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor = (value or {}).get("updated_at", 0)

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
    ) -> Iterable[Any]:
        for n in range(self._cursor + 1, self.config["count"] + 1):
            self._cursor = n
            data = {"id": n, "updated_at": n, "name": f"{self.tenant} user {n}"}
            if not self.config.get("namespaced_records"):
                yield data
                continue
            record = AirbyteRecordMessage(
                stream="users",
                namespace=self.tenant,
                data=data,
                emitted_at=int(time.time() * 1000),
            )
            yield AirbyteMessage(type=Type.RECORD, record=record)


class Files(Stream, IncrementalMixin):
    primary_key = None
    cursor_field = "modified"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._cursor = 0

    @property
    def state_checkpoint_interval(self) -> int:
        return self.config.get("every", 10)

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {"modified": self._cursor}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._cursor = (value or {}).get("modified", 0)

    def get_json_schema(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {"path": {"type": "string"}, "modified": {"type": "integer"}},
        }

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Any = None,
        stream_slice: Any = None,
        stream_state: Any = None,
    ) -> Iterable[Mapping[str, Any]]:
        start = self._cursor if sync_mode == SyncMode.incremental else 0
        for n in range(start + 1, self.config.get("files", 0) + 1):
            self._cursor = n
            yield {"path": f"in/{n}.csv", "modified": n}


class TenantSource(AbstractSource):
    only: tuple[str | None, str] | None = None
    """While `read` reads one configured stream: its (namespace, name)."""

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(
            documentationUrl="https://example.com/tenant-source",
            connectionSpecification=SPEC,
        )

    def check_connection(
        self, logger: logging.Logger, config: Mapping[str, Any]
    ) -> tuple[bool, Any]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        every: list[Stream] = [Users("tenant_a", config), Users("tenant_b", config), Files(config)]
        if self.only is None:
            return every
        return [s for s in every if (s.namespace, s.name) == self.only]

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Any = None,
    ) -> Iterator[AirbyteMessage]:
        for configured in catalog.streams:
            self.only = (configured.stream.namespace, configured.stream.name)
            try:
                one = ConfiguredAirbyteCatalog(streams=[configured])
                yield from super().read(logger, config, one, state)
            finally:
                self.only = None


if __name__ == "__main__":
    if sys.argv[1:] == ["--flow"]:
        from flow_sdk.airbyte import CaptureShim

        CaptureShim(delegate=TenantSource(), oauth2=None, usesSchemaInference=True).main()
    else:
        from airbyte_cdk.entrypoint import launch

        launch(TenantSource(), sys.argv[1:])
