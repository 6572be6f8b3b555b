"""Debugging a running connector for real: FLOW_SDK_DEBUGPY makes any flow-sdk connector wait
for a debugger before serving, and the debugpy command commented in test.flow.yaml works.
A tiny Debug Adapter Protocol client attaches as VS Code would (loopback only)."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SPEC_REQUEST = b'{"spec":{"connectorType":"LOCAL","config":{}}}\n'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DebugClient:
    """Just enough of the Debug Adapter Protocol to attach and let the program run."""

    def __init__(self, port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, f"the connector exited early: {process.stderr.read()}"
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.seq = 0
        self.buffer = b""

    def send(self, command: str, arguments: dict | None = None) -> None:
        self.seq += 1
        body = json.dumps(
            {"seq": self.seq, "type": "request", "command": command, "arguments": arguments or {}}
        ).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def response(self, command: str) -> dict:
        while True:
            header, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if sep:
                length = int(header.split(b":")[1])
                if len(rest) >= length:
                    message, self.buffer = json.loads(rest[:length]), rest[length:]
                    if message.get("type") == "response" and message["command"] == command:
                        return message
                    continue
            chunk = self.sock.recv(65536)
            assert chunk, "the debug adapter closed the connection"
            self.buffer += chunk

    def attach(self) -> None:
        self.send("initialize", {"adapterID": "python", "clientID": "flow-sdk-tests"})
        assert self.response("initialize")["success"]
        self.send("attach", {"justMyCode": True})
        self.send("configurationDone")
        assert self.response("configurationDone")["success"]

    def close(self) -> None:
        self.sock.close()


def readable(stream: object, seconds: float) -> bool:
    return bool(select.select([stream], [], [], seconds)[0])


def waits_then_serves(command: list[str], env: dict[str, str], port: int) -> bytes:
    """Start `command`; check it waits for a debugger; attach; return its Spec response."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        process.stdin.write(SPEC_REQUEST)
        process.stdin.flush()
        client = DebugClient(port, process)
        assert not readable(process.stdout, 1.0), "answered before a debugger attached"
        assert process.poll() is None
        client.attach()
        assert readable(process.stdout, 60), "no Spec response after the debugger attached"
        line = process.stdout.readline()
        process.stdin.close()
        assert process.wait(timeout=60) == 0, process.stderr.read()
        client.close()
        return line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_flow_sdk_debugpy_makes_a_connector_wait_for_a_debugger(counter_capture: Path) -> None:
    port = free_port()
    env = {**os.environ, "FLOW_SDK_DEBUGPY": f"127.0.0.1:{port}"}
    line = waits_then_serves([sys.executable, str(counter_capture)], env, port)
    assert json.loads(line)["spec"]["protocol"] == 3032023


def test_a_bad_flow_sdk_debugpy_value_is_a_clear_error(counter_capture: Path) -> None:
    env = {**os.environ, "FLOW_SDK_DEBUGPY": "localhost"}
    done = subprocess.run(
        [sys.executable, str(counter_capture)],
        input=SPEC_REQUEST,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == b""
    last = json.loads(done.stderr.splitlines()[-1])
    assert last["level"] == "error"
    assert (
        last["msg"] == "FLOW_SDK_DEBUGPY must be host:port (e.g. 127.0.0.1:5678), not 'localhost'"
    )


def catalog_debug_command() -> list[str]:
    """The debugpy command commented in test.flow.yaml, as a developer would uncomment it."""
    for line in (ROOT / "test.flow.yaml").read_text().splitlines():
        text = line.strip().lstrip("#").strip()
        if text.startswith("command:") and "debugpy" in text:
            return yaml.safe_load(text)["command"]
    pytest.fail("test.flow.yaml no longer shows the debugpy command (see the README's Debugging)")


@pytest.mark.slow
def test_the_debugpy_command_in_the_catalog_waits_then_runs_the_connector() -> None:
    command = catalog_debug_command()
    assert command[:3] == ["python", "-m", "debugpy"] and "--wait-for-client" in command
    port = free_port()
    listen = command.index("--listen") + 1
    command[listen] = f"127.0.0.1:{port}"  # the catalog says 0.0.0.0: tests stay on loopback
    command[0] = sys.executable
    line = waits_then_serves(command, dict(os.environ), port)
    assert json.loads(line)["spec"]["protocol"] == 3032023


def test_vscode_attaches_to_the_port_the_recipes_use() -> None:
    lines = (ROOT / ".vscode" / "launch.json").read_text().splitlines()
    launch = json.loads("\n".join(x for x in lines if not x.strip().startswith("//")))  # JSONC
    attach = [c for c in launch["configurations"] if c["request"] == "attach"]
    assert attach and all(c["type"] == "debugpy" for c in attach)
    assert {(c["connect"]["host"], c["connect"]["port"]) for c in attach} == {("localhost", 5678)}
    assert "5678" in " ".join(catalog_debug_command())
