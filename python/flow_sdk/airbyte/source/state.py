"""The shim's checkpointed state: Airbyte STATE messages kept per binding, keyed by stateKey.

Layout (what a checkpoint merge-patches and what the next Open brings back)::

    {"bindingStateV1": {<stateKey>: {"rowId": <next row id>,
                                      "stream": [<AirbyteStreamState>]}},
     "airbyteGlobal": {"sharedState": [<blob>]},   # only for GLOBAL state
     "airbyteLegacy": [<data>]}                     # only for LEGACY state

Airbyte blobs sit inside one-element lists because a merge patch replaces a list as a whole:
a blob that lost a key, or holds a null, comes back exactly as the source wrote it. A
binding's `rowId` is saved only together with its stream's state, so a resumed read gives
re-read records the same row ids. An incremental binding's row ids continue across sessions
(a keyless incremental stream is an append log keyed by them); a full-refresh binding's
restart at 0 with each sweep. State of a full-refresh stream lives only while its sweep is in
progress and is removed when the sweep completes, as Airbyte's platform does.

Messages name their stream by namespace and name. airbyte-cdk leaves the namespace off its
records, so a record, state or stream status without one belongs to the one binding of that
stream name; when several namespaces of the name are bound, it cannot be placed and the
session fails naming them.

Also read: state of flow-sdk 0.1.x and of estuary-cdk's shim, `{"bindingStateV1":
{<stateKey>: {"state": <AirbyteStateMessage as a dict>, "rowId": N}}}`, migrated on the
binding's first checkpoint. Anything else is an error, never a silent re-capture.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flow_sdk.airbyte.codec import descriptor, state_payload
from flow_sdk.airbyte.source.discover import stream_label
from flow_sdk.capture.binding_state import BindingStateLoader, BoundStream, unreadable_state
from flow_sdk.errors import ConnectorError
from flow_sdk.protocol.flow import CaptureBinding

DISCARD_HINT = (
    "To give it up and re-capture every binding from scratch, run the capture once with "
    "--discard-state (flow-sdk airbyte-capture) or FLOW_SDK_AIRBYTE_DISCARD_STATE=1."
)
DISCARD_STATE_ENV = "FLOW_SDK_AIRBYTE_DISCARD_STATE"
_WRITERS = "this shim, flow-sdk 0.1.x or estuary-cdk's Airbyte shim"
_ENTRY_KEYS = frozenset({"rowId", "stream", "state"})
_SWEEP_DONE_BLOBS = (
    {"__ab_full_refresh_sync_complete": True},
    {"__ab_no_cursor_state_message": True},
)
"""What airbyte-cdk writes as a full-refresh stream's state once its sweep is done: a read
that resumes from it starts a new sweep."""
log = logging.getLogger("flow")


class BindingState(BoundStream):
    """One binding's stream, row counter and the last state saved for it."""

    __slots__ = (
        "namespace",
        "full_refresh",
        "stream_state",
        "saved",
        "migrate",
        "swept",
        "backfilling",
    )

    def __init__(self, index: int, binding: CaptureBinding) -> None:
        config = binding.resourceConfig
        if not isinstance(config, Mapping) or not isinstance(config.get("stream"), str):
            raise ConnectorError(
                f"binding {binding.stateKey!r} has a resource config without a `stream` name: "
                f"{config!r}; rediscover the capture's bindings"
            )
        stream: str = config["stream"]
        self.namespace: str | None = config.get("namespace") or None
        # The label names the stream in errors: `namespace/name`, or `name`.
        super().__init__(index, binding.stateKey, stream, stream_label(self.namespace, stream))
        self.full_refresh = config.get("syncMode") != "incremental"
        self.stream_state: dict[str, Any] | None = None
        """The AirbyteStreamState last saved for this binding."""
        self.saved = False
        """Whether the Flow state has an entry for this binding."""
        self.migrate = False
        """Whether the saved entry is in the 0.1.x / estuary-cdk layout."""
        self.swept = False
        """Whether this full-refresh stream finished its sweep in this read."""
        self.backfilling = False
        """Whether a `backfillBegin` of this sweep was sent (in this session or, for a
        resumed sweep, an earlier one) and its `backfillComplete` was not."""


