"""The Flow face: `python -m source_bigdata` (the Airbyte source behind flow-sdk's
CaptureShim), driven by the local runtime exactly as flowctl would drive it: raw spec,
raw discover, and preview sessions that resume from each other's state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent.parent
CATALOG = REPO / "test.flow.yaml"
BIN = Path(sys.executable).parent
CAPTURE = "acmeCo/source-bigdata"
COUNT = 10
CONFIG = {"data_name": "flow", "record_count": COUNT, "seed": 3, "checkpoint_interval": 4}
COLLECTIONS = {"bigdata": "acmeCo/bigdata", "users": "acmeCo/users", "events": "acmeCo/events"}
FUTURE = "2999-01-01T00:00:00Z"

pytestmark = pytest.mark.slow


def flow_sdk(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[bytes]:
    """Run the local runtime's CLI with the workspace's `python` first on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(BIN / "flow-sdk"), *args], capture_output=True, timeout=300, cwd=cwd, env=env
    )


def lines(done: subprocess.CompletedProcess[bytes]) -> list[Any]:
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of test.flow.yaml's capture with a small config, so sessions stay quick."""
    spec = yaml.safe_load(CATALOG.read_text())
    spec.pop("materializations", None)
    spec["captures"][CAPTURE]["endpoint"]["local"]["config"] = CONFIG
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def preview(catalog: Path, *flags: str) -> tuple[dict[str, list[dict]], list[dict]]:
    """Documents by collection (in order) and the connectorState lines of one preview."""
    out = lines(
        flow_sdk("preview", "--source", str(catalog), "--name", CAPTURE, "--output-state", *flags)
    )
    docs: dict[str, list[dict]] = {name: [] for name in COLLECTIONS.values()}
    states = []
    for name, value in out:
        if name == "connectorState":
            states.append(value)
        else:
            docs[name].append(value)
    return docs, states


def expected_records(stream: str) -> list[dict]:
    """The records an Airbyte read gives, from the generator itself (determinism is tested
    through the Airbyte CLI in test_airbyte_cli.py)."""
    from source_bigdata.config import BigdataConfig
    from source_bigdata.generate import MAKERS

    config = BigdataConfig.parse(CONFIG)
    maker = MAKERS[stream](config.seed, config.start_seconds, COUNT, config.data_name)
    return list(maker.records(0, COUNT))


def strip_meta(doc: dict) -> dict:
    return {key: value for key, value in doc.items() if key != "_meta"}


def test_raw_spec_from_the_workspace_catalog():
    (spec,) = lines(flow_sdk("raw", "spec", "--source", str(CATALOG), "--capture", CAPTURE))
    assert spec["protocol"] == 3032023
    assert spec["documentationUrl"] == "https://docs.bigdata.com/integrations/sources/bigdata"
    schema = spec["configSchema"]
    assert schema["title"] == "Big Data Spec"
    assert schema["required"] == ["data_name"]
    assert schema["properties"]["data_name"]["pattern"] == r"^[a-z0-9_\-]+$"
    assert schema["properties"]["data_name"]["description"] == "Name requested from the API."


def test_the_workspace_catalog_matches_discovery(catalog):
    discovered = lines(flow_sdk("raw", "discover", "--source", str(catalog), "--emit-raw"))
    spec = yaml.safe_load(CATALOG.read_text())
    bindings = spec["captures"][CAPTURE]["bindings"]
    collections = spec["collections"]
    assert len(bindings) == len(discovered)
    for binding, found in zip(bindings, discovered, strict=True):
        target = f"acmeCo/{found['recommendedName']}"
        assert binding["target"] == target
        assert binding["resource"] == found["resourceConfig"]
        assert collections[target]["key"] == found["key"]
        assert collections[target]["schema"] == found["documentSchema"]
    assert collections["acmeCo/bigdata"]["key"] == ["/_meta/row_id"]
    assert set(collections) >= {binding["target"] for binding in bindings}


