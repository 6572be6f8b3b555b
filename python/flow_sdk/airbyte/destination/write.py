"""One call of an Airbyte destination's `write()`, as the materialize shim sees it.

Records, STATE messages and stream-status traces go in; echoed STATE messages (the
destination's commit confirmations), logs and traces come out. `InProcessWrite` and `SubprocessWrite` implement
it over a `Destination` object or a child process; both report a destination that waits for
more input instead of echoing a state, so the shim can end the `write()` to get the echo.
"""

from __future__ import annotations

import abc
import logging
import queue
import time
from collections.abc import Mapping
from typing import Any

from flow_sdk.airbyte.connector_log_messages import (
    ConnectorFailure,
    log_message,
    log_trace,
    log_unknown,
)
from flow_sdk.errors import ConnectorError

STARVED = "starved"
"""Outbox marker: the destination asked for more input with a state still unconfirmed."""
ENDED = "ended"
"""Outbox marker: `write()` returned (or the process closed its stdout)."""
FAILED = "failed"
"""Outbox marker: `write()` raised; the exception follows."""

_TICK = 0.05
"""How often a timed wait looks at the destination's unread input."""

BATCH = 1000
"""Records handed over at once (in process) — amortizes the thread hand-off."""


class DestinationWrite(abc.ABC):
    """A running `write()`: feed it with `record` / `state`, confirm with `wait_for_state`,
    end it with `finish`."""

    def __init__(self, log: logging.Logger, name: str) -> None:
        self.log = log
        self.name = name
        self.failure = ConnectorFailure()
        self.internal_message: str | None = None
        """The internal message of the destination's last error trace (CDK exceptions put
        the actual cause there, behind a generic message)."""
        self._outbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.ended = False

    @abc.abstractmethod
    def record(self, binding: int, data: Mapping[str, Any]) -> None:
        """Send one RECORD of binding `binding`'s stream (the hot path)."""

    @abc.abstractmethod
    def states(self, messages: list[dict[str, Any]]) -> None:
        """Send a transaction's STATE messages at once and make sure the destination can read
        everything before them."""

    @abc.abstractmethod
    def send(self, message: dict[str, Any]) -> None:
        """Queue any other message (a TRACE); it reaches the destination with what follows."""

    @abc.abstractmethod
    def _end_input(self) -> None:
        """Close the destination's input, so it commits and returns from `write()`."""

    @abc.abstractmethod
    def _exit_status(self) -> str | None:
        """After `write()` ended: None if it succeeded, else what went wrong."""

    def wait_for_state(self, timeout: float | None) -> dict[str, Any] | None:
        """The next STATE the destination echoes, or None if it waits for more input instead:
        then only `finish` gets the echo. With a `timeout`, a destination that has read all
        its input and stays silent that long counts as waiting (its start-up and any output
        it writes restart the clock)."""
        quiet_since: float | None = None
        while True:
            try:
                kind, value = self._outbox.get(timeout=_TICK if timeout is not None else None)
            except queue.Empty:
                now = time.monotonic()
                if self._input_pending():
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = now
                elif now - quiet_since >= (timeout or 0.0):
                    return None
                continue
            quiet_since = None
            if kind == "message":
                if (state := self.handle(value)) is not None:
                    return state
            elif kind == STARVED:
                return None
            else:
                self._outbox.put((kind, value))  # `finish` reports it
                return None

    def _input_pending(self) -> bool:
        """Whether input sent to the destination is still unread (it is not waiting yet)."""
        return False

    def finish(self) -> list[dict[str, Any]]:
        """End the input, wait for `write()` to return, and give the states it echoed since.
        Raises ConnectorError when the destination failed."""
        if not self.ended:
            self._end_input()
        states = []
        while True:
            kind, value = self._outbox.get()
            if kind == "message":
                if (state := self.handle(value)) is not None:
                    states.append(state)
            elif kind == FAILED:
                self.ended = True
                raise ConnectorError(self.describe_failure(value))
            elif kind == ENDED:
                break
        self.ended = True
        if (problem := self._exit_status()) is not None:
            raise ConnectorError(self.describe_failure(problem))
        return states

    def poll(self) -> None:
        """Handle what the destination said so far without waiting; raise if it failed."""
        while True:
            try:
                kind, value = self._outbox.get_nowait()
            except queue.Empty:
                return
            if kind == "message":
                if (state := self.handle(value)) is not None:
                    raise ConnectorError(
                        f"the Airbyte destination {self.name} echoed a state the shim had not "
                        f"sent yet: {str(state)[:300]}"
                    )
            elif kind == STARVED:
                continue
            else:
                self._outbox.put((kind, value))
                self.finish()
                raise ConnectorError(
                    f"the Airbyte destination {self.name} ended its write() in the middle of a "
                    "transaction, before the shim sent the transaction's state"
                )

    def handle(self, message: Mapping[str, Any]) -> dict[str, Any] | None:
        """A message the destination wrote: a STATE is returned, the rest is logged."""
        kind = message.get("type")
        if kind == "STATE":
            return dict(message.get("state") or {})
        if kind == "LOG":
            log_message(self.log, message.get("log") or {})
        elif kind == "TRACE":
            trace = message.get("trace") or {}
            log_trace(self.log, trace, self.failure)
            error = trace.get("error") if isinstance(trace, Mapping) else None
            if isinstance(error, Mapping) and error.get("internal_message"):
                self.internal_message = str(error["internal_message"])
        else:
            log_unknown(self.log, message)
        return None

    def describe_failure(self, problem: Any) -> str:
        """A sentence naming the destination, what it said last, and what went wrong."""
        said = f": {self.failure.message}" if self.failure.message else ""
        if self.internal_message and self.internal_message not in said:
            said += f" ({self.internal_message})" if said else f": {self.internal_message}"
        if isinstance(problem, BaseException):
            detail = f"{type(problem).__name__}: {problem}"
            if said and str(problem) in said:
                detail = ""
        else:
            detail = str(problem)
        tail = f" ({detail})" if detail else ""
        return f"the Airbyte destination {self.name} failed during write(){said}{tail}"
