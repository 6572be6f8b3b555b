"""A connector's failure reads well through the local runtime, in process and as a
subprocess: its traceback is shown once (not again with the error trace that repeats it),
the last stderr line is one sentence with the cause, and `flow-sdk run` says what it had
committed before the failure. The connection is really refused (a closed loopback port)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).parents[1]
PYTHON = sys.executable
FLOW_SDK = str(Path(PYTHON).parent / "flow-sdk")
SOURCE = str(HERE / "refused_source.py")
MODES = {
    "inprocess": [PYTHON, SOURCE, "--flow"],
    "subprocess": [FLOW_SDK, "airbyte-capture", "--", PYTHON, SOURCE],
}
EXCEPTION_LINE = "requests.exceptions.ConnectionError: HTTPConnectionPool"


@pytest.fixture
def closed_url() -> str:
    """A loopback URL nothing listens on (the port was just free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_catalog(tmp_path: Path, command: list[str], config: dict[str, Any]) -> Path:
    collection = {
        "key": ["/id"],
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
    }
    catalog = {
        "captures": {
            "acmeCo/refused": {
                "endpoint": {"local": {"command": command, "config": config}},
                "bindings": [
                    {
                        "resource": {
                            "stream": "good",
                            "syncMode": "incremental",
                            "cursorField": ["id"],
                        },
                        "target": "acmeCo/good",
                    },
                    {
                        "resource": {"stream": "events", "syncMode": "full_refresh"},
                        "target": "acmeCo/events",
                    },
                ],
            }
        },
        "collections": {"acmeCo/good": collection, "acmeCo/events": collection},
        "materializations": {
            "acmeCo/kvdb": {
                "endpoint": {
                    "local": {
                        "command": [PYTHON, "-m", "destination_kvdb"],
                        "config": {
                            "bucket": {"bucket_type": "local", "path": str(tmp_path / "kv.db")}
                        },
                    }
                },
                "bindings": [{"resource": {"stream": "good"}, "source": "acmeCo/good"}],
            }
        },
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def flow_sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLOW_SDK, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def shown_once_with_the_cause(done: subprocess.CompletedProcess[str], url: str) -> None:
    assert done.returncode == 1, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert sum(EXCEPTION_LINE in line for line in lines) == 1, "the traceback, once"
    last = lines[-1]
    assert last.startswith("flow-sdk: error: acmeCo/refused failed"), last
    assert f"could not connect to {url}" in last and last.count("Connection refused") == 1, last
    assert "HTTPConnectionPool" not in last and "Something went wrong" not in last, last


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_check_fails_validation_with_one_sentence(
    mode: str, tmp_path: Path, closed_url: str
) -> None:
    catalog = write_catalog(tmp_path, MODES[mode], {"url": closed_url, "check": True})
    done = flow_sdk("preview", "--source", str(catalog), "--name", "acmeCo/refused", cwd=tmp_path)
    shown_once_with_the_cause(done, closed_url)
    assert "during validate request" in done.stderr.splitlines()[-1]


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_read_names_the_stream_and_run_says_what_it_kept(
    mode: str, tmp_path: Path, closed_url: str
) -> None:
    catalog = write_catalog(tmp_path, MODES[mode], {"url": closed_url, "delay": 3})
    done = flow_sdk(
        "run", "--source", str(catalog), "--data-dir", str(tmp_path / "data"), cwd=tmp_path
    )
    shown_once_with_the_cause(done, f"{closed_url}/events")
    assert "while reading stream 'events'" in done.stderr.splitlines()[-1]
    assert "run: before the failure: captured 3 document(s) with acmeCo/refused" in done.stderr
    assert f"run: what was committed is kept in {tmp_path / 'data'}" in done.stderr
