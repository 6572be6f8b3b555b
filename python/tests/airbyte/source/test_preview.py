"""A real published Airbyte source (airbyte-source-faker from PyPI) through the shim and the
local runtime, as a connector developer uses them: `flow-sdk raw spec` / `raw discover` /
`raw validate` / `preview` on a catalog whose `endpoint.local.command` is the shim — in
process, or `flow-sdk airbyte-capture -- source-faker` — then a preview that resumes from
the state the first one checkpointed.

Faker pins airbyte-cdk 6, so it lives in its own virtualenv (with flow-sdk for the
in-process mode), built once with uv and cached under `.cache/` (gitignored). In process,
faker forks multiprocessing workers while the session reads stdin on a thread, a deadlock
the shim avoids."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml
from airbyte_shim_process import HERE

from flow_sdk.protocol.merge_patch import merge_patch

pytestmark = pytest.mark.slow
FLOW_SDK = str(Path(sys.executable).parent / "flow-sdk")
ROOT = HERE.parents[2]
VENV = ROOT / ".cache" / "airbyte-faker"
CONFIG = {"count": 12, "seed": 7, "records_per_slice": 5, "always_updated": False, "parallelism": 1}


@pytest.fixture(scope="session")
def faker_venv() -> Path:
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "source-faker").exists():
        uv = shutil.which("uv")
        if uv is None:
            pytest.skip("uv is needed to build the faker virtualenv")
        subprocess.run([uv, "venv", "-q", "--python", "3.11", str(VENV)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(python),
                "airbyte-source-faker",
                "-e",
                str(ROOT / "python"),
            ],
            check=True,
        )
    return VENV


def flow_sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(HERE))
    run = subprocess.run(
        [FLOW_SDK, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.parametrize("mode", ["inprocess", "subprocess"])
def test_faker_spec_discover_validate_preview_and_resume(
    mode: str, faker_venv: Path, tmp_path: Path
) -> None:
    if mode == "inprocess":
        command = [str(faker_venv / "bin" / "python"), str(HERE / "faker_inprocess.py")]
    else:
        command = [FLOW_SDK, "airbyte-capture", "--", str(faker_venv / "bin" / "source-faker")]
    catalog = tmp_path / "flow.yaml"
    capture = {"endpoint": {"local": {"command": command, "config": CONFIG}}, "bindings": []}
    catalog.write_text(yaml.safe_dump({"captures": {"acmeCo/faker": capture}}))
    task = ["--source", str(catalog), "--capture", "acmeCo/faker"]

    if mode == "inprocess":  # as a subprocess, spec and validate are pinned in test_capture.py
        spec = flow_sdk("raw", "spec", *task, cwd=tmp_path)
        assert "3032023" in spec.stdout and "records_per_slice" in spec.stdout

    flow_sdk("raw", "discover", *task, cwd=tmp_path)
    written = yaml.safe_load(catalog.read_text())
    streams = {b["resource"]["stream"]: b for b in written["captures"]["acmeCo/faker"]["bindings"]}
    assert set(streams) == {"users", "products", "purchases"}
    assert streams["users"]["resource"]["syncMode"] == "incremental"
    assert written["collections"]["acmeCo/users"]["key"] == ["/id"]
    # Capture only users: faker's other streams hold no new lessons and cost time.
    written["captures"]["acmeCo/faker"]["bindings"] = [streams["users"]]
    catalog.write_text(yaml.safe_dump(written))

    if mode == "inprocess":
        validated = flow_sdk("raw", "validate", *task, cwd=tmp_path)
        assert '"stateKey":"users"' in validated.stdout.replace(" ", "")

    def preview(*extra: str) -> tuple[list[dict], object]:
        run = flow_sdk(
            "preview",
            "--source",
            str(catalog),
            "--sessions",
            "-1",
            "--output-state",
            *extra,
            cwd=tmp_path,
        )
        docs: list[dict] = []
        state: object = {}
        for line in run.stdout.splitlines():
            name, value = orjson.loads(line)
            if name == "connectorState":
                state = (
                    merge_patch(state, value["updated"])
                    if value.get("mergePatch")
                    else value["updated"]
                )
            else:
                docs.append(value)
        return docs, state

    docs, state = preview()
    assert [d["id"] for d in docs] == list(range(1, 13))
    assert [d["_meta"]["row_id"] for d in docs] == list(range(12))
    assert state["bindingStateV1"]["users"]["rowId"] == 12

    # Faker reads nothing more once its users state has a cursor: resumed, not re-captured.
    docs, resumed = preview("--initial-state", orjson.dumps(state).decode())
    assert docs == []
    assert resumed["bindingStateV1"]["users"] == state["bindingStateV1"]["users"]
