"""An airbyte-cdk 7 destination over SQLite that confirms states as destinations built on
PyAirbyte's record processor do (pgvector and its family), for the materialize shim's tests.

Records are buffered per stream. A STREAM state writes its stream's buffered records
(upserted by primary key; a record with `_ab_cdc_deleted_at` deletes its row), commits and
is echoed with `destinationStats.recordCount` of that stream. A GLOBAL (or LEGACY) state is
filed under a key that is never finalized: it is not echoed, and `write()` still ends
cleanly. Table `_states` lists the states received (`STREAM users`, `STREAM raw.events`,
`GLOBAL`). Run it as a connector (`python stream_state_destination.py spec|check|write ...`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from airbyte_cdk.destinations import Destination
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateStats,
    AirbyteStateType,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    DestinationSyncMode,
    Status,
    Type,
)

SPEC = {
    "type": "object",
    "required": ["destination_path"],
    "properties": {"destination_path": {"type": "string"}},
}
StreamId = tuple[str, str | None]


def table_name(stream: StreamId) -> str:
    name, namespace = stream
    return f"{namespace}__{name}" if namespace else name


class StreamStateDestination(Destination):
    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(
            connectionSpecification=SPEC,
            supported_destination_sync_modes=[
                DestinationSyncMode.append,
                DestinationSyncMode.append_dedup,
            ],
        )

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        sqlite3.connect(config["destination_path"]).execute("SELECT 1")
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def write(
        self,
        config: Mapping[str, Any],
        configured_catalog: ConfiguredAirbyteCatalog,
        input_messages: Iterable[AirbyteMessage],
    ) -> Iterable[AirbyteMessage]:
        db = sqlite3.connect(config["destination_path"], isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS _states (n INTEGER PRIMARY KEY, state TEXT)")
        keys: dict[StreamId, list[list[str]]] = {}
        for configured in configured_catalog.streams:
            stream = (configured.stream.name, configured.stream.namespace)
            keys[stream] = configured.primary_key or []
            db.execute(
                f'CREATE TABLE IF NOT EXISTS "{table_name(stream)}" '
                "(id INTEGER PRIMARY KEY, pk TEXT UNIQUE, data TEXT)"
            )
        buffered: dict[StreamId, list[tuple[str, Any]]] = defaultdict(list)
        pending: dict[str, list[AirbyteMessage]] = defaultdict(list)
        for message in input_messages:
            if message.type == Type.RECORD:
                record = message.record
                stream = (record.stream, record.namespace)
                pk = json.dumps([_at(record.data, path) for path in keys.get(stream, [])])
                buffered[stream].append((pk, record.data))
            elif message.type == Type.STATE:
                state = message.state
                if state.type != AirbyteStateType.STREAM:
                    db.execute("INSERT INTO _states (state) VALUES (?)", [state.type.value])
                    pending[f"_{state.type.value}"].append(message)  # never finalized
                    continue
                d = state.stream.stream_descriptor
                stream = (d.name, d.namespace)
                label = f"{d.namespace}.{d.name}" if d.namespace else d.name
                db.execute("INSERT INTO _states (state) VALUES (?)", [f"STREAM {label}"])
                rows = buffered.pop(stream, [])
                _write(db, table_name(stream), rows)
                state.destinationStats = AirbyteStateStats(recordCount=float(len(rows)))
                yield message
        for stream, rows in buffered.items():
            _write(db, table_name(stream), rows)


def _at(data: Any, path: list[str]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _write(db: sqlite3.Connection, table: str, rows: list[tuple[str, Any]]) -> None:
    db.execute("BEGIN")
    for pk, data in rows:
        if data.get("_ab_cdc_deleted_at") is not None:
            db.execute(f'DELETE FROM "{table}" WHERE pk = ?', [pk])
        else:
            db.execute(
                f'INSERT INTO "{table}" (pk, data) VALUES (?, ?) '
                "ON CONFLICT(pk) DO UPDATE SET data = excluded.data",
                [pk, json.dumps(data)],
            )
    db.execute("COMMIT")


DESTINATION = StreamStateDestination

if __name__ == "__main__":
    StreamStateDestination().run(sys.argv[1:])
