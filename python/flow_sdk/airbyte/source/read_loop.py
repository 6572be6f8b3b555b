"""The translation both delegate modes feed: Airbyte messages → Flow capture responses.

RECORD → `captured` for the binding of its (namespace, stream), with `_meta.row_id` from the
        if kind == "COMPLETE" and b.full_refresh:
            # A finished sweep's documents are whole: commit them now, not with whatever
            # stream comes next (which may fail and take them down with it).
            patch = self.state.sweep_complete(b)
            self._complete_sweeps()
            if patch is not None or self.emit.pending_documents:
                self.emit.checkpoint(patch or {})
When the runtime closes stdin, the loop stops at the next message: the Emitter closes the
open group and raises `SessionStopped`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flow_sdk.airbyte.connector_log_messages import (
    ConnectorFailure,
    log_control,
    log_message,
    log_trace,
    log_unknown,
)
from flow_sdk.airbyte.source.config_update import ConfigUpdates
from flow_sdk.airbyte.source.state import BindingState, ShimState
from flow_sdk.capture.emitter import Emitter
from flow_sdk.capture.read_loop import AdapterReadLoop
from flow_sdk.capture.status import connector_status
from flow_sdk.errors import ConnectorError

CDC_DELETED_AT = "_ab_cdc_deleted_at"
"""Airbyte's CDC sources set it on a deleted row (null otherwise)."""

_STATUS_WORDS = {
    "STARTED": "is being read",
    "RUNNING": "is being read",
    "COMPLETE": "is complete",
    "INCOMPLETE": "stopped incomplete",
}


class ReadLoop(AdapterReadLoop):
    """One `read()` of the source, translated onto `emit`."""

    cdc_deleted_at = CDC_DELETED_AT
    first_news = "any record or stream status"

    def __init__(
        self,
        emit: Emitter,
        state: ShimState,
        log: logging.Logger,
        config_schema: Callable[[], Any] | None = None,
        config_updates: ConfigUpdates | None = None,
    ) -> None:
        super().__init__(emit, log, state.by_stream, state.bindings)
        self.config_updates = config_updates
        self.state = state
        self.config_schema = config_schema
        self.failure = ConnectorFailure()
        self._statuses: dict[str, Any] = {}

    # ---- the hot path (`record_keyed` with `(namespace or None, stream)`) ----

    def record(self, namespace: str | None, stream: str, data: Any) -> None:
        """One RECORD: stamp the binding's next row id into `data` and emit it."""
        self.record_keyed((namespace or None, stream), data)

    def unmatched(self, key: tuple[str | None, str]) -> BindingState | None:
        b = self.state.binding_of(*key)
        if b is None:
            self.skip_unbound("/".join(filter(None, key)))
        return b

    # ---- everything else ----

    def message(self, msg: Mapping[str, Any]) -> None:
        """Any message that is not a RECORD, as a plain dict."""
        emit = self.emit
        self.arrived()
        kind = msg.get("type")
        if kind == "STATE":
            patch = self.state.on_state(msg.get("state") or {})
            self._complete_sweeps()
            if patch is not None:
                emit.checkpoint(patch)
        elif kind == "LOG":
            log_message(self.log, msg.get("log") or {})
        elif kind == "TRACE":
            trace = msg.get("trace") or {}
            log_trace(self.log, trace, self.failure)
            if trace.get("type") == "STREAM_STATUS":
                self._stream_status(trace.get("stream_status") or {})
        elif kind == "CONTROL":
            self.control(msg.get("control") or {})
        elif kind == "RECORD":  # a record that did not take the fast path
            rec = msg.get("record") or {}
            self.record_keyed(
                (rec.get("namespace") or None, rec.get("stream", "")), rec.get("data") or {}
            )
        else:
            log_unknown(self.log, msg)

    def control(self, control: Mapping[str, Any]) -> None:
        """A config update: the rotated secrets are checkpointed at once (the old token is
        already dead), committing the documents read so far with them."""
        if self.config_updates is None:
            schema = self.config_schema() if self.config_schema is not None else None
            log_control(self.log, control, schema)
            return
        patch = self.config_updates.control(control)
        if patch:
            self.emit.checkpoint(patch)

    def _stream_status(self, status: Mapping[str, Any]) -> None:
        desc = status.get("stream_descriptor") or {}
        b = self.state.binding_of(desc.get("namespace"), desc.get("name", ""), "a stream status")
        if b is None:
            return
        self._last = b
        kind = status.get("status")
        self._report_status(b, kind, status.get("reasons") or [])
        if kind == "COMPLETE" and b.full_refresh:
            patch = self.state.sweep_complete(b)
            self._complete_sweeps()
            if patch is not None:
                self.emit.checkpoint(patch)

    def _report_status(self, b: BindingState, kind: Any, reasons: list[Any]) -> None:
        """Flow's `connectorStatus` events (what the UI shows as the task's current doing),
        on each change of a stream's STREAM_STATUS and on rate limits."""
        label = b.label
        total = len(self.state.bindings)
        for reason in reasons:
            if isinstance(reason, Mapping) and reason.get("type") == "RATE_LIMITED":
                until = (reason.get("rate_limited") or {}).get("quota_reset")
                when = f" until {until}" if until else ""
                connector_status(self.log, f"Stream {label!r} is rate limited by the source{when}")
        words = _STATUS_WORDS.get(kind)
        if words is None or words == self._statuses.get(label):
            return
        self._statuses[label] = words
        done = sum(1 for w in self._statuses.values() if w == _STATUS_WORDS["COMPLETE"])
        if kind == "COMPLETE" and done == total:
            connector_status(self.log, f"All {total} streams are complete")
        else:
            connector_status(
                self.log,
                f"Stream {label!r} {_STATUS_WORDS[kind]} ({done} of {total} streams complete)",
            )

    # ---- backfills ----

    def begin(self) -> None:
        """Before `read()`: `backfillBegin` for every full-refresh sweep starting afresh."""
        for b in self.state.begin_sweeps():
            self.emit.backfill_begin(b.index)

    def _complete_sweeps(self) -> None:
        """`backfillComplete` for every sweep completed since the last call. It commits with
        the next checkpoint (the sweep's own, or the read's final one): never one of its own,
        which would also commit other streams' documents ahead of their state."""
        for b in self.state.completed_sweeps():
            self.emit.backfill_complete(b.index)

    # ---- the end ----

    def finish(self) -> None:
        """`read()` ended normally: the final checkpoint (completing full-refresh sweeps)."""
        patch = self.state.end_of_read()
        self._complete_sweeps()
        self.emit.checkpoint(patch)

    def describe_failure(self) -> str:
        """What failed, naming the stream: the source's last error, else its last stream."""
        last = self._last.label if self._last is not None else None
        return self.failure.describe(last)

    def failed(self, cause: BaseException) -> ConnectorError:
        """The error to end the session with when the source's `read()` raised `cause`."""
        text = self.describe_failure()
        if self.failure.message is None:
            text += f": {type(cause).__name__}: {cause}"
        return ConnectorError(text)
