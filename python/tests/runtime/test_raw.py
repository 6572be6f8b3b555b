"""`flow-sdk raw spec | discover | validate` of every kind of task: the counter capture, a
scripted materialization beside it (constraints per binding; a catalog of several tasks
needs `--name`), the example derivation, and discovered names normalized as Flow does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import yaml

from flow_sdk.protocol.wire import PROTOCOL


def test_raw_spec_prints_the_spec_response(catalog: Path, cli) -> None:
    result = cli("raw", "spec", "--source", str(catalog))
    assert result.code == 0, result.stderr
    [spec] = result.lines
    assert spec["protocol"] == PROTOCOL
    assert spec["resourcePathPointers"] == ["/name"]
    assert spec["configSchema"]["required"] == ["count"]


def test_raw_validate_prints_resource_paths_and_state_keys(catalog: Path, cli) -> None:
    result = cli("raw", "validate", "--source", str(catalog), "--capture", "acmeCo/counter")
    assert result.code == 0, result.stderr
    assert result.lines == [
        {
            "binding": 0,
            "collection": "acmeCo/alpha",
            "resourcePath": ["alpha"],
            "stateKey": "alpha",
        },
        {"binding": 1, "collection": "acmeCo/beta", "resourcePath": ["beta"], "stateKey": "beta"},
    ]


MATERIALIZATION = Path(__file__).parent.parent / "connectors" / "scripted_materialization.py"
ROOT = Path(__file__).parents[3]


def with_materialization(catalog: Path, yaml_edit) -> None:  # noqa: ANN001
    """The counter catalog plus a materialization of its two collections."""

    def add(data: dict) -> None:
        data["materializations"] = {
            "acmeCo/sink": {
                "endpoint": {
                    "local": {"command": [sys.executable, str(MATERIALIZATION)], "config": {}}
                },
                "bindings": [
                    {"resource": {"table": "alpha"}, "source": "acmeCo/alpha"},
                    {"resource": {"table": "beta"}, "source": "acmeCo/beta"},
                ],
            }
        }

    yaml_edit(catalog, add)


def test_several_tasks_without_a_name_is_a_sentence_listing_them(
    catalog: Path, cli, yaml_edit
) -> None:
    with_materialization(catalog, yaml_edit)
    for command in ("spec", "validate"):
        result = cli("raw", command, "--source", str(catalog))
        assert result.code == 1
        assert result.stdout == ""
        assert result.last_error == (
            f"flow-sdk: error: {catalog} defines 2 tasks (capture acmeCo/counter, "
            "materialization acmeCo/sink); choose one with --name"
        )
    unknown = cli("raw", "spec", "--source", str(catalog), "--name", "acmeCo/nope")
    assert unknown.last_error == (
        f"flow-sdk: error: {catalog} has no task named 'acmeCo/nope' (it has: capture "
        "acmeCo/counter, materialization acmeCo/sink)"
    )


def test_raw_spec_of_a_materialization_and_of_the_capture(catalog: Path, cli, yaml_edit) -> None:
    with_materialization(catalog, yaml_edit)
    sink = cli("raw", "spec", "--source", str(catalog), "--name", "acmeCo/sink")
    assert sink.code == 0, sink.stderr
    [spec] = sink.lines
    assert spec["documentationUrl"] == "https://example.com/scripted"
    assert spec["resourceConfigSchema"]["properties"]["table"]["x-collection-name"] is True
    for flag in ("--name", "--capture"):
        counter = cli("raw", "spec", "--source", str(catalog), flag, "acmeCo/counter")
        assert counter.code == 0, counter.stderr
        assert counter.lines[0]["resourcePathPointers"] == ["/name"]


def test_raw_validate_of_a_materialization_prints_constraints_per_binding(
    catalog: Path, cli, yaml_edit
) -> None:
    with_materialization(catalog, yaml_edit)
    result = cli("raw", "validate", "--source", str(catalog), "--name", "acmeCo/sink")
    assert result.code == 0, result.stderr
    optional = {"type": "FIELD_OPTIONAL"}
    assert result.lines == [
        {
            "binding": i,
            "collection": f"acmeCo/{name}",
            "resourcePath": [name],
            "stateKey": name,
            "deltaUpdates": True,
            "constraints": {"flow_document": optional, "id": optional, "name": optional},
        }
        for i, name in enumerate(["alpha", "beta"])
    ]


def test_raw_spec_and_validate_of_a_derivation() -> None:
    def raw(*args: str) -> list:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "flow_sdk.cli",
                "raw",
                *args,
                "--source",
                "python/examples/balances.flow.yaml",
            ],
            capture_output=True,
            cwd=ROOT,
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return [orjson.loads(line) for line in done.stdout.splitlines()]

    [spec] = raw("spec")
    assert spec["protocol"] == PROTOCOL and "configSchema" in spec
    assert raw("validate", "--name", "acmeCo/balances") == [
        {"transform": 0, "name": "fromTransfers", "source": "acmeCo/transfers", "readOnly": False}
    ]


def test_discovered_names_are_normalized_as_flows_discover_merge(scripted, cli) -> None:
    catalog = scripted("discover-names")
    result = cli("raw", "discover", "--source", str(catalog))
    assert result.code == 0, result.stderr
    written = yaml.safe_load(catalog.read_text())
    targets = [b["target"] for b in written["captures"]["acmeCo/scripted"]["bindings"]]
    assert targets == ["acmeCo/things", "acmeCo/some_greetings"]  # existing first, in place
    assert written["collections"]["acmeCo/some_greetings"]["key"] == ["/id"]
