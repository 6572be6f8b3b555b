"""The materialize shim drives Airbyte destinations as Airbyte's platform does: a STREAM state
per stream (with its namespace), STREAM_STATUS STARTED / COMPLETE around every `write()`,
bounded writes so that destinations finalizing at the end of a write (dedup merges,
overwrite swaps) make committed rows visible, an overwrite that spans the whole backfill,
and Flow deletions as `_ab_cdc_deleted_at`. Two airbyte-cdk 7 test destinations:
`stream_state_destination.py` (confirms only STREAM states, as PyAirbyte-based destinations
do) and `staging_destination.py` (finalizes only on COMPLETE at the end of `write()`, as the
bulk-load CDK does), each in process and as `flow-sdk airbyte-materialize -- ...`, over the
protocol and through `flow-sdk preview --fixture` and `flow-sdk run`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from flow_sdk.protocol.tuple_pack import pack_b64

HERE = Path(__file__).parents[1]
PYTHON = sys.executable
FLOW_SDK = str(Path(PYTHON).parent / "flow-sdk")
MODES = ["inprocess", "subprocess"]


def shim(mode: str, destination: str, *options: str) -> list[str]:
    """The shim around test destination `destination` (a module of this directory)."""
    if mode == "inprocess":
        return [PYTHON, str(HERE / "destination_main.py"), destination, *options]
    return [
        FLOW_SDK,
        "airbyte-materialize",
        *options,
        "--",
        PYTHON,
        str(HERE / f"{destination}.py"),
    ]


class Session:
    """A shim process driven one request at a time, as the runtime does."""

    def __init__(self, command: list[str]) -> None:
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.stderr: list[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.decode().rstrip())

    def send(self, *requests: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        for r in requests:
            self.proc.stdin.write(json.dumps(r).encode() + b"\n")
        self.proc.stdin.flush()

    def recv(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the shim closed stdout; stderr: {self.stderr[-3:]}"
        return json.loads(line)

    def open(self, db: Path, bindings: list[dict[str, Any]], state: Any = None) -> None:
        self.send(
            {
                "open": {
                    "materialization": {
                        "name": "acmeCo/sink",
                        "config": {"destination_path": str(db)},
                        "bindings": bindings,
                    },
                    "version": "v1",
                    "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
                    "state": state or {},
                }
            },
            {"acknowledge": {}},
        )
        assert self.recv() == {"opened": {}}
        assert self.recv() == {"acknowledged": {}}

    def transaction(self, *stores: dict[str, Any]) -> dict[str, Any]:
        """Flush, store, commit; returns the startedCommit (the acknowledge is sent later)."""
        self.send({"flush": {}})
        assert self.recv() == {"flushed": {}}
        self.send(*stores, {"startCommit": {"runtimeCheckpoint": {}}})
        return self.recv()

    def acknowledge(self) -> None:
        self.send({"acknowledge": {}})
        assert self.recv() == {"acknowledged": {}}

    def finish(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        rest = self.proc.stdout.read()
        code = self.proc.wait(timeout=120)
        self._drain.join(timeout=10)
        assert rest == b"", rest
        return code

    def last_error(self) -> str:
        line = json.loads(self.stderr[-1])
        assert line["level"] == "error", self.stderr[-4:]
        return line["msg"]


def binding(stream: str, namespace: str | None = None, *, backfill: int = 0) -> dict[str, Any]:
    path = [namespace, stream] if namespace else [stream]
    resource = {"stream": stream} | ({"namespace": namespace} if namespace else {})
    return {
        "resourceConfig": resource,
        "resourcePath": path,
        "collection": {
            "name": f"acmeCo/{stream}",
            "key": ["/id"],
            "writeSchema": {"type": "object", "properties": {"id": {"type": "integer"}}},
            "projections": [
                {"ptr": "/id", "field": "id", "isPrimaryKey": True},
                {"ptr": "", "field": "flow_document"},
            ],
        },
        "fieldSelection": {"keys": ["id"], "document": "flow_document"},
        "deltaUpdates": True,
        "backfill": backfill,
        "stateKey": "/".join(path) + (f".v{backfill}" if backfill else ""),
    }


def store(id_: int, name: str = "", index: int = 0, *, delete: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": id_, "name": name} if not delete else {"id": id_}
    out: dict[str, Any] = {"binding": index, "keyPacked": pack_b64([id_]), "doc": doc}
    if delete:
        out["delete"] = True
    return {"store": out}


def rows(db: Path, table: str = "users") -> list[tuple[int, str]]:
    """(id, name) of the table's rows, by id; deleted-row records show their marker."""
    with sqlite3.connect(db) as con:
        docs = [json.loads(d) for (d,) in con.execute(f'SELECT data FROM "{table}"')]
    return sorted((d["id"], d.get("name", "")) for d in docs)


