"""A real published Airbyte destination, airbyte-destination-ailake from PyPI (airbyte-cdk 7;
it writes Iceberg tables of Parquet files to a local directory), as a subprocess behind
`flow-sdk airbyte-materialize`, driven by `flow-sdk preview --fixture`: each transaction's
rows land in the table as one commit of the destination, acknowledged only once it echoed
the shim's state, and a Flow deletion reaches it as the record with `_ab_cdc_deleted_at`
set (ailake supports no dedup, so it keeps that record as a soft delete).

Of the Airbyte destinations on PyPI, ailake is the one that runs offline here:
airbyte-destination-pgvector's published requirements cannot be satisfied (airbyte 0.31
with airbyte-cdk 0.1.13), and glassflow writes to a hosted service. Its embeddings come from
its `cmd` mode, a command of this directory (`fake_embedder.py`), so no model is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cached_venv import cached_venv

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
FLOW_SDK = str(Path(sys.executable).parent / "flow-sdk")
AILAKE = ["airbyte-destination-ailake==0.1.16"]

# Every Parquet file of the table (one per destination commit) as a list of rows.
_READ = """
import glob, json, sys
import pyarrow.parquet as pq
files = sorted(glob.glob(sys.argv[1] + "/data/*.parquet"))
print(json.dumps([pq.read_table(f).drop_columns(["embedding"]).to_pylist() for f in files]))
"""

SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["id"],
    # Deletions as Estuary's CDC captures declare them.
    "if": {"properties": {"_meta": {"properties": {"op": {"const": "d"}}}}},
    "then": {"reduce": {"strategy": "merge", "delete": True}},
}


@pytest.fixture(scope="module")
def ailake() -> Path:
    return cached_venv("destination-ailake", AILAKE)


def test_rows_land_per_transaction_and_a_deletion_arrives_as_a_cdc_delete(
    ailake: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    config = {
        "table_base_path": str(lake),
        "embed_mode": "cmd",
        "embed_cmd": f"{ailake} {HERE / 'fake_embedder.py'}",
        "embedding_dim": 4,
        "text_field": "name",
    }
    command = [
        FLOW_SDK, "airbyte-materialize", "--", str(ailake.parent / "airbyte-destination-ailake")
    ]  # fmt: skip
    catalog: dict[str, Any] = {
        "collections": {"acmeCo/users": {"schema": SCHEMA, "key": ["/id"]}},
        "materializations": {
            "acmeCo/lake": {
                "endpoint": {"local": {"command": command, "config": config}},
                "bindings": [{"resource": {"stream": "users"}, "source": "acmeCo/users"}],
            }
        },
    }
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(catalog))
    fixture = [
        [["acmeCo/users", {"id": i, "name": n}] for i, n in ((1, "ada"), (2, "bob"), (3, "cy"))],
        [
            ["acmeCo/users", {"id": 2, "_meta": {"op": "d"}}],
            ["acmeCo/users", {"id": 4, "name": "dee"}],
        ],
    ]
    (tmp_path / "fixture.json").write_text(json.dumps(fixture))

    run = subprocess.run(
        [
            FLOW_SDK, "preview", "--source", "flow.yaml", "--name", "acmeCo/lake",
            "--fixture", "fixture.json",
        ],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, env=os.environ.copy(),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    # Each commit was acknowledged only after ailake echoed its state.
    assert "session 1 committed 2 transaction(s)" in run.stderr

    read = subprocess.run(
        [str(ailake), "-c", _READ, str(lake / "users")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    commits = sorted(json.loads(read.stdout), key=lambda rows: rows[0]["id"])
    assert len(commits) == 2  # one Parquet file per transaction
    first, second = commits
    assert [(r["id"], r["text"]) for r in first] == [(1, "ada"), (2, "bob"), (3, "cy")]
    assert all(r.get("_ab_cdc_deleted_at") is None for r in first)
    deleted, added = second
    assert deleted["id"] == 2 and deleted["_ab_cdc_deleted_at"].endswith("Z")
    assert (added["id"], added["text"], added["_ab_cdc_deleted_at"]) == (4, "dee", None)
