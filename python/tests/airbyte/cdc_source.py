"""A real airbyte-cdk 7 source shaped like Airbyte's CDC database sources: one incremental
stream `customers` (key `id`, cursor `_ab_cdc_lsn`) whose schema declares
`_ab_cdc_deleted_at`, set on the change events of deleted rows.

The change log is a JSON-lines file (`config.path`), one change event per line, as a
database's log would hand them out; the cursor is the line number.

Run it as `python cdc_source.py spec|check|discover|read ...` (an Airbyte connector) or
`python cdc_source.py --flow` (in process behind the `CaptureShim`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import ConnectorSpecification, SyncMode
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import IncrementalMixin, Stream

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["null", "string"]},
        "_ab_cdc_lsn": {"type": "integer"},
        "_ab_cdc_updated_at": {"type": "string", "format": "date-time"},
        "_ab_cdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
    },
}


class Customers(Stream, IncrementalMixin):
    primary_key = "id"
    cursor_field = "_ab_cdc_lsn"

    def __init__(self, path: str) -> None:
        self.path = path
        self._lsn = 0

    @property
    def state(self) -> MutableMapping[str, Any]:
        return {"_ab_cdc_lsn": self._lsn}

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        self._lsn = int(value.get("_ab_cdc_lsn", 0))

    def get_json_schema(self) -> Mapping[str, Any]:
        return SCHEMA

    def read_records(
        self, sync_mode: SyncMode, stream_state: Mapping[str, Any] | None = None, **_: Any
    ) -> Iterable[Mapping[str, Any]]:
        with open(self.path) as lines:
            for lsn, line in enumerate(lines, start=1):
                if lsn <= self._lsn and sync_mode == SyncMode.incremental:
                    continue
                event = json.loads(line)
                yield {**event, "_ab_cdc_lsn": lsn, "_ab_cdc_updated_at": "2026-11-30T00:00:00Z"}
                self._lsn = lsn


class CdcSource(AbstractSource):
    def spec(self, logger: Any) -> ConnectorSpecification:
        return ConnectorSpecification(
            connectionSpecification={
                "type": "object",
                "required": ["path"],
                "properties": {"path": {"type": "string"}},
            }
        )

    def check_connection(self, logger: Any, config: Mapping[str, Any]) -> tuple[bool, Any]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        return [Customers(config["path"])]


if __name__ == "__main__":
    if sys.argv[1:] == ["--flow"]:
        from flow_sdk.shim_airbyte_cdk import CaptureShim

        CaptureShim(delegate=CdcSource()).main()
    else:
        from airbyte_cdk.entrypoint import launch

        launch(CdcSource(), sys.argv[1:])
