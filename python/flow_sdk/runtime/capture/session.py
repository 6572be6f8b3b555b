"""One strict capture session: Open, then checkpoint groups committed as transactions.

The rules of `flow-protocol.md` §2.3, each a named `ProtocolViolation` quoting the line:
`opened-first`, `one-opened`, `session-response` (only session messages after Open),
`binding-index`, `document-object`, `document-depth`, `document-key` (a key value Flow
cannot key on: missing, null, fractional, array or object), `document-size` (Flow's 16 MB
limit), `document-schema`, `checkpoint-state`, `eof-within-checkpoint`, `read-stdin` (acks
must be read promptly), `backfill-begin-first` (a `backfillBegin` must be its binding's first
message in the transaction) and `backfill-complete-begun` (a `backfillComplete` only for a
binding whose backfill began, in this session or a committed earlier one; when the session
starts from a state the runtime did not see committed, such as `--initial-state`, the begin
may predate it, and the complete is ignored with a warning, as Flow ignores it).
As in Flow, a checkpoint group carrying backfill signals is a transaction of its own.
Documents are reduced by collection key within a transaction (last write wins), compared and
ordered as Flow's combiner does (`keys`), and get the `/_meta/uuid` placeholder.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from flow_sdk.gc_pause import gc_paused
from flow_sdk.protocol import capture
from flow_sdk.protocol.flow import CaptureSpec, ConnectorState, RangeSpec
from flow_sdk.runtime.capture.combiner import Combiner, Documents
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.depth import nesting, too_deep
from flow_sdk.runtime.document_meta import UUID_PLACEHOLDER
from flow_sdk.runtime.errors import ProtocolViolation
from flow_sdk.runtime.keys import Key, KeyExtractor, KeyValueError
from flow_sdk.runtime.launcher import request_line
from flow_sdk.runtime.process import EOF, TIMEOUT, ConnectorProcess
from flow_sdk.runtime.schema import MAX_DOCUMENT_BYTES, SchemaValidators, size_problem
from flow_sdk.runtime.strict import (
    MessageTooDeep,
    captured_fields,
    check_variant,
    decode_line,
    parse_response,
)

MAX_TRANSACTION_BYTES = 32 << 20
"""Stop adding checkpoint groups to a transaction past this many bytes, as Flow does."""
POLL_SECONDS = 0.5
_CAPTURED_BINDING = re.compile(rb'^\{"captured":\{"binding":(\d+)')
"""The binding of a captured line too deep to parse, when it comes first (as SDKs write it)."""


@dataclass
class Transaction:
    """What one commit holds: reduced documents, and the checkpoints that closed them."""

    documents: Documents = field(default_factory=Documents)
    """(collection, document JSON) pairs, ordered by binding then key. Kept serialized, and
    spilled to disk past the combiner's memory (`combiner`): a transaction may hold 32 MB of
    documents, which as Python objects take ten times that."""
    states: list[ConnectorState] = field(default_factory=list)
    captured: int = 0
    """Documents received before reduction."""
    backfill_begin: list[int] = field(default_factory=list)
    """Bindings whose backfill begins with this transaction (before its documents)."""
    backfill_complete: list[int] = field(default_factory=list)
    """Bindings whose backfill completes with this transaction (after its documents)."""

    @property
    def checkpoints(self) -> int:
        return len(self.states)


class SessionEnded:
    """Why a session stopped without another transaction."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


EXITED = SessionEnded("the connector exited")
TIMED_OUT = SessionEnded("no data arrived within --idle-timeout")
RAN_OUT = SessionEnded("--timeout elapsed")


@dataclass
class Timeouts:
    """When the runtime stops waiting for a capture: `idle` seconds without data (ends the
    session), or `total` seconds after `started` (ends the whole preview or run, as
    flowctl's `--timeout` does)."""

    idle: float | None = None
    total: float | None = None
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float | None:
        """Seconds of total run time left (None: no limit)."""
        if self.total is None:
            return None
        return max(0.0, self.started + self.total - time.monotonic())

    def wait(self) -> float | None:
        """How long the next read may wait for data."""
        left = self.remaining()
        if left is None:
            return self.idle
        return left if self.idle is None else min(left, self.idle)

    def expired(self) -> bool:
        return self.total is not None and time.monotonic() >= self.started + self.total


