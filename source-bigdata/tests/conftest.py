"""Drivers for source-bigdata's tests: the Airbyte CLI (`source-bigdata ...`) as a real
subprocess, with config, catalog and state written to temporary JSON files."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

CONNECTOR = Path(__file__).parent.parent
REPO = CONNECTOR.parent
AIRBYTE_CLI = Path(sys.executable).parent / "source-bigdata"
STREAMS = ("bigdata", "users", "events")
INCREMENTAL_STREAMS = ("users", "events")


@dataclass
class AirbyteRun:
    """A finished `source-bigdata` command: exit code and its messages by type."""

    code: int
    messages: list[dict[str, Any]]
    stderr: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                record = message["record"]
                self.records.setdefault(record["stream"], []).append(record["data"])
            elif message["type"] == "STATE":
                name = message["state"]["stream"]["stream_descriptor"]["name"]
                self.states.setdefault(name, []).append(message)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [message for message in self.messages if message["type"] == kind]

    def sequence(self, stream: str) -> list[tuple[str, Any]]:
        """The stream's records and states in emission order, as ("record"|"state", payload)."""
        out: list[tuple[str, Any]] = []
        for message in self.messages:
            if message["type"] == "RECORD" and message["record"]["stream"] == stream:
                out.append(("record", message["record"]["data"]))
            elif (
                message["type"] == "STATE"
                and message["state"]["stream"]["stream_descriptor"]["name"] == stream
            ):
                out.append(("state", message["state"]["stream"]["stream_state"]))
        return out


class AirbyteCli:
    """Runs `source-bigdata <command>` with its inputs as files in a temporary directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.calls = 0

    def _file(self, name: str, value: Any) -> str:
        self.calls += 1
        path = self.workdir / f"{self.calls}-{name}.json"
        path.write_bytes(orjson.dumps(value))
        return str(path)

    def run(
        self,
        command: str,
        config: dict[str, Any] | None = None,
        catalog: dict[str, Any] | None = None,
        state: list[dict[str, Any]] | None = None,
    ) -> AirbyteRun:
        args = [str(AIRBYTE_CLI), command]
        if config is not None:
            args += ["--config", self._file("config", config)]
        if catalog is not None:
            args += ["--catalog", self._file("catalog", catalog)]
        if state is not None:
            args += ["--state", self._file("state", state)]
        done = subprocess.run(args, capture_output=True, timeout=120, cwd=self.workdir)
        messages = [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]
        return AirbyteRun(done.returncode, messages, done.stderr.decode(errors="replace"))

    @staticmethod
    def configured_catalog(
        streams: Sequence[str] = STREAMS, incremental: bool = True
    ) -> dict[str, Any]:
        """A configured catalog: `bigdata` in full refresh, the others incremental (or not)."""

        def configured(name: str) -> dict[str, Any]:
            is_incremental = incremental and name in INCREMENTAL_STREAMS
            entry: dict[str, Any] = {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh"]
                    + (["incremental"] if name in INCREMENTAL_STREAMS else []),
                },
                "sync_mode": "incremental" if is_incremental else "full_refresh",
                "destination_sync_mode": "append",
            }
            if is_incremental:
                entry["cursor_field"] = ["updated_at"]
            return entry

        return {"streams": [configured(name) for name in streams]}

    @staticmethod
    def stream_state(stream: str, blob: dict[str, Any]) -> dict[str, Any]:
        """An Airbyte STREAM state message, as a `--state` file holds it."""
        return {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": stream}, "stream_state": blob},
        }


@pytest.fixture
def cli(tmp_path: Path) -> AirbyteCli:
    return AirbyteCli(tmp_path)


@pytest.fixture(scope="module")
def module_cli(tmp_path_factory: pytest.TempPathFactory) -> AirbyteCli:
    return AirbyteCli(tmp_path_factory.mktemp("airbyte"))
