"""The request loop of a native materialization: one hook per protocol verb.

The loop owns the protocol's ordering (`lifecycle.py`), so a connector cannot answer out of
turn: `acknowledged` is written once per transaction when its `acknowledge` is handled,
`flushed` only after that, and nothing at all while stores arrive. Loads that arrive before
the transaction's `acknowledge` are held back until it is handled (read-committed).
"""

from __future__ import annotations

import abc
import gc
from collections.abc import Iterator
from typing import Any, final

import orjson
from pydantic import ValidationError

from flow_sdk.connector import BaseConnector, hook_response
from flow_sdk.gc_pause import PhasePause
from flow_sdk.io import ProtocolWriter
from flow_sdk.materialize.lifecycle import Phase, TransactionLifecycle
from flow_sdk.protocol import materialize as request
from flow_sdk.protocol import materialize as response
from flow_sdk.protocol.flow import Spec, SpecRequest
from flow_sdk.protocol.materialize import Request, Response
from flow_sdk.protocol.tuple_pack import TupleError, unpack_b64
from flow_sdk.protocol.wire import ProtocolError, describe_validation_error, encode, parse_message

_RESPONSE_OF = {
    "spec": "spec",
    "validate": "validated",
    "apply": "applied",
    "open": "opened",
    "acknowledge": "acknowledged",
    "flush": "flushed",
    "startCommit": "startedCommit",
}
_STORE_PREFIX = b'{"store":'
STORES_PER_PASS = 20_000
"""In a store phase the collector is paused (`gc_pause.py`) but for a young pass this often."""


