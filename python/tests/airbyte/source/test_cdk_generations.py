"""The capture shim across airbyte-cdk generations, each in its own cached virtualenv:

- airbyte-cdk 4.6.2 (pydantic v2 models, `airbyte-protocol-models-pdv2`) with flow-sdk beside
  it: the source in process behind `CaptureShim`, and as a subprocess;
- airbyte-cdk 0.52 (pydantic v1, what flow-sdk 0.1.9 ran on; flow-sdk 0.2 cannot be installed
  there): the source's own entrypoint wrapped by `flow-sdk airbyte-capture` from this
  workspace, over the protocol and through `flow-sdk preview`;
- state written by flow-sdk 0.1.9's own shim (installed in the 0.52 virtualenv) continued.

The source is `classic_cdk_source.py`, the same code on both generations; CDK 5.x–7.x are
covered by `test_capture.py` (CDK 7) and `test_preview.py` (faker, CDK 6)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from airbyte_shim_process import HERE, PYTHON, Run, binding, open_request, run_connector
from cached_venv import ROOT, cached_venv

from flow_sdk.protocol.merge_patch import merge_patch

pytestmark = pytest.mark.slow
SOURCE = str(HERE / "classic_cdk_source.py")
FLOW_SDK = str(Path(PYTHON).parent / "flow-sdk")
WRAP = [PYTHON, "-m", "flow_sdk.airbyte.source.capture_cli", "--"]
USERS = binding("users", "incremental", cursor=["updated_at"])
EVENTS = binding("events", "full_refresh")
SHIMS = ["cdk4-inprocess", "cdk4-subprocess", "cdk0-subprocess"]


@pytest.fixture(scope="session")
def cdk4_python() -> Path:
    return cached_venv("airbyte-cdk4", ["airbyte-cdk==4.6.2", f"-e {ROOT / 'python'}"])


@pytest.fixture(scope="session")
def cdk0_python() -> Path:
    """airbyte-cdk 0.52 with flow-sdk 0.1.9, whose shim writes the old state layout."""
    return cached_venv("airbyte-cdk0", ["airbyte-cdk==0.52.*", "flow-sdk==0.1.9"])


def shim_command(request: pytest.FixtureRequest, name: str) -> list[str]:
    cdk, mode = name.split("-")
    python = str(request.getfixturevalue(f"{cdk}_python"))
    return [python, SOURCE, "--flow"] if mode == "inprocess" else [*WRAP, python, SOURCE]


@pytest.fixture(params=SHIMS)
def shim(request: pytest.FixtureRequest) -> list[str]:
    return shim_command(request, request.param)


def read(shim: list[str], config: dict[str, Any], bindings: list, state: Any = None) -> Run:
    run = run_connector(shim, [open_request(config, bindings, state)])
    assert run.code == 0, run.stderr[-3000:]
    return run


def test_spec_discover_validate(shim: list[str]) -> None:
    config = {"count": 1, "api_key": "sekrit-classic-key"}
    validate = {
        "validate": {
            "name": "acmeCo/cap",
            "config": config,
            "bindings": [
                {"resourceConfig": b["resourceConfig"], "collection": b["collection"]}
                for b in (USERS, EVENTS)
            ],
        }
    }
    run = run_connector(shim, [{"spec": {}}, {"discover": {"config": config}}, validate])
    assert run.code == 0, run.stderr[-3000:]
    spec, discovered, validated = (r[next(iter(r))] for r in run.responses)
    assert spec["protocol"] == 3032023
    assert spec["documentationUrl"] == "https://example.com/classic-cdk-source"
    assert spec["configSchema"]["properties"]["api_key"]["secret"] is True
    users, events = discovered["bindings"]
    assert users["resourceConfig"] == {
        "stream": "users",
        "syncMode": "incremental",
        "cursorField": ["updated_at"],
    }
    assert users["key"] == ["/id"]
    assert users["documentSchema"]["properties"]["_meta"]["required"] == ["op", "row_id"]
    assert events["resourceConfig"] == {"stream": "events", "syncMode": "full_refresh"}
    assert events["key"] == ["/_meta/row_id"]
    assert validated == {"bindings": [{"resourcePath": ["users"]}, {"resourcePath": ["events"]}]}
    assert "sekrit-classic-key" not in run.stderr


def test_stream_state_capture_and_resume(shim: list[str]) -> None:
    first = read(shim, {"count": 5, "every": 2}, [USERS, EVENTS])
    assert [d["id"] for d in first.docs(0)] == [1, 2, 3, 4, 5]
    assert [d["_meta"]["row_id"] for d in first.docs(0)] == [0, 1, 2, 3, 4]
    assert [d["_meta"]["row_id"] for d in first.docs(1)] == [0, 1, 2, 3, 4]
    # STREAM states at 2 and 4 and at the end of users, then the final checkpoint.
    assert len(first.of("checkpoint")) >= 4
    state = first.reduced_state()
    assert state == {
        "bindingStateV1": {
            "users": {
                "rowId": 5,
                "stream": [
                    {
                        "stream_descriptor": {"name": "users"},
                        "stream_state": {"updated_at": 5, "since": None},
                    }
                ],
            }
        }
    }

    resumed = read(shim, {"count": 8, "every": 2}, [USERS, EVENTS], state)
    assert [d["id"] for d in resumed.docs(0)] == [6, 7, 8]
    assert [d["_meta"]["row_id"] for d in resumed.docs(0)] == [5, 6, 7]
    assert [d["_meta"]["row_id"] for d in resumed.docs(1)] == list(range(8))  # a new sweep
    users = resumed.reduced_state(state)["bindingStateV1"]["users"]
    assert users["rowId"] == 8 and users["stream"][0]["stream_state"] == {
        "updated_at": 8,
        "since": None,
    }


GLOBAL_AND_LEGACY = [
    (shim, kind)
    for shim in SHIMS
    for kind in ("global", "legacy")
    # CDK 4's entrypoint counts records per stream state and raises on any other kind.
    if shim != "cdk4-subprocess"
]


@pytest.mark.parametrize(("shim_name", "kind"), GLOBAL_AND_LEGACY)
def test_global_and_legacy_state_resume(
    request: pytest.FixtureRequest, shim_name: str, kind: str
) -> None:
    """The source's own GLOBAL / LEGACY state messages: as pydantic v2 objects in process
    (Python field `global_`), as `"global_"` JSON from CDK 0.x's entrypoint."""
    shim = shim_command(request, shim_name)
    config = {"count": 5, "every": 2, "state_kind": kind}
    first = read(shim, config, [USERS])
    assert [d["_meta"]["row_id"] for d in first.docs()] == [0, 1, 2, 3, 4]
    state = first.reduced_state()
    if kind == "global":
        assert state == {
            "airbyteGlobal": {"sharedState": [{"cursor": 5, "source": "classic", "lsn": None}]},
            "bindingStateV1": {
                "users": {
                    "rowId": 5,
                    "stream": [
                        {
                            "stream_descriptor": {"name": "users"},
                            "stream_state": {"updated_at": 5, "since": None},
                        }
                    ],
                }
            },
        }
    else:
        assert state == {
            "airbyteLegacy": [{"users": {"cursor": 5}}],
            "bindingStateV1": {"users": {"rowId": 5}},
        }

    resumed = read(shim, dict(config, count=7), [USERS], state)
    assert [d["id"] for d in resumed.docs()] == [6, 7]
    assert [d["_meta"]["row_id"] for d in resumed.docs()] == [5, 6]
    after = resumed.reduced_state(state)
    assert after["bindingStateV1"]["users"]["rowId"] == 7
    if kind == "global":
        assert after["airbyteGlobal"] == {
            "sharedState": [{"cursor": 7, "source": "classic", "lsn": None}]
        }
    else:
        assert after["airbyteLegacy"] == [{"users": {"cursor": 7}}]


