"""An Airbyte connector executable driven as a child process.

Any program that speaks the Airbyte protocol works: a console script in another virtualenv
(any CDK generation), `python -m ...`, a non-Python binary, `docker run -i ...`. Config,
catalog and state go in as files in a private temporary directory, stdout is read as JSON
lines (straight into dicts), stderr is forwarded line by line as logs, and a non-zero exit
is an error that names the stream being read. The child dies with this process.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from flow_sdk.airbyte.codec import parse_line
from flow_sdk.airbyte.logs import SourceFailure, log_message, log_trace
from flow_sdk.airbyte.read_loop import ReadLoop
from flow_sdk.airbyte.spec import mask_config_secrets
from flow_sdk.errors import ConnectorError

_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Any:
    """A preexec hook that makes the child get SIGKILL when this process dies (Linux).

    Resolved before any fork: between fork and exec the hook only calls into libc."""
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class AirbyteProcess:
    """One run of the connector (`spec`, `check`, `discover` or `read`)."""

    def __init__(
        self,
        command: Sequence[str],
        log: logging.Logger,
        env: Mapping[str, str] | None = None,
        files_dir: str | None = None,
    ) -> None:
        self.command = list(command)
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
        """Start `command + args`; returns its stdout lines."""
        argv = self.command + list(args)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                preexec_fn=_parent_death_signal(),
            )
        except OSError as exc:
            self.cleanup()
            raise ConnectorError(
                f"cannot start the Airbyte connector {argv[0]!r}: {exc.strerror or exc}; "
                "check the command after `--`"
            ) from None
        self._stderr_thread = threading.Thread(
            target=self._forward_stderr, name="airbyte stderr", daemon=True
        )
        self._stderr_thread.start()
        assert self.proc.stdout is not None
        return iter(self.proc.stdout)

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
            self._stderr_thread.join(timeout=5)
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


class SubprocessSource:
    """Adapts an Airbyte connector command to the shim's delegate interface."""

    is_airbyte_delegate = True

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        files_dir: str | None = None,
    ) -> None:
        """`files_dir`: where config, catalog and state files go (default: the system's temp
        directory); for `docker run`, a directory mounted into the container at the same path."""
        if not command:
            raise ConnectorError("no Airbyte connector command was given; pass it after `--`")
        self.command = list(command)
        self.env = env
        self.files_dir = files_dir
        self.name = os.path.basename(self.command[0])
        self.log = logging.getLogger("flow")
        self.spec_log = logging.getLogger("flow.airbyte_spec")
        self._spec: dict[str, Any] | None = None
        self._spec_lock = threading.Lock()
        self._pending_masks: list[Mapping[str, Any]] = []
        self._spec_thread: threading.Thread | None = None
        self._gated = False

    def mask_secrets(self, config: Mapping[str, Any]) -> None:
        """Secrets are known once the connector's spec is, and a connector takes seconds to
        start: the spec is fetched alongside the command that needs the config (when logs at
        info are on, so lines will surely be written) or else on demand. Either way the
        secrets are registered before the first log line is written (a filter on the log)."""
        self._pending_masks.append(config)
        if not self._gated:
            self.log.addFilter(self._mask_first)
            self._gated = True
        if self._spec is None and self._spec_thread is None and self.log.isEnabledFor(logging.INFO):
            self._spec_thread = threading.Thread(
                target=self._fetch_spec, name="airbyte spec", daemon=True
            )
            self._spec_thread.start()

    def _fetch_spec(self) -> None:
        with contextlib.suppress(Exception):  # `ready` fetches again and raises it
            self.spec()

    def _mask_first(self, record: logging.LogRecord) -> bool:
        if self._pending_masks:
            self.ready()
        return True

    def ready(self) -> None:
        """Register the pending configs' secrets with the logger (fetching the spec if it
        is not known yet). The spec run itself has no config, so it has nothing to hide."""
        if not self._pending_masks:
            return
        with self._spec_lock:
            if self._spec_thread is not None:
                self._spec_thread.join()
                self._spec_thread = None
            spec = self.spec()
            while self._pending_masks:
                mask_config_secrets(spec, self._pending_masks.pop())

    def _one(
        self,
        verb: str,
        args: list[str],
        want: str,
        key: str,
        config: Any = None,
    ) -> Any:
        """Run a unary command and return the payload of its `want` message. The `spec` run
        has no config, so it logs past the secrets gate (on a child logger of `flow`)."""
        log = self.log if config is not None else self.spec_log
        run = AirbyteProcess(self.command, log, self.env, files_dir=self.files_dir)
        if config is not None:
            args = args + ["--config", run.write_file("config.json", config)]
        failure = SourceFailure()
        found = None
        try:
            for line in run.start(args):
                msg = parse_line(line)
                if msg is None:
                    if line.strip():
                        log.info(
                            "%s", line.decode(errors="replace").rstrip(), extra={"stdout": True}
                        )
                elif msg["type"] == want and found is None:
                    found = msg.get(key)
                elif msg["type"] == "LOG":
                    log_message(log, msg.get("log") or {})
                elif msg["type"] == "TRACE":
                    log_trace(log, msg.get("trace") or {}, failure)
            code = run.wait()
        finally:
            run.stop()
        if found is None:
            why = f": {failure.message}" if failure.message else ""
            if code != 0:
                raise ConnectorError(
                    run.exit_error(code, f"Airbyte `{verb}` of {self.name} failed{why}")
                )
            raise ConnectorError(f"Airbyte `{verb}` of {self.name} wrote no {want} message{why}")
        return found

    def spec(self) -> dict[str, Any]:
        if self._spec is None:
            self._spec = self._one("spec", ["spec"], "SPEC", "spec")
        return self._spec

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self._one("check", ["check"], "CONNECTION_STATUS", "connectionStatus", config)

    def discover(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self._one("discover", ["discover"], "CATALOG", "catalog", config)

    def read(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        state: list[dict[str, Any]],
        loop: ReadLoop,
    ) -> None:
        run = AirbyteProcess(self.command, self.log, self.env, files_dir=self.files_dir)
        args = [
            "read",
            "--config",
            run.write_file("config.json", config),
            "--catalog",
            run.write_file("catalog.json", catalog),
        ]
        if state:
            args += ["--state", run.write_file("state.json", state)]
        loads = orjson.loads
        record = loop.record
        message = loop.message

        try:
            for line in run.start(args):
                try:
                    msg = loads(line)
                except orjson.JSONDecodeError:
                    self._stray(line)
                    continue
                kind = msg.get("type") if type(msg) is dict else None
                if kind == "RECORD":
                    rec = msg.get("record")
                    try:
                        data = rec["data"]
                        stream = rec["stream"]
                    except (KeyError, TypeError):
                        data = stream = None
                    if type(data) is not dict or type(stream) is not str:
                        raise ConnectorError(
                            f"the connector wrote a RECORD without a stream name or data object: {line[:300]!r}"
                        )
                    record(rec.get("namespace"), stream, data)
                elif type(kind) is str:
                    message(msg)
                else:
                    self._stray(line)
            code = run.wait()
        finally:
            run.stop()
        if code != 0:
            raise ConnectorError(run.exit_error(code, loop.describe_failure()))

    def _stray(self, line: bytes) -> None:
        if line.strip():
            self.log.info("%s", line.decode(errors="replace").rstrip(), extra={"stdout": True})