class ShimState(BindingStateLoader[BindingState]):
    """Airbyte state in, Flow checkpoints out. Each method that returns a patch returns the
    RFC 7396 merge patch of only what changed, or None when nothing did."""

    top_keys = frozenset({"bindingStateV1", "airbyteGlobal", "airbyteLegacy"})
    writers = _WRITERS
    remedy = DISCARD_HINT

    def __init__(
        self, bindings: Sequence[CaptureBinding], state: Any, discard: bool = False
    ) -> None:
        self.bindings = [BindingState(i, b) for i, b in enumerate(bindings)]
        self.by_name: dict[str, list[BindingState]] = {}
        for b in self.bindings:
            self.by_name.setdefault(b.stream, []).append(b)
        self.by_stream: dict[tuple[str | None, str], BindingState] = {
            (b.namespace, b.stream): b for b in self.bindings if b.namespace
        }
        """(namespace or None, name) → binding, for every pair that can be placed: exact
        namespaces, and a name bound once also without its namespace (the read loop's fast
        path)."""
        for name, named in self.by_name.items():
            if len(named) == 1:
                self.by_stream[(None, name)] = named[0]
        self.shared_state: list[Any] | None = None
        """`[shared_state]` (or `[]` without one) when the source keeps GLOBAL state."""
        self.legacy: list[Any] | None = None
        if not discard:
            self.load(state)

    # ---- reading the Open's state ----

    def load_shared(self, state: Mapping[str, Any]) -> None:
        if (glob := state.get("airbyteGlobal")) is not None:
            shared = glob.get("sharedState", []) if isinstance(glob, Mapping) else None
            if not isinstance(shared, list) or len(shared) > 1:
                raise _unreadable('`airbyteGlobal` is not {"sharedState": [<blob>]}')
            self.shared_state = shared
        if (legacy := state.get("airbyteLegacy")) is not None:
            if not isinstance(legacy, list) or len(legacy) != 1:
                raise _unreadable("`airbyteLegacy` is not a one-element list")
            self.legacy = legacy

    def load_entry(self, b: BindingState, entry: Mapping[str, Any], where: str) -> None:
        if unknown := sorted(set(entry) - _ENTRY_KEYS):
            raise _unreadable(f"{where} has unknown keys {', '.join(map(repr, unknown))}")
        row = self.row_id(entry.get("rowId", 0), where)
        stream_state = None
        if "stream" in entry:
            wrapped = entry["stream"]
            if not (
                isinstance(wrapped, list) and len(wrapped) == 1 and isinstance(wrapped[0], Mapping)
            ):
                raise _unreadable(f"{where} has a `stream` that is not [<AirbyteStreamState>]")
            stream_state = dict(wrapped[0])
        elif "state" in entry:  # flow-sdk 0.1.x or estuary-cdk's shim
            stream_state = _old_stream_state(entry["state"], where)
            b.migrate = True
            if b.full_refresh:
                # Their full-refresh sweeps always ran to the end or restarted from scratch.
                stream_state, row = None, 0
        if stream_state is not None and "stream_descriptor" not in stream_state:
            raise _unreadable(f"{where} has a stream state without a stream_descriptor")
        if stream_state is not None and _sweep_done(b, stream_state):
            stream_state, row = None, 0  # a finished sweep: the next one starts from scratch
        b.stream_state = stream_state
        b.next_row = b.saved_row = row
        b.saved = True

    # ---- state for the next read() ----

    def airbyte_input(self) -> list[dict[str, Any]]:
        """The state messages to start the source's `read()` with (a JSON array)."""
        if self.legacy is not None:
            return [{"type": "LEGACY", "data": self.legacy[0]}]
        streams = [b.stream_state for b in self.bindings if b.stream_state is not None]
        if self.shared_state is not None:
            glob: dict[str, Any] = {"stream_states": streams}
            if self.shared_state:
                glob["shared_state"] = self.shared_state[0]
            return [{"type": "GLOBAL", "global": glob}]
        return [{"type": "STREAM", "stream": s} for s in streams]

    def binding_of(
        self, namespace: str | None, stream: str, what: str = "a record"
    ) -> BindingState | None:
        """The binding of a stream's message (`what` names it for the error), or None when
        no binding captures the stream. A message with a namespace belongs to exactly that
        binding; one without (airbyte-cdk writes its records so) to the one binding of that
        stream name, and is an error when several namespaces of the name are bound."""
        found = self.by_stream.get((namespace or None, stream))
        if found is not None or namespace:
            return found
        named = self.by_name.get(stream)
        if named is None:
            return None
        candidates = ", ".join(repr(b.namespace) if b.namespace else "none" for b in named)
        raise ConnectorError(
            f"the source wrote {what} of stream {stream!r} without a namespace, but the "
            f"capture binds {stream!r} in {len(named)} namespaces ({candidates}), so it "
            "cannot tell which binding it belongs to; bind only one of them, or make the "
            "source set the namespace on its messages"
        )

    # ---- checkpoints ----

    def on_state(self, message: Mapping[str, Any]) -> dict[str, Any] | None:
        """The checkpoint patch for an Airbyte STATE message (a plain dict)."""
        kind, payload = state_payload(message)
        if kind == "STREAM":
            return self._on_stream(payload)
        if kind == "GLOBAL":
            return self._on_global(payload)
        if kind == "LEGACY":
            return self._on_legacy(payload)
        raise ConnectorError(
            f"the source emitted a STATE message of unknown type {kind!r}; expected STREAM, GLOBAL or LEGACY"
        )

    def _on_stream(self, payload: Any) -> dict[str, Any] | None:
        if not isinstance(payload, Mapping):
            raise ConnectorError("the source emitted a STREAM state without a `stream`")
        namespace, name = descriptor(payload)
        b = self.binding_of(namespace, name, "a STREAM state")
        if b is None:
            log.warning(
                "state for stream %r, which no binding captures; ignored",
                stream_label(namespace, name),
            )
            return None
        stream_state = _stream_state(payload)
        if b.swept or _sweep_done(b, stream_state):
            # The sweep is over even if its completion status never arrives (a kill in
            # between): never hand the done-marker back, or the CDK skips the next sweep.
            return self.sweep_complete(b)
        entry = self._save(b, stream_state)
        return {"bindingStateV1": {b.state_key: entry}}

    def _on_global(self, payload: Any) -> dict[str, Any] | None:
        if not isinstance(payload, Mapping):
            raise ConnectorError("the source emitted a GLOBAL state without a `global` object")
        patch: dict[str, Any] = {}
        entries: dict[str, Any] = {}
        for stream_state in payload.get("stream_states") or []:
            namespace, name = descriptor(stream_state)
            b = self.binding_of(namespace, name, "a GLOBAL state")
            if b is None:
                log.warning(
                    "global state for stream %r, which no binding captures; dropped",
                    stream_label(namespace, name),
                )
                continue
            stream_state = _stream_state(stream_state)
            if stream_state != b.stream_state or b.next_row != b.saved_row or b.migrate:
                entries[b.state_key] = self._save(b, stream_state)
        entries.update(self._row_patches())
        shared = [payload["shared_state"]] if payload.get("shared_state") is not None else []
        if shared != self.shared_state:
            patch["airbyteGlobal"] = {"sharedState": shared if shared else None}
            self.shared_state = shared
        if entries:
            patch["bindingStateV1"] = entries
        return patch

    def _on_legacy(self, data: Any) -> dict[str, Any] | None:
        patch: dict[str, Any] = {}
        if [data] != self.legacy:
            self.legacy = [data]
            patch["airbyteLegacy"] = [data]
        if entries := self._row_patches():
            patch["bindingStateV1"] = entries
        return patch

    def _save(self, b: BindingState, stream_state: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"rowId": b.next_row, "stream": [stream_state]}
        if b.migrate:
            entry["state"] = None
            b.migrate = False
        b.stream_state = stream_state
        b.saved_row = b.next_row
        b.saved = True
        return entry

    def _row_patches(self) -> dict[str, Any]:
        """Row counters that moved, for state kinds that cover every stream at once."""
        out = {}
        for b in self.bindings:
            if b.next_row != b.saved_row or b.migrate:
                out[b.state_key] = {"rowId": b.next_row}
                if b.migrate:
                    out[b.state_key]["state"] = None
                    b.migrate = False
                b.saved_row = b.next_row
                b.saved = True
        return out

    def sweep_complete(self, b: BindingState) -> dict[str, Any] | None:
        """A full-refresh stream finished its sweep: forget its state, so the next sweep
        starts from scratch and rewrites the same row ids."""
        if not b.full_refresh:
            return None
        b.next_row = 0
        b.swept = True
        if not b.saved:
            return None
        b.saved, b.stream_state, b.saved_row, b.migrate = False, None, 0, False
        return {"bindingStateV1": {b.state_key: None}}

    def begin_sweeps(self) -> list[BindingState]:
        """At the start of a read: the full-refresh bindings whose sweep starts from scratch
        (each needs a `backfillBegin`); resumed sweeps were begun by an earlier session."""
        fresh = []
        for b in self.bindings:
            if b.full_refresh:
                if b.stream_state is None:
                    fresh.append(b)
                b.backfilling = True
        return fresh

    def completed_sweeps(self) -> list[BindingState]:
        """Bindings whose sweep completed since the last call (each needs a `backfillComplete`)."""
        done = [b for b in self.bindings if b.swept and b.backfilling]
        for b in done:
            b.backfilling = False
        return done

    def end_of_read(self) -> dict[str, Any]:
        """The patch of the final checkpoint, after `read()` finished: every sweep is complete."""
        entries: dict[str, Any] = {}
        for b in self.bindings:
            if (patch := self.sweep_complete(b)) is not None:
                entries.update(patch["bindingStateV1"])
        return {"bindingStateV1": entries} if entries else {}


