"""The idle watchdog: a capture whose source sends nothing for too long ends with a sentence
naming what it was reading, instead of hanging until someone notices.

A hung source cannot be interrupted from Python (it may sit in a socket read without a
timeout), so the watchdog, a daemon thread, writes the last words itself and ends the
process. Nothing still buffered reaches stdout, so nothing is checkpointed past what was
emitted; a child process of the source dies with this one (see `airbyte.source.process`)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from types import TracebackType

from flow_sdk.errors import ConnectorError
from flow_sdk.logger import last_words

IDLE_TIMEOUT_ENV = "FLOW_SDK_IDLE_TIMEOUT"
DEFAULT_IDLE_TIMEOUT = 3 * 3600.0
"""Seconds without a message before a read is declared stuck; the default is the three
hours Airbyte's platform allows between messages."""


def idle_timeout(explicit: float | None = None) -> float:
    """`explicit`, else `FLOW_SDK_IDLE_TIMEOUT` (seconds; 0 turns the watchdog off), else
    the default."""
    if explicit is not None:
        return explicit
    text = os.environ.get(IDLE_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_IDLE_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise ConnectorError(
            f"{IDLE_TIMEOUT_ENV} must be a number of seconds (0 for no limit), not {text!r}"
        ) from None
    if value < 0 or value != value:
        raise ConnectorError(f"{IDLE_TIMEOUT_ENV} must be 0 or more seconds, not {text!r}")
    return value


def _exit_with(message: str) -> None:
    last_words(message)
    os._exit(1)


class Watchdog:
    """Watches `progress()` (any counter that moves with every message) while in a `with`
    block; after `timeout` seconds without a change, calls `on_stuck` with a sentence built
    from `reading()` (what is being read, e.g. "stream 'users'"). The default `on_stuck`
    ends the process with that sentence as its last log line. A timeout of 0 watches nothing."""

    def __init__(
        self,
        timeout: float,
        progress: Callable[[], int],
        reading: Callable[[], str],
        on_stuck: Callable[[str], None] = _exit_with,
    ) -> None:
        self.timeout = timeout
        self.progress = progress
        self.reading = reading
        self.on_stuck = on_stuck
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Watchdog:
        if self.timeout > 0:
            self._thread = threading.Thread(target=self._watch, name="idle watchdog", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        poll = min(max(self.timeout / 20, 0.01), 5.0)
        seen, since = self.progress(), time.monotonic()
        while not self._stop.wait(poll):
            now = self.progress()
            if now != seen:
                seen, since = now, time.monotonic()
            elif time.monotonic() - since >= self.timeout:
                self.on_stuck(self.message())
                return

    def message(self) -> str:
        return (
            f"the source sent no message for {self.timeout:g} seconds while reading "
            f"{self.reading()}, so it is taken to be stuck (waiting on a request without a "
            f"timeout?); fix the source, or set {IDLE_TIMEOUT_ENV} to more seconds if it is "
            "legitimately this slow"
        )
