"""The Airbyte materialize shim against a real airbyte-cdk 7 destination (SQLite, in
`tests/connectors/sqlite_destination.py`), in process and as a subprocess: stored rows,
commit/echo ordering, late echoes, failures, replays and overwrite after a backfill."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from flow_sdk.protocol.tuple_pack import pack_b64

HERE = Path(__file__).parents[2] / "connectors"
DESTINATION = HERE / "sqlite_destination.py"
CLI = "import sys; from flow_sdk.airbyte.destination.materialize_cli import main; main(sys.argv[1:])"
MODES = ["inprocess", "subprocess"]


def shim_command(mode: str) -> list[str]:
    if mode == "inprocess":
        return [sys.executable, str(HERE / "inprocess_shim.py")]
    return [
        sys.executable,
        "-c",
        CLI,
        "--echo-timeout",
        "1",
        "--",
        sys.executable,
        str(DESTINATION),
    ]


class Session:
    """A shim process driven one request at a time, as the runtime does."""

    def __init__(self, mode: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            shim_command(mode),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
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

    def finish(self) -> tuple[int, list[dict[str, Any]]]:
        """Close stdin; the exit code and any responses still unread."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        rest = [json.loads(line) for line in self.proc.stdout.read().splitlines()]
        code = self.proc.wait(timeout=60)
        self._drain.join(timeout=10)
        return code, rest

    def last_error(self) -> str:
        """The last stderr line, which must be the failure's error line."""
        line = json.loads(self.stderr[-1])
        assert line["level"] == "error", f"the last stderr lines: {self.stderr[-4:]}"
        return line["msg"]

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def binding(stream: str = "users", *, backfill: int = 0, document: bool = True) -> dict[str, Any]:
    state_key = f"{stream}.v{backfill}" if backfill else stream
    return {
        "resourceConfig": {"stream": stream},
        "resourcePath": [stream],
        "collection": {
            "name": f"acmeCo/{stream}",
            "key": ["/id"],
            "writeSchema": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "projections": [
                {
                    "ptr": "/id",
                    "field": "id",
                    "isPrimaryKey": True,
                    "inference": {"types": ["integer"]},
                },
                {"ptr": "/name", "field": "name", "inference": {"types": ["string"]}},
                {"ptr": "", "field": "flow_document", "inference": {"types": ["object"]}},
            ],
        },
        "fieldSelection": {
            "keys": ["id"],
            "values": ["name"],
            "document": "flow_document" if document else "",
        },
        "deltaUpdates": True,
        "backfill": backfill,
        "stateKey": state_key,
    }


def open_request(
    db: Path, *, state: Any = None, bindings: list[dict[str, Any]] | None = None, **config: Any
) -> dict[str, Any]:
    return {
        "open": {
            "materialization": {
                "name": "acmeCo/airbyte-sqlite",
                "config": {"destination_path": str(db), **config},
                "bindings": bindings or [binding()],
            },
            "version": "v1",
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": state or {},
        }
    }


def store(id_: int, name: str, binding_index: int = 0, *, doc: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"keyPacked": pack_b64([id_]), "valuesPacked": pack_b64([name])}
    if binding_index:
        out["binding"] = binding_index
    if doc:
        out["doc"] = {
            "id": id_,
            "name": name,
            "_meta": {"uuid": "DocUUIDPlaceholder-329Bb50aa48EAa9ef"},
        }
    return {"store": out}


ACK = {"acknowledge": {}}
FLUSH = {"flush": {}}
COMMIT = {
    "startCommit": {"runtimeCheckpoint": {"sources": {"a/j;materialize/x": {"readThrough": "1"}}}}
}


def rows(db: Path, table: str = "users") -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    try:
        return [json.loads(d) for (d,) in con.execute(f'SELECT data FROM "{table}" ORDER BY id')]
    finally:
        con.close()


def writes(db: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute("SELECT stream, mode FROM _writes ORDER BY n"))
    finally:
        con.close()


