"""One strict materialize session: Open, the first Acknowledge, then transactions: a
preview's (`transaction`) or `flow-sdk run`'s (`open_run` and the calls after it).

The rules of `flow-protocol.md` §3.3, each a named `ProtocolViolation` quoting the line:
`opened-first`, `acknowledged-once` (exactly one per transaction), `flushed-after-flush`,
`store-phase-silence` (nothing between `flushed` and `startedCommit`), `session-response`
(a response that cannot come now), `loaded-binding`, `loaded-key` (a document for a key
that was not loaded, or twice), `eof-in-transaction` and `eof-at-close` (output after the
last acknowledgement). Requests carry both the JSON `key`/`values` and the packed forms.
Keys are grouped and ordered as Flow's combiner does (`keys`): stores go in key order.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flow_sdk.protocol import materialize
from flow_sdk.protocol.flow import (
    ConnectorState,
    MaterializationBinding,
    MaterializationSpec,
    RangeSpec,
)
from flow_sdk.protocol.tuple_pack import pack_json
from flow_sdk.runtime.errors import ProtocolViolation
from flow_sdk.runtime.keys import Key, KeyExtractor, KeyValueError, comparable, pointer
from flow_sdk.runtime.launcher import read_one, request_line
from flow_sdk.runtime.materialize.deletions import collection_deletes, is_deletion
from flow_sdk.runtime.process import EOF, TIMEOUT, ConnectorProcess
from flow_sdk.runtime.strict import parse_variant

RESPONSE_TIMEOUT_SECONDS = 600.0
"""How long `flow-sdk run` waits for a response."""
EARLY_OUTPUT_SECONDS = 0.01
"""How long to look for responses already written before the runtime sends `flush`."""


@dataclass
class Committed:
    """What one transaction changed of the connector state, in order."""

    states: list[ConnectorState] = field(default_factory=list)
    stores: int = 0


@dataclass
class _Row:
    key: list[Any]
    ident: Key
    """The key as Flow compares it (`1` and `1.0` are one key)."""
    packed: bytes
    doc: dict[str, Any]


class MaterializeSession:
    """Drives one connector process through the materialize transaction protocol."""

    def __init__(self, proc: ConnectorProcess, spec: MaterializationSpec) -> None:
        self.proc = proc
        self.spec = spec
        self.keys = [binding_keys(b) for b in spec.bindings]
        self.load_optimization = True
        self._pending_ack = False
        """An `acknowledge` was sent and its `acknowledged` has not arrived."""
        self._states: list[ConnectorState] = []
        self._deletes = [collection_deletes(b.collection) for b in spec.bindings]

    # ---- startup ----

    def open(self, version: str, state: Any) -> list[ConnectorState]:
        """Open, then the first Acknowledge; returns state updates the connector sent."""
        request = materialize.Open(
            materialization=self.spec, version=version, range=RangeSpec.full(), state=state
        )
        self.proc.send(request_line("open", request.to_wire()))
        variant, response, line = self._next("`opened`")
        if variant != "opened":
            raise ProtocolViolation(
                "opened-first",
                f"the first response after Open must be `opened`, not `{variant}`",
                line,
            )
        opened = response.opened
        self.load_optimization = not opened.disableLoadOptimization
        self._states = []
        self._acknowledge()
        self._await_acknowledged()
        return self._take_states()

    # ---- a transaction ----

    def transaction(
        self, rows: Sequence[list[tuple[int, dict[str, Any]]]], stored: list[set[Key]]
    ) -> Committed:
        """One transaction of `(binding, document)` pairs (already reduced per binding and
        key), given the keys stored before per binding (`stored`, updated in place)."""
        by_binding = [self._rows(i, rows[i]) for i in range(len(self.spec.bindings))]
        loads: dict[int, dict[Key, list[Any]]] = {}
        for i, binding in enumerate(self.spec.bindings):
            if binding.deltaUpdates:
                continue
            for row in by_binding[i]:
                if not self.load_optimization or row.ident in stored[i]:
                    loads.setdefault(i, {})[row.ident] = row.key
                    self.proc.send(
                        request_line(
                            "load",
                            binding_fields(i) | {"key": row.key, "keyPacked": _b64(row.packed)},
                        )
                    )
        loaded = self._load_phase(loads)
        for i, binding in enumerate(self.spec.bindings):
            for row in sorted(by_binding[i], key=lambda r: r.ident):
                exists = not binding.deltaUpdates and (
                    row.ident in stored[i] or row.ident in loaded.get(i, ())
                )
                self.proc.send(request_line("store", self._store(i, binding, row, exists)))
                stored[i].add(row.ident)
        self.proc.send(request_line("startCommit", {"runtimeCheckpoint": {"sources": {}}}))
        variant, response, line = self._next("`startedCommit`")
        if variant != "startedCommit":
            raise ProtocolViolation(
                "store-phase-silence",
                f"nothing may be written between `flushed` and `startedCommit` (the store phase), got `{variant}`",
                line,
            )
        if response.startedCommit.state is not None:
            self._states.append(response.startedCommit.state)
        stores = sum(len(r) for r in by_binding)
        # The runtime commits its recovery log, then acknowledges.
        self._acknowledge()
        return Committed(states=self._take_states(), stores=stores)

    def close(self) -> list[ConnectorState]:
        """End the session at a transaction boundary: collect the last acknowledgement, close
        stdin, and require a clean exit with no further output."""
        if self._pending_ack:
            self._await_acknowledged()
        self.proc.close_stdin()
        line = self.proc.next_line()
        if line is not EOF:
            assert isinstance(line, bytes)
            raise ProtocolViolation(
                "eof-at-close", "the connector wrote more after its last acknowledgement", line
            )
        return self._take_states()

    # ---- `flow-sdk run`'s transactions ----
    # Stores come read from the journals; the run records its offsets between
    # `startedCommit` and `acknowledge` and reads the next transaction while the connector
    # commits, so each step is its own call. Each response is awaited for at most
    # `RESPONSE_TIMEOUT_SECONDS` (failing sooner when the connector stops reading stdin).

    def open_run(self, version: str, state: Any) -> None:
        """Open (with the state always sent), then the first Acknowledge."""
        request = materialize.Open(
            materialization=self.spec, version=version, range=RangeSpec.full(), state=state
        )
        self.proc.send(request_line("open", request.to_wire() | {"state": state}))
        self._expect("opened", "the Open")
        self.proc.send(request_line("acknowledge", {}))
        self._expect("acknowledged", "the first Acknowledge")

    def run_flush(self, signals: dict[str, Any]) -> ConnectorState | None:
        """`flush` carrying the transaction's backfill signals; the state of `flushed`."""
        self.proc.send(request_line("flush", signals))
        return self._expect("flushed", "a Flush").flushed.state

    def send_stores(self, lines: list[bytes]) -> None:
        """The transaction's `store` request lines, as they are."""
        self.proc.send(b"".join(lines))

    def start_commit(self, checkpoint: dict[str, Any]) -> None:
        self.proc.send(request_line("startCommit", {"runtimeCheckpoint": checkpoint}))

    def await_started_commit(self) -> ConnectorState | None:
        """The state of `startedCommit`: the transaction's stores are durable."""
        return self._expect("startedCommit", "a StartCommit").startedCommit.state

    def run_acknowledge(self) -> ConnectorState | None:
        """`acknowledge`, then its `acknowledged`; the state it carries."""
        self.proc.send(request_line("acknowledge", {}))
        return self._expect("acknowledged", "an Acknowledge").acknowledged.state

    def _expect(self, variant: str, what: str) -> materialize.Response:
        proc = self.proc
        deadline = time.monotonic() + RESPONSE_TIMEOUT_SECONDS
        while not proc.wait_line(min(0.5, max(0.0, deadline - time.monotonic()))):
            proc.check_stdin()
            if time.monotonic() >= deadline:
                break
        return read_one(proc, materialize.Response, variant, what)

    # ---- phases ----

    def _load_phase(self, loads: dict[int, dict[Key, list[Any]]]) -> dict[int, set[Key]]:
        loaded: dict[int, set[Key]] = {}
        while self._pending_ack:
            self._one_load_response(loads, loaded, "`acknowledged` (or `loaded`)", flush_sent=False)
        # What the connector already wrote must not include `flushed`: look before sending.
        while (line := self.proc.next_line(timeout=EARLY_OUTPUT_SECONDS)) is not TIMEOUT:
            self._one_load_response(loads, loaded, "`loaded`", flush_sent=False, line=line)
        self.proc.send(request_line("flush", {}))
        while True:
            variant = self._one_load_response(
                loads, loaded, "`flushed` (or `loaded`)", flush_sent=True
            )
            if variant == "flushed":
                return loaded

    def _one_load_response(
        self,
        loads: dict[int, dict[Key, list[Any]]],
        loaded: dict[int, set[Key]],
        expected: str,
        *,
        flush_sent: bool,
        line: bytes | object | None = None,
    ) -> str:
        variant, response, line = self._next(expected, line)
        if variant == "acknowledged":
            if not self._pending_ack:
                raise ProtocolViolation(
                    "acknowledged-once",
                    "the connector sent a second `acknowledged` in one transaction",
                    line,
                )
            self._pending_ack = False
            if response.acknowledged.state is not None:
                self._states.append(response.acknowledged.state)
        elif variant == "loaded":
            self._check_loaded(response.loaded, loads, loaded, line)
        elif variant == "flushed":
            if not flush_sent:
                raise ProtocolViolation(
                    "flushed-after-flush", "`flushed` arrived before the runtime sent `flush`", line
                )
            if self._pending_ack:
                raise ProtocolViolation(
                    "flushed-after-flush", "`flushed` arrived before `acknowledged`", line
                )
            if response.flushed.state is not None:
                self._states.append(response.flushed.state)
        else:
            raise ProtocolViolation(
                "session-response", f"expected {expected} in the load phase, got `{variant}`", line
            )
        return variant

    def _check_loaded(
        self,
        msg: materialize.Loaded,
        loads: dict[int, dict[Key, list[Any]]],
        loaded: dict[int, set[Key]],
        line: bytes,
    ) -> None:
        if not 0 <= msg.binding < len(self.spec.bindings):
            raise ProtocolViolation(
                "loaded-binding",
                f"`loaded` names binding {msg.binding}, which does not exist",
                line,
            )
        if not isinstance(msg.doc, dict):
            raise ProtocolViolation("loaded-key", "a loaded document must be a JSON object", line)
        try:
            ident = self.keys[msg.binding].key(msg.doc)
        except KeyValueError as exc:
            raise ProtocolViolation("loaded-key", f"in `loaded`, {exc}", line) from None
        if ident not in loads.get(msg.binding, {}):
            raise ProtocolViolation(
                "loaded-key",
                f"`loaded` sent a document of binding {msg.binding} whose key was not loaded",
                line,
            )
        if ident in loaded.setdefault(msg.binding, set()):
            raise ProtocolViolation(
                "loaded-key", "`loaded` sent the same key twice in one transaction", line
            )
        loaded[msg.binding].add(ident)

    def _acknowledge(self) -> None:
        self.proc.send(request_line("acknowledge", {}))
        self._pending_ack = True

    def _await_acknowledged(self) -> None:
        variant, response, line = self._next("`acknowledged`")
        if variant != "acknowledged":
            raise ProtocolViolation(
                "session-response", f"expected `acknowledged`, got `{variant}`", line
            )
        self._pending_ack = False
        if response.acknowledged.state is not None:
            self._states.append(response.acknowledged.state)

    def _next(
        self, expected: str, line: bytes | object | None = None
    ) -> tuple[str, materialize.Response, bytes]:
        if line is None:
            line = self.proc.next_line()
        if line is EOF:
            if self.proc.wait() != 0:
                raise self.proc.failure("the materialize session")
            raise ProtocolViolation(
                "eof-in-transaction",
                f"the connector exited while the runtime waited for {expected}",
            )
        assert isinstance(line, bytes)
        variant, response = parse_variant(materialize.Response, line)
        return variant, response, line

    def _take_states(self) -> list[ConnectorState]:
        states, self._states = self._states, []
        return states

    # ---- requests ----

    def _rows(self, index: int, docs: list[tuple[int, dict[str, Any]]]) -> list[_Row]:
        out = []
        for _, doc in docs:
            key = self.keys[index].values(doc)
            out.append(_Row(key=key, ident=comparable(key), packed=pack_json(key), doc=doc))
        return out

    def _store(
        self, index: int, binding: MaterializationBinding, row: _Row, exists: bool
    ) -> dict[str, Any]:
        selection = binding.fieldSelection
        values = [pointer(_ptr_of(binding, f)).get(row.doc) for f in selection.values]
        out: dict[str, Any] = binding_fields(index) | {
            "key": row.key,
            "keyPacked": _b64(row.packed),
            "values": values,
        }
        if values:
            out["valuesPacked"] = _b64(pack_json(values))
        if selection.document:
            out["doc"] = row.doc
        if exists:
            out["exists"] = True
        if self._deletes[index] and is_deletion(row.doc):
            out["delete"] = True
        return out


def binding_fields(index: int) -> dict[str, Any]:
    """The `binding` member of a request: omitted for binding 0, as Flow's runtime omits it."""
    return {"binding": index} if index else {}


def binding_keys(binding: MaterializationBinding) -> KeyExtractor:
    """The binding's key (its selected key fields, in order) of its collection's documents."""
    pointers = [_ptr_of(binding, f) for f in binding.fieldSelection.keys]
    return KeyExtractor(f"collection {binding.collection.name}", pointers)


def _ptr_of(binding: MaterializationBinding, field_name: str) -> str:
    for p in binding.collection.projections:
        if p.field == field_name:
            return p.ptr
    return "/" + field_name


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