class CaptureSession:
    """Reads one connector's session output and turns it into transactions."""

    def __init__(
        self,
        proc: ConnectorProcess,
        spec: CaptureSpec,
        validators: SchemaValidators,
        console: Console,
        backfilling: set[int] | None = None,
        known_history: bool = True,
        combiner_memory: int | None = None,
    ) -> None:
        """`backfilling`: bindings whose backfill began in a committed earlier session and has
        not completed (shared with the caller, and kept current as transactions return).
        `known_history`: whether every begin before this session is in `backfilling`.
        `combiner_memory`: bytes of documents held before spilling (`combiner`)."""
        self.combiner_memory = combiner_memory
        self.proc = proc
        self.spec = spec
        self.validators = validators
        self.console = console
        self.backfilling = backfilling if backfilling is not None else set()
        self.known_history = known_history
        self._carried: _Group | None = None
        """A group that began reading before a backfill signal split it from the transaction."""
        self.explicit_acks = False
        self._keys = [
            KeyExtractor(f"binding {i} ({b.collection.name})", b.collection.key)
            for i, b in enumerate(spec.bindings)
        ]
        self._exited = False

    def open(self, version: str, state: Any) -> None:
        """Send Open; the first response must be `opened`."""
        request = capture.Open(
            capture=self.spec, version=version, range=RangeSpec.full(), state=state
        )
        self.proc.send(request_line("open", request.to_wire() | {"state": state}))
        line = self._next(None)
        if line is EOF:
            self._ended_early("the Open")
        assert isinstance(line, bytes)
        response = parse_response(capture.Response, line)
        if response.variant != "opened":
            raise ProtocolViolation(
                "opened-first",
                f"the first response to Open must be `opened`, got `{response.variant}`",
                line,
            )
        self.explicit_acks = response.opened.explicitAcknowledgements

    def next_transaction_within(self, timeouts: Timeouts) -> Transaction | SessionEnded:
        """The next transaction, or why the session ends: idle, or out of total time."""
        if timeouts.expired():
            return RAN_OUT
        txn = self.next_transaction(timeouts.wait())
        if txn is TIMED_OUT and timeouts.expired():
            return RAN_OUT
        return txn

    def next_transaction(self, timeout: float | None) -> Transaction | SessionEnded:
        """Read checkpoint groups until one closes and no more output is waiting (a group
        with backfill signals always closes a transaction of its own)."""
        if self._exited:
            return EXITED
        with gc_paused():
            return self._read_transaction(timeout)

    def _read_transaction(self, timeout: float | None) -> Transaction | SessionEnded:
        txn = Transaction()
        group, self._carried = self._carried or self._group(), None
        reduced = Combiner(self.combiner_memory)
        size = 0
        while True:
            line = self._next(timeout)
            if line is TIMEOUT:
                return TIMED_OUT
            if line is EOF:
                if group.docs and self.proc.wait() != 0:  # a crash, not a protocol slip
                    raise self.proc.failure(
                        f"the capture session, leaving {len(group.docs)} uncheckpointed "
                        "document(s) uncommitted"
                    )
                if group.docs:
                    raise ProtocolViolation(
                        "eof-within-checkpoint",
                        f"the connector exited with {len(group.docs)} document(s) after its last "
                        "checkpoint; close every group of documents with a checkpoint",
                    )
                if txn.states:  # checkpoints that arrived together with the exit still commit
                    self._exited = True
                    return self._closed(txn, reduced)
                return EXITED
            assert isinstance(line, bytes)
            size += len(line)
            variant, response = self._parse(line)
            if variant == "captured":
                key, doc = self._captured(*response, line)
                group.docs.add(key, doc)  # last write wins; drained in key order
                group.bindings.add(key[0])
                group.captured += 1
            elif variant == "checkpoint":
                txn.states.append(self._checkpoint(response.checkpoint, line))
                reduced.absorb(group.docs)
                txn.captured += group.captured
                signalled = bool(group.begin or group.complete)
                txn.backfill_begin, txn.backfill_complete = group.begin, group.complete
                group = self._group()
                if signalled or self._closes(size, reduced):
                    return self._closed(txn, reduced)
            elif variant in ("backfillBegin", "backfillComplete"):
                self._backfill_signal(variant, response.payload_of(variant).binding, group, line)
                if txn.states:  # earlier groups commit first: this one is a transaction alone
                    self._carried = group
                    return self._closed(txn, reduced)
            elif variant == "sourcedSchema":
                self._binding_notice(variant, response.payload_of(variant), line)
            elif variant == "opened":
                raise ProtocolViolation("one-opened", "`opened` was sent twice", line)
            else:
                raise ProtocolViolation(
                    "session-response",
                    f"`{variant}` is not a capture session response; after `opened` only "
                    "captured, sourcedSchema, checkpoint, backfillBegin and backfillComplete are",
                    line,
                )

    def _closes(self, size: int, reduced: Combiner) -> bool:
        """Whether a transaction closes at this checkpoint: no more output is waiting, or
        it is past Flow's bound on output, or past half its combiner's memory (it commits
        before it would have to spill)."""
        return not self.proc.has_line() or size >= MAX_TRANSACTION_BYTES or reduced.nearly_full

    def _group(self) -> _Group:
        return _Group(Combiner(self.combiner_memory))

    def _closed(self, txn: Transaction, reduced: Combiner) -> Transaction:
        txn.documents = Documents(reduced, [b.collection.name for b in self.spec.bindings])
        self.backfilling.update(txn.backfill_begin)
        self.backfilling.difference_update(txn.backfill_complete)
        return txn

    def acknowledge(self, checkpoints: int) -> None:
        """Tell the connector its checkpoints committed, if it asked to be told."""
        if self.explicit_acks and checkpoints:
            self.proc.send(request_line("acknowledge", {"checkpoints": checkpoints}))

    # ---- rules ----

    def _parse(self, line: bytes) -> tuple[str, Any]:
        """The variant and, for `captured`, `(binding, doc)`; for the others the checked
        response envelope."""
        try:
            data, canonical = decode_line(line)
            fields = captured_fields(data)
            if fields is not None:
                return "captured", (*fields, canonical)
            variant, response = check_variant(capture.Response, data, line)
        except MessageTooDeep as exc:
            raise self._too_deep(exc, line) from None
        if variant == "captured":
            return variant, (response.captured.binding, response.captured.doc, False)
        return variant, response

    def _too_deep(self, exc: MessageTooDeep, line: bytes) -> ProtocolViolation:
        """`document-depth` naming the collection when the line is a captured document."""
        captured = exc.data.get("captured") if isinstance(exc.data, dict) else None
        if isinstance(captured, dict):
            index, levels = captured.get("binding", 0), nesting(captured.get("doc"))
        elif match := _CAPTURED_BINDING.match(line):
            index, levels = int(match.group(1)), None
        elif line.startswith(b'{"captured":') and len(self.spec.bindings) == 1:
            index, levels = 0, None
        else:
            return exc
        if not isinstance(index, int) or not 0 <= index < len(self.spec.bindings):
            return exc
        where = f"binding {index} ({self.spec.bindings[index].collection.name})"
        return ProtocolViolation("document-depth", too_deep(where, levels), line)

    def _captured(
        self, index: int, doc: Any, canonical: bool, line: bytes
    ) -> tuple[tuple[int, Key], bytes]:
        """The document's (binding, key) and its bytes with `/_meta/uuid` set; `canonical`:
        the line is orjson's encoding of what it holds (see `stamped`)."""
        if not 0 <= index < len(self.spec.bindings):
            raise ProtocolViolation(
                "binding-index",
                f"binding {index} does not exist: the Open has {len(self.spec.bindings)} binding(s)",
                line,
            )
        collection = self.spec.bindings[index].collection
        if not isinstance(doc, dict):
            raise ProtocolViolation(
                "document-object",
                f"documents must be JSON objects; binding {index} ({collection.name}) got "
                f"{_json_type(doc)}",
                line,
            )
        try:
            key = self._keys[index].key(doc)
        except KeyValueError as exc:
            raise ProtocolViolation("document-key", str(exc), line) from None
        if len(line) > MAX_DOCUMENT_BYTES and (too_big := size_problem(len(orjson.dumps(doc)))):
            raise ProtocolViolation(
                "document-size", f"binding {index} ({collection.name}): {too_big}", line
            )
        if problem := self.validators.problem(collection, doc):
            raise ProtocolViolation(
                "document-schema",
                f"a document of binding {index} is invalid against the write schema of "
                f"{collection.name}: {problem}",
                line,
            )
        meta = doc.get("_meta", _NO_META)
        if meta is not _NO_META and not isinstance(meta, dict):
            raise ProtocolViolation(
                "document-object", f"`_meta` of a binding {index} document must be an object", line
            )
        if canonical and (cut := stamped(doc, line, index)) is not None:
            return (index, key), cut
        doc.setdefault("_meta", {})["uuid"] = UUID_PLACEHOLDER
        # A slice, not orjson's own buffer: kept by the thousands, those cost ~1 KiB each.
        return (index, key), orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)[:-1]

    def _checkpoint(self, checkpoint: capture.Checkpoint, line: bytes) -> ConnectorState:
        if checkpoint.state is None:
            raise ProtocolViolation(
                "checkpoint-state",
                'every checkpoint must carry state; send {"state":{"updated":{},"mergePatch":true}} '
                "for no change",
                line,
            )
        return checkpoint.state

    def _backfill_signal(self, variant: str, binding: int, group: _Group, line: bytes) -> None:
        """Flow's rules for `backfillBegin` / `backfillComplete`."""
        count = len(self.spec.bindings)
        if not 0 <= binding < count:
            raise ProtocolViolation(
                "binding-index",
                f"`{variant}` names binding {binding}, but the Open has {count} binding(s)",
                line,
            )
        where = f"binding {binding} ({self.spec.bindings[binding].collection.name})"
        if variant == "backfillBegin":
            if binding in group.bindings or binding in group.begin or binding in group.complete:
                what = "documents" if binding in group.bindings else "another backfill signal"
                raise ProtocolViolation(
                    "backfill-begin-first",
                    f"`backfillBegin` of {where} came after {what} of that binding in the same "
                    "transaction; it must be the binding's first message of its transaction, so "
                    "emit it before the backfill's documents (or checkpoint first)",
                    line,
                )
            group.begin.append(binding)
            return
        begun = binding in group.begin or (
            binding in self.backfilling and binding not in group.complete
        )
        if not begun and not self.known_history:
            self.console.log(
                "warn",
                f"`backfillComplete` of {where} came without a `backfillBegin` this runtime "
                "knows of (the session started from a state it did not commit); ignored, as "
                "Flow ignores a complete without a persisted begin",
            )
            return
        if not begun:
            raise ProtocolViolation(
                "backfill-complete-begun",
                f"`backfillComplete` of {where} came without a `backfillBegin` before it: no "
                "backfill of that binding is in progress, so there is nothing to complete (Flow "
                "ignores such a complete and its materializations keep the old rows)",
                line,
            )
        if binding not in group.complete:
            group.complete.append(binding)

    def _binding_notice(self, variant: str, payload: Any, line: bytes) -> None:
        if not 0 <= payload.binding < len(self.spec.bindings):
            raise ProtocolViolation(
                "binding-index",
                f"`{variant}` names binding {payload.binding}, but the Open has "
                f"{len(self.spec.bindings)} binding(s)",
                line,
            )
        self.console.log("info", f"connector sent {variant}", binding=payload.binding)

    # ---- reading ----

    def _next(self, timeout: float | None) -> bytes | object:
        line = self.proc.ready_line()
        if line is not None:  # the common case while a connector streams
            return line
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = (
                POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
            )
            line = self.proc.next_line(max(wait, 0.0))
            if line is not TIMEOUT:
                return line
            self.proc.check_stdin()
            if deadline is not None and time.monotonic() >= deadline:
                return TIMEOUT

    def _ended_early(self, what: str) -> None:
        if self.proc.wait() != 0:
            raise self.proc.failure("the capture session")
        raise ProtocolViolation("opened-first", f"the connector exited without answering {what}")


