"""The Airbyte face through the real `destination-kvdb` CLI (a subprocess): spec, check,
write, and failures that end with a readable error instead of lost records."""

from __future__ import annotations

import select
import sqlite3
import subprocess

import orjson
from kvdb_driver import (
    BUCKET_ID,
    configured_stream,
    kvdb_config,
    local_config,
    record,
    stream_state,
)
from kvdb_server import Scripted

USERS = configured_stream("users", "append_dedup", [["id"]])


def test_spec(cli):
    run = cli.run("spec")
    assert run.code == 0, run.stderr
    (message,) = run.of_type("SPEC")
    spec = message["spec"]
    assert spec["supportsIncremental"] is True
    assert set(spec["supported_destination_sync_modes"]) == {"overwrite", "append", "append_dedup"}
    options = spec["connectionSpecification"]["properties"]["bucket"]["oneOf"]
    assert [o["title"] for o in options] == ["KvDB.io bucket", "Local bucket"]


def test_check_succeeds(cli, kvdb):
    run = cli.run("check", kvdb_config(kvdb))
    assert run.code == 0, run.stderr
    assert run.of_type("CONNECTION_STATUS")[0]["connectionStatus"] == {"status": "SUCCEEDED"}


def check_failure(cli, config):
    run = cli.run("check", config)
    assert run.code == 0, run.stderr
    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert "VerySecret1" not in orjson.dumps(run.messages).decode() + run.stderr
    return status["message"]


def test_check_names_a_refused_secret_without_printing_it(cli, kvdb):
    message = check_failure(cli, kvdb_config(kvdb, bucket={"secret_key": "VerySecret1"}))
    assert "refused the secret key" in message and "config.bucket.secret_key" in message


def test_check_names_a_malformed_field(cli):
    bucket = {"bucket_type": "kvdb", "bucket_id": "x", "secret_key": "VerySecret1"}
    assert check_failure(cli, {"bucket": bucket}).startswith(
        "config.bucket.bucket_id is 'x' but must match"
    )


def test_write_to_a_local_bucket(cli, tmp_path):
    path = tmp_path / "b.sqlite"
    messages = [record("users", {"id": i}) for i in range(5)] + [stream_state("users", {"c": 5})]
    run = cli.run("write", local_config(path), {"streams": [USERS]}, messages)
    assert run.code == 0, run.stderr
    assert run.states == [{**messages[-1]["state"], "destinationStats": {"recordCount": 5.0}}]
    rows = sqlite3.connect(path).execute("SELECT key FROM kv ORDER BY key").fetchall()
    assert [r[0] for r in rows] == [f"users/{i}" for i in range(5)]


def test_write_to_kvdb_in_batches(cli, kvdb):
    messages = [record("users", {"id": i}) for i in range(2500)] + [stream_state("users", {})]
    run = cli.run("write", kvdb_config(kvdb), {"streams": [USERS]}, messages)
    assert run.code == 0, run.stderr
    assert kvdb.transactions() == [1000, 1000, 500]
    assert len(kvdb.buckets[BUCKET_ID][1]) == 2500


def test_a_state_is_echoed_before_the_input_ends(cli, tmp_path):
    """A state is the commit confirmation: it must not wait in a buffer for more input."""
    args = cli.args("write", local_config(tmp_path / "b.sqlite"), {"streams": [USERS]})
    process = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdin and process.stdout
        process.stdin.write(orjson.dumps(record("users", {"id": 1})) + b"\n")
        process.stdin.write(orjson.dumps(stream_state("users", {"c": 1})) + b"\n")
        process.stdin.flush()
        state = None
        while state is None:
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no state echoed within 60 s while the input stayed open"
            message = orjson.loads(process.stdout.readline())
            if message["type"] == "STATE":
                state = message["state"]
        assert state["destinationStats"] == {"recordCount": 1.0}
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0


def test_a_malformed_input_line_fails_the_write(cli, tmp_path):
    messages = [
        record("users", {"id": 1}),
        stream_state("users", {"c": 1}),
        b"{not json\n",
        record("users", {"id": 2}),
        stream_state("users", {"c": 2}),
    ]
    run = cli.run("write", local_config(tmp_path / "b.sqlite"), {"streams": [USERS]}, messages)
    assert run.code != 0
    assert len(run.states) == 1
    assert "input line 3 is not an Airbyte message" in run.error


def test_a_bad_config_fails_the_write_by_field(cli, kvdb):
    run = cli.run("write", kvdb_config(kvdb, batch_size=5000), {"streams": [USERS]}, [])
    assert run.code != 0
    assert "config.batch_size is 5000 but must be at most 1000" in run.error


def test_a_refused_write_fails_loudly_after_the_last_good_state(cli, kvdb):
    messages = [
        record("users", {"id": 1}),
        stream_state("users", {"c": 1}),
        record("users", {"id": 2}),
        stream_state("users", {"c": 2}),
    ]
    kvdb.script = [Scripted(200), Scripted(413, body="too large")]  # the second txn is refused
    run = cli.run("write", kvdb_config(kvdb, batch_size=1), {"streams": [USERS]}, messages)
    assert run.code != 0
    assert [s["stream"]["stream_state"] for s in run.states] == [{"c": 1}]
    assert "was refused: HTTP 413 (too large)" in run.error
