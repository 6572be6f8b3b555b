"""A real airbyte-cdk 7 source whose API refuses connections, for the failure-message tests.

Streams: `good` (3 records, no API) and `events` (calls `config.url`, which refuses, after
`config.delay` seconds). With
`config.check` the connection check calls the URL too. Nothing here is mocked: the
connection is refused by the operating system (a closed loopback port).

Run it as `python refused_source.py spec|check|discover|read ...` (an Airbyte connector) or
`python refused_source.py --flow` (in process behind the `CaptureShim`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

import requests
from airbyte_cdk.models import ConnectorSpecification, SyncMode
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}}}


class Good(Stream):
    primary_key = "id"

    def get_json_schema(self) -> Mapping[str, Any]:
        return SCHEMA

    def read_records(self, sync_mode: SyncMode, **_: Any) -> Iterable[Mapping[str, Any]]:
        yield from ({"id": i} for i in range(1, 4))


class Events(Stream):
    primary_key = "id"

    def __init__(self, url: str, delay: float) -> None:
        self.url, self.delay = url, delay

    def get_json_schema(self) -> Mapping[str, Any]:
        return SCHEMA

    def read_records(self, sync_mode: SyncMode, **_: Any) -> Iterable[Mapping[str, Any]]:
        time.sleep(self.delay)  # a real API call takes a while: `good`'s checkpoint commits
        yield from requests.get(f"{self.url}/events", timeout=10).json()


class RefusedSource(AbstractSource):
    def spec(self, logger: Any) -> ConnectorSpecification:
        properties = {
            "url": {"type": "string"},
            "check": {"type": "boolean"},
            "delay": {"type": "number"},
        }
        return ConnectorSpecification(
            connectionSpecification={"type": "object", "properties": properties}
        )

    def check_connection(self, logger: Any, config: Mapping[str, Any]) -> tuple[bool, Any]:
        if config.get("check"):
            requests.get(config["url"], timeout=10)
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        return [Good(), Events(config["url"], float(config.get("delay", 0)))]


if __name__ == "__main__":
    if sys.argv[1:] == ["--flow"]:
        from flow_sdk.shim_airbyte_cdk import CaptureShim

        CaptureShim(delegate=RefusedSource()).main()
    else:
        from airbyte_cdk.entrypoint import launch

        launch(RefusedSource(), sys.argv[1:])
