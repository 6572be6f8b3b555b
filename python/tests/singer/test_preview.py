"""The demo tap through the local runtime (`flow-sdk preview`), in both modes: validate,
apply, open, documents checked against the collections' schemas, and a second preview
resuming from the first one's state."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from conftest import API_KEY, MODES

from flow_sdk.runtime.capture.preview import preview_capture
from flow_sdk.runtime.catalog.load import load_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.preview import PreviewOptions

META = {"type": "object", "properties": {"row_id": {"type": "integer"}}, "required": ["row_id"]}


def write_catalog(tmp_path: Path, command: list[str], api_url: str) -> Path:
    catalog = {
        "captures": {
            "acmeCo/source-demo": {
                "endpoint": {
                    "local": {
                        "command": command,
                        "config": {"api_url": api_url, "api_key": API_KEY},
                    }
                },
                "bindings": [
                    {
                        "resource": {
                            "tap_stream_id": "users",
                            "replication_method": "INCREMENTAL",
                            "replication_key": "updated_at",
                        },
                        "target": "acmeCo/users",
                    },
                    {
                        "resource": {"tap_stream_id": "events", "replication_method": "FULL_TABLE"},
                        "target": "acmeCo/events",
                    },
                ],
                "interval": "1s",
            }
        },
        "collections": {
            "acmeCo/users": {
                "key": ["/id"],
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "updated_at": {"type": "integer"},
                        "_meta": META,
                    },
                    "required": ["id", "updated_at"],
                },
            },
            "acmeCo/events": {
                "key": ["/_meta/row_id"],
                "schema": {
                    "type": "object",
                    "properties": {"kind": {"type": "string"}, "_meta": META},
                    "required": ["_meta"],
                },
            },
        },
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def preview(path: Path, **options: object) -> tuple[list[list], str]:
    import io

    loaded = load_catalog(path)
    out, err = io.BytesIO(), io.StringIO()
    preview_capture(
        loaded,
        loaded.capture(None),
        PreviewOptions(progress=False, output_state=True, **options),
        output=out,
        console=Console(err),
    )
    return [orjson.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@pytest.mark.parametrize(
    "mode", [pytest.param("inprocess"), pytest.param("subprocess", marks=pytest.mark.slow)]
)
def test_preview_then_resume_from_its_state(mode: str, tmp_path: Path, api) -> None:
    path = write_catalog(tmp_path, MODES[mode], api.url)
    lines, err = preview(path, sessions=[-1])
    users = [doc for name, doc in lines if name == "acmeCo/users"]
    events = [doc for name, doc in lines if name == "acmeCo/events"]
    assert sorted(u["id"] for u in users) == [1, 2, 3, 4, 5], err
    assert sorted(e["_meta"]["row_id"] for e in events) == [0, 1, 2]
    final = lines[-1]
    assert final[0] == "connectorState"
    state = final[1]["updated"]
    assert state["bindingStateV1"]["users"]["bookmark"][0]["replication_key_value"] == 105

    api.add_users(1)
    again, err = preview(path, sessions=[-1], initial_state=state)
    assert sorted(u["id"] for name, u in again if name == "acmeCo/users") == [5, 6], err
    assert (
        again[-1][1]["updated"]["bindingStateV1"]["users"]["bookmark"][0]["replication_key_value"]
        == 106
    )


@pytest.mark.parametrize("mode", list(MODES))
def test_raw_discover_writes_a_catalog_flows_rules_accept(mode: str, tmp_path: Path, api) -> None:
    """A Singer tap's discovered catalog passes every one of Flow's catalog rules (keys of one
    scalar type, required where the tap guarantees them, resource paths), `raw validate`
    checks it, and a preview of it runs."""
    import subprocess
    import sys

    path = tmp_path / "flow.yaml"
    capture = yaml.safe_load(write_catalog(tmp_path, MODES[mode], api.url).read_text())
    capture = capture["captures"]["acmeCo/source-demo"]
    capture["bindings"] = []
    path.write_text(yaml.safe_dump({"captures": {"acmeCo/source-demo": capture}}))

    def flow_sdk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flow_sdk.cli", *args, "--source", str(path)],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip

    discovered = flow_sdk("raw", "discover")
    assert discovered.returncode == 0, discovered.stderr[-3000:]
    written = yaml.safe_load(path.read_text())
    assert {n: c["key"] for n, c in written["collections"].items()} == {
        "acmeCo/users": ["/id"],
        "acmeCo/events": ["/_meta/row_id"],
    }
    users = written["collections"]["acmeCo/users"]["schema"]
    assert "id" in users["required"], "the tap's key field is marked required"
    validated = flow_sdk("raw", "validate")
    assert validated.returncode == 0, validated.stderr[-3000:]
    lines, err = preview(path, sessions=[-1])
    assert sorted(d["id"] for name, d in lines if name == "acmeCo/users") == [1, 2, 3, 4, 5], err
