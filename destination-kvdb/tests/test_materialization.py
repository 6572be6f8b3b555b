"""The Flow face: `python -m destination_kvdb` (MaterializeShim around DestinationKvdb) as a
real subprocess, speaking the materialize protocol: spec, validate, and a session whose
transactions land in the bucket keyed by the collection key, so a replay changes nothing."""

from __future__ import annotations

import subprocess
import sys

import orjson
from kvdb_driver import local_config

from destination_kvdb.config import KvdbConfig
from destination_kvdb.destination import open_bucket

COLLECTION = {
    "name": "acmeCo/users",
    "writeSchema": {"type": "object"},
    "key": ["/id"],
    "projections": [
        {"ptr": "", "field": "flow_document"},
        {"ptr": "/id", "field": "id", "isPrimaryKey": True},
    ],
}


def serve(requests: list[dict]) -> tuple[int, list[dict], str]:
    lines = b"".join(orjson.dumps(r) + b"\n" for r in requests)
    done = subprocess.run(
        [sys.executable, "-m", "destination_kvdb"], input=lines, capture_output=True, timeout=120
    )
    out = [orjson.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, out, done.stderr.decode(errors="replace")


def test_spec_and_validate(tmp_path):
    config = local_config(tmp_path / "b.sqlite")
    validate = {
        "name": "acmeCo/kvdb",
        "connectorType": "LOCAL",
        "config": config,
        "bindings": [{"resourceConfig": {"stream": "users"}, "collection": COLLECTION}],
    }
    code, out, err = serve([{"spec": {"connectorType": "LOCAL", "config": {}}}])
    assert code == 0, err
    spec = out[0]["spec"]
    assert spec["protocol"] == 3032023
    kvdb_option = spec["configSchema"]["properties"]["bucket"]["oneOf"][0]
    assert kvdb_option["properties"]["secret_key"]["secret"] is True
    code, out, err = serve([{"validate": validate}])
    assert code == 0, err
    (binding,) = out[0]["validated"]["bindings"]
    assert binding["resourcePath"] == ["users"] and binding["deltaUpdates"] is True
    assert binding["constraints"]["flow_document"]["type"] == "LOCATION_REQUIRED"
    assert binding["constraints"]["id"]["type"] == "LOCATION_REQUIRED"


def session(config: dict, transactions: list[list[dict]]) -> list[dict]:
    spec = {
        "name": "acmeCo/kvdb",
        "connectorType": "LOCAL",
        "config": config,
        "bindings": [
            {
                "resourceConfig": {"stream": "users"},
                "resourcePath": ["users"],
                "collection": COLLECTION,
                "fieldSelection": {"keys": ["id"], "document": "flow_document"},
                "deltaUpdates": True,
                "stateKey": "users",
            }
        ],
    }
    full = {"keyEnd": 4294967295, "rClockEnd": 4294967295}
    requests = [
        {"open": {"materialization": spec, "version": "v1", "range": full, "state": {}}},
        {"acknowledge": {}},
    ]
    for docs in transactions:
        requests.append({"flush": {}})
        requests += [{"store": {"binding": 0, "key": [d["id"]], "doc": d}} for d in docs]
        requests += [{"startCommit": {"runtimeCheckpoint": {}}}, {"acknowledge": {}}]
    code, out, err = serve(requests)
    assert code == 0, err
    return out


def test_a_session_stores_each_transaction_and_replays_overwrite(tmp_path):
    config = local_config(tmp_path / "b.sqlite")
    first = [{"id": i, "v": "a"} for i in range(3)]
    out = session(config, [first, [{"id": 3, "v": "b"}]])
    assert [next(iter(m)) for m in out] == [
        "opened", "acknowledged", "flushed", "startedCommit", "acknowledged",
        "flushed", "startedCommit", "acknowledged",
    ]  # fmt: skip
    session(config, [first])  # the runtime replays a transaction after a crash
    with open_bucket(KvdbConfig.parse(config)) as bucket:
        stored = dict(bucket.items("users/"))
    assert stored == {
        "users/0": '{"id":0,"v":"a"}',
        "users/1": '{"id":1,"v":"a"}',
        "users/2": '{"id":2,"v":"a"}',
        "users/3": '{"id":3,"v":"b"}',
    }