def transaction(s: Session, *stores: dict[str, Any]) -> dict[str, Any]:
    """Flush, store, commit; returns the startedCommit."""
    s.send(FLUSH)
    assert s.recv() == {"flushed": {}}
    s.send(*stores, COMMIT)
    return s.recv()


def opened(s: Session, db: Path, **kwargs: Any) -> None:
    s.send(open_request(db, **kwargs), ACK)
    assert s.recv() == {"opened": {}}
    assert s.recv() == {"acknowledged": {}}


# ---- unary ----


@pytest.mark.parametrize("mode", MODES)
def test_spec_marks_secrets_and_names_the_resource(mode: str) -> None:
    s = Session(mode)
    s.send({"spec": {"connectorType": "LOCAL", "config": {}}})
    spec = s.recv()["spec"]
    assert s.finish()[0] == 0
    assert spec["protocol"] == 3032023
    assert spec["configSchema"]["properties"]["api_key"]["secret"] is True
    props = spec["resourceConfigSchema"]["properties"]
    assert props["stream"]["x-collection-name"] is True
    assert props["namespace"]["x-schema-name"] is True
    assert props["delta_updates"]["x-delta-updates"] is True
    assert "resourcePathPointers" not in spec
    assert spec["documentationUrl"] == "https://example.com/sqlite-destination"


def validate_request(db: Path, bindings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "validate": {
            "name": "acmeCo/airbyte-sqlite",
            "config": {"destination_path": str(db), "api_key": "hunter2-secret"},
            "bindings": [
                {"resourceConfig": b["resourceConfig"], "collection": b["collection"]}
                for b in bindings
            ],
        }
    }


@pytest.mark.parametrize("mode", MODES)
def test_validate_checks_and_requires_document_and_key(mode: str, tmp_path: Path) -> None:
    s = Session(mode)
    s.send(
        validate_request(
            tmp_path / "out.db",
            [
                binding(),
                {**binding("events"), "resourceConfig": {"stream": "events", "namespace": "raw"}},
            ],
        )
    )
    out = s.recv()["validated"]["bindings"]
    assert s.finish()[0] == 0
    assert out[0]["resourcePath"] == ["users"] and out[0]["deltaUpdates"] is True
    assert out[1]["resourcePath"] == ["raw", "events"]
    types = {f: c["type"] for f, c in out[0]["constraints"].items()}
    assert types == {
        "id": "LOCATION_REQUIRED",
        "flow_document": "LOCATION_REQUIRED",
        "name": "FIELD_OPTIONAL",
    }


@pytest.mark.parametrize(
    ("config_path", "bindings", "message"),
    [
        ("missing-dir/out.db", [binding()], "rejected the config: no directory for"),
        ("out.db", [binding(), binding()], "bindings 0 and 1 both write stream 'users'"),
        ("out.db", [{**binding(), "resourceConfig": {"stream": ""}}], "binding 0 has no `stream`"),
        (
            "out.db",
            [{**binding(), "resourceConfig": {"stream": "u", "delta_updates": False}}],
            "cannot load documents",
        ),
    ],
)
def test_validate_errors_are_sentences(
    tmp_path: Path, config_path: str, bindings: list[dict[str, Any]], message: str
) -> None:
    s = Session("subprocess")
    s.send(validate_request(tmp_path / config_path, bindings))
    code, _ = s.finish()
    assert code == 1
    assert message in s.last_error(), s.stderr[-4:]
    assert all("hunter2-secret" not in line for line in s.stderr)


# ---- transactions ----


