"""The runtime's side of `flow_sdk.fork_server`: a local launch is forked from the fork server
an earlier launch of the same command left, when there is one, and started as a new process
otherwise (asking it to leave one). `FLOW_SDK_FORK_CONNECTORS=0` starts every launch anew.

A forked process is not the runtime's child, so `ForkedProcess` offers the part of
`subprocess.Popen` the runtime uses, with the exit code the fork server reports.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from flow_sdk.fork_server import FORK_SERVER_ENV, OWNER_ENV, launch_key

FORK_CONNECTORS_ENV = "FLOW_SDK_FORK_CONNECTORS"
ANSWER_SECONDS = 10.0
"""How long a fork server may take to report the new process before the runtime starts one
itself."""


def start_local(
    argv: list[str], env: dict[str, str], directory: str | None
) -> tuple[Popen, str | None]:
    """Start a local launch with `env` (the whole environment): forked from its fork server in
    `directory` when one answers, else a new process asked to leave one there. Also returns
    the socket path that new process was asked to leave its server on (None otherwise)."""
    if directory is None or not forking_allowed():
        return _popen(argv, env), None
    env = {**env, OWNER_ENV: str(os.getpid())}
    key = launch_key(as_executed(argv, env.get("PATH", os.defpath)), env, os.getcwd())
    path = str(Path(directory) / f"fork-{key}.sock")
    forked = ForkedProcess.start(argv, path) if os.path.exists(path) else None
    if forked is not None:
        return forked, None
    return _popen(argv, {**env, FORK_SERVER_ENV: path}), path


def as_executed(argv: list[str], search_path: str) -> list[str]:
    """The argv the launch's process will see in `/proc/self/cmdline`: for a script (a console
    entry point such as `flow-sdk`, a `#!` file) the kernel runs its interpreter with the
    script's path in front of the arguments; a binary keeps `argv`. The program is found on
    `search_path` as `subprocess` finds it. Whatever is not understood keeps `argv` (that
    launch then leaves no fork server: only slower)."""
    if not argv:
        return argv
    program = argv[0] if os.sep in argv[0] else shutil.which(argv[0], path=search_path)
    try:
        with open(program or argv[0], "rb") as file:
            head = file.readline(256)
    except OSError:
        return argv
    if not head.startswith(b"#!") or not head.endswith(b"\n"):
        return argv
    interpreter, _, argument = head[2:].strip().partition(b" ")
    interpreter, argument = os.fsdecode(interpreter), os.fsdecode(argument.strip())
    if os.path.basename(interpreter) == "env":  # `#!/usr/bin/env python3`: env execs it
        if not argument or argument.startswith("-") or " " in argument:
            return argv
        return [argument, program or argv[0], *argv[1:]]
    return [interpreter, *([argument] if argument else []), program or argv[0], *argv[1:]]


def forking_allowed() -> bool:
    return sys.platform.startswith("linux") and os.environ.get(FORK_CONNECTORS_ENV) != "0"


def _popen(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        bufsize=-1,
    )


class ForkedProcess:
    """A connector process forked by a fork server, driven like a `subprocess.Popen`."""

    def __init__(
        self, argv: list[str], conn: socket.socket, pid: int, streams: tuple[int, int, int]
    ) -> None:
        self.args = argv
        self.pid = pid
        self.returncode: int | None = None
        self.stdin: IO[bytes] = os.fdopen(streams[0], "wb")
        self.stdout: IO[bytes] = os.fdopen(streams[1], "rb")
        self.stderr: IO[bytes] = os.fdopen(streams[2], "rb")
        self._conn = conn
        self._answer = b""
        self._lock = threading.Lock()
        try:  # to tell when it ends should its server go first
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError:
            self._pidfd = None
        self._server_gone = False
        self.exit_unknown = False
        """Its fork server went before reporting how it ended (returncode is then -SIGKILL)."""

    def __del__(self) -> None:
        self._conn.close()  # not before: another thread may still be polling them
        if self._pidfd is not None:
            os.close(self._pidfd)

    def _answered(self, data: bytes) -> None:
        """Take the server's `X <code>` line (possibly come with its `P <pid>` line)."""
        self._answer += data
        if b"\n" in self._answer:
            self.returncode = int(self._answer.split(b"\n")[0].removeprefix(b"X "))

    @classmethod
    def start(cls, argv: list[str], path: str) -> ForkedProcess | None:
        """Ask the fork server at `path` for a process; None when none answers in time."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        theirs, ours = (stdin_r, stdout_w, stderr_w), (stdin_w, stdout_r, stderr_r)
        try:
            conn.settimeout(ANSWER_SECONDS)
            conn.connect(path)
            socket.send_fds(conn, [b"fork"], list(theirs))
            pid, rest = _pid_line(conn)
        except (OSError, ValueError) as exc:
            conn.close()
            for fd in (*theirs, *ours):
                os.close(fd)
            if isinstance(exc, ConnectionRefusedError):  # a server that died: start anew
                Path(path).unlink(missing_ok=True)
            return None
        for fd in theirs:
            os.close(fd)
        conn.settimeout(None)
        forked = cls(argv, conn, pid, ours)
        if rest:
            forked._answered(rest)
        return forked

    def poll(self) -> int | None:
        if self.returncode is None:
            self._collect(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._collect(left)
            if self.returncode is None and deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return self.returncode

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def send_signal(self, sig: int) -> None:
        """Signal the process by its pidfd where there is one: once it has ended and been
        reaped (by its server, which the runtime may not have heard from yet) its pid may
        name another process."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if self._pidfd is not None:
                    signal.pidfd_send_signal(self._pidfd, sig)
                else:
                    os.kill(self.pid, sig)

    def _collect(self, timeout: float | None) -> None:
        """Read the server's `X <code>` if it comes within `timeout`. Should the server go
        without one, the process is waited for by its pidfd, its exit code unknown: reported
        as killed (-SIGKILL). The wait is outside the lock: a `poll()` or `kill()` from
        another thread never waits on it."""
        if self.returncode is not None:
            return
        watched = self._pidfd if self._server_gone else self._conn
        if watched is None:
            self.exit_unknown = True
            self.returncode = -signal.SIGKILL
            return
        poller = select.poll()
        poller.register(watched, select.POLLIN)
        if not poller.poll(None if timeout is None else int(timeout * 1000)):
            return
        with self._lock:
            if self.returncode is not None:
                return
            if watched is not self._conn:  # the pidfd is readable: the process has ended
                self.exit_unknown = True
                self.returncode = -signal.SIGKILL
                return
            try:
                chunk = self._conn.recv(64, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            self._answered(chunk)
            if self.returncode is None and not chunk:
                self._server_gone = True


def _pid_line(conn: socket.socket) -> tuple[int, bytes]:
    """The server's `P <pid>` line, and what came after it."""
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(64)
        if not chunk:
            raise OSError("the fork server closed the connection")
        data += chunk
    line, _, rest = data.partition(b"\n")
    if not line.startswith(b"P "):
        raise ValueError(line)
    return int(line[2:]), rest


Popen = subprocess.Popen[bytes] | ForkedProcess
