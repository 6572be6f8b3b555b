"""A real published file-based source, airbyte-source-s3 from PyPI, as a subprocess behind
`flow-sdk airbyte-capture`, against moto's S3 server on loopback. Discover makes its keyless
stream incremental (keyed by the row id, the resource config keeping its cursor); after a
new file is uploaded, the next session, resuming from the state of the one before, captures
only the new file's rows, their row ids continuing: through `flow-sdk preview` with the
state handed over, and through `flow-sdk run` into a real published destination
(airbyte-destination-ailake), which then stores only the new rows.

Each connector lives in a cached virtualenv of its own (`published.py`); moto brings boto3,
through which the files are uploaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from published import (
    FLOW_SDK,
    ailake,
    ailake_endpoint,
    flow_sdk,
    read_lake,
    s3_config,
    source_s3,
)
from s3_server import S3Server, s3_server

from flow_sdk.protocol.merge_patch import merge_patch

# Every launch of an airbyte-cdk 7 connector costs seconds (more on a busy machine).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
BUCKET = "lake"
JANUARY = "id,item,amount\n1,apple,3\n2,pear,5\n"
FEBRUARY = "id,item,amount\n3,plum,7\n4,fig,11\n5,kiwi,13\n"


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    with s3_server(tmp_path / "moto.log") as server:
        server.create_bucket(BUCKET)
        server.upload(BUCKET, "orders/2024-01.csv", JANUARY)
        yield server


def discovered_catalog(s3: S3Server, tmp_path: Path) -> Path:
    """A catalog of the S3 capture, its bindings written by `flow-sdk raw discover`, checked
    to be the incremental append log a keyless file-based stream should be."""
    command = [FLOW_SDK, "airbyte-capture", "--", str(source_s3())]
    config = s3_config(s3.url, BUCKET, "orders", "orders/*.csv")
    capture = {"endpoint": {"local": {"command": command, "config": config}}, "bindings": []}
    catalog = tmp_path / "flow.yaml"
    catalog.write_text(yaml.safe_dump({"captures": {"acmeCo/s3": capture}}))
    flow_sdk("raw", "discover", "--source", str(catalog), cwd=tmp_path)
    written = yaml.safe_load(catalog.read_text())
    [binding] = written["captures"]["acmeCo/s3"]["bindings"]
    assert binding["resource"] == {
        "stream": "orders",
        "syncMode": "incremental",
        "cursorField": ["_ab_source_file_last_modified"],
    }
    assert binding["target"] == "acmeCo/orders"
    assert written["collections"]["acmeCo/orders"]["key"] == ["/_meta/row_id"]
    return catalog


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


def test_preview_captures_a_new_file_alone_and_row_ids_continue(
    s3: S3Server, tmp_path: Path
) -> None:
    catalog = discovered_catalog(s3, tmp_path)

    docs, state = preview(catalog)
    assert [(d["id"], d["item"]) for d in docs] == [("1", "apple"), ("2", "pear")]
    assert [d["_meta"]["row_id"] for d in docs] == [0, 1]
    assert {d["_meta"]["op"] for d in docs} == {"u"}  # no `_ab_cdc_deleted_at`: no deletion
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


def test_run_into_a_published_destination_stores_only_the_new_file(
    s3: S3Server, tmp_path: Path
) -> None:
    catalog = discovered_catalog(s3, tmp_path)
    python = ailake()
    spec = yaml.safe_load(catalog.read_text())
    spec["materializations"] = {
        "acmeCo/lake": {
            "endpoint": ailake_endpoint(python, tmp_path / "lake", text_field="item"),
            "bindings": [{"resource": {"stream": "orders"}, "source": "acmeCo/orders"}],
        }
    }
    catalog.write_text(yaml.safe_dump(spec))
    run = ["run", "--source", str(catalog), "--data-dir", str(tmp_path / "data")]
    journal = tmp_path / "data" / "collections" / "acmeCo" / "orders.jsonl"

    flow_sdk(*run, cwd=tmp_path)
    [january] = read_lake(python, tmp_path / "lake" / "orders")
    assert [(r["id"], r["text"]) for r in january] == [("1", "apple"), ("2", "pear")]

    s3.upload(BUCKET, "orders/2024-02.csv", FEBRUARY)
    done = flow_sdk(*run, cwd=tmp_path)
    assert "captured 3 document(s)" in done.stderr
    docs = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    assert [(d["id"], d["_meta"]["row_id"]) for d in docs] == [(str(i), i - 1) for i in range(1, 6)]
    # The destination got the new file's rows alone, as one more commit.
    first, february = read_lake(python, tmp_path / "lake" / "orders")
    assert first == january
    assert [(r["id"], r["text"]) for r in february] == [("3", "plum"), ("4", "fig"), ("5", "kiwi")]
