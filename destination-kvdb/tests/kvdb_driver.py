"""Helpers of destination-kvdb's tests: configs, Airbyte messages, and a driver for the
Airbyte CLI as a real subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from kvdb_server import FakeKvdb

AIRBYTE_CLI = Path(sys.executable).parent / "destination-kvdb"
BUCKET_ID = "TestBucket42"
SECRET = "s3cr3t-key"


def kvdb_config(fake: FakeKvdb, **extra: Any) -> dict[str, Any]:
    bucket = {"bucket_type": "kvdb", "bucket_id": BUCKET_ID, "secret_key": SECRET}
    return {"bucket": {**bucket, "base_url": fake.url, **extra.pop("bucket", {})}, **extra}


def local_config(path: Path, **extra: Any) -> dict[str, Any]:
    return {"bucket": {"bucket_type": "local", "path": str(path)}, **extra}


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configured_stream(
    name: str,
    mode: str = "append",
    primary_key: list[list[str]] | None = None,
    namespace: str | None = None,
    json_schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    stream: dict[str, Any] = {
        "name": name,
        "json_schema": json_schema or {},
        "supported_sync_modes": ["incremental"],
    }
    if namespace:
        stream["namespace"] = namespace
    out: dict[str, Any] = {
        "stream": stream,
        "sync_mode": "incremental",
        "destination_sync_mode": mode,
    }
    if primary_key:
        out["primary_key"] = primary_key
    return out


def record(
    stream: str, data: dict[str, Any], emitted_at: int = 1_700_000_000_000
) -> dict[str, Any]:
    return {"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": emitted_at}}


def stream_state(stream: str, blob: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "STATE",
        "state": {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": stream}, "stream_state": blob},
        },
    }


def global_state(blob: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "STATE",
        "state": {"type": "GLOBAL", "global": {"shared_state": blob, "stream_states": []}},
    }


@dataclass
class CliRun:
    code: int
    messages: list[dict[str, Any]]
    stderr: str

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]

    @property
    def error(self) -> str:
        traces = [m["trace"]["error"]["message"] for m in self.of_type("TRACE")]
        return traces[-1] if traces else ""


class AirbyteCli:
    """Runs `destination-kvdb <command>` with its inputs as files in a temporary directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.calls = 0

    def file(self, name: str, value: Any) -> str:
        self.calls += 1
        path = self.workdir / f"{self.calls}-{name}.json"
        path.write_bytes(orjson.dumps(value))
        return str(path)

    def args(self, command: str, config: Any = None, catalog: Any = None) -> list[str]:
        args = [str(AIRBYTE_CLI), command]
        if config is not None:
            args += ["--config", self.file("config", config)]
        if catalog is not None:
            args += ["--catalog", self.file("catalog", catalog)]
        return args

    def run(
        self,
        command: str,
        config: Any = None,
        catalog: Any = None,
        messages: Sequence[dict[str, Any] | bytes] = (),
    ) -> CliRun:
        stdin = b"".join(m if isinstance(m, bytes) else orjson.dumps(m) + b"\n" for m in messages)
        done = subprocess.run(
            self.args(command, config, catalog),
            input=stdin,
            capture_output=True,
            timeout=120,
            cwd=self.workdir,
        )
        parsed = [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]
        return CliRun(done.returncode, parsed, done.stderr.decode(errors="replace"))
