"""An Airbyte destination written on airbyte-cdk 7 for the tests and the benchmark: SQLite
through the stdlib, one table per stream, honouring append, append_dedup (upsert on the
primary key) and overwrite, committing and echoing at each STATE like Airbyte's own Python
destinations; `destinationStats.recordCount` counts a STREAM state's stream since its
previous state, a GLOBAL state's records of every stream. Run it as a script (`write --config --catalog`) or use the class in process.

Config knobs make it misbehave on purpose: `echo: "at_end"` holds every state back until its
input ends; `fail_after: N` raises after N records; `count: "wrong"` reports a wrong
`destinationStats.recordCount`. `SQLITE_DEST_MODES` (comma-separated) limits the sync modes
its spec supports.
"""

from __future__ import annotations

import json
import logging
import os
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
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    DestinationSyncMode,
    Status,
    Type,
)

CONNECTION_SPEC = {
    "type": "object",
    "required": ["destination_path"],
    "properties": {
        "destination_path": {"type": "string", "description": "SQLite file to write"},
        "api_key": {"type": "string", "airbyte_secret": True},
        "echo": {"type": "string", "enum": ["immediate", "at_end"]},
        "fail_after": {"type": "integer"},
        "count": {"type": "string", "enum": ["right", "wrong", "none"]},
    },
}


def table_name(stream: str, namespace: str | None) -> str:
    return f"{namespace}__{stream}" if namespace else stream


class SqliteDestination(Destination):
    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        modes = os.environ.get("SQLITE_DEST_MODES", "append,append_dedup,overwrite").split(",")
        return ConnectorSpecification(
            documentationUrl="https://example.com/sqlite-destination",
            connectionSpecification=CONNECTION_SPEC,
            supported_destination_sync_modes=[DestinationSyncMode(m) for m in modes],
        )

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        path = config["destination_path"]
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            return AirbyteConnectionStatus(status=Status.FAILED, message=f"no directory for {path}")
        sqlite3.connect(path).execute("SELECT 1")
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def write(
        self,
        config: Mapping[str, Any],
        configured_catalog: ConfiguredAirbyteCatalog,
        input_messages: Iterable[AirbyteMessage],
    ) -> Iterable[AirbyteMessage]:
        logger = logging.getLogger("airbyte")
        db = sqlite3.connect(config["destination_path"], isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS _writes (n INTEGER PRIMARY KEY, stream TEXT, mode TEXT)"
        )
        streams: dict[tuple[str, str | None], tuple[str, Any, list[list[str]]]] = {}
        for configured in configured_catalog.streams:
            s = configured.stream
            table = table_name(s.name, s.namespace)
            mode = configured.destination_sync_mode
            streams[(s.name, s.namespace)] = (table, mode, configured.primary_key or [])
            db.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" (id INTEGER PRIMARY KEY, pk TEXT UNIQUE, data TEXT)'
            )
            if mode == DestinationSyncMode.overwrite:
                db.execute(f'DELETE FROM "{table}"')
            db.execute("INSERT INTO _writes (stream, mode) VALUES (?, ?)", [table, mode.value])
        fail_after = config.get("fail_after")
        held: list[AirbyteMessage] = []
        buffered: dict[str, list[tuple[str | None, str]]] = {}
        since_state: dict[tuple[str, str | None], int] = {}
        total = 0
        for message in input_messages:
            if message.type == Type.RECORD:
                record = message.record
                entry = streams.get((record.stream, record.namespace))
                if entry is None:
                    continue
                table, mode, pk = entry
                key = None
                if mode == DestinationSyncMode.append_dedup and pk:
                    key = json.dumps([_at(record.data, path) for path in pk])
                buffered.setdefault(table, []).append((key, json.dumps(record.data)))
                stream = (record.stream, record.namespace)
                since_state[stream] = since_state.get(stream, 0) + 1
                total += 1
                if fail_after is not None and total >= fail_after:
                    raise RuntimeError(f"disk full after {total} records")
            elif message.type == Type.STATE:
                _flush(db, buffered)
                state = message.state
                if state.type == AirbyteStateType.STREAM and state.stream is not None:
                    d = state.stream.stream_descriptor
                    count = since_state.pop((d.name, d.namespace), 0)
                else:
                    count = sum(since_state.values())
                    since_state.clear()
                if config.get("count", "right") != "none":
                    wrong = config.get("count") == "wrong"
                    state.destinationStats = AirbyteStateStats(recordCount=float(count + wrong))
                if config.get("echo") == "at_end":
                    held.append(message)
                else:
                    yield message
        _flush(db, buffered)
        logger.info("write finished after %d records", total)
        yield from held


def _at(data: Any, path: list[str]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _flush(db: sqlite3.Connection, buffered: dict[str, list[tuple[str | None, str]]]) -> None:
    db.execute("BEGIN")
    for table, rows in buffered.items():
        db.executemany(
            f'INSERT INTO "{table}" (pk, data) VALUES (?, ?) '
            "ON CONFLICT(pk) DO UPDATE SET data = excluded.data",
            rows,
        )
    db.execute("COMMIT")
    buffered.clear()


if __name__ == "__main__":
    SqliteDestination().run(sys.argv[1:])