class Connector(BaseConnector):
    """A materialization connector. Subclass it, implement `spec`, `validate` and `store`
    (plus `load` for bindings that are not delta updates), and call `main()`.

    Hooks return a response model or, as in flow-sdk 0.1.x, a plain dict of it; hooks whose
    response is optional may return None for an empty one."""

    decode_packed: bool = True
    """Fill `key` / `values` of loads and stores from their packed forms when the JSON forms
    are absent. A connector that never reads them may turn this off to save the work."""

    stores_documents: bool = False
    """The connector reads only a store's binding, document and deletion flag: a well-formed
    `store` that carries its `doc` goes to `store_document`, without a `request.Store` built
    and validated for it (a sixth of an Airbyte destination's cost per document). Any other
    `store` still goes to `store`."""

    _writer: ProtocolWriter | None = None
    _lifecycle: TransactionLifecycle | None = None
    _bindings: int = 0
    _flushing: bool = False

    # ---- hooks ----

    @abc.abstractmethod
    def spec(self, spec: SpecRequest) -> Spec | dict[str, Any]:
        """The endpoint and resource config schemas. `spec.config` may be `{}` (the probe).
        The resource schema marks its name with `x-collection-name` (no resourcePathPointers)."""

    @abc.abstractmethod
    def validate(self, validate: request.Validate) -> response.Validated | dict[str, Any]:
        """Constraints and a resource path per binding, in request order; raise
        `ValidateError` with a sentence for the user when config or bindings are wrong."""

    def apply(self, apply: request.Apply) -> response.Applied | dict[str, Any]:
        """Create or alter the endpoint's resources. Must be idempotent. Default: nothing."""
        return response.Applied()

    def open(self, open: request.Open) -> response.Opened | dict[str, Any] | None:
        """Start a session for `open.materialization` with the last committed `open.state`.
        Return `runtimeCheckpoint` only if the endpoint holds the authoritative checkpoint."""
        return None

    def acknowledge(
        self, acknowledge: request.Acknowledge
    ) -> response.Acknowledged | dict[str, Any] | None:
        """The previous transaction committed (possibly in an earlier session): do post-commit
        work. May be repeated after a crash, so it must be idempotent."""
        return None

    def load(self, load: request.Load) -> Any:
        """Return the stored document of `load.key` in binding `load.binding`, or None if it
        does not exist. Called only after the transaction's `acknowledge` was handled. A
        connector that loads in batches returns None and calls `loaded` from `flush`."""
        raise ProtocolError(
            f"binding {load.binding} received a `load`, but this connector does not load "
            "documents; its bindings must use delta updates"
        )

    def flush(self, flush: request.Flush) -> response.Flushed | dict[str, Any] | None:
        """No more loads in this transaction: send any remaining documents with `loaded`.
        Called after `backfill_begin` / `backfill_complete` for the signals it carries."""
        return None

    def backfill_begin(self, binding: int, truncated_at: str) -> None:
        """A backfill of binding `binding`'s collection began at `truncated_at` (RFC 3339):
        this transaction's stores of it and later ones are the backfill's. Called in `flush`,
        before the stores. Default: nothing."""

    def backfill_complete(self, binding: int, truncated_at: str) -> None:
        """The backfill that began at `truncated_at` is fully stored (in earlier
        transactions): rows of the binding published before `truncated_at` are stale, and a
        connector that can should delete them now. Called in `flush`. Default: nothing."""

    @abc.abstractmethod
    def store(self, store: request.Store) -> None:
        """Apply one stored document. `store.key` and `store.values` are always filled (decoded
        from the packed forms when the runtime sent only those). Write nothing to stdout."""

    def store_document(self, binding: int, doc: Any, delete: bool) -> None:
        """With `stores_documents`: apply one stored document (`delete`: a deletion of it),
        exactly as `store` would for the same request."""
        raise NotImplementedError(f"{type(self).__name__} sets stores_documents")

    def start_commit(
        self, start_commit: request.StartCommit
    ) -> response.StartedCommit | dict[str, Any] | None:
        """Commit the stores of this transaction (with `runtimeCheckpoint` if the endpoint is
        authoritative). A returned `state` commits atomically with the runtime's checkpoint."""
        return None

    def close(self) -> None:
        """The session ended cleanly (stdin closed between transactions): release resources."""

    # ---- output for hooks ----

    @final
    def loaded(self, binding: int, doc: Any) -> None:
        """Send a previously stored document: from `load` or `flush`, once per key."""
        lifecycle, writer = self._lifecycle, self._writer
        in_load = lifecycle is not None and (lifecycle.phase is Phase.LOAD or self._flushing)
        if lifecycle is None or writer is None or not in_load:
            raise ProtocolError("`loaded` may only be sent during the load phase or `flush`")
        if lifecycle.awaiting_acknowledge:
            raise ProtocolError("`loaded` may not be sent before the transaction's acknowledge")
        writer.write(
            b'{"loaded":{"binding":%d,"doc":' % binding if binding else b'{"loaded":{"doc":'
        )
        writer.write(orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS))
        writer.write(b"}}\n")

    # ---- the loop ----

    @final
    def serve(self, lines: Iterator[bytes], writer: ProtocolWriter) -> None:
        self._writer = writer
        lifecycle = self._lifecycle = TransactionLifecycle()
        deferred_loads: list[request.Load] = []
        pause = PhasePause()
        dispatch_store = self._dispatch_store
        try:
            for line in lines:
                if line.startswith(_STORE_PREFIX) and (payload := _store_payload(line)) is not None:
                    dispatch_store(payload)
                    if lifecycle.stores % STORES_PER_PASS == 0:
                        pause.young_pass()
                    continue
                self._handle(line, deferred_loads, pause)
        finally:
            pause.stop()
        writer.flush()
        lifecycle.check_eof()
        self.close()

    def _handle(self, line: bytes, deferred_loads: list[request.Load], pause: PhasePause) -> None:
        """One request of any kind but a well-formed `store` that carries its document."""
        lifecycle = self._lifecycle
        assert lifecycle is not None
        req = parse_message(Request, line)
        variant = req.variant
        lifecycle.admit(variant)
        if variant == "open":
            self._bindings = len(req.open.materialization.bindings)
            # Everything alive now (modules, the delegate, its libraries) lives as long as
            # the process: keep the collector's full passes from walking it for every
            # transaction's garbage (a third of a shim's CPU per document otherwise).
            gc.freeze()
        if variant in ("load", "store"):
            self._check_binding(variant, req.payload.binding)
        if variant == "load":
            load = _decode_load(req.load) if self.decode_packed else req.load
            if lifecycle.awaiting_acknowledge:
                deferred_loads.append(load)
            else:
                self._deliver_load(load)
        elif variant == "store":
            self.store(_decode_store(req.store) if self.decode_packed else req.store)
            if lifecycle.stores % STORES_PER_PASS == 0:
                pause.young_pass()
        elif variant == "flush":
            self._answer(variant, self._flush(req.flush))
            pause.start()  # the store phase: see gc_pause.py
        else:
            result = getattr(self, _HOOK_OF.get(variant, variant))(req.payload_of(variant))
            pause.stop()  # (after `startCommit`'s hook: a destination writes the stores then)
            self._answer(variant, result)
            if variant == "acknowledge":
                for load in deferred_loads:
                    self._deliver_load(load)
                deferred_loads.clear()

    def _flush(self, flush: request.Flush) -> Any:
        """The backfill signals `flush` carries, then the `flush` hook's answer."""
        self._flushing = True
        try:
            for signal in flush.backfillBegin:
                self._check_signal("backfillBegin", signal.binding)
                self.backfill_begin(signal.binding, signal.truncatedAt)
            for signal in flush.backfillComplete:
                self._check_signal("backfillComplete", signal.binding)
                self.backfill_complete(signal.binding, signal.truncatedAt)
            return self.flush(flush)
        finally:
            self._flushing = False

    def _dispatch_store(self, payload: dict[str, Any]) -> None:
        """A `store` from the fast path: to `store_document` when the connector takes bare
        documents and every member has the exact type validation would keep, else validated
        into a `request.Store` for `store`."""
        lifecycle = self._lifecycle
        assert lifecycle is not None
        if self.stores_documents and (
            tuple(map(type, payload.values())) == _PLAIN_SHAPES.get(tuple(payload))
            or _plain_store(payload)
        ):  # (a store of a known plain shape checked inline: this runs for every document)
            lifecycle.admit_store()
            binding = payload.get("binding", 0)
            if not 0 <= binding < self._bindings:  # (the check inline: it runs per document)
                self._check_binding("store", binding)
            self.store_document(binding, payload["doc"], payload.get("delete", False))
            return
        try:
            store = request.Store.model_validate(payload)
        except ValidationError as exc:
            raise ProtocolError(f"malformed `store`: {describe_validation_error(exc)}") from None
        lifecycle.admit_store()
        self._check_binding("store", store.binding)
        self.store(_decode_store(store) if self.decode_packed else store)

    def _check_signal(self, variant: str, binding: int) -> None:
        if not 0 <= binding < self._bindings:
            raise ProtocolError(
                f"`flush` carries a {variant} of binding {binding}, but the opened "
                f"materialization has {self._bindings} binding(s)"
            )

    def _check_binding(self, variant: str, binding: int) -> None:
        if not 0 <= binding < self._bindings:
            raise ProtocolError(
                f"`{variant}` names binding {binding}, but the opened materialization has "
                f"{self._bindings} binding(s)"
            )

    def _deliver_load(self, load: request.Load) -> None:
        doc = self.load(load)
        if doc is not None:
            self.loaded(load.binding, doc)

    def _answer(self, variant: str, result: Any) -> None:
        name = _RESPONSE_OF[variant]
        writer = self._writer
        assert writer is not None
        if result is None and name not in ("spec", "validated", "applied"):
            writer.write(b'{"%s":{}}\n' % name.encode())
        else:
            writer.write(encode(hook_response(Response, name, result)))
        writer.flush()