def _sweep_done(b: BindingState, stream_state: Mapping[str, Any]) -> bool:
    return b.full_refresh and stream_state.get("stream_state") in _SWEEP_DONE_BLOBS


def _stream_state(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An AirbyteStreamState as saved: the descriptor without nulls, the blob as is."""
    desc = {k: v for k, v in (payload.get("stream_descriptor") or {}).items() if v is not None}
    out = {"stream_descriptor": desc}
    if "stream_state" in payload:
        out["stream_state"] = payload["stream_state"]
    return out


def _old_stream_state(message: Any, where: str) -> dict[str, Any] | None:
    """The AirbyteStreamState inside a 0.1.x / estuary-cdk entry (`.dict()` of a STREAM
    AirbyteStateMessage), or None when it holds none yet."""
    if message == {} or message is None:
        return None
    if not isinstance(message, Mapping):
        raise _unreadable(f"{where} has a `state` that is not an Airbyte state message")
    kind, payload = state_payload({k: v for k, v in message.items() if v is not None})
    if kind != "STREAM" or not isinstance(payload, Mapping) or "stream_descriptor" not in payload:
        raise _unreadable(
            f"{where} holds a {kind} Airbyte state message; only STREAM ones were ever written there"
        )
    return _stream_state(payload)


def _unreadable(why: str) -> ConnectorError:
    return unreadable_state(why, _WRITERS, DISCARD_HINT)
