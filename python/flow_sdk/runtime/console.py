"""Connector logs made readable, and the one place the runtime writes text to the terminal.

A connector's stderr carries Flow ops-log JSON lines (`flow-protocol.md` §1.1); they are
rendered as `LEVEL source: message key=value ...`. Lines that are not JSON become `warn`,
or `error` when they read like one, exactly as Flow classifies them.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

import orjson

from flow_sdk.runtime.masking import mask

_LEVELS = {
    "trace": "trace",
    "debug": "debug",
    "info": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
    "fatal": "error",
    "panic": "error",
    "critical": "error",
}
_ERRORISH = re.compile(r"error|failed|panic|timeout|unable|unrecognized", re.IGNORECASE)
_MESSAGE_KEYS = ("message", "msg")
_TIME_KEYS = ("ts", "time", "timestamp")
_LEVEL_KEYS = ("level", "lvl")


@dataclass
class LogRecord:
    """One connector log line, decoded."""

    level: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    ts: str = ""


def parse_log_line(line: str) -> LogRecord:
    """Decode a stderr line the way Flow does: JSON logs keep their level, message and
    fields; anything else is a `warn` (or `error` when it mentions a failure)."""
    text = line.rstrip("\r\n")
    if text.startswith("{"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            return _from_json(data)
    level = "error" if _ERRORISH.search(text) else "warn"
    return LogRecord(level=level, message=text)


def _from_json(data: dict[str, Any]) -> LogRecord:
    level, message, ts = "info", "", ""
    fields: dict[str, Any] = {}
    for key, value in data.items():
        lower = key.lower()
        if lower in _LEVEL_KEYS and isinstance(value, str):
            level = _LEVELS.get(value.lower(), "info")
        elif lower in _MESSAGE_KEYS and isinstance(value, str):
            message = value
        elif lower in _TIME_KEYS and isinstance(value, str):
            ts = value
        elif lower == "fields" and isinstance(value, dict):
            fields.update(value)
        else:
            fields[key] = value
    return LogRecord(level=level, message=message, fields=fields, ts=ts)


def render(record: LogRecord, source: str) -> str:
    """`LEVEL source: message key=value ...`; multi-line field values go on indented lines."""
    parts = [f"{record.level.upper():<5} {source}: {record.message}"]
    trailing: list[str] = []
    for key, value in record.fields.items():
        text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
        if "\n" in text:
            trailing.append(f"    {key}:\n" + "\n".join("      " + ln for ln in text.splitlines()))
        else:
            parts.append(f"{key}={text}" if " " not in text else f"{key}={text!r}")
    return "\n".join([" ".join(parts), *trailing])


def as_json(record: LogRecord, source: str) -> str:
    """One JSON line, Flow's ops-log shape (`ts`, `level`, `message`, `fields`) plus the
    `source` task or `flow-sdk`: what `--log-json` prints, for tools that read logs."""
    ts = record.ts or datetime.now(timezone.utc).isoformat(timespec="microseconds")
    line = {"ts": ts, "level": record.level, "message": record.message, "source": source}
    if record.fields:
        line["fields"] = record.fields
    return orjson.dumps(line, default=str).decode()


class Console:
    """The runtime's terminal output on stderr. A progress bar, while shown, takes over the
    `sink` so that log lines are printed above it instead of through it. With `json_logs`
    (`--log-json`) every line is a JSON log line instead of text."""

    def __init__(self, stream: TextIO | None = None, json_logs: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.json_logs = json_logs
        self._lock = threading.Lock()
        self.sink: Callable[[str], None] | None = None

    def wants_bars(self) -> bool:
        """Whether progress bars belong on this console: a terminal, and not JSON logs."""
        return not self.json_logs and bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self, text: str) -> None:
        """Print one (possibly multi-line) message."""
        if self.json_logs:
            text = as_json(LogRecord(level="info", message=text), "flow-sdk")
        self._write(text)

    def relay(self, text: str) -> None:
        """A line another process's console rendered (`run --follow`'s materializations)."""
        self._write(text)

    def _write(self, text: str) -> None:
        text = mask(text)
        with self._lock:
            if self.sink is not None:
                self.sink(text)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

    def record(self, record: LogRecord, source: str) -> None:
        """A log record of `source` (a task's connector, or `flow-sdk`)."""
        self._write(as_json(record, source) if self.json_logs else render(record, source))

    def log(self, level: str, message: str, **fields: Any) -> None:
        """A message from the runtime itself, rendered like a connector's."""
        self.record(LogRecord(level=level, message=message, fields=fields), "flow-sdk")
