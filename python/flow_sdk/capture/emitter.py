"""Writes a capture session's responses: the hot path of every capture.

A captured document goes from the source's dict through one `orjson.dumps` into a
pre-encoded envelope and a buffered writer; the buffer is flushed at checkpoints (and past
`FLUSH_BYTES`). Checkpoints are written as merge patches unless asked otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from flow_sdk.capture import values
from flow_sdk.errors import SessionStopped
from flow_sdk.io import FLUSH_BYTES, ProtocolWriter
from flow_sdk.protocol.capture import Response
from flow_sdk.protocol.wire import ProtocolError

_SUFFIX = b"}}\n"
_EMPTY_CHECKPOINT = b'{"checkpoint":{"state":{"updated":{},"mergePatch":true}}}\n'
_dumps = orjson.dumps
_default = values.default
_OPTIONS = values.OPTIONS
_nan_written = values.nan_written


def dumps(value: Any, where: str = "a response") -> bytes:
    """Compact JSON bytes as the protocol wants them, under the value rule but strict: a
    value the rule would convert (NaN, a lone surrogate) fails naming `where`."""
    try:
        out = _dumps(value, default=_default, option=_OPTIONS)
    except TypeError:
        return values.encode(value, where, None)
    if b"null" in out and _nan_written(value, out):
        return values.encode(value, where, None)
    return out


class Emitter:
    """The session's output. Call `opened` first, then `captured` / `checkpoint`.

    Also callable with a whole response (`emit({"captured": {...}})`) as in flow-sdk 0.1.x.
    When the runtime closes stdin (`stopping`), the next call closes the open checkpoint
    group with a state-neutral checkpoint and raises `SessionStopped`."""

    def __init__(
        self,
        writer: ProtocolWriter,
        binding_count: int,
        on_checkpoint: Callable[[], None] | None = None,
        names: Sequence[str] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        """`names`: what each binding is called in errors and warnings (its stream)."""
        self._writer = writer
        self._buf = writer.buffer
        self._prefixes = {
            i: b'{"captured":{"binding":%d,"doc":' % i if i else b'{"captured":{"doc":'
            for i in range(binding_count)
        }
        self._on_checkpoint = on_checkpoint
        self.is_opened = False
        self.stopping = False
        self.documents = 0
        """Documents emitted in this session."""
        self.pending_documents = 0
        """Documents emitted since the last checkpoint."""
        self.checkpoints = 0
        self.names = list(names) if names is not None else None
        self.conversions = values.Conversions(log or logging.getLogger("flow"))
        """Values converted under the documented rule (NaN → null, ...), for the summary."""

    # ---- the fast path ----

    def captured(self, binding: int, doc: Mapping[str, Any]) -> None:
        """Emit one document of binding `binding` (an index into the Open's bindings)."""
        try:
            prefix = self._prefixes[binding]
        except KeyError:
            raise ProtocolError(self._bad_binding(binding)) from None
        if self.stopping or not self.is_opened:
            self._check_state()
        if type(doc) is not dict and not isinstance(doc, Mapping):
            raise ProtocolError(
                f"captured documents must be JSON objects; binding {binding} got {type(doc).__name__}"
            )
        try:
            body = _dumps(doc, default=_default, option=_OPTIONS)
        except TypeError:
            body = values.encode(doc, self.where(binding), self.conversions)
        else:
            if b"null" in body and _nan_written(doc, body):
                body = values.encode(doc, self.where(binding), self.conversions)
        buf = self._buf
        buf += prefix
        buf += body
        buf += _SUFFIX
        self.pending_documents += 1
        if len(buf) >= FLUSH_BYTES:
            self._writer.flush()

    def checkpoint(self, updated: Any = None, merge_patch: bool = True) -> None:
        """Close the current checkpoint group with state `updated` (`{}` when None) and flush.

        With `merge_patch` (the default) `updated` is an RFC 7396 patch of the state;
        otherwise it replaces the whole state."""
        if not self.is_opened:
            raise ProtocolError("a checkpoint was emitted before `opened`")
        encoded = dumps({} if updated is None else updated, "the checkpoint's state")
        buf = self._buf
        buf += b'{"checkpoint":{"state":{"updated":'
        buf += encoded
        buf += b',"mergePatch":true}}}\n' if merge_patch else b"}}}\n"
        self._commit_group()
        if self.stopping:
            raise SessionStopped()

    # ---- the rest of the session ----

    def opened(self, explicit_acknowledgements: bool = False) -> None:
        """Answer the Open; must come before anything else."""
        if self.is_opened:
            raise ProtocolError("`opened` was emitted twice")
        self._buf += (
            b'{"opened":{"explicitAcknowledgements":true}}\n'
            if explicit_acknowledgements
            else b'{"opened":{}}\n'
        )
        self.is_opened = True
        self._writer.flush()

    def sourced_schema(self, binding: int, document_schema: Any) -> None:
        """Tell the runtime the source's schema of a binding changed (applied at the next checkpoint)."""
        if binding not in self._prefixes:
            raise ProtocolError(self._bad_binding(binding))
        self._check_state()
        self._write_response(
            {"sourcedSchema": {"binding": binding, "documentSchema": document_schema}}
        )

    def backfill_begin(self, binding: int) -> None:
        """A backfill (full re-read) of `binding` starts: what its collection held before is
        superseded once `backfill_complete` follows, and materializations drop it. Must be the
        binding's first message of its checkpoint group: emit it before the sweep's documents."""
        self._signal("backfillBegin", binding)

    def backfill_complete(self, binding: int) -> None:
        """The backfill of `binding` that `backfill_begin` started has captured everything:
        documents published before its begin are now stale. Emit it after the sweep's last
        document; the checkpoint that follows commits it."""
        self._signal("backfillComplete", binding)

    def stop_if_asked(self) -> None:
        """End the session here if the runtime asked it to stop (closed stdin): the open
        group is closed with a state-neutral checkpoint, then `SessionStopped` unwinds the
        connector. Read loops call it at every message that is not a record."""
        if self.stopping:
            self.close()
            raise SessionStopped()

    def close(self) -> None:
        """End of the session: close an open group with a state-neutral checkpoint and flush."""
        if self.pending_documents:
            self._buf += _EMPTY_CHECKPOINT
            self._commit_group()
        self._writer.flush()

    def __call__(self, response: Any) -> None:
        """Emit a whole response, as flow-sdk 0.1.x connectors do: a dict or a `Response`."""
        if isinstance(response, Mapping):
            if (captured := response.get("captured")) is not None and len(response) == 1:
                self.captured(captured.get("binding", 0), captured["doc"])
                return
            if (checkpoint := response.get("checkpoint")) is not None and len(response) == 1:
                state = checkpoint.get("state") or {}
                self.checkpoint(state.get("updated"), bool(state.get("mergePatch", False)))
                return
            if (opened := response.get("opened")) is not None and len(response) == 1:
                self.opened(bool(opened.get("explicitAcknowledgements", False)))
                return
            response = Response.model_validate(response)
        if not isinstance(response, Response):
            raise ProtocolError(f"cannot emit a {type(response).__name__} as a capture response")
        variant = response.variant
        if variant == "opened":
            self.opened(response.opened.explicitAcknowledgements)
        elif variant == "captured":
            self.captured(response.captured.binding, response.captured.doc)
        elif variant == "checkpoint":
            state = response.checkpoint.state
            self.checkpoint(state.updated if state else None, state.mergePatch if state else True)
        else:
            self._check_state()
            self._write_response(response.to_wire())

    # ---- internals ----

    def _commit_group(self) -> None:
        self.documents += self.pending_documents
        self.pending_documents = 0
        self.checkpoints += 1
        self._writer.flush()
        if self._on_checkpoint is not None:
            self._on_checkpoint()

    def _signal(self, variant: str, binding: int) -> None:
        if binding not in self._prefixes:
            raise ProtocolError(self._bad_binding(binding))
        self._check_state()
        name = variant.encode()
        if binding:
            self._buf += b'{"%s":{"binding":%d}}\n' % (name, binding)
        else:
            self._buf += b'{"%s":{}}\n' % name

    def _write_response(self, wire: dict[str, Any]) -> None:
        self._buf += dumps(wire)
        self._buf += b"\n"

    def _check_state(self) -> None:
        if not self.is_opened:
            raise ProtocolError("a document was emitted before `opened`")
        self.stop_if_asked()

    def where(self, binding: int) -> str:
        """How errors and warnings name a binding: its stream, when the shim said."""
        if self.names is not None and 0 <= binding < len(self.names):
            return f"stream {self.names[binding]!r}"
        return f"binding {binding}"

    def _bad_binding(self, binding: Any) -> str:
        return f"binding {binding!r} does not exist: the Open has {len(self._prefixes)} binding(s)"
