"""Published Airbyte connectors from PyPI for the shims' tests, each in a cached virtualenv of
its own (`.cache/`), and the `flow-sdk` command that runs them as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cached_venv import cached_venv
from s3_server import KEYS

HERE = Path(__file__).parent
FLOW_SDK = str(Path(sys.executable).parent / "flow-sdk")

# Its published metadata pins `smart-open[s3]` to the connector's own version (no such
# smart-open exists): override it with the smart-open the connector was built on.
SOURCE_S3 = ["airbyte-source-s3==4.16.1"]
SOURCE_S3_OVERRIDES = ["smart-open[s3]==5.2.1"]
AILAKE = ["airbyte-destination-ailake==0.1.16"]

# Every Parquet file of an ailake table (one per destination commit) as a list of rows.
_READ_LAKE = """
import glob, json, sys
import pyarrow.parquet as pq
files = sorted(glob.glob(sys.argv[1] + "/data/*.parquet"))
print(json.dumps([pq.read_table(f).drop_columns(["embedding"]).to_pylist() for f in files]))
"""


def flow_sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`flow-sdk ARGS` run to success (its stderr's tail is the failure message otherwise)."""
    env = dict(os.environ, DO_NOT_TRACK="1")
    run = subprocess.run(
        [FLOW_SDK, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def source_s3() -> Path:
    """airbyte-source-s3's executable."""
    return cached_venv("source-s3", SOURCE_S3, SOURCE_S3_OVERRIDES).parent / "source-s3"


def s3_config(endpoint: str, bucket: str, stream: str, glob: str) -> dict[str, Any]:
    """source-s3's config for one CSV stream of an S3-compatible endpoint."""
    return {
        "bucket": bucket,
        "endpoint": endpoint,
        "region_name": "us-east-1",
        "credentials": {"auth_type": "iam_user", **KEYS},
        "streams": [
            {
                "name": stream,
                "globs": [glob],
                "format": {"filetype": "csv"},
                "validation_policy": "Emit Record",
                "days_to_sync_if_history_is_full": 3,
            }
        ],
    }


def ailake() -> Path:
    """airbyte-destination-ailake's virtualenv's `python`."""
    return cached_venv("destination-ailake", AILAKE)


def ailake_endpoint(python: Path, lake: Path, text_field: str) -> dict[str, Any]:
    """A local endpoint running ailake behind `flow-sdk airbyte-materialize`, writing tables
    under `lake`, its embeddings from `fake_embedder.py` (no model, no network)."""
    command = [
        FLOW_SDK,
        "airbyte-materialize",
        "--",
        str(python.parent / "airbyte-destination-ailake"),
    ]
    config = {
        "table_base_path": str(lake),
        "embed_mode": "cmd",
        "embed_cmd": f"{python} {HERE / 'fake_embedder.py'}",
        "embedding_dim": 4,
        "text_field": text_field,
    }
    return {"local": {"command": command, "config": config}}


def read_lake(python: Path, table: Path) -> list[list[dict[str, Any]]]:
    """The rows of each commit of an ailake table, the commits ordered by their first row's
    `id` (file names are random)."""
    read = subprocess.run(
        [str(python), "-c", _READ_LAKE, str(table)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return sorted(json.loads(read.stdout), key=lambda rows: str(rows[0]["id"]))
