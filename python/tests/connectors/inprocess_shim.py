"""The SQLite test destination run in process behind `MaterializeShim` (a connector script)."""

from __future__ import annotations

from sqlite_destination import SqliteDestination

from flow_sdk.airbyte.destination.materialize import MaterializeShim

if __name__ == "__main__":
    MaterializeShim(delegate=SqliteDestination()).main()
