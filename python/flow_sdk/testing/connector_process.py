"""Run a connector as a real subprocess with a list of requests, the way a runtime does."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass
class Completed:
    """A finished connector process: exit code, stdout lines parsed, stderr lines."""

    code: int
    stdout: list[dict[str, Any]]
    stderr: list[str]

    @property
    def last_log(self) -> dict[str, Any]:
        """The last stderr line as JSON: the runtime reports it as the failure."""
        return orjson.loads(self.stderr[-1])

    @property
    def variants(self) -> list[str]:
        """The variant of each response, in order."""
        return [next(iter(r)) for r in self.stdout]


def run_connector(
    command: Path | str | Sequence[str],
    requests: Sequence[bytes | str | dict[str, Any]],
    *,
    env: dict[str, str] | None = None,
    hold_stdin: float = 0.0,
    timeout: float = 60,
) -> Completed:
    """Run `command` (a Python script path, or an argv list) with `requests` as stdin lines.

    With `hold_stdin`, stdin stays open up to that many seconds after the last request (as
    the runtime keeps it open during a session) or until the process exits, then closes."""
    argv = [sys.executable, str(command)] if isinstance(command, (str, Path)) else list(command)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    # Drain both pipes from the start, so a chatty connector never blocks on a full pipe.
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True),
        threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        proc.stdin.write(b"".join(_line(r) for r in requests))
        proc.stdin.flush()
        if hold_stdin:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=hold_stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    for reader in readers:
        reader.join()
    out, err = b"".join(out_chunks), b"".join(err_chunks)
    return Completed(
        code=proc.returncode,
        stdout=[orjson.loads(line) for line in out.splitlines()],
        stderr=err.decode(errors="replace").splitlines(),
    )


def _line(request: bytes | str | dict[str, Any]) -> bytes:
    if isinstance(request, dict):
        return orjson.dumps(request) + b"\n"
    if isinstance(request, str):
        return request.encode()
    return request
