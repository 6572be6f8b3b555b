"""The translation both tap modes feed: Singer messages → Flow capture responses.

RECORD → `captured` with `_meta.row_id` from the binding's counter and `_meta.op` (`d` when
the tap's `_sdc_deleted_at` is set, else `u`) (the tap's own dict, changed in place); STATE → a checkpoint patching only the bindings whose bookmark moved;
BATCH → the records of its local JSONL files; SCHEMA → a debug log (and optionally the
binding's sourced schema); anything else is logged and skipped. ACTIVATE_VERSION of a
FULL_TABLE stream, which singer-sdk writes before a full-table sync's records, is Flow's
`backfillBegin`: the sync re-reads the whole table, so rows it does not rewrite are gone at
the source. The sync's end (or a second ACTIVATE_VERSION of the stream, as pipelinewise
taps write after the records) is its `backfillComplete`. When the runtime closes stdin, the loop stops at the
next message: the Emitter closes the open group and raises `SessionStopped`.
"""

from __future__ import annotations

import enum
import gzip
import logging
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, BinaryIO

import orjson

from flow_sdk.capture.emitter import Emitter
from flow_sdk.capture.read_loop import AdapterReadLoop
from flow_sdk.capture.schema import document_schema
from flow_sdk.capture.status import connector_status
from flow_sdk.errors import ConnectorError
from flow_sdk.singer.state import BindingState, SingerState

CDC_DELETED_AT = "_sdc_deleted_at"
"""Singer taps' log-based replication sets it on a deleted row."""


class SingerReadLoop(AdapterReadLoop):
    """One sync of the tap, translated onto `emit`."""

    cdc_deleted_at = CDC_DELETED_AT
    connector = "the Singer tap"

    record = AdapterReadLoop.record_keyed
    """One RECORD of a stream (by name): stamped with its binding's next row id, emitted."""

    def __init__(
        self,
        emit: Emitter,
        state: SingerState,
        log: logging.Logger,
        sourced_schemas: bool = False,
    ) -> None:
        """`sourced_schemas`: tell Flow each SCHEMA message as the binding's sourced schema."""
        super().__init__(emit, log, state.by_stream, state.bindings)
        self.sourced_schemas = sourced_schemas
        self._schemas: dict[str, Any] = {}
        self.state = state
        self._started: set[str] = set()
        self._first_rows = [b.next_row for b in state.bindings]
        """Each binding's row id when the sync started: it moved if records arrived."""
        self._backfilling: set[int] = set()

    # ---- everything else ----

    def message(self, msg: Mapping[str, Any]) -> None:
        """Any message as a plain dict (a RECORD too, off the fast path)."""
        emit = self.emit
        self.arrived()
        kind = message_type(msg)
        if kind == "RECORD":
            record, stream = msg.get("record"), msg.get("stream")
            if type(record) is not dict or type(stream) is not str:
                raise ConnectorError(
                    f"the tap wrote a RECORD without a stream name or record object: {str(dict(msg))[:300]}"
                )
            self.record(stream, record)
        elif kind == "STATE":
            patch = self.state.on_state(msg.get("value"))
            if patch is not None or emit.pending_documents:
                emit.checkpoint(patch or {})
        elif kind == "SCHEMA":
            self.log.debug("the tap described stream %r", msg.get("stream"))
            self._stream_started(msg.get("stream"))
            if self.sourced_schemas:
                self._sourced_schema(msg.get("stream"), msg.get("schema"))
        elif kind == "ACTIVATE_VERSION":
            self.log.debug(
                "the tap activated version %s of stream %r", msg.get("version"), msg.get("stream")
            )
            self._activate_version(msg.get("stream"))
        elif kind == "BATCH":
            self.batch(msg)
        else:
            self.log.info("unexpected Singer message of type %r; ignored", kind)

    def _activate_version(self, stream: Any) -> None:
        """ACTIVATE_VERSION → `backfillBegin` before the stream's records, else (after a begin)
        `backfillComplete`."""
        b = self._by_stream.get(stream)
        if b is None or not b.full_table:
            return
        if b.index in self._backfilling:
            self._backfilling.discard(b.index)
            self.emit.backfill_complete(b.index)
        elif b.next_row == self._first_rows[b.index]:
            self._backfilling.add(b.index)
            self.emit.backfill_begin(b.index)
        else:
            self.log.debug(
                "ACTIVATE_VERSION of stream %r after its records, without one before them: "
                "not a backfill of the whole table, so nothing is truncated",
                stream,
            )

    def _stream_started(self, stream: Any) -> None:
        """A `connectorStatus` event when the tap starts a bound stream (its SCHEMA)."""
        if stream in self._by_stream and stream not in self._started:
            self._started.add(stream)
            connector_status(
                self.log,
                f"Reading stream {stream!r} ({len(self._started)} of "
                f"{len(self.state.bindings)} streams started)",
            )

    def _sourced_schema(self, stream: Any, schema: Any) -> None:
        """A SCHEMA that changed the stream's schema → `sourcedSchema`, then a checkpoint
        (the protocol applies a sourced schema at the checkpoint that follows it)."""
        b = self._by_stream.get(stream)
        if b is None or not isinstance(schema, dict) or self._schemas.get(stream) == schema:
            return
        self._schemas[stream] = schema
        self.emit.sourced_schema(b.index, document_schema(schema, schema_inference=False))
        self.emit.checkpoint({})

    def batch(self, msg: Mapping[str, Any]) -> None:
        """A BATCH message: emit the records of each file of its manifest (JSON lines,
        optionally gzipped, on the local file system)."""
        stream = msg.get("stream")
        if not isinstance(stream, str):
            raise ConnectorError("the tap wrote a BATCH message without a stream name")
        encoding = msg.get("encoding") or {}
        if encoding.get("format", "jsonl") != "jsonl":
            raise ConnectorError(
                f"the tap wrote a BATCH of stream {stream!r} in format {encoding.get('format')!r}; "
                "only jsonl batches can be captured: configure the tap's batch_config for jsonl"
            )
        gzipped = encoding.get("compression") == "gzip"
        for url in msg.get("manifest") or []:
            with _open_batch_file(url, stream) as raw, _decompressed(raw, gzipped) as lines:
                for line in lines:
                    if line.strip():
                        self.record(stream, orjson.loads(line))

    # ---- the end ----

    def finish(self) -> None:
        """The sync ended normally: the final checkpoint (completing FULL_TABLE sweeps)."""
        patch = self.state.end_of_sync()
        for index in sorted(self._backfilling):
            self.emit.backfill_complete(index)
        self._backfilling.clear()
        self.emit.checkpoint(patch)
        connector_status(self.log, f"All {len(self.state.bindings)} streams are synced")

    def binding_of(self, stream: str) -> BindingState | None:
        return self._by_stream.get(stream)


def message_type(msg: Mapping[str, Any]) -> str | None:
    kind = msg.get("type")
    return kind.value if isinstance(kind, enum.Enum) else kind


def _decompressed(raw: BinaryIO, gzipped: bool) -> BinaryIO:
    return gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[return-value]  # reads like a binary file


def _open_batch_file(url: str, stream: str) -> BinaryIO:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("", "file"):
        raise ConnectorError(
            f"the tap wrote a BATCH of stream {stream!r} to {url!r}; only local files can be "
            "captured: configure the tap's batch_config with a file:// root"
        )
    path = urllib.request.url2pathname(parts.path) if parts.scheme else url
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller's `with`
    except OSError as exc:
        raise ConnectorError(
            f"cannot read the BATCH file {path!r} of stream {stream!r}: {exc.strerror or exc}"
        ) from None
