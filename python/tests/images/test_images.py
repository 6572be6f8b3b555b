"""The workspace's connector images, built for real (build-local.sh) and run as Flow runs
them: Flow's labels, a non-root numeric user, Spec answered on stdin, and the local runtime
driving them through `connector: image:` endpoints, from Spec to a whole `flow-sdk run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kvdb_server import FakeKvdb, serving

from flow_sdk.containers import ENGINE_ENV

# A cold build of both images takes minutes on two busy cores: above the suite's 300 s.
pytestmark = [pytest.mark.images, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def matrix_connectors() -> dict[str, str]:
    """Every connector of CI's image matrix (the one GitHub builds and publishes), with its
    protocol: each gets its image built and checked here, a scaffolded one included."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    entries = workflow["jobs"]["connectors"]["strategy"]["matrix"]["include"]
    return {e["connector"]: e["connector_type"] for e in entries}


CONNECTORS = matrix_connectors()
SPEC_REQUEST = '{"spec":{"connectorType":"IMAGE","config":{}}}\n'
PROTOCOL = 3032023
BUCKET_ID, SECRET = "ImageBucket1", "image-secret"
BIGDATA_CONFIG = {"data_name": "img", "record_count": 6, "seed": 7, "checkpoint_interval": 3}


def flow_sdk(
    engine: str, cwd: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`flow-sdk <args>` as a real subprocess, running images with `engine`."""
    return subprocess.run(
        [sys.executable, "-m", "flow_sdk.cli", *args],
        cwd=cwd,
        env={**os.environ, ENGINE_ENV: engine},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


def inspect(engine: str, image: str, template: str) -> str:
    done = subprocess.run(
        [engine, "image", "inspect", "--format", template, image],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("connector", CONNECTORS)
def test_the_image_carries_flows_labels_and_runs_as_a_numeric_non_root_user(
    images, engine: str, connector: str
) -> None:
    image = images(connector)
    labels = json.loads(inspect(engine, image, "{{ json .Config.Labels }}"))
    assert labels["FLOW_RUNTIME_PROTOCOL"] == CONNECTORS[connector]
    assert labels["FLOW_RUNTIME_CODEC"] == "json"
    assert inspect(engine, image, "{{ .Config.User }}") == "10001:10001"  # runAsNonRoot-checkable
    ids = subprocess.run(
        [engine, "run", "--rm", "--entrypoint", "id", image],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ids.stdout.startswith("uid=10001(flow) gid=10001(flow)"), ids.stdout + ids.stderr


@pytest.mark.parametrize("connector", CONNECTORS)
def test_the_image_answers_spec_on_stdin(images, engine: str, connector: str) -> None:
    image = images(connector)
    done = subprocess.run(
        [engine, "run", "-i", "--rm", image],
        input=SPEC_REQUEST,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    spec = json.loads(done.stdout.splitlines()[0])["spec"]
    assert spec["protocol"] == PROTOCOL
    assert spec["documentationUrl"] == f"https://go.estuary.dev/{connector}"
    assert spec["configSchema"]["type"] == "object"


def write_catalog(path: Path, catalog: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path


def bigdata_capture(bindings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "endpoint": {
            "connector": {"image": "ghcr.io/estuary/source-bigdata:local", "config": BIGDATA_CONFIG}
        },
        "bindings": bindings,
    }


def kvdb_materialization(url: str, stream: str, source: str) -> dict[str, Any]:
    bucket = {"bucket_type": "kvdb", "bucket_id": BUCKET_ID, "secret_key": SECRET, "base_url": url}
    return {
        "endpoint": {
            "connector": {
                "image": "ghcr.io/estuary/destination-kvdb:local",
                "config": {"bucket": bucket},
            }
        },
        "bindings": [{"resource": {"stream": stream}, "source": source}],
    }


@pytest.fixture
def kvdb() -> Any:
    with serving() as fake:
        fake.bucket(BUCKET_ID, SECRET)
        yield fake


def test_the_runtime_drives_the_source_image_from_spec_to_preview(
    images, engine: str, tmp_path: Path
) -> None:
    images("source-bigdata")
    path = write_catalog(
        tmp_path / "flow.yaml", {"captures": {"acmeCo/source-bigdata": bigdata_capture([])}}
    )
    spec = json.loads(ok(flow_sdk(engine, tmp_path, "raw", "spec", "--source", str(path))))
    assert spec["protocol"] == PROTOCOL
    assert spec["documentationUrl"] == "https://go.estuary.dev/source-bigdata"

    ok(flow_sdk(engine, tmp_path, "raw", "discover", "--source", str(path)))
    catalog = yaml.safe_load(path.read_text())
    bindings = catalog["captures"]["acmeCo/source-bigdata"]["bindings"]
    assert [b["resource"]["stream"] for b in bindings] == ["bigdata", "users", "events"]
    assert set(catalog["collections"]) == {"acmeCo/bigdata", "acmeCo/users", "acmeCo/events"}

    out = ok(
        flow_sdk(
            engine,
            tmp_path,
            "preview",
            "--source",
            str(path),
            "--name",
            "acmeCo/source-bigdata",
            "--sessions",
            "-1",
        )
    )
    documents = [json.loads(line) for line in out.splitlines()]
    counts = {name: sum(1 for c, _ in documents if c == name) for name in catalog["collections"]}
    assert counts == {"acmeCo/bigdata": 6, "acmeCo/users": 6, "acmeCo/events": 6}


def test_the_runtime_previews_a_fixture_through_the_destination_image(
    images, engine: str, tmp_path: Path, kvdb: FakeKvdb
) -> None:
    images("destination-kvdb")
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "message": {"type": "string"}},
        "required": ["id", "message"],
    }
    catalog = {
        "collections": {"acmeCo/greetings": {"key": ["/id"], "schema": schema}},
        "materializations": {
            "acmeCo/destination-kvdb": kvdb_materialization(
                kvdb.url, "greetings", "acmeCo/greetings"
            )
        },
    }
    path = write_catalog(tmp_path / "flow.yaml", catalog)
    fixture = tmp_path / "fixture.json"
    fixture.write_text(
        json.dumps(
            [
                [
                    ["acmeCo/greetings", {"id": 0, "message": "Hello #0"}],
                    ["acmeCo/greetings", {"id": 1, "message": "Hello #1"}],
                ],
                [["acmeCo/greetings", {"id": 0, "message": "Goodbye #0"}]],
            ]
        )
    )
    ok(
        flow_sdk(
            engine, tmp_path, "preview", "--source", str(path), "--name",
            "acmeCo/destination-kvdb", "--fixture", str(fixture), "--network", "host",
        )
    )  # fmt: skip
    stored = {
        key: json.loads(value)["message"] for key, value in kvdb.buckets[BUCKET_ID][1].items()
    }
    assert stored == {"greetings/0": "Goodbye #0", "greetings/1": "Hello #1"}


def test_flow_sdk_run_captures_and_materializes_with_both_images(
    images, engine: str, tmp_path: Path, kvdb: FakeKvdb
) -> None:
    images("source-bigdata")
    images("destination-kvdb")
    workspace = yaml.safe_load((ROOT / "test.flow.yaml").read_text())
    users = {"stream": "users", "syncMode": "incremental", "cursorField": ["updated_at"]}
    catalog = {
        "collections": {"acmeCo/users": workspace["collections"]["acmeCo/users"]},
        "captures": {
            "acmeCo/source-bigdata": bigdata_capture(
                [{"resource": users, "target": "acmeCo/users"}]
            )
        },
        "materializations": {
            "acmeCo/destination-kvdb": kvdb_materialization(kvdb.url, "users", "acmeCo/users")
        },
    }
    path = write_catalog(tmp_path / "flow.yaml", catalog)
    args = ("run", "--source", str(path), "--data-dir", str(tmp_path / "data"), "--network", "host")
    done = flow_sdk(engine, tmp_path, *args)
    ok(done)
    assert "captured 6 document(s) with acmeCo/source-bigdata" in done.stderr
    assert "materialized 6 document(s) with acmeCo/destination-kvdb" in done.stderr
    stored = kvdb.buckets[BUCKET_ID][1]
    assert len(stored) == 6 and all(key.startswith("users/") for key in stored)
    assert {json.loads(value)["id"] for value in stored.values()} == {
        int(key.removeprefix("users/")) for key in stored
    }
