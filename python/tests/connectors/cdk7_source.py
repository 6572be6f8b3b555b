"""A real airbyte-cdk 7 source for the shim's tests (AbstractSource + streams).

Streams:
- `users`: incremental (IncrementalMixin), key `id`, cursor `updated_at`, state every
  `config.every` records; resumes after the cursor in its state.
- `events`: full refresh, no primary key.
- `orders` (namespace `shop`): incremental, key path [["order", "id"]].

Config knobs: `count` records per stream, `every`, `api_key` (airbyte_secret), `fail_after`
(the `users` stream raises after that many records), `log_secret` (log the api key),
`control` (emit a CONNECTOR_CONFIG control message), `sleep` (seconds per record).

Run it as a connector: `python cdk7_source.py spec|check|discover|read ...`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import ConnectorSpecification, SyncMode
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import IncrementalMixin, Stream

SPEC = {
    "type": "object",
    "required": ["count"],
    "properties": {
        "count": {"type": "integer"},
        "every": {"type": "integer"},
        "api_key": {"type": "string", "airbyte_secret": True},
        "auth": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"token": {"type": "string", "airbyte_secret": True}},
                },
                {"type": "object", "properties": {"user": {"type": "string"}}},
            ]
        },
        "fail_after": {"type": "integer"},
        "fail_check": {"type": "boolean"},
        "log_secret": {"type": "boolean"},
        "control": {"type": "boolean"},
        "sleep": {"type": "number"},
    },
}


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
    ) -> Iterable[Mapping[str, Any]]:
        log = logging.getLogger("airbyte")
        if self.config.get("log_secret"):
            log.info("connecting with key %s", self.config.get("api_key"))
        start = self._cursor if sync_mode == SyncMode.incremental else 0
        for n in range(start + 1, self.config["count"] + 1):
            if (fail := self.config.get("fail_after")) is not None and n > fail:
                raise RuntimeError(f"users API broke at record {n}")
            if pause := self.config.get("sleep"):
                time.sleep(pause)
            self._cursor = n
            yield {"id": n, "updated_at": n, "name": f"user {n}"}


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


class Orders(Stream, IncrementalMixin):
    primary_key = [["order", "id"]]
    cursor_field = "seq"
    namespace = "shop"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._seq = 0

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {"seq": self._seq}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._seq = (value or {}).get("seq", 0)

    def get_json_schema(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {
                "order": {"type": "object", "properties": {"id": {"type": "integer"}}},
                "seq": {"type": "integer"},
            },
        }

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Any = None,
        stream_slice: Any = None,
        stream_state: Any = None,
    ) -> Iterable[Mapping[str, Any]]:
        for n in range(self._seq + 1, self.config["count"] + 1):
            self._seq = n
            yield {"order": {"id": n}, "seq": n}


class TestSource(AbstractSource):
    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(
            documentationUrl="https://example.com/cdk7-source",
            connectionSpecification=SPEC,
        )

    def check_connection(
        self, logger: logging.Logger, config: Mapping[str, Any]
    ) -> tuple[bool, Any]:
        if config.get("fail_check"):
            return False, "the API key was refused"
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        if config.get("control"):
            import orjson
            from airbyte_cdk.config_observation import create_connector_config_control_message
            from airbyte_cdk.models import AirbyteMessageSerializer

            new = dict(config, api_key="rotated-key-12345")
            msg = create_connector_config_control_message(new)
            print(orjson.dumps(AirbyteMessageSerializer.dump(msg)).decode(), flush=True)
        return [Users(config), Events(config), Orders(config)]


if __name__ == "__main__":
    from airbyte_cdk.entrypoint import launch

    launch(TestSource(), sys.argv[1:])