def test_cdk4_environment_runs_connectors_not_the_runtime(cdk4_python: Path) -> None:
    """airbyte-cdk 2.x-5.x pin jsonschema 3.2: flow-sdk installs beside them (the tests
    above run its shim there), and its local runtime, which needs 4.18, says so."""
    run = subprocess.run(
        [str(cdk4_python.parent / "flow-sdk"), "preview", "--source", "flow.yaml"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr.startswith(
        "flow-sdk: error: the flow-sdk local runtime needs jsonschema>=4.18"
    )


# ---- flow-sdk preview with the CDK 0.x source ----


def flow_sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [FLOW_SDK, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(HERE)),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def preview(catalog: Path, *extra: str) -> tuple[list[dict[str, Any]], Any]:
    run = flow_sdk(
        "preview", "--source", str(catalog), "--sessions", "-1", "--output-state", *extra,
        cwd=catalog.parent,
    )  # fmt: skip
    docs, state = [], {}
    for line in run.stdout.splitlines():
        name, value = orjson.loads(line)
        if name == "connectorState":
            updated = value["updated"]
            state = merge_patch(state, updated) if value.get("mergePatch") else updated
        else:
            docs.append(value)
    return docs, state


def test_cdk0_through_flow_sdk_preview(cdk0_python: Path, tmp_path: Path) -> None:
    command = [FLOW_SDK, "airbyte-capture", "--", str(cdk0_python), SOURCE]
    catalog = tmp_path / "flow.yaml"
    endpoint = {"local": {"command": command, "config": {"count": 4, "every": 2}}}
    catalog.write_text(
        yaml.safe_dump({"captures": {"acmeCo/classic": {"endpoint": endpoint, "bindings": []}}})
    )
    task = ["--source", str(catalog), "--capture", "acmeCo/classic"]

    assert "classic-cdk-source" in flow_sdk("raw", "spec", *task, cwd=tmp_path).stdout
    flow_sdk("raw", "discover", *task, cwd=tmp_path)
    written = yaml.safe_load(catalog.read_text())
    resources = [b["resource"] for b in written["captures"]["acmeCo/classic"]["bindings"]]
    assert [r["stream"] for r in resources] == ["users", "events"]
    assert written["collections"]["acmeCo/users"]["key"] == ["/id"]
    validated = flow_sdk("raw", "validate", *task, cwd=tmp_path).stdout.replace(" ", "")
    assert '"resourcePath":["users"]' in validated

    docs, state = preview(catalog)
    users = [d for d in docs if "id" in d]
    assert [(d["id"], d["_meta"]["row_id"]) for d in users] == [(1, 0), (2, 1), (3, 2), (4, 3)]
    assert len(docs) == 8  # and four events
    assert state["bindingStateV1"]["users"]["rowId"] == 4

    # The same capture later, with two more users: only those, row ids continuing.
    written["captures"]["acmeCo/classic"]["endpoint"]["local"]["config"]["count"] = 6
    catalog.write_text(yaml.safe_dump(written))
    docs, resumed = preview(catalog, "--initial-state", orjson.dumps(state).decode())
    users = [d for d in docs if "id" in d]
    assert [(d["id"], d["_meta"]["row_id"]) for d in users] == [(5, 4), (6, 5)]
    assert resumed["bindingStateV1"]["users"]["rowId"] == 6


# ---- state written by flow-sdk 0.1.9 ----


@pytest.mark.parametrize("shim_name", ["cdk0-subprocess", "cdk4-inprocess"])
def test_flow_sdk_019_state_continues(
    request: pytest.FixtureRequest, cdk0_python: Path, shim_name: str
) -> None:
    """flow-sdk 0.1.9's own shim (in the 0.52 virtualenv) captures and checkpoints; this
    shim continues from that state: no re-capture, row ids going on from 0.1.9's."""
    old_shim = [str(cdk0_python), SOURCE, "--flow"]
    env = {"PYTHONPATH": str(HERE)}  # that venv's flow_sdk, not this workspace's
    old = run_connector(
        old_shim, [open_request({"count": 5, "every": 2}, [USERS, EVENTS], {})], env=env,
        close_stdin=True,
    )  # fmt: skip
    assert old.code == 0, old.stderr[-3000:]
    # 0.1.9 numbers rows from 1 and replaces its whole state at each checkpoint.
    assert [d["_meta"]["row_id"] for d in old.docs(0)] == [1, 2, 3, 4, 5]
    state = old.of("checkpoint")[-1]["state"]["updated"]
    entry = state["bindingStateV1"]["users"]
    assert set(state["bindingStateV1"]) == {"users"} and entry["rowId"] == 6
    assert entry["state"]["type"] == "STREAM" and "global_" in entry["state"]
    assert entry["state"]["stream"]["stream_state"] == {"updated_at": 5, "since": None}

    shim = shim_command(request, shim_name)
    new = read(shim, {"count": 7, "every": 2}, [USERS, EVENTS], state)
    assert [(d["id"], d["_meta"]["row_id"]) for d in new.docs(0)] == [(6, 6), (7, 7)]
    assert [d["_meta"]["row_id"] for d in new.docs(1)] == list(range(7))
    assert new.reduced_state(state) == {
        "bindingStateV1": {
            "users": {
                "rowId": 8,
                "stream": [
                    {
                        "stream_descriptor": {"name": "users"},
                        "stream_state": {"updated_at": 7, "since": None},
                    }
                ],
            }
        }
    }
