"""A connector as a child process: JSON lines on stdin/stdout, logs on stderr.

`local` endpoints run their command with the endpoint's `env` and `LOG_LEVEL`; `connector`
images run through `<engine> run -i --rm` with the engine `CONTAINER_ENGINE` names (docker or
podman), else Docker when its engine answers, else Podman. Output lines are read on threads
so that a session can wait with a timeout and notice a stalled stdin; stdout is read in large
chunks and handed over a chunk's lines at a time, so a fast connector costs the runtime one
queue hand-off per chunk, not per document.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType

from flow_sdk.containers import container_engine, no_engine_reason
from flow_sdk.runtime.console import Console, LogRecord, parse_log_line
from flow_sdk.runtime.errors import ConnectorFailed, ProtocolViolation
from flow_sdk.runtime.forked import FORK_CONNECTORS_ENV, ForkedProcess, Popen, start_local

ACK_DEADLINE_SECONDS = 10.0
"""Flow fails a connector that does not accept a written request within this long."""

EOF = object()
"""Returned by `ConnectorProcess.next_line` when stdout has ended."""
TIMEOUT = object()
"""Returned by `ConnectorProcess.next_line` when no line arrived in time."""
STDOUT_READ_BYTES = 1 << 16
"""Bytes of connector stdout read at once (a pipe holds 64 KiB)."""
STOP_GRACE_SECONDS = 10.0
"""How long a connector may take to exit after its stdin closes before it is killed."""
FINAL_COMMIT_GRACE_SECONDS = 30.0
"""The same for a materialization at the end of `flow-sdk run`: a destination may still be
writing its last acknowledged transaction when its stdin closes, so it gets longer."""
MAX_BATCHES = 64
"""Chunks of stdout read ahead of the runtime at most (about 4 MiB): a connector faster than
the runtime waits on its pipe instead of filling the runtime's memory. Once the runtime waits
for the exit (or stops the connector), reading is unbounded again, so an exit never waits on
output nobody reads."""


@dataclass
class Launch:
    """How to start one connector: its argv, extra environment, and a label for messages."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    label: str = "connector"
    image: str = ""
    cleanup: list[str] = field(default_factory=list)
    """A command that removes what a kill leaves behind (the container outlives its client)."""
    fork_servers: str | None = None
    """A directory where this local launch may leave a fork server for the next launches of
    the same command (`flow_sdk.fork_server`); None starts every launch anew."""


def local_launch(command: list[str], env: dict[str, str], log_level: str, label: str) -> Launch:
    """A `local` endpoint: its command, with `env` and `LOG_LEVEL` added to ours."""
    return Launch(argv=list(command), env={**env, "LOG_LEVEL": log_level}, label=label)


def image_launch(
    image: str, env: dict[str, str], log_level: str, label: str, network: str = "bridge"
) -> Launch:
    """A `connector` endpoint: `<engine> run -i --rm` of its image, if a container engine answers."""
    engine = container_engine()
    if engine is None:
        raise ConnectorFailed(f"{label} runs the image {image!r}, which {no_engine_reason()}")
    name = f"flow-sdk-{uuid.uuid4().hex[:12]}"
    argv = [engine, "run", "-i", "--rm", "--name", name, "--network", network]
    argv += ["-e", f"LOG_LEVEL={log_level}"]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    return Launch(
        argv=[*argv, image], label=label, image=image, cleanup=[engine, "rm", "--force", name]
    )


