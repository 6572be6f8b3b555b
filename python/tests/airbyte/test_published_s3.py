"""A real published file-based source, airbyte-source-s3 from PyPI, as a subprocess behind
`flow-sdk airbyte-capture`, against moto's S3 server on loopback: discover makes its keyless
stream incremental (keyed by the row id, the resource config keeping its cursor), a preview
captures the bucket's file, and after a new file is uploaded the next preview, resuming from
the first one's state, captures only the new file's rows, their row ids continuing.

Both connectors live in cached virtualenvs of their own (source-s3 pins airbyte-cdk 7 and
smart-open; moto brings boto3). airbyte-source-s3's published metadata pins
`smart-open[s3]` to the connector's own version (no such smart-open exists), so its
virtualenv overrides that pin with the smart-open the connector was built on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from cached_venv import cached_venv
from s3_server import KEYS, S3Server, s3_server

from flow_sdk.protocol.merge_patch import merge_patch

pytestmark = pytest.mark.slow
FLOW_SDK = str(Path(sys.executable).parent / "flow-sdk")
SOURCE_S3 = ["airbyte-source-s3==4.16.1"]
SOURCE_S3_OVERRIDES = ["smart-open[s3]==5.2.1"]
BUCKET = "lake"
JANUARY = "id,item,amount\n1,apple,3\n2,pear,5\n"
FEBRUARY = "id,item,amount\n3,plum,7\n4,fig,11\n5,kiwi,13\n"


@pytest.fixture(scope="module")
def source_s3() -> Path:
    return cached_venv("source-s3", SOURCE_S3, SOURCE_S3_OVERRIDES).parent / "source-s3"


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    with s3_server(tmp_path / "moto.log") as server:
        server.create_bucket(BUCKET)
        yield server


def flow_sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DO_NOT_TRACK="1")
    run = subprocess.run(
        [FLOW_SDK, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def preview(catalog: Path, *extra: str) -> tuple[list[dict[str, Any]], Any]:
    """The documents one unlimited session captures, and the state it leaves."""
    run = flow_sdk(
        "preview", "--source", str(catalog), "--sessions", "-1", "--output-state", *extra,
        cwd=catalog.parent,
    )  # fmt: skip
    docs: list[dict[str, Any]] = []
    state: Any = {}
    for line in run.stdout.splitlines():
        name, value = orjson.loads(line)
        if name != "connectorState":
            docs.append(value)
        elif value.get("mergePatch"):
            state = merge_patch(state, value["updated"])
        else:
            state = value["updated"]
    return docs, state


def test_a_new_file_is_captured_alone_and_row_ids_continue(
    source_s3: Path, s3: S3Server, tmp_path: Path
) -> None:
    s3.upload(BUCKET, "orders/2024-01.csv", JANUARY)
    config = {
        "bucket": BUCKET,
        "endpoint": s3.url,
        "region_name": "us-east-1",
        "credentials": {"auth_type": "iam_user", **KEYS},
        "streams": [
            {
                "name": "orders",
                "globs": ["orders/*.csv"],
                "format": {"filetype": "csv"},
                "validation_policy": "Emit Record",
                "days_to_sync_if_history_is_full": 3,
            }
        ],
    }
    command = [FLOW_SDK, "airbyte-capture", "--", str(source_s3)]
    capture = {"endpoint": {"local": {"command": command, "config": config}}, "bindings": []}
    catalog = tmp_path / "flow.yaml"
    catalog.write_text(yaml.safe_dump({"captures": {"acmeCo/s3": capture}}))

    flow_sdk("raw", "discover", "--source", str(catalog), cwd=tmp_path)
    written = yaml.safe_load(catalog.read_text())
    [binding] = written["captures"]["acmeCo/s3"]["bindings"]
    # The file-based stream has no primary key but supports incremental: an append log.
    assert binding["resource"]["stream"] == "orders"
    assert binding["resource"]["syncMode"] == "incremental"
    assert binding["resource"]["cursorField"] == ["_ab_source_file_last_modified"]
    collection = written["collections"][binding["target"]]
    assert collection["key"] == ["/_meta/row_id"]

    docs, state = preview(catalog)
    assert [(d["id"], d["item"]) for d in docs] == [("1", "apple"), ("2", "pear")]
    assert [d["_meta"]["row_id"] for d in docs] == [0, 1]
    assert {d["_ab_source_file_url"] for d in docs} == {"orders/2024-01.csv"}
    orders = state["bindingStateV1"]["orders"]
    assert orders["rowId"] == 2
    [stream_state] = orders["stream"]
    assert list(stream_state["stream_state"]["history"]) == ["orders/2024-01.csv"]

    s3.upload(BUCKET, "orders/2024-02.csv", FEBRUARY)
    docs, resumed = preview(catalog, "--initial-state", orjson.dumps(state).decode())
    assert [d["id"] for d in docs] == ["3", "4", "5"]
    assert [d["_meta"]["row_id"] for d in docs] == [2, 3, 4]
    assert {d["_ab_source_file_url"] for d in docs} == {"orders/2024-02.csv"}
    orders = resumed["bindingStateV1"]["orders"]
    assert orders["rowId"] == 5
    [stream_state] = orders["stream"]
    assert set(stream_state["stream_state"]["history"]) == {
        "orders/2024-01.csv",
        "orders/2024-02.csv",
    }
