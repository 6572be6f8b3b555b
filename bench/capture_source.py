"""The synthetic incremental Airbyte source of the capture-shim benchmarks.

`streams` incremental streams (IncrementalMixin, key `id`, cursor `seq`) share `records`
records, with a STATE every `every` records. Plain AbstractSource, so the same file runs on
airbyte-cdk 7 and on the 0.52 that flow-sdk 0.1.9 needs. As a program it is the connector
itself (`python capture_source.py read --config ... --catalog ...`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import IncrementalMixin, Stream

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


class Items(Stream, IncrementalMixin):
    primary_key = "id"
    cursor_field = "seq"

    def __init__(self, name: str, count: int, every: int) -> None:
        self._name = name
        self.count = count
        self.every = every
        self._seq = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def state_checkpoint_interval(self) -> int:
        return self.every

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {"seq": self._seq}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._seq = (value or {}).get("seq", 0)

    def get_json_schema(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "seq": {"type": "integer"}},
        }

    def read_records(
        self,
        sync_mode: Any,
        cursor_field: Any = None,
        stream_slice: Any = None,
        stream_state: Any = None,
    ) -> Iterable[Mapping[str, Any]]:
        for n in range(self._seq + 1, self.count + 1):
            self._seq = n
            yield {
                "id": n,
                "seq": n,
                "name": f"{WORDS[n % 8]} {n}",
                "score": n * 0.5,
                "active": n % 3 == 0,
                "tags": [WORDS[n % 5], WORDS[n % 7]],
                "address": {"city": WORDS[n % 6], "zip": f"{n % 100000:05d}"},
            }


class BenchSource(AbstractSource):
    def spec(self, logger: Any) -> ConnectorSpecification:
        return ConnectorSpecification(
            connectionSpecification={
                "type": "object",
                "properties": {"records": {"type": "integer"}},
            },
        )

    def check_connection(self, logger: Any, config: Mapping[str, Any]) -> tuple[bool, Any]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        streams = config.get("streams", 2)
        per_stream = config.get("records", 200_000) // streams
        return [Items(f"items{i}", per_stream, config.get("every", 1000)) for i in range(streams)]


def configured_catalog(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {
                    "name": f"items{i}",
                    "json_schema": {},
                    "supported_sync_modes": ["incremental"],
                },
                "sync_mode": "incremental",
                "destination_sync_mode": "append",
                "cursor_field": ["seq"],
            }
            for i in range(config.get("streams", 2))
        ]
    }


if __name__ == "__main__":
    from airbyte_cdk.entrypoint import launch

    launch(BenchSource(), sys.argv[1:])
