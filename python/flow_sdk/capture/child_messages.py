"""A child connector's stdout as protocol messages: the line loop every subprocess adapter
(Airbyte source, Singer tap) reads through, and the frame of its read (`read_files`,
`child_read`).

Exact JSON takes orjson alone: a line that is orjson's own encoding of what it parses to lost
nothing. Anything else takes the value rule (`flow_sdk.capture.values.decode_line`): big
integers, NaN, lone surrogates and the like are kept or refused by name, never changed
silently. A line that is not a message (no string `type`) is the child's log output.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import orjson

from flow_sdk.capture.values import decode_line
from flow_sdk.errors import ConnectorError

if TYPE_CHECKING:
    from flow_sdk.capture.read_loop import AdapterReadLoop
    from flow_sdk.child_process import ChildProcess


def child_messages(
    lines: Iterable[bytes],
    whose: str,
    reading: Callable[[], str],
    log: logging.Logger,
) -> Iterator[dict[str, Any]]:
    """Each message of `lines` (a dict with a string `type`); other lines are logged as the
    child's output. `whose` names the child and `reading()` what it was reading, in errors."""
    loads = orjson.loads
    dumps = orjson.dumps
    for line in lines:
        try:
            msg = loads(line)
            if type(msg) is not dict or dumps(msg) != line[:-1]:
                msg = decode_line(line, whose, reading)
        except orjson.JSONDecodeError:
            msg = decode_line(line, whose, reading)
        if msg is None or type(msg.get("type")) is not str:
            log_stray(log, line)
            continue
        yield msg


def log_stray(log: logging.Logger, line: bytes) -> None:
    """A stdout line that is no message: the child's own output, logged as such."""
    if line.strip():
        log.info("%s", line.decode(errors="replace").rstrip(), extra={"stdout": True})


def read_files(run: ChildProcess, config: Any, catalog: Any, state: Any) -> list[str]:
    """The `--config`, `--catalog` and (when there is one) `--state` arguments of a child's
    read, each a file written for it."""
    args = [
        "--config",
        run.write_file("config.json", config),
        "--catalog",
        run.write_file("catalog.json", catalog),
    ]
    if state:
        args += ["--state", run.write_file("state.json", state)]
    return args


@contextlib.contextmanager
def child_read(
    run: ChildProcess, args: list[str], whose: str, loop: AdapterReadLoop, log: logging.Logger
) -> Iterator[Iterator[dict[str, Any]]]:
    """A child connector's read: yields its messages (`child_messages`) for the adapter to
    route, then waits for its exit; one that is not 0 fails the session naming the stream
    being read. The child is stopped however the read ends."""

    def reading() -> str:
        return f"while reading {loop.reading()}"

    try:
        yield child_messages(run.start(args), whose, reading, log)
        code = run.wait()
    finally:
        run.stop()
    if code != 0:
        raise ConnectorError(run.exit_error(code, loop.describe_failure()))
