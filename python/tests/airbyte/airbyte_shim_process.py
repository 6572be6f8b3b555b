"""Drives the Airbyte capture shim as a real connector process over stdin/stdout, in both modes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from flow_sdk import spec_cache
from flow_sdk.protocol.merge_patch import merge_patch
from flow_sdk.protocol.state_key import encode_state_key

HERE = Path(__file__).parent
PYTHON = sys.executable
SOURCE = str(HERE.parent / "connectors" / "cdk7_source.py")
MODES = {
    "inprocess": [PYTHON, str(HERE / "inprocess_main.py")],
    "subprocess": [PYTHON, "-m", "flow_sdk.airbyte.source.capture_cli", "--", PYTHON, SOURCE],
}


@dataclass
class Run:
    responses: list[dict[str, Any]]
    stderr: str
    code: int
    logs: list[dict[str, Any]] = field(default_factory=list)

    def of(self, variant: str) -> list[Any]:
        return [r[variant] for r in self.responses if variant in r]

    def docs(self, binding: int | None = None) -> list[dict[str, Any]]:
        return [
            c["doc"]
            for c in self.of("captured")
            if binding is None or c.get("binding", 0) == binding
        ]

    def reduced_state(self, initial: Any = None) -> Any:
        state = initial if initial is not None else {}
        for cp in self.of("checkpoint"):
            s = cp["state"]
            state = merge_patch(state, s["updated"]) if s.get("mergePatch") else s["updated"]
        return state

    @property
    def last_error(self) -> str:
        return self.logs[-1]["msg"] if self.logs else ""


def run_connector(
    argv: list[str],
    requests: list[dict[str, Any]],
    env: dict[str, str] | None = None,
    close_stdin: bool | None = None,
    timeout: float = 60,
) -> Run:
    full_env = dict(
        os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    full_env.update(env or {})
    payload = b"".join(orjson.dumps(r) + b"\n" for r in requests)
    if close_stdin is None:
        close_stdin = not any("open" in r for r in requests)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        cwd=HERE,
    )
    assert proc.stdin is not None
    if close_stdin:
        try:
            out, err = proc.communicate(payload, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(
                f"the connector did not finish in {timeout}s: {err.decode()[-2000:]}"
            ) from None
    else:
        # Flow keeps stdin open during a session: EOF would mean "stop".
        proc.stdin.write(payload)
        proc.stdin.flush()
        chunks: dict[str, bytes] = {}
        readers = [
            threading.Thread(target=lambda n=n, f=f: chunks.__setitem__(n, f.read()))
            for n, f in (("out", proc.stdout), ("err", proc.stderr))
        ]
        for t in readers:
            t.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"the connector did not finish in {timeout}s") from None
        finally:
            for t in readers:
                t.join()
            proc.stdin.close()
        out, err = chunks["out"], chunks["err"]
    proc = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    responses = [orjson.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    logs = []
    for line in proc.stderr.decode().splitlines():
        try:
            logs.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            logs.append({"level": "raw", "msg": line})
    return Run(responses, proc.stderr.decode(), proc.returncode, logs)


def binding(
    stream: str,
    mode: str,
    namespace: str | None = None,
    backfill: int = 0,
    cursor: list[str] | None = None,
) -> dict[str, Any]:
    rc: dict[str, Any] = {"stream": stream, "syncMode": mode}
    if namespace:
        rc["namespace"] = namespace
    if cursor:
        rc["cursorField"] = cursor
    path = [namespace, stream] if namespace else [stream]
    return {
        "resourceConfig": rc,
        "resourcePath": path,
        "collection": {
            "name": f"acmeCo/{stream}",
            "writeSchema": {"type": "object"},
            "key": ["/id"],
        },
        "backfill": backfill,
        "stateKey": encode_state_key(path, backfill),
    }


def open_request(
    config: dict[str, Any], bindings: list[dict[str, Any]], state: Any = None
) -> dict[str, Any]:
    req: dict[str, Any] = {
        "open": {
            "capture": {
                "name": "acmeCo/cap",
                "connectorType": "LOCAL",
                "config": config,
                "bindings": bindings,
            },
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
        }
    }
    if state is not None:
        req["open"]["state"] = state
    return req


def replaced_kept_spec(command: Sequence[str], kept: Any, timeout: float = 30) -> Any:
    """The spec kept for `command` once it is no longer `kept` (the check a shim runs beside
    a session replaces a stale one), or `kept` still after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = spec_cache.load("airbyte-spec", command)
        if now != kept:
            return now
        time.sleep(0.05)
    return kept
