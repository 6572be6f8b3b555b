"""Fixtures of the local runtime tests: a private copy of the counter catalog that runs
the counter capture with this interpreter, and a runner of the `flow-sdk` CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import yaml

RUNTIME_TESTS = Path(__file__).parent
FIXTURES = RUNTIME_TESTS / "fixtures"
CONNECTORS = RUNTIME_TESTS.parent / "connectors"
COUNTER = CONNECTORS / "counter_capture.py"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list:
        return [orjson.loads(line) for line in self.stdout.splitlines()]

    @property
    def last_error(self) -> str:
        return self.stderr.strip().splitlines()[-1]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    """`flow-sdk <args>` as a real subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "flow_sdk.cli", *args],
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    return CliResult(done.returncode, done.stdout.decode(), done.stderr.decode())


def edit_yaml(path: Path, edit) -> None:  # noqa: ANN001
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of fixtures/ whose capture runs `counter_capture.py` with this interpreter."""
    for item in FIXTURES.iterdir():
        shutil.copy(item, tmp_path / item.name)
    path = tmp_path / "counter.flow.yaml"

    def use_this_python(data: dict) -> None:
        local = data["captures"]["acmeCo/counter"]["endpoint"]["local"]
        local["command"] = [sys.executable, str(COUNTER)]

    edit_yaml(path, use_this_python)
    return path


@pytest.fixture
def cli():  # noqa: ANN201
    """The `run_cli` runner (test modules cannot import conftest under importlib mode)."""
    return run_cli


@pytest.fixture
def yaml_edit():  # noqa: ANN201
    return edit_yaml


SCRIPTED = RUNTIME_TESTS / "scripted_capture.py"
THINGS_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "v": {"type": "string"}},
    "required": ["id"],
}


def write_scripted_catalog(
    directory: Path,
    mode: str,
    interval: str = "1s",
    names: tuple[str, ...] = ("things",),
    env: dict[str, str] | None = None,
    schema: dict | None = None,
) -> Path:
    """A catalog whose one capture runs scripted_capture.py in `mode` (with `env`), into
    acmeCo/things (of `schema`, THINGS_SCHEMA by default)."""
    path = directory / f"scripted-{mode}.flow.yaml"
    catalog = {
        "captures": {
            "acmeCo/scripted": {
                "endpoint": {
                    "local": {
                        "command": [sys.executable, str(SCRIPTED)],
                        "config": {},
                        "env": {"SCRIPTED_MODE": mode, **(env or {})},
                    }
                },
                "bindings": [{"resource": {"name": n}, "target": "acmeCo/things"} for n in names],
                "interval": interval,
            }
        },
        "collections": {"acmeCo/things": {"schema": schema or THINGS_SCHEMA, "key": ["/id"]}},
    }
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path


@pytest.fixture
def scripted(tmp_path: Path):  # noqa: ANN201
    """`scripted(mode)` → path of a catalog running scripted_capture.py in that mode."""
    return lambda mode, **kw: write_scripted_catalog(tmp_path, mode, **kw)