def column(db: Path, query: str) -> list[Any]:
    with sqlite3.connect(db) as con:
        return [v for (v,) in con.execute(query)]


def eventually(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


USERS, EVENTS = binding("users"), binding("events", "raw")


# ---- (a) STREAM states ----


@pytest.mark.parametrize("mode", MODES)
def test_one_stream_state_per_stream_is_echoed_and_deletes_reach_the_destination(
    mode: str, tmp_path: Path
) -> None:
    db = tmp_path / "out.db"
    s = Session(shim(mode, "stream_state_destination"))
    s.open(db, [USERS, EVENTS])
    assert s.transaction(store(1, "a"), store(2, "b"), store(10, "e", 1)) == {"startedCommit": {}}
    # Confirmed through per-stream states only: the records are there before startedCommit.
    assert rows(db) == [(1, "a"), (2, "b")] and rows(db, "raw__events") == [(10, "e")]
    s.acknowledge()
    assert s.transaction(store(1, delete=True), store(2, "b2")) == {"startedCommit": {}}
    s.acknowledge()
    assert s.finish() == 0
    assert rows(db) == [(2, "b2")]  # the delete arrived with _ab_cdc_deleted_at set
    # Each transaction: a STREAM state for each stream that got records, namespace included.
    assert column(db, "SELECT state FROM _states ORDER BY n") == [
        "STREAM users",
        "STREAM raw.events",
        "STREAM users",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_a_global_state_that_is_never_echoed_is_never_acknowledged(
    mode: str, tmp_path: Path
) -> None:
    db = tmp_path / "out.db"
    options = ["--state-type", "global", "--echo-timeout", "1"]
    s = Session(shim(mode, "stream_state_destination", *options))
    s.open(db, [USERS])
    s.send({"flush": {}})
    assert s.recv() == {"flushed": {}}
    s.send(store(1, "a"), {"startCommit": {"runtimeCheckpoint": {}}})
    assert s.finish() == 1  # no startedCommit was written
    message = s.last_error()
    assert "finished its write() without echoing the GLOBAL state of transaction 1" in message
    assert "--state-type stream" in message
    assert column(db, "SELECT state FROM _states") == ["GLOBAL"]


def test_global_states_for_a_destination_that_confirms_them(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    s = Session(shim("subprocess", "staging_destination", "--state-type", "global"))
    s.open(db, [USERS, EVENTS])
    assert s.transaction(store(1, "a"), store(10, "e", 1)) == {"startedCommit": {}}
    s.acknowledge()
    assert s.finish() == 0
    assert "STATE GLOBAL" in column(db, "SELECT event FROM _log ORDER BY n")
    assert rows(db) == [(1, "a")] and rows(db, "raw__events") == [(10, "e")]


# ---- (b) stream statuses and bounded writes ----


@pytest.mark.parametrize("mode", MODES)
def test_a_bounded_write_completes_every_stream_and_its_dedup_rows_become_visible(
    mode: str, tmp_path: Path
) -> None:
    db = tmp_path / "out.db"
    s = Session(shim(mode, "staging_destination", "--write-transactions", "2"))
    s.open(db, [USERS, EVENTS])
    assert s.transaction(store(1, "a"), store(2, "b")) == {"startedCommit": {}}
    assert rows(db) == []  # committed to the temp table; the write is still open
    s.acknowledge()
    assert s.transaction(store(2, "b2"), store(3, "c")) == {"startedCommit": {}}
    # Two transactions end the write: COMPLETE for every stream, then the merge.
    assert rows(db) == [(1, "a"), (2, "b2"), (3, "c")]
    s.acknowledge()
    assert s.transaction(store(1, delete=True), store(11, "e", 1)) == {"startedCommit": {}}
    assert rows(db) == [(1, "a"), (2, "b2"), (3, "c")]  # a new write, open
    s.acknowledge()
    assert s.finish() == 0  # the session's end completes it
    assert rows(db) == [(2, "b2"), (3, "c")] and rows(db, "raw__events") == [(11, "e")]
    write = ["STARTED users", "STARTED raw.events"]
    end = ["COMPLETE users", "COMPLETE raw.events", "FINALIZED users", "FINALIZED raw.events"]
    assert column(db, "SELECT event FROM _log ORDER BY n") == [
        *write,
        "STATE STREAM users",
        "STATE STREAM users",
        *end,
        "END",
        *write,
        "STATE STREAM users",
        "STATE STREAM raw.events",
        *end,
        "END",
    ]
    assert column(db, "SELECT mode FROM _writes") == ["append_dedup"] * 4


def test_an_idle_write_ends_after_its_seconds(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    s = Session(shim("subprocess", "staging_destination", "--write-seconds", "15"))
    s.open(db, [USERS])
    assert s.transaction(store(1, "a")) == {"startedCommit": {}}
    s.acknowledge()
    assert rows(db) == []  # (the write started less than 15 s ago)
    # No transaction in flight: the timer ends the write and the row appears, session open.
    eventually(lambda: rows(db) == [(1, "a")])
    assert s.proc.poll() is None
    assert s.transaction(store(2, "b")) == {"startedCommit": {}}
    s.acknowledge()
    assert s.finish() == 0
    assert rows(db) == [(1, "a"), (2, "b")]
    assert column(db, "SELECT count(*) FROM _log WHERE event = 'END'") == [2]


@pytest.mark.parametrize("mode", MODES)
def test_an_overwrite_after_a_backfill_spans_the_backfill(mode: str, tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    options = ["--write-transactions", "1", "--write-seconds", "8"]
    s = Session(shim(mode, "staging_destination", *options))
    s.open(db, [binding("users")])
    s.transaction(store(1, "old"), store(2, "old"))
    s.acknowledge()
    assert s.finish() == 0
    assert rows(db) == [(1, "old"), (2, "old")]

    s = Session(shim(mode, "staging_destination", *options))
    s.open(db, [binding("users", backfill=1)])
    assert s.transaction(store(10, "new"), store(11, "new")) == {
        "startedCommit": {
            "state": {
                "updated": {"bindingStateV1": {"users.v1": {"overwritten": True}}},
                "mergePatch": True,
            }
        }
    }
    s.acknowledge()
    # The backfill's write is not bounded by transactions: the old table stays in place.
    assert rows(db) == [(1, "old"), (2, "old")]
    assert s.transaction(store(12, "new")) == {"startedCommit": {}}
    assert rows(db) == [(1, "old"), (2, "old")]
    s.acknowledge()
    # The runtime goes quiet: the backfill is stored, COMPLETE swaps the new table in.
    eventually(lambda: rows(db) == [(10, "new"), (11, "new"), (12, "new")])
    assert s.proc.poll() is None
    assert s.finish() == 0

    s = Session(shim(mode, "staging_destination", *options))
    s.open(
        db,
        [binding("users", backfill=1)],
        state={"bindingStateV1": {"users.v1": {"overwritten": True}}},
    )
    assert s.transaction(store(13, "new")) == {"startedCommit": {}}
    assert rows(db) == [(10, "new"), (11, "new"), (12, "new"), (13, "new")]
    s.acknowledge()
    assert s.finish() == 0
    assert column(db, "SELECT mode FROM _writes") == ["append_dedup", "overwrite", "append_dedup"]


# ---- through the local runtime ----

COLLECTION_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["id"],
    # Deletions as Estuary's CDC captures declare them.
    "if": {"properties": {"_meta": {"properties": {"op": {"const": "d"}}}}},
    "then": {"reduce": {"strategy": "merge", "delete": True}},
}


def write_catalog(tmp_path: Path, command: list[str], db: Path, **extra: Any) -> Path:
    catalog: dict[str, Any] = {
        "collections": {"acmeCo/users": {"schema": COLLECTION_SCHEMA, "key": ["/id"]}},
        "materializations": {
            "acmeCo/sink": {
                "endpoint": {
                    "local": {"command": command, "config": {"destination_path": str(db)}}
                },
                "bindings": [{"resource": {"stream": "users"}, "source": "acmeCo/users", **extra}],
            }
        },
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def flow_sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [FLOW_SDK, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize(
    ("mode", "destination"),
    [
        ("inprocess", "staging_destination"),
        ("subprocess", "staging_destination"),
        ("subprocess", "stream_state_destination"),
    ],
)
def test_preview_with_a_fixture_stores_and_deletes(
    mode: str, destination: str, tmp_path: Path
) -> None:
    db = tmp_path / "out.db"
    catalog = write_catalog(tmp_path, shim(mode, destination), db)
    fixture = [
        [["acmeCo/users", {"id": i, "name": n}] for i, n in ((1, "a"), (2, "b"), (3, "c"))],
        [
            ["acmeCo/users", {"id": 2, "_meta": {"op": "d"}}],
            ["acmeCo/users", {"id": 4, "name": "d"}],
        ],
    ]
    (tmp_path / "fixture.json").write_text(json.dumps(fixture))
    flow_sdk(
        "preview", "--source", str(catalog), "--name", "acmeCo/sink",
        "--fixture", str(tmp_path / "fixture.json"), cwd=tmp_path,
    )  # fmt: skip
    assert rows(db) == [(1, "a"), (3, "c"), (4, "d")]


@pytest.mark.parametrize("mode", MODES)
def test_run_then_a_backfill_leaves_only_the_backfilled_rows(mode: str, tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    docs = tmp_path / "users.jsonl"
    docs.write_text("".join(json.dumps({"id": i, "name": "v1"}) + "\n" for i in (1, 2, 3)))

    def run(**extra: Any) -> None:
        catalog = write_catalog(tmp_path, shim(mode, "staging_destination"), db, **extra)
        spec = yaml.safe_load(catalog.read_text())
        spec["captures"] = {
            "acmeCo/jsonl": {
                "endpoint": {
                    "local": {
                        "command": [PYTHON, str(HERE / "jsonl_capture.py")],
                        "config": {"path": str(docs)},
                    }
                },
                "bindings": [{"resource": {"stream": "users"}, "target": "acmeCo/users"}],
            }
        }
        catalog.write_text(yaml.safe_dump(spec))
        flow_sdk(
            "run", "--source", str(catalog), "--data-dir", str(tmp_path / "data"),
            "--transaction-documents", "2", cwd=tmp_path,
        )  # fmt: skip

    run()
    assert rows(db) == [(1, "v1"), (2, "v1"), (3, "v1")]
    with docs.open("a") as f:
        f.write(json.dumps({"id": 1, "_meta": {"op": "d"}}) + "\n")
        f.write(json.dumps({"id": 4, "name": "v1"}) + "\n")
    run()
    assert rows(db) == [(2, "v1"), (3, "v1"), (4, "v1")]
    with sqlite3.connect(db) as con:  # a row the collection never had
        con.execute("""INSERT INTO users (pk, data) VALUES ('[99]', '{"id": 99}')""")
    run(backfill=1)
    # The backfill re-read the whole collection in several transactions of one overwrite
    # write(); its COMPLETE replaced the table with exactly the collection's records (an
    # Airbyte overwrite does not deduplicate: the deletion's record is one of them).
    assert rows(db) == [(1, ""), (1, "v1"), (2, "v1"), (3, "v1"), (4, "v1")]
    assert column(db, "SELECT mode FROM _writes") == ["append_dedup", "append_dedup", "overwrite"]


@pytest.mark.parametrize("flag", ["--write-seconds", "--write-transactions", "--echo-timeout"])
def test_bounds_must_be_positive(flag: str) -> None:
    done = subprocess.run(
        [FLOW_SDK, "airbyte-materialize", flag, "0", "--", PYTHON, "x.py"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{flag} must be a positive number, not 0" in done.stderr.splitlines()[-1]


# ---- backfill signals: Airbyte refreshes ----


def flush_with(session: Session, **signals: list[dict[str, Any]]) -> None:
    session.send({"flush": signals})
    assert session.recv() == {"flushed": {}}


def commit(session: Session, *stores: dict[str, Any]) -> dict[str, Any]:
    session.send(*stores, {"startCommit": {"runtimeCheckpoint": {}}})
    started = session.recv()
    session.acknowledge()
    return started


@pytest.mark.parametrize("mode", MODES)
def test_backfill_signals_are_a_refresh_with_a_new_generation(mode: str, tmp_path: Path) -> None:
    """`backfillBegin` in a flush starts generation 1 in overwrite mode (minimum = 1); the
    write stays open across transactions until `backfillComplete` ends it with COMPLETE, and
    only then does the destination drop the old generation's rows."""
    db = tmp_path / "out.db"
    s = Session(shim(mode, "staging_destination"))
    s.open(db, [binding("users")])
    s.transaction(store(1, "old"), store(2, "old"))
    s.acknowledge()
    begin = {"truncatedAt": "2026-01-01T00:00:00Z"}
    flush_with(s, backfillBegin=[begin])
    assert commit(s, store(1, "new")) == {
        "startedCommit": {
            "state": {
                "updated": {
                    "bindingStateV1": {
                        "users": {"refreshes": 1, "refreshing": True, "overwritten": True}
                    }
                },
                "mergePatch": True,
            }
        }
    }
    flush_with(s)
    assert commit(s, store(3, "new")) == {"startedCommit": {}}
    time.sleep(0.5)
    assert rows(db) == [(1, "old"), (2, "old")], "the old rows stay until the backfill completes"
    flush_with(s, backfillComplete=[begin])
    assert rows(db) == [(1, "new"), (3, "new")]
    assert commit(s) == {
        "startedCommit": {
            "state": {
                "updated": {"bindingStateV1": {"users": {"refreshing": None}}},
                "mergePatch": True,
            }
        }
    }
    assert s.finish() == 0
    with sqlite3.connect(db) as con:
        writes = con.execute("SELECT mode, generation, minimum FROM _writes").fetchall()
    assert writes == [("append_dedup", 0, 0), ("overwrite", 1, 1)]
    assert (
        column(db, "SELECT event FROM _log WHERE event LIKE 'COMPLETE%'") == ["COMPLETE users"] * 2
    )


def test_a_refresh_interrupted_by_the_session_end_completes_in_the_next(tmp_path: Path) -> None:
    """A session that ends mid-backfill says INCOMPLETE (old rows stay); the next session's
    `backfillComplete` completes generation 1 with a write whose minimum is 1."""
    db = tmp_path / "out.db"
    s = Session(shim("inprocess", "staging_destination"))
    s.open(db, [binding("users")])
    s.transaction(store(1, "old"))
    s.acknowledge()
    flush_with(s, backfillBegin=[{"truncatedAt": "2026-01-01T00:00:00Z"}])
    state = commit(s, store(2, "new"))["startedCommit"]["state"]["updated"]
    assert s.finish() == 0
    assert rows(db) == [(1, "old")]
    assert column(db, "SELECT event FROM _log WHERE event LIKE '%COMPLETE%'") == [
        "COMPLETE users",
        "INCOMPLETE users",
    ]
    s = Session(shim("inprocess", "staging_destination"))
    s.open(db, [binding("users")], state=state)
    flush_with(s, backfillComplete=[{"truncatedAt": "2026-01-01T00:00:00Z"}])
    commit(s)
    assert s.finish() == 0
    with sqlite3.connect(db) as con:
        writes = con.execute("SELECT mode, generation, minimum FROM _writes").fetchall()
    assert writes[-1] == ("append_dedup", 1, 1)