class ConnectorProcess:
    """A running connector. Write requests with `send`, read responses with `next_line`."""

    def __init__(self, launch: Launch, console: Console) -> None:
        self.launch = launch
        self.console = console
        self.last_log: LogRecord | None = None
        self._lines: queue.Queue[list[bytes | object]] = queue.Queue()
        """Batches of stdout lines (the last batch ends with `EOF`), in order."""
        self._batch: list[bytes | object] = []
        self._taken = 0
        """Lines of `_batch` already returned by `next_line`."""
        self._room = threading.Condition()
        self._unbounded = False
        self._writes: queue.Queue[bytes | None] = queue.Queue()
        self._write_started: float | None = None
        try:
            self.proc: Popen
            self.proc, self.fork_server = start_local(
                launch.argv, {**os.environ, **launch.env}, launch.fork_servers
            )
        except OSError as exc:
            raise ConnectorFailed(
                f"could not start {launch.label}: {exc.strerror or exc} "
                f"(command: {' '.join(launch.argv)}); check `endpoint.local.command`"
            ) from None
        self.fork_server: str | None
        """The socket this process was asked to leave a fork server on (the first of its
        kind); a flow-sdk connector has, by the time it answers a request."""
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
            threading.Thread(target=self._write_stdin, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # ---- requests ----

    def send(self, data: bytes) -> None:
        """Queue request bytes (whole lines) for the connector's stdin."""
        self._writes.put(data)

    def close_stdin(self) -> None:
        """EOF on the connector's stdin, after the queued requests."""
        self._writes.put(None)

    def check_stdin(self) -> None:
        """Fail if the connector has not accepted a request for `ACK_DEADLINE_SECONDS`."""
        started = self._write_started
        if started is not None and time.monotonic() - started > ACK_DEADLINE_SECONDS:
            raise ProtocolViolation(
                "read-stdin",
                f"{self.launch.label} has not read its stdin for {ACK_DEADLINE_SECONDS:.0f}s; "
                "a connector must keep reading requests (acknowledgements) during a session",
            )

    # ---- responses ----

    def next_line(self, timeout: float | None = None) -> bytes | object:
        """The next stdout line (with its newline), `EOF`, or `TIMEOUT`."""
        if self._taken >= len(self._batch) and not self._take_batch(timeout):
            return TIMEOUT
        line = self._batch[self._taken]
        if line is EOF:  # EOF stays: every later call returns it too
            return line
        self._taken += 1
        return line

    def ready_line(self) -> bytes | object | None:
        """`next_line()` when a line (or EOF) is waiting, else None at once: a streaming
        connector's next line in one call."""
        batch, taken = self._batch, self._taken
        if taken < len(batch):
            line = batch[taken]
            if line is not EOF:
                self._taken = taken + 1
            return line
        return None if self._lines.empty() else self.next_line()

    def wait_line(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a line (or EOF); whether one is waiting now."""
        return self.has_line() or self._take_batch(timeout)

    def _take_batch(self, timeout: float | None) -> bool:
        try:
            self._batch = self._lines.get(timeout=timeout)
        except queue.Empty:
            return False
        self._taken = 0
        with self._room:
            self._room.notify()
        return True

    def has_line(self) -> bool:
        """Whether a line (or EOF) is already waiting, so reading would not block."""
        return self._taken < len(self._batch) or not self._lines.empty()

    # ---- lifetime ----

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit and for the last log lines; returns the exit code."""
        self._unbound()
        code = self.proc.wait(timeout=timeout)
        self._writes.put(None)  # nobody reads requests any more; let the writer finish
        self._threads[1].join(timeout=5)
        return code

    def stop(self, grace: float = 5.0) -> int:
        """Close stdin, give the connector `grace` seconds to exit, then kill it."""
        self.close_stdin()
        try:
            return self.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.wait()

    def _unbound(self) -> None:
        """Read the rest of stdout without waiting for room (see `MAX_BATCHES`)."""
        with self._room:
            self._unbounded = True
            self._room.notify()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            if self.launch.cleanup:  # a killed `run` client leaves its container running
                subprocess.run(self.launch.cleanup, capture_output=True, timeout=30, check=False)

    def failure(self, what: str) -> ConnectorFailed:
        """The error for a non-zero exit: the connector's last error (or log) line is the cause."""
        code = self.proc.returncode
        record = self.last_log
        cause = f": {record.message}" if record and record.message else " without logging a reason"
        if isinstance(self.proc, ForkedProcess) and self.proc.exit_unknown:
            return ConnectorFailed(
                f"{self.launch.label} ended during {what}, but the fork server it was forked "
                "from (a warm copy of its first launch) went away before it, so how it ended "
                "is unknown; nothing after the last commit was kept, so running again resumes "
                f"from there (with {FORK_CONNECTORS_ENV}=0 every launch starts anew)"
            )
        if code is not None and code < 0:  # its last log line is not the cause of a signal
            return ConnectorFailed(
                f"{self.launch.label} was killed by signal {-code} ({_signal_name(-code)}) "
                f"during {what}; something outside it ended it (out of memory, a kill); "
                "nothing after the last commit was kept, so running again resumes from there"
            )
        return ConnectorFailed(
            f"{self.launch.label} failed during {what} (exit code {code}){cause}"
        )

    def __enter__(self) -> ConnectorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._unbound()  # a reader waiting for room would otherwise wait forever
        if self.proc.poll() is None:
            self.close_stdin()
            try:
                self.proc.wait(timeout=0 if exc_type else 5)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait()

    # ---- threads ----

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        pending: list[bytes] = []  # the start of a line that spans chunks
        while True:
            with self._room:
                while self._lines.qsize() >= MAX_BATCHES and not self._unbounded:
                    self._room.wait()
            chunk = self.proc.stdout.read1(STDOUT_READ_BYTES)
            if not chunk:
                break
            if b"\n" not in chunk:
                pending.append(chunk)
                continue
            if pending:
                pending.append(chunk)
                chunk = b"".join(pending)
                pending.clear()
            parts = chunk.split(b"\n")
            rest = parts.pop()
            if rest:
                pending.append(rest)
            self._lines.put([part + b"\n" for part in parts])
        if pending:  # output ended mid-line
            self._lines.put([b"".join(pending)])
        self._lines.put([EOF])

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in iter(self.proc.stderr.readline, b""):
            text = raw.decode(errors="replace").rstrip("\r\n")
            if not text.strip():
                continue
            record = parse_log_line(text)
            self.last_log = record
            self.console.record(record, self.launch.label)

    def _write_stdin(self) -> None:
        assert self.proc.stdin is not None
        while True:
            data = self._writes.get()
            try:
                if data is None:
                    self.proc.stdin.close()
                    return
                self._write_started = time.monotonic()
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
                self._write_started = None
            except (BrokenPipeError, OSError, ValueError):
                # The connector exited or closed stdin; Flow only warns about unread input.
                self._write_started = None
                return


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "an unknown signal"