@pytest.mark.parametrize("mode", MODES)
def test_records_are_committed_before_started_commit(mode: str, tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    s = Session(mode)
    opened(s, db)
    assert transaction(s, store(1, "a"), store(2, "b")) == {"startedCommit": {}}
    # The destination echoed the state: its rows are durable before the runtime hears of it.
    assert rows(db) == [
        {"id": 1, "name": "a", "_meta": {"uuid": "DocUUIDPlaceholder-329Bb50aa48EAa9ef"}},
        {"id": 2, "name": "b", "_meta": {"uuid": "DocUUIDPlaceholder-329Bb50aa48EAa9ef"}},
    ]
    s.send(ACK)
    assert s.recv() == {"acknowledged": {}}
    assert transaction(s, store(2, "b2"), store(3, "c")) == {"startedCommit": {}}
    s.send(ACK)
    assert s.recv() == {"acknowledged": {}}
    assert s.finish() == (0, [])
    assert [(r["id"], r["name"]) for r in rows(db)] == [(1, "a"), (2, "b2"), (3, "c")]
    # One write() served both transactions, deduplicating on the collection key.
    assert writes(db) == [("users", "append_dedup")]


@pytest.mark.parametrize("mode", MODES)
def test_a_destination_that_echoes_only_at_the_end(mode: str, tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    s = Session(mode)
    opened(s, db, echo="at_end")
    assert transaction(s, store(1, "a")) == {"startedCommit": {}}
    assert len(rows(db)) == 1
    s.send(ACK)
    assert s.recv() == {"acknowledged": {}}
    assert transaction(s, store(2, "b")) == {"startedCommit": {}}
    s.send(ACK)
    assert s.recv() == {"acknowledged": {}}
    assert s.finish() == (0, [])
    assert [r["id"] for r in rows(db)] == [1, 2]
    # Each commit ended its write(); the next transaction started a new one, never overwriting.
    assert writes(db) == [("users", "append_dedup"), ("users", "append_dedup")]
    assert any("did not confirm the commit" in line for line in s.stderr)


@pytest.mark.parametrize("mode", MODES)
def test_a_destination_failing_mid_transaction_is_never_acknowledged(
    mode: str, tmp_path: Path
) -> None:
    db = tmp_path / "out.db"
    s = Session(mode)
    opened(s, db, fail_after=2)
    s.send(FLUSH)
    assert s.recv() == {"flushed": {}}
    s.send(store(1, "a"), store(2, "b"), store(3, "c"), COMMIT)
    code, rest = s.finish()
    assert code == 1 and rest == []
    message = s.last_error()
    assert "the Airbyte destination" in message and "disk full after 2 records" in message


@pytest.mark.parametrize("mode", ["subprocess"])
def test_a_wrong_record_count_is_not_acknowledged(mode: str, tmp_path: Path) -> None:
    s = Session(mode)
    opened(s, tmp_path / "out.db", count="wrong")
    s.send(FLUSH)
    assert s.recv() == {"flushed": {}}
    s.send(store(1, "a"), COMMIT)
    code, rest = s.finish()
    assert code == 1 and rest == []
    assert (
        "confirmed 2 records of stream 'users' for transaction 1, but the shim sent 1"
        in s.last_error()
    )


@pytest.mark.parametrize(
    ("modes", "expected_rows"), [("append,append_dedup,overwrite", 2), ("append", 4)]
)
def test_replaying_a_transaction_after_a_restart(
    tmp_path: Path, modes: str, expected_rows: int
) -> None:
    """The runtime replays a transaction whose commit it never recorded. With append_dedup the
    replay rewrites the same keys; a destination with append alone duplicates them."""
    db = tmp_path / "out.db"
    env = {"SQLITE_DEST_MODES": modes}
    first = Session("inprocess", env)
    opened(first, db)
    assert transaction(first, store(1, "a"), store(2, "b")) == {"startedCommit": {}}
    first.kill()  # crash before the runtime's commit: no acknowledge
    second = Session("inprocess", env)
    opened(second, db)
    assert transaction(second, store(1, "a"), store(2, "b")) == {"startedCommit": {}}
    second.send(ACK)
    assert second.recv() == {"acknowledged": {}}
    assert second.finish()[0] == 0
    assert len(rows(db)) == expected_rows


@pytest.mark.parametrize("mode", ["inprocess"])  # shim logic; both modes share it
def test_overwrite_only_in_the_first_transaction_after_a_backfill(
    mode: str, tmp_path: Path
) -> None:
    db = tmp_path / "out.db"
    s = Session(mode)
    opened(s, db)
    transaction(s, store(1, "old"), store(2, "old"))
    s.send(ACK)
    s.recv()
    s.finish()

    s = Session(mode)
    opened(s, db, bindings=[binding(backfill=1)])
    started = transaction(s, store(3, "new"))
    assert started == {
        "startedCommit": {
            "state": {
                "updated": {"bindingStateV1": {"users.v1": {"overwritten": True}}},
                "mergePatch": True,
            }
        }
    }
    assert [r["id"] for r in rows(db)] == [3]
    s.send(ACK)
    s.recv()
    assert transaction(s, store(4, "new")) == {"startedCommit": {}}
    s.send(ACK)
    s.recv()
    s.finish()

    # The next session knows the overwrite happened (from the committed state) and appends.
    s = Session(mode)
    opened(
        s,
        db,
        bindings=[binding(backfill=1)],
        state={"bindingStateV1": {"users.v1": {"overwritten": True}}},
    )
    assert transaction(s, store(5, "new")) == {"startedCommit": {}}
    s.send(ACK)
    s.recv()
    s.finish()
    assert [r["id"] for r in rows(db)] == [3, 4, 5]
    assert [m for _, m in writes(db)] == ["append_dedup", "overwrite", "append_dedup"]


@pytest.mark.parametrize("mode", ["inprocess"])
def test_records_from_selected_fields_without_a_document(mode: str, tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    s = Session(mode)
    opened(s, db, bindings=[binding(), binding("events", document=False)])
    transaction(s, store(1, "a"), store(7, "seven", 1, doc=False))
    s.send(ACK)
    s.recv()
    assert s.finish()[0] == 0
    assert rows(db, "events") == [{"id": 7, "name": "seven"}]


def test_eof_inside_a_transaction_is_an_error_and_commits_nothing(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    s = Session("subprocess")
    opened(s, db)
    s.send(FLUSH)
    assert s.recv() == {"flushed": {}}
    s.send(store(1, "a"))
    code, _ = s.finish()
    assert code == 1
    assert "stdin ended in the store phase" in s.last_error()
    assert not db.exists() or rows(db) == []


def test_records_are_built_positionally_only_where_the_fields_line_up() -> None:
    """The in-process hot path builds airbyte-cdk 7's RECORD with positional arguments: the
    same message as with keywords. Models whose fields differ (pydantic, reordered) get
    keywords."""
    from dataclasses import dataclass

    from pydantic import BaseModel

    from flow_sdk.airbyte.destination.inprocess import (
        _RECORD_FIELDS,
        DestinationModels,
        _leading_fields,
    )

    models = DestinationModels()
    assert models.positional
    record = models.Record("users", {"id": 1}, 5, "crm")
    positional = models.Message(models.RECORD, None, None, None, None, record)
    keywords = models.Message(
        type=models.RECORD,
        record=models.Record(stream="users", namespace="crm", data={"id": 1}, emitted_at=5),
    )
    assert positional == keywords

    @dataclass
    class Reordered:
        data: dict
        stream: str
        emitted_at: int
        namespace: str | None = None

    class Pydantic(BaseModel):
        stream: str
        data: dict
        emitted_at: int
        namespace: str | None = None

    @dataclass(kw_only=True)
    class KeywordsOnly:
        stream: str
        data: dict
        emitted_at: int
        namespace: str | None = None

    assert _leading_fields(Reordered, 4) != _RECORD_FIELDS
    assert _leading_fields(KeywordsOnly, 4) == ()
    assert _leading_fields(Pydantic, 4) == ()
