"""The materialize request loop, driven as a real subprocess: ordering per §3.3, packed
keys and values, read-committed loads, and clear errors for every out-of-turn request."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flow_sdk.protocol.tuple_pack import pack_b64

CONNECTOR = Path(__file__).parent.parent / "connectors" / "sqlite_materialization.py"


def materialization(path: Path, *, misbehave: str = "", delta: bool = False) -> dict[str, Any]:
    config: dict[str, Any] = {"path": str(path)}
    if misbehave:
        config["misbehave"] = misbehave
    return {
        "name": "acmeCo/sink",
        "config": config,
        "bindings": [
            {
                "resourceConfig": {"table": "users", "delta": delta},
                "resourcePath": ["users"],
                "collection": {"name": "acmeCo/users", "key": ["/id"]},
                "fieldSelection": {"keys": ["id"], "values": ["v"], "document": "flow_document"},
                "deltaUpdates": delta,
                "stateKey": "users",
            }
        ],
    }


def open_request(path: Path, **kwargs: Any) -> dict[str, Any]:
    return {
        "open": {
            "materialization": materialization(path, **kwargs),
            "version": "v1",
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": {},
        }
    }


def load(key: int) -> dict[str, Any]:
    return {"load": {"binding": 0, "keyPacked": pack_b64([key])}}


def store(key: int, v: str, *, exists: bool = False, doc: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "binding": 0,
        "keyPacked": pack_b64([key]),
        "valuesPacked": pack_b64([v]),
    }
    if doc:
        out["doc"] = {"id": key, "v": v}
    if exists:
        out["exists"] = True
    return {"store": out}


ACK = {"acknowledge": {}}
FLUSH = {"flush": {}}
COMMIT = {
    "startCommit": {
        "runtimeCheckpoint": {"sources": {"a/journal;materialize/x": {"readThrough": "1"}}}
    }
}


def run(
    requests: list[dict[str, Any]], raw_tail: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    stdin = b"".join(json.dumps(r).encode() + b"\n" for r in requests) + raw_tail
    return subprocess.run(
        [sys.executable, str(CONNECTOR)], input=stdin, capture_output=True, timeout=60
    )


def responses(proc: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    assert proc.returncode == 0, proc.stderr.decode()
    return [json.loads(line) for line in proc.stdout.splitlines()]


def last_error(proc: subprocess.CompletedProcess[bytes]) -> str:
    assert proc.returncode != 0
    line = json.loads(proc.stderr.splitlines()[-1])
    assert line["level"] == "error"
    return line["msg"]


def calls(path: Path) -> list[list[Any]]:
    db = sqlite3.connect(str(path) + ".calls")
    return [json.loads(c) for (c,) in db.execute("SELECT call FROM calls ORDER BY n")]


def rows(path: Path) -> dict[str, tuple[Any, int]]:
    db = sqlite3.connect(path)
    return {k: (json.loads(d), n) for k, d, n in db.execute("SELECT key, doc, n FROM users")}


def test_transactions_in_the_documented_order_with_packed_keys(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    first = [open_request(db), ACK, load(1), FLUSH, store(1, "new"), COMMIT, ACK]
    out = responses(run(first))
    assert out == [
        {"opened": {}},
        {"acknowledged": {}},
        {"flushed": {}},
        {"startedCommit": {"state": {"updated": {"commits": 1}, "mergePatch": True}}},
        {"acknowledged": {}},
    ]
    assert rows(db) == {"[1]": ({"id": 1, "v": "new"}, 1)}
    assert [c[0] for c in calls(db)] == [
        "open",
        "acknowledge",
        "load",
        "flush",
        "store",
        "startCommit",
        "acknowledge",
    ]
    assert calls(db)[4][1] == {"key": [1], "values": ["new"], "exists": False}

    # A second session loads the stored document back and updates it.
    second = [
        open_request(db),
        ACK,
        load(1),
        load(2),
        FLUSH,
        store(1, "newer", exists=True),
        COMMIT,
        ACK,
    ]
    out = responses(run(second))
    assert out[2] == {"loaded": {"doc": {"id": 1, "v": "new"}}}
    assert out[3] == {"flushed": {}}
    assert rows(db) == {"[1]": ({"id": 1, "v": "newer"}, 2)}


def test_json_key_and_values_win_over_packed_ones(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    s = store(7, "packed", doc=False)
    s["store"].update(key=[7], values=["json"])
    responses(run([open_request(db), ACK, FLUSH, s, COMMIT, ACK]))
    assert rows(db) == {"[7]": ({"values": ["json"]}, 1)}


def test_loads_before_the_acknowledge_wait_for_it(tmp_path: Path) -> None:
    """Pipelining: the next transaction's loads may arrive before the previous commit's
    acknowledge; the endpoint is read only after that acknowledge is handled."""
    db = tmp_path / "out.db"
    reqs = [open_request(db), ACK, FLUSH, store(1, "a"), COMMIT, load(1), ACK, FLUSH, COMMIT, ACK]
    out = responses(run(reqs))
    kinds = [next(iter(r)) for r in out]
    assert kinds == [
        "opened",
        "acknowledged",
        "flushed",
        "startedCommit",
        "acknowledged",
        "loaded",
        "flushed",
        "startedCommit",
        "acknowledged",
    ]
    names = [c[0] for c in calls(db)]
    assert names[names.index("startCommit") :] == [
        "startCommit",
        "acknowledge",
        "load",
        "flush",
        "startCommit",
        "acknowledge",
    ]


def test_unary_requests_and_the_probe_spec(tmp_path: Path) -> None:
    validate = {
        "validate": {
            "name": "acmeCo/sink",
            "config": {"path": "x.db"},
            "bindings": [
                {
                    "resourceConfig": {"table": "users"},
                    "collection": {
                        "name": "acmeCo/users",
                        "key": ["/id"],
                        "projections": [
                            {"ptr": "/id", "field": "id", "isPrimaryKey": True},
                            {"ptr": "", "field": "flow_document"},
                        ],
                    },
                }
            ],
        }
    }
    out = responses(run([{"spec": {"connectorType": "LOCAL", "config": {}}}, validate]))
    assert out[0]["spec"]["protocol"] == 3032023
    assert "resourcePathPointers" not in out[0]["spec"]
    assert out[1] == {
        "validated": {
            "bindings": [
                {
                    "constraints": {
                        "id": {"type": "LOCATION_REQUIRED"},
                        "flow_document": {"type": "LOCATION_REQUIRED"},
                    },
                    "resourcePath": ["users"],
                }
            ]
        }
    }


def test_validate_error_is_the_last_line(tmp_path: Path) -> None:
    proc = run([{"validate": {"config": {}, "bindings": []}}])
    assert last_error(proc) == "config.path must name the SQLite file to write"


def test_eof_right_after_opened_or_at_a_boundary_is_clean(tmp_path: Path) -> None:
    assert responses(run([open_request(tmp_path / "a.db")])) == [{"opened": {}}]
    out = responses(run([open_request(tmp_path / "b.db"), ACK, FLUSH, store(1, "x"), COMMIT, ACK]))
    assert len(out) == 5


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ([FLUSH], "`flush` arrived before the session's first `acknowledge`"),
        ([ACK, ACK], "a second `acknowledge` arrived in one transaction"),
        ([ACK, store(1, "x")], "`store` arrived before `flush` ended the load phase"),
        ([ACK, COMMIT], "`startCommit` arrived before `flush`"),
        ([ACK, FLUSH, load(1)], "`load` arrived in the store phase"),
        (
            [ACK, FLUSH, store(1, "x")],
            "stdin ended in the store phase after 1 store(s), before `startCommit`",
        ),
        (
            [ACK, FLUSH, COMMIT],
            "stdin ended after `startCommit`, before the commit was acknowledged",
        ),
        (
            [ACK, FLUSH, COMMIT, ACK, load(2)],
            "stdin ended in the load phase after 1 load(s), before `flush`",
        ),
        ([ACK, FLUSH, COMMIT, FLUSH], "`flush` arrived before the previous commit's `acknowledge`"),
        (
            [ACK, {"open": {"materialization": {"name": "acmeCo/again"}}}],
            "`open` arrived during an open session",
        ),
        (
            [ACK, FLUSH, {"store": {"binding": 3, "doc": {}}}],
            "`store` names binding 3, but the opened materialization has 1 binding(s)",
        ),
        (
            [ACK, FLUSH, {"store": {"binding": 0, "keyPacked": "Ag=="}}],
            "bad packed tuple: a tuple string or byte string is not terminated",
        ),
        (
            [ACK, FLUSH, {"store": {"binding": "zero"}}],
            "malformed `store`: binding: Input should be a valid integer",
        ),
    ],
)
def test_out_of_turn_requests_are_clear_errors(
    tmp_path: Path, tail: list[dict[str, Any]], message: str
) -> None:
    proc = run([open_request(tmp_path / "e.db"), *tail])
    assert message in last_error(proc)


def test_requests_before_open_are_errors(tmp_path: Path) -> None:
    assert last_error(run([ACK])) == "`acknowledge` arrived before `open`"


@pytest.mark.parametrize(
    ("misbehave", "message"),
    [
        ("loaded-in-store", "`loaded` may only be sent during the load phase or `flush`"),
        ("ack-state", None),
    ],
)
def test_connector_output_out_of_turn(tmp_path: Path, misbehave: str, message: str | None) -> None:
    proc = run(
        [
            open_request(tmp_path / "m.db", misbehave=misbehave),
            ACK,
            FLUSH,
            store(1, "x"),
            COMMIT,
            ACK,
        ]
    )
    if message is None:
        assert responses(proc)[1] == {
            "acknowledged": {"state": {"updated": {"acked": True}, "mergePatch": True}}
        }
    else:
        assert message in last_error(proc)
        assert b"startedCommit" not in proc.stdout


def test_loaded_from_flush(tmp_path: Path) -> None:
    out = responses(
        run([open_request(tmp_path / "f.db", misbehave="loaded-in-flush"), ACK, FLUSH, COMMIT, ACK])
    )
    assert out[2:4] == [{"loaded": {"doc": {"from": "flush"}}}, {"flushed": {}}]


def test_delta_bindings_get_no_loads_but_a_stray_load_is_served(tmp_path: Path) -> None:
    out = responses(
        run(
            [
                open_request(tmp_path / "d.db", delta=True),
                ACK,
                FLUSH,
                store(1, "x"),
                store(1, "y"),
                COMMIT,
                ACK,
            ]
        )
    )
    assert [next(iter(r)) for r in out] == [
        "opened",
        "acknowledged",
        "flushed",
        "startedCommit",
        "acknowledged",
    ]


def test_backfill_signals_of_a_flush_reach_their_hooks_before_flush(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    at = "2026-07-07T12:00:00.000001Z"
    signals = {"backfillBegin": [{"truncatedAt": at}], "backfillComplete": [{"truncatedAt": at}]}
    out = responses(run([open_request(db), ACK, {"flush": signals}, COMMIT, ACK]))
    assert out[2] == {"flushed": {}}
    assert calls(db)[2:5] == [
        ["backfillBegin", {"binding": 0, "truncatedAt": at}],
        ["backfillComplete", {"binding": 0, "truncatedAt": at}],
        ["flush", {}],
    ]
    bad = run([open_request(db), ACK, {"flush": {"backfillBegin": [{"binding": 3}]}}])
    assert last_error(bad) == (
        "`flush` carries a backfillBegin of binding 3, but the opened materialization has 1 "
        "binding(s)"
    )
