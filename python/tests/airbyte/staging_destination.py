"""An airbyte-cdk 7 destination over SQLite that finalizes as Airbyte's bulk-load CDK does
(direct-load tables), for the materialize shim's tests:

- `append`: records go straight into the stream's table;
- `append_dedup`: records go into `<table>__temp`; at the end of `write()`, a stream that got
  TRACE STREAM_STATUS COMPLETE has its temp rows merged into the table by primary key (the
  last record of a key wins; one with `_ab_cdc_deleted_at` set deletes the row);
- `overwrite`: records go into `<table>__temp`, emptied when the write starts; at the end of
  `write()`, a stream that got COMPLETE has its temp table replace the table.

A stream without COMPLETE keeps its temp rows, invisible, for a later write to finalize.
Every STATE (STREAM or GLOBAL) is echoed once the records before it are committed to their
(temp) tables, with `destinationStats.recordCount`. Table `_log` lists what the destination
saw, in order: `STARTED users`, `STATE STREAM users`, `COMPLETE users`, `FINALIZED users`,
`END`; table `_writes` the mode, `generation_id` and `minimum_generation_id` of each stream
per write.
Run it as a connector (`python staging_destination.py spec|check|write ...`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from airbyte_cdk.destinations import Destination
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateStats,
    AirbyteStateType,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    DestinationSyncMode,
    Status,
    TraceType,
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


def label(stream: StreamId) -> str:
    name, namespace = stream
    return f"{namespace}.{name}" if namespace else name


class StagingDestination(Destination):
    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return ConnectorSpecification(
            connectionSpecification=SPEC,
            supported_destination_sync_modes=[
                DestinationSyncMode.append,
                DestinationSyncMode.append_dedup,
                DestinationSyncMode.overwrite,
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
        db.execute("CREATE TABLE IF NOT EXISTS _log (n INTEGER PRIMARY KEY, event TEXT)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS _writes (n INTEGER PRIMARY KEY, stream TEXT, mode TEXT, "
            "generation INTEGER, minimum INTEGER)"
        )
        modes: dict[StreamId, str] = {}
        keys: dict[StreamId, list[list[str]]] = {}
        for configured in configured_catalog.streams:
            stream = (configured.stream.name, configured.stream.namespace)
            mode = configured.destination_sync_mode.value
            modes[stream], keys[stream] = mode, configured.primary_key or []
            table = table_name(stream)
            db.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" (id INTEGER PRIMARY KEY, pk TEXT, data TEXT)'
            )
            db.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}__temp" (id INTEGER PRIMARY KEY, pk TEXT, data TEXT)'
            )
            if mode == "overwrite":
                db.execute(f'DELETE FROM "{table}__temp"')
            db.execute(
                "INSERT INTO _writes (stream, mode, generation, minimum) VALUES (?, ?, ?, ?)",
                [label(stream), mode, configured.generation_id, configured.minimum_generation_id],
            )
        complete: set[StreamId] = set()
        buffered: list[tuple[StreamId, str, str]] = []
        since_state: dict[StreamId, int] = {}
        for message in input_messages:
            if message.type == Type.RECORD:
                record = message.record
                stream = (record.stream, record.namespace)
                pk = json.dumps([_at(record.data, path) for path in keys.get(stream, [])])
                buffered.append((stream, pk, json.dumps(record.data)))
                since_state[stream] = since_state.get(stream, 0) + 1
            elif message.type == Type.STATE:
                _store(db, modes, buffered)
                state = message.state
                if state.type == AirbyteStateType.STREAM:
                    d = state.stream.stream_descriptor
                    count = since_state.pop((d.name, d.namespace), 0)
                    _log(db, f"STATE STREAM {label((d.name, d.namespace))}")
                else:
                    count = sum(since_state.values())
                    since_state.clear()
                    _log(db, f"STATE {state.type.value}")
                state.destinationStats = AirbyteStateStats(recordCount=float(count))
                yield message
            elif message.type == Type.TRACE and message.trace.type == TraceType.STREAM_STATUS:
                status = message.trace.stream_status
                d = status.stream_descriptor
                stream = (d.name, d.namespace)
                _log(db, f"{status.status.value} {label(stream)}")
                if status.status == AirbyteStreamStatus.COMPLETE:
                    complete.add(stream)
        _store(db, modes, buffered)
        for stream in modes:
            if stream in complete:
                _finalize(db, stream, modes[stream])
        _log(db, "END")


def _at(data: Any, path: list[str]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _log(db: sqlite3.Connection, event: str) -> None:
    db.execute("INSERT INTO _log (event) VALUES (?)", [event])


def _store(
    db: sqlite3.Connection, modes: dict[StreamId, str], buffered: list[tuple[StreamId, str, str]]
) -> None:
    db.execute("BEGIN")
    for stream, pk, data in buffered:
        table = table_name(stream) + ("" if modes[stream] == "append" else "__temp")
        db.execute(f'INSERT INTO "{table}" (pk, data) VALUES (?, ?)', [pk, data])
    db.execute("COMMIT")
    buffered.clear()


def _finalize(db: sqlite3.Connection, stream: StreamId, mode: str) -> None:
    table = table_name(stream)
    db.execute("BEGIN")
    if mode == "overwrite":
        db.execute(f'DELETE FROM "{table}"')
        db.execute(
            f'INSERT INTO "{table}" (pk, data) SELECT pk, data FROM "{table}__temp" ORDER BY id'
        )
    elif mode == "append_dedup":
        for pk, data in db.execute(f'SELECT pk, data FROM "{table}__temp" ORDER BY id').fetchall():
            db.execute(f'DELETE FROM "{table}" WHERE pk = ?', [pk])
            if json.loads(data).get("_ab_cdc_deleted_at") is None:
                db.execute(f'INSERT INTO "{table}" (pk, data) VALUES (?, ?)', [pk, data])
    db.execute(f'DELETE FROM "{table}__temp"')
    _log(db, f"FINALIZED {label(stream)}")
    db.execute("COMMIT")


DESTINATION = StagingDestination

if __name__ == "__main__":
    StagingDestination().run(sys.argv[1:])
