"""A child connector's stdout as protocol messages: the line loop every subprocess adapter
(Airbyte source, Singer tap) reads through.

Exact JSON takes orjson alone: a line that is orjson's own encoding of what it parses to lost
nothing. Anything else takes the value rule (`flow_sdk.capture.values.decode_line`): big
integers, NaN, lone surrogates and the like are kept or refused by name, never changed
silently. A line that is not a message (no string `type`) is the child's log output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from flow_sdk.capture.values import decode_line


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
