"""`_meta/op` from Airbyte's CDC marker, end to end: a real airbyte-cdk source whose change
events carry `_ab_cdc_deleted_at` (`cdc_source.py`) is discovered with the delete annotation
Flow's CDC captures write, its documents say `d` for deleted rows and `u` otherwise, and
`flow-sdk run` into destination-kvdb removes a deleted row — in process and as a subprocess."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from flow_sdk.runtime.materialize.deletions import declares_deletions

HERE = Path(__file__).parents[1]
PYTHON = sys.executable
FLOW_SDK = str(Path(PYTHON).parent / "flow-sdk")
SOURCE = str(HERE / "cdc_source.py")
MODES = {
    "inprocess": [PYTHON, SOURCE, "--flow"],
    "subprocess": [FLOW_SDK, "airbyte-capture", "--", PYTHON, SOURCE],
}


def flow_sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([FLOW_SDK, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def change_log(path: Path, *events: dict[str, Any]) -> None:
    with path.open("a") as f:
        for event in events:
            f.write(json.dumps(event) + "\n")


def discovered_catalog(tmp_path: Path, command: list[str], log: Path) -> Path:
    catalog = tmp_path / "flow.yaml"
    capture = {"endpoint": {"local": {"command": command, "config": {"path": str(log)}}}}
    catalog.write_text(yaml.safe_dump({"captures": {"acmeCo/cdc": {**capture, "bindings": []}}}))
    flow_sdk("raw", "discover", "--source", str(catalog), cwd=tmp_path)
    return catalog


@pytest.mark.parametrize("mode", MODES)
def test_cdc_deletes_are_op_d_and_leave_the_destination(mode: str, tmp_path: Path) -> None:
    log = tmp_path / "changes.jsonl"
    change_log(log, {"id": 1, "name": "ann"}, {"id": 2, "name": "bob"})
    catalog = discovered_catalog(tmp_path, MODES[mode], log)
    spec = yaml.safe_load(catalog.read_text())
    schema = spec["collections"]["acmeCo/customers"]["schema"]
    assert schema["properties"]["_meta"]["properties"]["op"]["enum"] == ["c", "u", "d"]
    assert declares_deletions(schema), "the collection says a `d` document deletes its key"

    preview = flow_sdk("preview", "--source", str(catalog), "--sessions", "1", cwd=tmp_path)
    change_log(log, {"id": 1, "name": None, "_ab_cdc_deleted_at": "2026-11-30T01:00:00Z"})
    again = flow_sdk("preview", "--source", str(catalog), "--sessions", "1", cwd=tmp_path)
    assert ops(preview.stdout) == [(1, "u"), (2, "u")]
    assert ops(again.stdout) == [(1, "d"), (2, "u")], "a transaction reduces each key to its last"

    bucket = tmp_path / "bucket"
    spec["materializations"] = {
        "acmeCo/kvdb": {
            "endpoint": {
                "local": {
                    "command": [PYTHON, "-m", "destination_kvdb"],
                    "config": {"bucket": {"bucket_type": "local", "path": str(bucket)}},
                }
            },
            "bindings": [{"resource": {"stream": "customers"}, "source": "acmeCo/customers"}],
        }
    }
    catalog.write_text(yaml.safe_dump(spec))
    log.write_text("")
    change_log(log, {"id": 1, "name": "ann"}, {"id": 2, "name": "bob"})
    data = ["--source", str(catalog), "--data-dir", str(tmp_path / "data")]
    flow_sdk("run", *data, cwd=tmp_path)
    assert stored_ids(bucket) == [1, 2]
    change_log(log, {"id": 1, "name": None, "_ab_cdc_deleted_at": "2026-11-30T01:00:00Z"})
    flow_sdk("run", *data, cwd=tmp_path)
    assert stored_ids(bucket) == [2], "the deleted customer left the destination"


def stored_ids(bucket: Path) -> list[int]:
    with sqlite3.connect(bucket) as con:
        return sorted(json.loads(v)["id"] for (v,) in con.execute("SELECT value FROM kv"))


def ops(stdout: str) -> list[tuple[int, str]]:
    docs = [json.loads(line)[1] for line in stdout.splitlines()]
    return [(d["id"], d["_meta"]["op"]) for d in docs]
