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
from pathlib import Path
from typing import Any

import pytest
import yaml
from published import ailake, ailake_endpoint, flow_sdk, read_lake

# Every launch of an airbyte-cdk 7 connector costs seconds (more on a busy machine).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["id"],
    # Deletions as Estuary's CDC captures declare them.
    "if": {"properties": {"_meta": {"properties": {"op": {"const": "d"}}}}},
    "then": {"reduce": {"strategy": "merge", "delete": True}},
}


def test_rows_land_per_transaction_and_a_deletion_arrives_as_a_cdc_delete(
    tmp_path: Path,
) -> None:
    python = ailake()
    lake = tmp_path / "lake"
    catalog: dict[str, Any] = {
        "collections": {"acmeCo/users": {"schema": SCHEMA, "key": ["/id"]}},
        "materializations": {
            "acmeCo/lake": {
                "endpoint": ailake_endpoint(python, lake, text_field="name"),
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

    run = flow_sdk(
        "preview", "--source", "flow.yaml", "--name", "acmeCo/lake", "--fixture", "fixture.json",
        cwd=tmp_path,
    )  # fmt: skip
    # Each commit was acknowledged only after ailake echoed its state.
    assert "session 1 committed 2 transaction(s)" in run.stderr

    first, second = read_lake(python, lake / "users")  # one Parquet file per transaction
    assert [(r["id"], r["text"]) for r in first] == [(1, "ada"), (2, "bob"), (3, "cy")]
    assert all(r.get("_ab_cdc_deleted_at") is None for r in first)
    deleted, added = second
    assert deleted["id"] == 2 and deleted["_ab_cdc_deleted_at"].endswith("Z")
    assert (added["id"], added["text"], added["_ab_cdc_deleted_at"]) == (4, "dee", None)
