"""A connector executable driven as a child process: the runner both adapters share.

Config, catalog and state go in as files in a private temporary directory, stdout is read as
lines, stderr is forwarded line by line as logs, and the child dies with this process
(Linux: a parent-death signal)."""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import logging
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import orjson

from flow_sdk.errors import ConnectorError

_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Any:
    """libc's prctl, looked up once per process. `libc.so.6` first: `ctypes.util.find_library`
    runs `ldconfig -p` (a fork and exec, 5-100 ms) on every call."""
    for name in ("libc.so.6", None):
        try:
            if name is None:
                import ctypes.util as ctypes_util

                name = ctypes_util.find_library("c")
                if name is None:
                    return None
            return ctypes.CDLL(name, use_errno=True).prctl
        except (OSError, AttributeError):
            continue
    return None


def parent_death_signal(background: bool = False) -> Any:
    """A preexec hook that makes the child get SIGKILL when this process dies (Linux); a
    `background` child (work off the critical path) runs only on a CPU nothing else wants
    (SCHED_IDLE, else the lowest nice), so it never slows the session it checks.

    Resolved before any fork: between fork and exec the hook only calls into libc."""
    prctl = _prctl()
    if prctl is None and not background:
        return None

    def hook() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if background:
            os.nice(19)
            with contextlib.suppress(AttributeError, OSError):
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

    return hook


class ChildProcess:
    """One run of a connector executable (`spec`, `check`, `read`, ...). `kind` names it in
    messages (\"Airbyte connector\", \"Singer tap\")."""

    def __init__(
        self,
        command: Sequence[str],
        log: logging.Logger,
        env: Mapping[str, str] | None = None,
        files_dir: str | None = None,
        kind: str = "connector",
        background: bool = False,
    ) -> None:
        self.command = list(command)
        self.background = background
        self.kind = kind
        self.files_dir = files_dir
        self.log = log
        self.env = dict(env) if env is not None else None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr_thread: threading.Thread | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def write_file(self, name: str, value: Any) -> str:
        """A JSON file only this user can read, removed when the run ends."""
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="flow-sdk-airbyte-", dir=self.files_dir)
        path = os.path.join(self._dir.name, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(value))
        return path

    def start(self, args: Sequence[str]) -> Iterator[bytes]:
        """Start `command + args` with no stdin; returns its stdout lines."""
        return self.start_with_input(args, stdin=False)[1]

    def start_with_input(
        self, args: Sequence[str], stdin: bool = True
    ) -> tuple[IO[bytes] | None, Iterator[bytes]]:
        """Start `command + args`; returns a pipe to its stdin (when asked) and its stdout lines.
        Its stderr is forwarded as logs from here on."""
        argv = self.command + list(args)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                preexec_fn=parent_death_signal(self.background),
            )
        except OSError as exc:
            self.cleanup()
            raise ConnectorError(
                f"cannot start the {self.kind} {argv[0]!r}: {exc.strerror or exc}; "
                "check the command after `--`"
            ) from None
        self._stderr_thread = threading.Thread(
            target=self._forward_stderr, name=f"{self.kind} stderr", daemon=True
        )
        self._stderr_thread.start()
        assert self.proc.stdout is not None
        return self.proc.stdin, iter(self.proc.stdout)

    def _forward_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line:
                self.stderr_tail.append(line)
                self.log.info("%s", line, extra={"stderr": True})

    def wait(self) -> int:
        """Wait for the exit (and the last stderr line); returns the exit code."""
        assert self.proc is not None
        code = self.proc.wait()
        if self._stderr_thread is not None:
            # Its stderr ends with it (unless a grandchild holds the pipe): every line is
            # logged before the caller's own last line.
            self._stderr_thread.join(timeout=60)
        return code

    def stop(self) -> None:
        """Kill the child if it still runs, and remove the temporary files."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.cleanup()

    def cleanup(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def exit_error(self, code: int, what: str) -> str:
        tail = f"; its last stderr line: {self.stderr_tail[-1]}" if self.stderr_tail else ""
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"{what}: the connector {how}{tail}"
