"""A bucket in a local SQLite file (standard library): one table of text keys and values,
each transaction one SQLite transaction in WAL mode. A durable transaction commits with
`synchronous=FULL` (the write-ahead log synced, so it and every earlier one survive a power
loss); the others with `NORMAL` (no sync, which was ~40% of a 1,000-row transaction's time
here)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter

from destination_kvdb.bucket import Bucket, BucketError, Operation

SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"
UPSERT = "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
_KIND, _KEY_AND_VALUE = itemgetter(0), itemgetter(1, 2)
_KEY_ONLY = itemgetter(slice(1, 2))
"""An operation's parts, picked out in C: the hot path of a large transaction."""


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """Bounds [low, high) of the keys starting with `prefix` (UTF-8 order is code point order)."""
    if not prefix:
        return "", None
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


class LocalBucket(Bucket):
    def __init__(self, path: str) -> None:
        self.path = path
        self.description = f"local bucket {path}"
        directory = os.path.dirname(path) or "."
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise BucketError(
                f"cannot create the directory {directory} of the local bucket {path}: "
                f"{exc.strerror or exc}; choose another path in config.bucket.path",
                config_problem=True,
            ) from None
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout = 10000")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self._durable = True
            self.db.execute(SCHEMA)
        except sqlite3.Error as exc:
            raise BucketError(
                f"cannot write the local bucket {path}: {exc}; check that the file is a SQLite "
                "database (or absent) and that its directory is writable, or choose another "
                "path in config.bucket.path",
                config_problem=True,
            ) from None

    def transact(self, operations: Sequence[Operation], durable: bool = True) -> None:
        if not operations:
            return
        db = self.db
        try:
            if durable != self._durable:  # (set between transactions: it applies to commits)
                db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                self._durable = durable
            db.execute("BEGIN IMMEDIATE")
            try:
                for kind, run in groupby(operations, key=_KIND):
                    if kind == "set":
                        db.executemany(UPSERT, map(_KEY_AND_VALUE, run))
                    else:
                        db.executemany("DELETE FROM kv WHERE key = ?", map(_KEY_ONLY, run))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise BucketError(
                f"writing {len(operations)} operations to the local bucket {self.path} failed: "
                f"{exc}; check the disk and the file's permissions",
                config_problem=isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc),
            ) from None

    def _select(self, columns: str, prefix: str) -> list[tuple[str, ...]]:
        low, high = prefix_range(prefix)
        if high is None:
            query = f"SELECT {columns} FROM kv WHERE key >= ? ORDER BY key"
            return self.db.execute(query, (low,)).fetchall()
        query = f"SELECT {columns} FROM kv WHERE key >= ? AND key < ? ORDER BY key"
        return self.db.execute(query, (low, high)).fetchall()

    def keys(self, prefix: str) -> list[str]:
        return [row[0] for row in self._select("key", prefix)]

    def items(self, prefix: str) -> list[tuple[str, str]]:
        return [(row[0], row[1]) for row in self._select("key, value", prefix)]

    def close(self) -> None:
        self.db.close()
