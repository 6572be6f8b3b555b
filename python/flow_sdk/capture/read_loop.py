"""What every adapter's read loop shares: the record path, the stop check, unbound streams,
and the watchdog's view. `airbyte.source.read_loop.ReadLoop` and `singer.read_loop.SingerReadLoop`
add only their message shapes and state layouts.

The record path is one method (`record_keyed`) with no call of its own before the Emitter:
the adapter looks a record's binding up by its stream key (Singer: the stream name; Airbyte:
`(namespace or None, name)`), stamps `_meta.op` and `_meta.row_id`, and emits it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping
from typing import Any, ClassVar, Protocol

from flow_sdk.capture.emitter import Emitter
from flow_sdk.capture.schema import SourceMetaMover, change_op
from flow_sdk.capture.watchdog import Watchdog, idle_timeout
from flow_sdk.errors import ConnectorError


class Bound(Protocol):
    """A binding's read-time state, as the record path needs it."""

    index: int
    stream: str
    label: str
    next_row: int


class AdapterReadLoop:
    """One read of a wrapped connector, translated onto `emit`."""

    cdc_deleted_at: ClassVar[str]
    """The field a CDC source sets on a deleted row (`_meta.op` is `d` when it is set)."""
    connector: ClassVar[str] = "the source"
    """How messages name the wrapped connector."""
    first_news: ClassVar[str] = "any record"
    """What tells which stream the connector is reading (for `reading`)."""

    def __init__(
        self,
        emit: Emitter,
        log: logging.Logger,
        by_stream: Mapping[Any, Bound],
        bindings: list[Any],
    ) -> None:
        self.emit = emit
        self.log = log
        self._by_stream = by_stream
        self._bindings = bindings
        self._captured = emit.captured
        self._meta_mover = SourceMetaMover(log)
        self._unbound: set[str] = set()
        self._last: Any = None
        """The binding last read (for errors and the watchdog)."""
        self.messages = 0
        """Messages other than fast-path records (records are counted by the emitter)."""

    def run(self, read: Callable[[], None], idle_seconds: float | None) -> None:
        """Run the connector's `read` under the idle watchdog, then the final checkpoint.
        A failure of the connector's own ends the session with one sentence naming the
        stream (`failed`), its traceback logged once before it."""
        watchdog = Watchdog(idle_timeout(idle_seconds), self.progress, self.reading)
        try:
            with watchdog:
                read()
        except ConnectorError:
            raise
        except Exception as exc:
            self.log.error("%s's read failed", self.connector, exc_info=True)
            raise self.failed(exc) from None
        self.finish()

    def finish(self) -> None:
        """The read ended normally: the final checkpoint."""
        raise NotImplementedError

    # ---- the hot path ----

    def record_keyed(self, key: Hashable, data: dict[str, Any]) -> None:
        """One record of the stream `key`: stamp its binding's next row id and emit it."""
        b = self._by_stream.get(key)
        if b is None:
            b = self.unmatched(key)
            if b is None:
                return
        row = b.next_row
        if "_meta" in data:
            self._meta_mover.move(data, b.stream)
        data["_meta"] = {"op": change_op(data, self.cdc_deleted_at), "row_id": row}
        b.next_row = row + 1
        self._last = b
        self._captured(b.index, data)

    def unmatched(self, key: Any) -> Any:
        """The binding of a record whose key the fast lookup missed, or None to skip it
        (after warning once per stream)."""
        self.skip_unbound(str(key))
        return None

    def skip_unbound(self, label: str) -> None:
        if label not in self._unbound:
            self._unbound.add(label)
            self.log.warning(
                "%s wrote records of stream %r, which no binding captures; skipping them",
                self.connector,
                label,
            )

    # ---- every other message ----

    def arrived(self) -> None:
        """Count a message off the fast path, and end the session here if the runtime asked
        it to stop (the Emitter closes the open group first)."""
        self.messages += 1
        self.emit.stop_if_asked()

    # ---- the watchdog's view ----

    def progress(self) -> int:
        """A count that moves with every message of the connector."""
        return self.emit.documents + self.emit.pending_documents + self.messages

    def reading(self) -> str:
        """What the connector was last busy with, for an error."""
        if self._last is not None:
            return f"stream {self._last.label!r}"
        names = [repr(b.label) for b in self._bindings]
        which = f"stream {names[0]}" if len(names) == 1 else f"streams {', '.join(names)}"
        return f"{which} (before {self.first_news} arrived)"

    def failed(self, cause: BaseException) -> ConnectorError:
        """The error to end the session with when the connector's read raised `cause`."""
        return ConnectorError(f"{self.describe_failure()}: {type(cause).__name__}: {cause}")

    def describe_failure(self) -> str:
        where = f" while reading stream {self._last.label!r}" if self._last is not None else ""
        return f"{self.connector} failed{where}"
