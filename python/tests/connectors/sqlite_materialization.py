"""A small native materialization used by the tests: keeps each binding's documents in a
SQLite table keyed by the packed key, loads them back, and commits at `startCommit`.

It also records every hook call in a `calls` table, so tests can check the order the base
class delivered requests in. `config.misbehave` makes it break the protocol on purpose."""

from __future__ import annotations

import json
import sqlite3
import time

from flow_sdk.materialize import Connector, ValidateError, request, response
from flow_sdk.protocol.flow import Spec, SpecRequest

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string"}, "misbehave": {"type": "string"}},
    "required": ["path"],
}
RESOURCE_SCHEMA = {
    "type": "object",
    "properties": {
        "table": {"type": "string", "x-collection-name": True},
        "delta": {"type": "boolean", "x-delta-updates": True},
    },
    "required": ["table"],
}


class SqliteMaterialization(Connector):
    db: sqlite3.Connection

    def spec(self, spec: SpecRequest) -> Spec:
        return Spec(
            configSchema=CONFIG_SCHEMA,
            resourceConfigSchema=RESOURCE_SCHEMA,
            documentationUrl="https://example.com/sqlite-materialization",
        )

    def validate(self, validate: request.Validate) -> dict:
        if not validate.config.get("path"):
            raise ValidateError("config.path must name the SQLite file to write")
        bindings = []
        for b in validate.bindings:
            constraints = {
                p.field: {
                    "type": "LOCATION_REQUIRED" if p.isPrimaryKey or not p.ptr else "FIELD_OPTIONAL"
                }
                for p in b.collection.projections
            }
            bindings.append(
                {
                    "constraints": constraints,
                    "resourcePath": [b.resourceConfig["table"]],
                    "deltaUpdates": bool(b.resourceConfig.get("delta")),
                }
            )
        return {"bindings": bindings}

    def open(self, open: request.Open) -> response.Opened:
        self.spec_ = open.materialization
        self.config = open.materialization.config
        self.db = sqlite3.connect(self.config["path"], isolation_level=None)
        self.calls = sqlite3.connect(self.config["path"] + ".calls", isolation_level=None)
        self.calls.execute(
            "CREATE TABLE IF NOT EXISTS calls (n INTEGER PRIMARY KEY, call TEXT, at REAL)"
        )
        for b in self.spec_.bindings:
            self.db.execute(
                f'CREATE TABLE IF NOT EXISTS "{b.resourcePath[0]}" (key TEXT PRIMARY KEY, doc TEXT, n INTEGER)'
            )
        self.db.execute("BEGIN")
        self._call("open", state=open.state)
        return response.Opened()

    def acknowledge(self, acknowledge: request.Acknowledge) -> dict | None:
        self._call("acknowledge")
        if self.config.get("misbehave") == "ack-state":
            return {"state": {"updated": {"acked": True}, "mergePatch": True}}
        return None

    def load(self, load: request.Load) -> object:
        self._call("load", key=load.key)
        table = self.spec_.bindings[load.binding].resourcePath[0]
        row = self.db.execute(
            f'SELECT doc FROM "{table}" WHERE key = ?', [json.dumps(load.key)]
        ).fetchone()
        return json.loads(row[0]) if row else None

    def backfill_begin(self, binding: int, truncated_at: str) -> None:
        self._call("backfillBegin", binding=binding, truncatedAt=truncated_at)

    def backfill_complete(self, binding: int, truncated_at: str) -> None:
        self._call("backfillComplete", binding=binding, truncatedAt=truncated_at)

    def flush(self, flush: request.Flush) -> None:
        self._call("flush")
        if self.config.get("misbehave") == "loaded-in-flush":
            self.loaded(0, {"from": "flush"})

    def store(self, store: request.Store) -> None:
        self._call("store", key=store.key, values=store.values, exists=store.exists)
        if self.config.get("misbehave") == "loaded-in-store":
            self.loaded(0, {"oops": True})
        table = self.spec_.bindings[store.binding].resourcePath[0]
        doc = store.doc if store.doc is not None else {"values": store.values}
        self.db.execute(
            f'INSERT INTO "{table}" (key, doc, n) VALUES (?, ?, 1) '
            "ON CONFLICT(key) DO UPDATE SET doc = excluded.doc, n = n + 1",
            [json.dumps(store.key), json.dumps(doc)],
        )

    def start_commit(self, start_commit: request.StartCommit) -> response.StartedCommit:
        self._call("startCommit")
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")
        return response.StartedCommit(state={"updated": {"commits": 1}, "mergePatch": True})

    def _call(self, name: str, **fields: object) -> None:
        self.calls.execute(
            "INSERT INTO calls (call, at) VALUES (?, ?)", [json.dumps([name, fields]), time.time()]
        )


if __name__ == "__main__":
    SqliteMaterialization().main()