def test_raw_discover_keeps_the_workspace_catalog_as_written(tmp_path):
    """test.flow.yaml matches discovery, so discovering into a copy changes nothing: not a
    comment, not a space. With a binding removed, discover adds it back and every comment
    and every other line stays."""
    text = CATALOG.read_text()
    copy = tmp_path / "test.flow.yaml"
    copy.write_text(text)
    lines(flow_sdk("raw", "discover", "--source", str(copy)))
    assert copy.read_text() == text

    events = (
        "      - resource: { stream: events, syncMode: incremental, cursorField: [updated_at] }\n"
        "        target: acmeCo/events\n"
    )
    assert events in text
    copy.write_text(text.replace(events, ""))
    lines(flow_sdk("raw", "discover", "--source", str(copy)))
    written = copy.read_text()
    assert yaml.safe_load(written) == yaml.safe_load(text)
    comments = [line for line in text.splitlines() if "#" in line]
    assert comments == [line for line in written.splitlines() if "#" in line]
    assert written.replace(
        "      - resource:\n          stream: events\n          syncMode: incremental\n"
        "          cursorField:\n            - updated_at\n        target: acmeCo/events\n",
        "",
    ) == text.replace(events, "")


def test_a_config_the_source_rejects_fails_validation_with_its_message(tmp_path):
    spec = yaml.safe_load(CATALOG.read_text())
    spec.pop("materializations", None)
    config = {"data_name": "ok", "start_date": "2024-02-30T00:00:00Z"}  # fits the pattern
    spec["captures"][CAPTURE]["endpoint"]["local"]["config"] = config
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    done = flow_sdk("raw", "validate", "--source", str(path))
    assert done.returncode != 0
    last = done.stderr.decode(errors="replace").strip().splitlines()[-1]
    assert "config.start_date '2024-02-30T00:00:00Z' is not a real date and time" in last


def test_sessions_resume_from_each_other_exactly(catalog):
    # Session 1: one transaction, a prefix of the data (how long depends on timing).
    first, first_states = preview(catalog, "--sessions", "1")
    state = first_states[-1]["updated"]
    # Session 2 resumes from session 1's state and runs until the connector exits.
    second, _ = preview(catalog, "--initial-state", orjson.dumps(state).decode())
    for stream in ("users", "events"):
        collection = COLLECTIONS[stream]
        got = [strip_meta(doc) for doc in first[collection] + second[collection]]
        # Every record exactly once across the two sessions, none re-sent, none lost.
        assert got == expected_records(stream), stream
    bigdata = COLLECTIONS["bigdata"]
    for doc in first[bigdata] + second[bigdata]:
        assert doc["_meta"]["row_id"] == doc["index"], "row ids follow the sweep"
    # The full refresh resumes a sweep in progress, or sweeps again once one is complete.
    resumed_at = len(first[bigdata]) if len(first[bigdata]) < COUNT else 0
    assert [doc["index"] for doc in second[bigdata]] == list(range(resumed_at, COUNT))
    assert [strip_meta(d) for d in second[bigdata]] == expected_records("bigdata")[resumed_at:]


def test_a_mid_run_checkpoint_and_a_future_state_through_flow(catalog):
    # users stopped after its 4th record and events past the end of time, as flow-sdk 0.1.x
    # wrote state (the shim reads it); bigdata 6 rows into its sweep, in the shim's own layout
    # (0.1.x never resumed a full refresh mid-sweep).
    users = expected_records("users")

    def blob(stream: str, stream_state: dict) -> dict:
        return {"stream_descriptor": {"name": stream}, "stream_state": stream_state}

    def old_entry(stream: str, stream_state: dict, row_id: int) -> dict:
        return {"state": {"type": "STREAM", "stream": blob(stream, stream_state)}, "rowId": row_id}

    state = {
        "bindingStateV1": {
            "users": old_entry("users", {"updated_at": users[3]["updated_at"]}, 4),
            "events": old_entry("events", {"updated_at": FUTURE}, 0),
            "bigdata": {"rowId": 6, "stream": [blob("bigdata", {"next_index": 6})]},
        }
    }
    docs, _ = preview(catalog, "--initial-state", orjson.dumps(state).decode())
    assert [strip_meta(d) for d in docs[COLLECTIONS["users"]]] == users[4:]
    assert docs[COLLECTIONS["events"]] == []
    bigdata = docs[COLLECTIONS["bigdata"]]
    assert [d["index"] for d in bigdata] == list(range(6, COUNT))
    assert [d["_meta"]["row_id"] for d in bigdata] == list(range(6, COUNT))


def test_python_dash_m_source_bigdata_from_the_repository_root():
    request = b'{"spec":{"connectorType":"LOCAL","config":{}}}\n'
    done = subprocess.run(
        [sys.executable, "-m", "source-bigdata"],
        input=request,
        capture_output=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    (response,) = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert response["spec"]["configSchema"]["title"] == "Big Data Spec"
