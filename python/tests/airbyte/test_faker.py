"""A real published Airbyte source (airbyte-source-faker from PyPI) through the shim, in
process and as a subprocess. In process, faker forks multiprocessing workers while the
session reads stdin on a thread (a deadlock the shim avoids). Faker pins airbyte-cdk 6, so it lives in its own virtualenv,
built once with uv and cached under `.cache/` (gitignored)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from airbyte_driver import HERE, open_request, run_connector

ROOT = HERE.parents[2]
VENV = ROOT / ".cache" / "airbyte-faker"
pytestmark = pytest.mark.slow


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


@pytest.fixture(params=["inprocess", "subprocess"])
def faker(request: pytest.FixtureRequest, faker_venv: Path) -> list[str]:
    if request.param == "inprocess":
        return [str(faker_venv / "bin" / "python"), str(HERE / "faker_inprocess.py")]
    return [
        sys.executable,
        "-m",
        "flow_sdk.airbyte.capture_cli",
        "--",
        str(faker_venv / "bin" / "source-faker"),
    ]


def users_binding() -> dict:
    return {
        "resourceConfig": {
            "stream": "users",
            "syncMode": "incremental",
            "cursorField": ["updated_at"],
        },
        "resourcePath": ["users"],
        "collection": {"name": "acmeCo/users", "writeSchema": {"type": "object"}, "key": ["/id"]},
        "stateKey": "users",
    }


def test_faker_discover_capture_and_resume(faker: list[str]) -> None:
    config = {
        "count": 30,
        "seed": 7,
        "records_per_slice": 10,
        "always_updated": False,
        "parallelism": 1,
    }
    run = run_connector(faker, [{"spec": {}}, {"discover": {"config": config}}])
    assert run.code == 0, run.stderr[-2000:]
    spec, discovered = run.responses[0]["spec"], run.responses[1]["discovered"]
    assert spec["protocol"] == 3032023 and "count" in spec["configSchema"]["properties"]
    users = next(b for b in discovered["bindings"] if b["recommendedName"] == "users")
    assert users["key"] == ["/id"] and users["resourceConfig"]["syncMode"] == "incremental"

    first = run_connector(faker, [open_request(config, [users_binding()])])
    assert first.code == 0, first.stderr[-2000:]
    ids = [d["id"] for d in first.docs()]
    assert ids == list(range(1, 31))
    assert [d["_meta"]["row_id"] for d in first.docs()] == list(range(30))
    state = first.reduced_state()
    assert state["bindingStateV1"]["users"]["rowId"] == 30

    second = run_connector(faker, [open_request(config, [users_binding()], state)])
    assert second.code == 0, second.stderr[-2000:]
    # Faker reads nothing more once its users state has a cursor: resumed, not re-captured.
    assert second.docs() == []
    assert (
        second.reduced_state(state)["bindingStateV1"]["users"] == state["bindingStateV1"]["users"]
    )