_NO_META = object()
_UUID_MEMBER = b'"uuid":' + orjson.dumps(UUID_PLACEHOLDER) + b"}}"
_META_MEMBER = b'"_meta":{' + _UUID_MEMBER


def stamped(doc: dict[str, Any], line: bytes, binding: int) -> bytes | None:
    """The document's bytes with `/_meta/uuid` set, cut from its `captured` line, which must
    be orjson's own encoding of what it holds: the same bytes `orjson.dumps` gives once the
    uuid is set (`_meta` added last, or `uuid` added last to a `_meta` that is last), without
    encoding the document again. None when the line has another shape (encode it then)."""
    prefix = b'{"captured":{"binding":%d,"doc":' % binding if binding else b'{"captured":{"doc":'
    if not (line.startswith(prefix) and line.endswith(b"}}}\n")):
        return None  # the doc is not the line's last member (a trailing `binding`)
    body = line[len(prefix) : -4]  # the document less its closing brace
    if "_meta" not in doc:
        return body + (b"," if doc else b"") + _META_MEMBER
    meta = doc["_meta"]
    if next(reversed(doc)) != "_meta" or "uuid" in meta:
        return None
    return body[:-1] + (b"," if meta else b"") + _UUID_MEMBER


@dataclass
class _Group:
    """One checkpoint group as it is read: its documents by (binding, key), and its signals."""

    docs: Combiner
    bindings: set[int] = field(default_factory=set)
    captured: int = 0
    begin: list[int] = field(default_factory=list)
    complete: list[int] = field(default_factory=list)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
    }.get(type(value), type(value).__name__)