_HOOK_OF = {"startCommit": "start_commit"}


def _store_payload(line: bytes) -> dict[str, Any] | None:
    """The fast path of the store phase: the `store` object of a line that is only that,
    from one orjson parse. None for a line the general parser should report on."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or len(data) != 1 + ("$internal" in data):
        return None
    payload = data.get("store")
    return payload if isinstance(payload, dict) else None


_PLAIN_STORE_TYPES: dict[str, type] = {
    "binding": int,
    "key": list,
    "keyPacked": str,
    "values": list,
    "valuesPacked": str,
    "exists": bool,
    "delete": bool,
}
"""A `store`'s members but `doc`, with the types `request.Store` keeps unchanged."""


_PLAIN_SHAPES: dict[tuple[str, ...], tuple[type, ...]] = {}
"""Member names of a plain store seen before (with an object `doc`) → each member's type
then: one tuple comparison checks a store of a known shape (at most `_MAX_SHAPES` kept)."""
_MAX_SHAPES = 64


def _plain_store(payload: dict[str, Any]) -> bool:
    """Whether `payload` carries a `doc` (not null) and every other member is one of
    `request.Store`'s with exactly the type it keeps: validating it would change nothing
    and reject nothing."""
    expected = _PLAIN_SHAPES.get(tuple(payload))
    if expected is not None and tuple(map(type, payload.values())) == expected:
        return True  # (runs for every document: a few operations, all in C)
    if payload.get("doc") is None:
        return False
    types = _PLAIN_STORE_TYPES
    for name, value in payload.items():
        if type(value) is not types.get(name) and name != "doc":
            return False
    if type(payload["doc"]) is dict and len(_PLAIN_SHAPES) < _MAX_SHAPES:
        _PLAIN_SHAPES[tuple(payload)] = tuple(map(type, payload.values()))
    return True


def _decode_store(store: request.Store) -> request.Store:
    """Fill `key` / `values` from `keyPacked` / `valuesPacked` when the JSON forms are absent."""
    try:
        if not store.key and store.keyPacked:
            store.key = unpack_b64(store.keyPacked)
        if not store.values and store.valuesPacked:
            store.values = unpack_b64(store.valuesPacked)
    except TupleError as exc:
        raise ProtocolError(
            f"`store` of binding {store.binding} has a bad packed tuple: {exc}"
        ) from None
    return store


def _decode_load(load: request.Load) -> request.Load:
    try:
        if not load.key and load.keyPacked:
            load.key = unpack_b64(load.keyPacked)
    except TupleError as exc:
        raise ProtocolError(
            f"`load` of binding {load.binding} has a bad packed tuple: {exc}"
        ) from None
    return load
