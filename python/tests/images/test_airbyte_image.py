"""Subprocess mode runs an Airbyte connector image: `flow-sdk airbyte-capture --image IMAGE`
drives an Airbyte-style image (its entry point the airbyte-cdk source's CLI, non-root) with
the config, catalog and state files mounted into the container."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flow_sdk.containers import ENGINE_ENV

pytestmark = [pytest.mark.images, pytest.mark.timeout(1200)]

FIXTURE = Path(__file__).parent / "fixtures" / "airbyte-style"
IMAGE = "localhost/flow-sdk-test/airbyte-bigdata:local"
CONFIG = {"data_name": "ab", "record_count": 4, "seed": 3, "checkpoint_interval": 2}


@pytest.fixture(scope="module")
def airbyte_image(images, engine: str) -> str:
    """The Airbyte-style image, built on the workspace's source-bigdata image."""
    base = images("source-bigdata")
    done = subprocess.run(
        [engine, "build", "--build-arg", f"BASE={base}", "--tag", IMAGE, str(FIXTURE)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.fail(f"building {IMAGE} failed:\n{done.stderr[-3000:]}")
    return IMAGE


def flow_sdk(engine: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flow_sdk.cli", *args],
        cwd=cwd,
        env={**os.environ, ENGINE_ENV: engine},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_image_speaks_airbyte_not_flow(airbyte_image: str, engine: str) -> None:
    done = subprocess.run(
        [engine, "run", "--rm", airbyte_image, "spec"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [m["type"] for m in messages if m["type"] != "LOG"] == ["SPEC"]


def test_airbyte_capture_runs_the_image_from_spec_to_preview(
    airbyte_image: str, engine: str, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "flow_sdk.cli", "airbyte-capture", "--image", airbyte_image]
    catalog = {
        "captures": {
            "acmeCo/airbyte-image": {
                "endpoint": {"local": {"command": command, "config": CONFIG}},
                "bindings": [],
            }
        }
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    spec = flow_sdk(engine, tmp_path, "raw", "spec", "--source", str(path))
    assert spec.returncode == 0, spec.stderr[-3000:]
    assert json.loads(spec.stdout)["configSchema"]["title"] == "Big Data Spec"

    discover = flow_sdk(
        engine, tmp_path, "raw", "discover", "--source", str(path)
    )  # check, discover
    assert discover.returncode == 0, discover.stderr[-3000:]
    written = yaml.safe_load(path.read_text())
    streams = [
        b["resource"]["stream"] for b in written["captures"]["acmeCo/airbyte-image"]["bindings"]
    ]
    assert streams == ["bigdata", "users", "events"]

    preview = flow_sdk(  # read, with the catalog (and, from the second session, state) files
        engine, tmp_path, "preview", "--source", str(path), "--name", "acmeCo/airbyte-image",
        "--sessions", "-1", "--output-state",
    )  # fmt: skip
    assert preview.returncode == 0, preview.stderr[-3000:]
    lines = [json.loads(line) for line in preview.stdout.splitlines()]
    documents = [doc for name, doc in lines if name != "connectorState"]
    assert len(documents) == 12  # 4 records of each of the three streams
    assert lines[-1][0] == "connectorState"
    assert "users" in json.dumps(lines[-1][1])  # the source's stream state came back


def test_without_an_engine_image_mode_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "flow_sdk.cli", "airbyte-capture", "--image", IMAGE],
        input='{"spec":{"connectorType":"IMAGE","config":{}}}\n',
        env={**os.environ, "PATH": str(empty)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert f"the Airbyte connector image {IMAGE!r} needs a container engine" in last
    assert "Traceback" not in done.stderr
