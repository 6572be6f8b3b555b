"""Flow ops-log JSON lines on stderr: `{"ts", "level", "msg", "fields"}`.

`msg` has %-arguments interpolated; `extra=` keywords and exception tracebacks become
`fields`. Secret values registered with `mask_secrets` are replaced in every line. Nothing
is configured at import: `init_logger()` does it when a connector starts.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import orjson

_RECORD_KEYS = frozenset(logging.LogRecord("", 0, "", 0, None, None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_secrets: set[str] = set()
MASK = "**********"


def mask_secrets(values: Iterable[Any]) -> None:
    """Hide these values (as strings, longer than 3 characters) in every later log line."""
    for value in values:
        text = str(value)
        if len(text) > 3:
            _secrets.add(text)


def redact(text: str) -> str:
    """`text` with every registered secret value masked."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


SHOWN_TRACEBACKS_KEPT = 256
_shown_tracebacks: dict[str, None] = {}
"""The tracebacks shown so far (an insertion-ordered set, bounded)."""


def first_showing(stack_trace: str) -> bool:
    """Whether this traceback is logged for the first time in this process (told by its last
    lines: the exception and where it was raised). A connector's failure usually arrives
    twice — logged with its traceback, then as an error trace repeating it — and is shown
    once; later copies say `as above`."""
    lines = [line.strip() for line in stack_trace.strip().splitlines() if line.strip()]
    key = "\n".join(lines[-3:])
    if key in _shown_tracebacks:
        return False
    if len(_shown_tracebacks) >= SHOWN_TRACEBACKS_KEPT:  # a long session: forget the oldest
        del _shown_tracebacks[next(iter(_shown_tracebacks))]
    _shown_tracebacks[key] = None
    return True


SHOWN_ABOVE = "as above"
"""A repeated traceback's field value."""


class FlowLogFormatter(logging.Formatter):
    """Formats a record as one Flow ops-log JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in _RECORD_KEYS}
        if record.name not in ("root", "flow"):
            fields["logger"] = record.name
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            fields["traceback"] = text if first_showing(text) else SHOWN_ABOVE
        elif record.stack_info:
            fields["stack"] = record.stack_info
        out: dict[str, Any] = {
            "ts": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(),
            "level": _level_name(record.levelno),
            "msg": record.getMessage(),
        }
        if fields:
            out["fields"] = fields
        line = orjson.dumps(out, option=orjson.OPT_NON_STR_KEYS, default=_fallback).decode()
        return redact(line) if _secrets else line


def _fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _level_name(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    if levelno >= logging.DEBUG:
        return "debug"
    return "trace"


LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


def init_logger(stream: TextIO | None = None) -> logging.Logger:
    """Point the root logger at stderr in Flow's format, at the level `LOG_LEVEL` names."""
    handler = logging.StreamHandler(stream if stream is not None else sys.__stderr__)
    handler.setFormatter(FlowLogFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    level = LEVELS.get(os.environ.get("LOG_LEVEL", "info").strip().lower(), logging.INFO)
    root.setLevel(level)
    log = logging.getLogger("flow")
    log.setLevel(level)
    return log


class RedactingWriter:
    """A text stream for `sys.stdout` / `sys.stderr` that masks registered secrets, so that
    a `print` of a secret by the connector (or its source) never reaches the logs as is.
    Text is written a whole line at a time: a secret split across writes is still masked."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending = ""
        self._lock = threading.Lock()
        self.line_hook: Callable[[str], bool] | None = None
        """Sees each whole line first; a line it returns True for is consumed (an in-process
        Airbyte source printing a protocol message, e.g. a CONTROL with a rotated token)."""

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                whole, _, self._pending = self._pending.rpartition("\n")
                hook = self.line_hook
                if hook is not None:
                    kept = [line for line in whole.split("\n") if not hook(line)]
                    if not kept:
                        return len(text)
                    whole = "\n".join(kept)
                self.stream.write(redact(whole + "\n") if _secrets else whole + "\n")
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self.stream.write(redact(self._pending) if _secrets else self._pending)
                self._pending = ""
            self.stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, ... of the stream
        return getattr(self.stream, name)


def redact_std_streams() -> None:
    """Mask secrets in whatever is written to `sys.stdout` and `sys.stderr` from now on."""
    if not isinstance(sys.stdout, RedactingWriter):
        sys.stdout = RedactingWriter(sys.stdout)  # type: ignore[assignment]  # a text stream
    if not isinstance(sys.stderr, RedactingWriter):
        sys.stderr = RedactingWriter(sys.stderr)  # type: ignore[assignment]


def last_words(message: str, **fields: Any) -> None:
    """Write a final error line straight to stderr, bypassing logging (which a connector
    may have reconfigured), so it is the line the runtime reports."""
    sys.stderr.flush()
    out = {
        "ts": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "level": "error",
        "msg": message,
    }
    if fields:
        out["fields"] = fields
    line = orjson.dumps(out, option=orjson.OPT_NON_STR_KEYS, default=_fallback).decode()
    os.write(2, (redact(line) + "\n").encode())
