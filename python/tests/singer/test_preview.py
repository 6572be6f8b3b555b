"""The demo tap through the local runtime (`flow-sdk preview`), in both modes: validate,
apply, open, documents checked against the collections' schemas, and a second preview
resuming from the first one's state."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from conftest import API_KEY, MODES

from flow_sdk.runtime.catalog import load_catalog
from flow_sdk.runtime.logs import Console
from flow_sdk.runtime.preview import PreviewOptions, preview_capture

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
