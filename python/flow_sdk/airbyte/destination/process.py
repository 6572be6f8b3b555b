"""An Airbyte destination executable driven as a child process (`<command> write ...`).

Any program that speaks the protocol works, whatever its CDK generation or language. Records
are written to its stdin as pre-framed JSON lines; a thread reads its stdout (so a chatty
destination never blocks on a full pipe) and another forwards its stderr as logs. A
destination that has not echoed a state within the echo timeout is taken to echo only at
the end of its input: the shim then ends that `write()` to collect the echo.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import logging
import os
import termios
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from flow_sdk.airbyte.codec import parse_line
from flow_sdk.airbyte.destination.write import ENDED, DestinationWrite
from flow_sdk.airbyte.subprocess_connector import SubprocessConnector, command_name
from flow_sdk.child_process import ChildProcess
from flow_sdk.errors import ConnectorError

WRITE_BUFFER = 1 << 16


class SubprocessDestination:
    """Adapts an Airbyte destination command to the shim: spec and check, and `write` runs."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self._unary = SubprocessConnector(command, env)  # `spec` and `check` are the same commands
        self.command = list(command)
        self.env = env
        self.name = command_name(self.command)

    def spec(self) -> dict[str, Any]:
        return self._unary.spec()

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self._unary.check(config)

    def on_spec_changed(self, callback: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
        """`callback(kept, fresh)` when the spec used was a stale kept one."""
        self._unary.on_spec_changed = callback

    def start_write(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        streams: Sequence[tuple[str, str | None]],
        log: logging.Logger,
    ) -> DestinationWrite:
        return SubprocessWrite(self, config, catalog, streams, log)


class SubprocessWrite(DestinationWrite):
    def __init__(
        self,
        owner: SubprocessDestination,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        streams: Sequence[tuple[str, str | None]],
        log: logging.Logger,
    ) -> None:
        super().__init__(log, owner.name)
        # A Python destination prints its echoes through a block-buffered stdout; unbuffered,
        # an echo arrives when it is written instead of at the end of the write().
        env = dict(owner.env if owner.env is not None else os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._run = ChildProcess(owner.command, log, env, kind="Airbyte destination")
        args = [
            "write",
            "--config",
            self._run.write_file("config.json", dict(config)),
            "--catalog",
            self._run.write_file("catalog.json", catalog),
        ]
        self._stdin, stdout = self._run.start_with_input(args)
        assert self._stdin is not None
        self._fd = self._stdin.fileno()
        self._buf = bytearray()
        self._streams = list(streams)
        self._prefixes: list[bytes] = []
        self._frame(int(time.time() * 1000))
        self._reader = threading.Thread(
            target=self._read, args=(stdout,), name="airbyte destination stdout", daemon=True
        )
        self._reader.start()

    def _frame(self, emitted_at: int) -> None:
        """Pre-encode each stream's RECORD envelope up to the data object."""
        self._prefixes = []
        for stream, namespace in self._streams:
            head: dict[str, Any] = {"stream": stream}
            if namespace:
                head["namespace"] = namespace
            head["emitted_at"] = emitted_at
            body = orjson.dumps(head)[:-1]  # drop the closing brace
            self._prefixes.append(b'{"type":"RECORD","record":' + body + b',"data":')

    # ---- the request loop's side ----

    def record(self, binding: int, data: Mapping[str, Any]) -> None:
        buf = self._buf
        buf += self._prefixes[binding]
        buf += orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
        buf += b"}}\n"
        if len(buf) >= WRITE_BUFFER:
            self._send()
            self.poll()

    def states(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self._buf += orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE)
        self._send()
        self._frame(int(time.time() * 1000))

    def send(self, message: dict[str, Any]) -> None:
        self._buf += orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE)

    def _send(self) -> None:
        view = memoryview(self._buf)
        done = 0
        try:
            while done < len(view):
                done += os.write(self._fd, view[done:])
        except BrokenPipeError:
            view.release()
            self._buf.clear()
            self.finish()
            raise ConnectorError(
                f"the Airbyte destination {self.name} stopped reading its input in the middle "
                "of a transaction"
            ) from None
        view.release()
        self._buf.clear()

    def _input_pending(self) -> bool:
        """Bytes still in the pipe to the destination's stdin (Linux FIONREAD), i.e. it has
        not read everything yet: starting up, or busy."""
        unread = array.array("i", [0])
        try:
            fcntl.ioctl(self._fd, termios.FIONREAD, unread, True)
        except OSError:
            return False
        return unread[0] > 0

    def _end_input(self) -> None:
        if self._buf:
            self._send()
        with contextlib.suppress(BrokenPipeError):
            self._stdin.close()

    def _exit_status(self) -> str | None:
        code = self._run.wait()
        self._reader.join(timeout=5)
        self._run.cleanup()
        if code == 0:
            return None
        return self._run.exit_error(code, "write() did not finish")

    # ---- the stdout thread ----

    def _read(self, stdout: Iterator[bytes]) -> None:
        outbox = self._outbox
        for line in stdout:
            message = parse_line(line)
            if message is None:
                if line.strip():
                    self.log.info(
                        "%s", line.decode(errors="replace").rstrip(), extra={"stdout": True}
                    )
                continue
            outbox.put(("message", message))
        outbox.put((ENDED, None))
