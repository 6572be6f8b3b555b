"""Any Airbyte destination as a Flow materialization: `MaterializeShim`.

Every binding is delta updates, and the destination is driven as Airbyte's platform drives
it. `store` becomes a RECORD of the binding's stream (a deleted document's record carries
`_ab_cdc_deleted_at`); `startCommit` a STATE per stream that got records (or one GLOBAL
state, `state_type="global"`); the destination echoing those states means the records are
durably committed, and only then is `startedCommit` sent. A `write()` opens with
STREAM_STATUS STARTED for every stream and ends with COMPLETE for every stream before its
input closes; it spans transactions up to the bounds of `bounds.py`, so
destinations that finalize at the end of a `write()` (dedup merges, overwrite swaps) do so
promptly. A destination that echoes only at the end of its input gets its `write()` ended
at each commit instead, and the next transaction starts a new one in append mode.

Backfills are Airbyte refreshes. A binding whose backfill counter was raised, and a
`backfillBegin` in a `flush` (a capture re-reads the whole collection), start a new
generation: the next `write()` has the stream in overwrite mode with `generation_id` =
`minimum_generation_id` = the new generation (the backfill counter plus the binding's
truncations so far), so the destination drops the rows of older generations. That write
stays open until the backfill is stored: the `backfillComplete` ends it with STREAM_STATUS
COMPLETE (a write that must end earlier says INCOMPLETE for the stream, so a destination
keeps its old rows meanwhile); without signals, once the runtime goes quiet.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from flow_sdk.airbyte.destination.bounds import (
    WRITE_SECONDS,
    WRITE_TRANSACTIONS,
    WriteBounds,
    WriteTimer,
)
from flow_sdk.airbyte.destination.spec import (
    APPEND,
    CDC_DELETED_AT,
    OVERWRITE,
    configured_stream,
    materialize_spec,
    sync_mode,
    validated,
)
from flow_sdk.airbyte.destination.states import (
    GLOBAL,
    STREAM,
    StreamId,
    TransactionStates,
    label,
    stream_status,
)
from flow_sdk.airbyte.destination.write import DestinationWrite
from flow_sdk.airbyte.spec import connection_schema
from flow_sdk.errors import ConnectorError, ProtocolError, ValidateError
from flow_sdk.materialize import Connector, request, response
from flow_sdk.protocol.flow import MaterializationSpec, Spec, SpecRequest
from flow_sdk.protocol.tuple_pack import TupleError, unpack_b64
from flow_sdk.secrets import mask_config_secrets

if TYPE_CHECKING:
    from flow_sdk.airbyte.destination.inprocess import InProcessDestination
    from flow_sdk.airbyte.destination.process import SubprocessDestination

ECHO_TIMEOUT_SECONDS = 5.0
"""How long a subprocess destination may take to echo a state before the shim ends its
`write()` to collect the echo (in process, a late echo is detected exactly)."""

log = logging.getLogger("flow")


class MaterializeShim(Connector):
    """Runs an Airbyte destination as a Flow materialization.

    Pass `delegate=` an airbyte-cdk `Destination` object to run it in this process, or
    `command=` the destination's executable (any CDK generation or language) to run it as a
    child process: `<command> spec | check --config | write --config --catalog`.
    `state_type` is `"stream"` (a STREAM state per stream, the default) or `"global"`;
    `write_transactions` / `write_seconds` bound the life of one `write()`."""

    decode_packed = False  # the record is the document; fields are decoded only without one
    stores_documents = True  # the same: a store with its document needs no Store model

    def __init__(
        self,
        delegate: Any = None,
        *,
        command: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        documentation_url: str = "",
        echo_timeout: float = ECHO_TIMEOUT_SECONDS,
        state_type: str = STREAM,
        write_transactions: int = WRITE_TRANSACTIONS,
        write_seconds: float = WRITE_SECONDS,
    ) -> None:
        if (delegate is None) == (command is None):
            raise TypeError("MaterializeShim needs exactly one of delegate= or command=")
        if state_type not in (STREAM, GLOBAL):
            raise ValueError(f"state_type must be {STREAM!r} or {GLOBAL!r}, not {state_type!r}")
        self.in_process = delegate is not None
        self.destination = self._destination(delegate, command, env)
        self.documentation_url = documentation_url
        self.echo_timeout = echo_timeout
        self.state_type = state_type
        self.bounds = WriteBounds(write_transactions, write_seconds)
        self._write: DestinationWrite | None = None
        self._materialization = MaterializationSpec()
        self._masked: list[Any] = []
        """Configs whose secrets were masked with the destination's spec."""
        self._airbyte_spec: dict[str, Any] = {}
        self._streams: list[StreamId] = []
        self._overwritten: set[str] = set()
        self._overwriting: set[str] = set()
        self._echoes_late = False
        self._session = secrets.token_hex(6)
        self._sync_id = int(time.time())
        self._transaction = 0
        self._records = 0
        self._pending: list[int] = []
        """Records per binding since the last state (this transaction's)."""
        # The life of the open write(): a timer may end it between transactions.
        self._lock = threading.Lock()
        self._timer = WriteTimer(self._expire)
        self._in_transaction = False
        self._deferred: ConnectorError | None = None
        self._write_opened = 0.0
        self._write_commits = 0
        self._write_backfills: set[str] = set()
        self._refreshes: dict[str, int] = {}
        """Truncations (`backfillBegin`s) per stateKey so far: generations past the counter."""
        self._refreshing: set[str] = set()
        """StateKeys whose backfill began and has not completed."""
        self._signals: list[tuple[str, int]] = []
        self._truncating: set[str] = set()
        """StateKeys whose completed backfill's write() already ended: the next write()
        carries their generation as the minimum, so that its COMPLETE drops older ones."""
        self._patch: dict[str, Any] = {}
        """bindingStateV1 changes for the next commit."""

    def _destination(
        self, delegate: Any, command: Sequence[str] | None, env: Mapping[str, str] | None
    ) -> InProcessDestination | SubprocessDestination:
        """The destination in process or as a command. Each mode imports only its own half:
        a subprocess shim never loads the CDK glue."""
        if delegate is not None:
            from flow_sdk.airbyte.destination.inprocess import InProcessDestination

            return InProcessDestination(delegate)
        from flow_sdk.airbyte.destination.process import SubprocessDestination

        destination = SubprocessDestination(command or [], env)
        destination.on_spec_changed(self._spec_changed)
        return destination

    # ---- unary ----

    def spec(self, spec: SpecRequest) -> Spec:
        return materialize_spec(self.destination.spec(), self.documentation_url)

    def validate(self, validate: request.Validate) -> response.Validated:
        self._check(validate.config)
        return validated(validate)

    def apply(self, apply: request.Apply) -> response.Applied:
        # Airbyte destinations create their tables inside write(); nothing to do ahead of it.
        return response.Applied()

    def _check(self, config: Any) -> None:
        airbyte_spec = self.destination.spec()
        mask_config_secrets(connection_schema(airbyte_spec), config)
        self._masked.append(config)
        status = self.destination.check(config if isinstance(config, Mapping) else {})
        if status.get("status") != "SUCCEEDED":
            why = status.get("message") or "no reason given"
            raise ValidateError(
                f"the Airbyte destination {self.destination.name} rejected the config: {why}"
            )

    def _spec_changed(self, kept: dict[str, Any], fresh: dict[str, Any]) -> None:
        """A kept spec was stale (checked beside the session): mask the new spec's secrets
        too; if the sync modes this session chose from differ, it stops at its next
        transaction (the next one uses the new spec), else it goes on with a warning."""
        for config in list(self._masked):
            mask_config_secrets(connection_schema(fresh), config)
        modes = "supported_destination_sync_modes"
        if kept.get(modes) == fresh.get(modes) or not self._streams:
            log.warning(
                "the spec of the Airbyte destination %s changed since an earlier run kept it; "
                "this session goes on (its sync modes are the same), later ones use the new one",
                self.destination.name,
            )
            return
        with self._lock:
            self._deferred = ConnectorError(
                f"the Airbyte destination {self.destination.name} now supports the sync modes "
                f"{fresh.get(modes)}, but this session chose its modes from a kept spec that "
                f"said {kept.get(modes)}; it stops so that the next session uses the new spec"
            )

    # ---- the session ----

    def open(self, open: request.Open) -> response.Opened:
        self._materialization = open.materialization
        self._airbyte_spec = self.destination.spec()
        mask_config_secrets(connection_schema(self._airbyte_spec), open.materialization.config)
        self._masked.append(open.materialization.config)
        state = open.state if isinstance(open.state, Mapping) else {}
        bindings = state.get("bindingStateV1") or {}
        keys = {b.stateKey for b in open.materialization.bindings}
        entries = {k: v for k, v in bindings.items() if isinstance(v, Mapping) and k in keys}
        self._overwritten = {k for k, v in entries.items() if v.get("overwritten")}
        self._refreshes = {k: int(v.get("refreshes") or 0) for k, v in entries.items()}
        self._refreshing = {k for k, v in entries.items() if v.get("refreshing")}
        self._streams = [stream_of(b.resourcePath) for b in open.materialization.bindings]
        self._pending = [0] * len(self._streams)
        return response.Opened()

    def backfill_begin(self, binding: int, truncated_at: str) -> None:
        self._signals.append(("begin", binding))

    def backfill_complete(self, binding: int, truncated_at: str) -> None:
        self._signals.append(("complete", binding))

    def flush(self, flush: request.Flush) -> None:
        """A transaction begins: the timer may no longer end the open write(). Backfill
        signals end the open write() (its stores were all committed) and start the next."""
        with self._lock:
            self._in_transaction = True
            self._timer.cancel()
            self._raise_deferred()
            signals, self._signals = self._signals, []
            if signals:
                self._backfill_signals(signals)

    def _backfill_signals(self, signals: list[tuple[str, int]]) -> None:
        """Completes end the open write() with COMPLETE for their streams; begins start a
        new generation's write() at once, so that even an empty backfill truncates. A
        binding's begin and complete in one flush (a backfill stored by earlier
        transactions, or an empty one) come in that order."""
        bindings = self._materialization.bindings
        begun = [bindings[i] for kind, i in signals if kind == "begin"]
        begun_keys = {b.stateKey for b in begun}
        completed = [bindings[i] for kind, i in signals if kind == "complete"]
        done = self._refreshed([b for b in completed if b.stateKey not in begun_keys])
        if done and self._write is None:  # its write() ended earlier, INCOMPLETE: complete it
            self._truncating = done
            self._write = self._start_write()
        if self._write is not None:
            self._end_write("a backfill began or completed")
        self._truncating = set()
        for b in begun:
            key = b.stateKey
            self._refreshes[key] = self._refreshes.get(key, 0) + 1
            self._overwritten.discard(key)
            self._refreshing.add(key)
            self._patch[key] = {
                "refreshes": self._refreshes[key],
                "refreshing": True,
                "overwritten": None,
            }
            log.info(
                "a backfill of stream %s began: writing generation %d, which replaces the "
                "older ones once the backfill is complete",
                label(stream_of(b.resourcePath)),
                self._generation(b),
            )
        if begun:
            self._write = self._start_write()
        if self._refreshed([b for b in completed if b.stateKey in begun_keys]):
            self._end_write("an empty backfill is complete")

    def _refreshed(self, completed: list[Any]) -> set[str]:
        """Bindings whose backfill completed: no longer refreshing. Returns their stateKeys."""
        done = {b.stateKey for b in completed if b.stateKey in self._refreshing}
        for key in done:
            self._refreshing.discard(key)
            self._patch.setdefault(key, {})["refreshing"] = None
        return done

    def _generation(self, binding: Any) -> int:
        return int(binding.backfill) + self._refreshes.get(binding.stateKey, 0)

    def store(self, store: request.Store) -> None:
        record = store.doc if store.doc is not None else self._fields_record(store)
        self.store_document(store.binding, record, store.delete)

    def store_document(self, binding: int, doc: Any, delete: bool) -> None:
        write = self._write
        if write is None:
            write = self._write = self._start_write()
        write.record(binding, deleted(doc, binding) if delete else doc)
        self._pending[binding] += 1

    def start_commit(self, start_commit: request.StartCommit) -> response.StartedCommit | None:
        started = self._commit()  # on an error the session ends: no timer is armed
        with self._lock:
            self._in_transaction = False
            if self._write is not None:
                self._arm_timer()
        return started

    def close(self) -> None:
        """End the `write()` at the session's end (COMPLETE for every stream): every state it
        got was already echoed."""
        self._timer.cancel()
        with self._lock:
            self._raise_deferred()
            if self._write is not None and not self._write.ended:
                self._end_write("the session ended")
        log.debug("materialize shim session finished", extra={"records": self._records})

    # ---- commits ----

    def _commit(self) -> response.StartedCommit | None:
        write = self._write
        if write is None or not any(self._pending):
            return self._state_update()  # nothing stored since the last commit: nothing to confirm
        self._transaction += 1
        counts = {self._streams[i]: n for i, n in enumerate(self._pending) if n}
        marker = {"session": self._session, "transaction": self._transaction}
        states = TransactionStates(self.destination.name, self.state_type, marker, counts)
        write.states(states.messages())
        if not self._echoes_late:
            timeout = None if self.in_process else self.echo_timeout
            while states.pending and (echo := write.wait_for_state(timeout)) is not None:
                states.accept(echo)
        ended = False
        if states.pending:
            self._end_write_for_echo(write, states)
            ended = True
        self._pending = [0] * len(self._pending)
        self._records += states.total
        self._write_commits += 1
        if not ended and not self._write_backfills and not self._refreshing:
            age = time.monotonic() - self._write_opened
            if self.bounds.due(self._write_commits, age):
                self._end_write(f"it served {self._write_commits} transaction(s) in {age:.0f} s")
        return self._state_update()

    def _state_update(self) -> response.StartedCommit | None:
        """The commit's state: overwrites done, generations begun and completed."""
        patch, self._patch = self._patch, {}
        for key in sorted(self._overwriting):
            patch.setdefault(key, {})["overwritten"] = True
        self._overwritten |= self._overwriting
        self._overwriting = set()
        if not patch:
            return None
        return response.StartedCommit(
            state={"updated": {"bindingStateV1": patch}, "mergePatch": True}
        )

    def _end_write_for_echo(self, write: DestinationWrite, states: TransactionStates) -> None:
        """The destination waits for more input before it confirms: end this `write()` so it
        commits, and take the echoes from what it writes before returning."""
        if not self._echoes_late:
            log.info(
                "the Airbyte destination %s did not confirm the commit before asking for more "
                "input; ending its write() at every commit from now on",
                self.destination.name,
            )
        if not self.in_process:
            self._echoes_late = True
        self._write = None
        self._write_backfills = set()
        self._complete(write)
        states.accept_all(write.finish())
        if states.pending:
            transaction = self._transaction
            if self.state_type == STREAM:
                what = f"the STREAM states of transaction {transaction} ({states.pending_labels()})"
                other, option = "GLOBAL states", GLOBAL
            else:
                what = f"the GLOBAL state of transaction {transaction}"
                other, option = "per-stream states", STREAM
            raise ConnectorError(
                f"the Airbyte destination {self.destination.name} finished its write() without "
                f"echoing {what}, so its records may not be committed and the transaction is "
                f"not acknowledged; if the destination confirms only {other}, run the shim "
                f'with state_type="{option}" (--state-type {option})'
            )

    # ---- the life of a write() ----

    def _start_write(self) -> DestinationWrite:
        supported = list(self._airbyte_spec.get("supported_destination_sync_modes") or [APPEND])
        streams = []
        self._write_backfills = set()
        for binding in self._materialization.bindings:
            generation = self._generation(binding)
            wants_overwrite = generation > 0 and binding.stateKey not in self._overwritten
            mode = sync_mode(supported, overwrite=wants_overwrite)
            if wants_overwrite and mode == OVERWRITE:
                self._overwriting.add(binding.stateKey)
                self._write_backfills.add(binding.stateKey)
            elif wants_overwrite:
                log.warning(
                    "binding %s was backfilled, but the destination does not support "
                    "overwrite; its old records stay",
                    binding.stateKey,
                )
            key = binding.stateKey
            refreshing = (key in self._refreshing or key in self._truncating) and mode != APPEND
            minimum = generation if refreshing else None  # old generations go at COMPLETE
            streams.append(configured_stream(binding, mode, self._sync_id, generation, minimum))
        log.debug(
            "starting the destination's write()",
            extra={
                "modes": {
                    label(stream): s["destination_sync_mode"]
                    for stream, s in zip(self._streams, streams, strict=True)
                }
            },
        )
        write = self.destination.start_write(
            self._materialization.config or {}, {"streams": streams}, self._streams, log
        )
        for stream in self._streams:
            write.send(stream_status(stream, "STARTED"))
        self._write_opened = time.monotonic()
        self._write_commits = 0
        return write

    def _complete(self, write: DestinationWrite) -> None:
        """COMPLETE for every stream, but INCOMPLETE for one whose backfill is not stored
        yet: a destination drops its older generations only at COMPLETE."""
        bindings = self._materialization.bindings
        for stream, binding in zip(self._streams, bindings, strict=True):
            done = binding.stateKey not in self._refreshing
            write.send(stream_status(stream, "COMPLETE" if done else "INCOMPLETE"))

    def _end_write(self, why: str) -> None:
        """End the open `write()` between transactions, every state it got echoed: COMPLETE
        for every stream, end of input, and wait while the destination finalizes."""
        write, self._write = self._write, None
        self._write_backfills = set()
        if write is None:
            return
        log.debug("ending the destination's write() because %s", why)
        self._complete(write)
        extra = write.finish()
        if extra:
            raise ConnectorError(
                f"the Airbyte destination {self.destination.name} echoed a state the "
                f"shim never sent: {str(extra[0])[:300]}"
            )

    def _arm_timer(self) -> None:
        """Called with the lock held after a commit that left the write() open."""
        now = time.monotonic()
        if self._refreshing:  # a backfill's write ends at its backfillComplete
            return
        if self._write_backfills:  # a backfill's write ends once the runtime goes quiet
            self._timer.arm(self.bounds.seconds)
        else:
            self._timer.arm(self._write_opened + self.bounds.seconds - now)

    def _expire(self) -> None:
        """The timer thread: end the write() if no transaction is in flight."""
        with self._lock:
            if self._in_transaction or self._write is None or self._deferred is not None:
                return
            why = (
                f"the runtime sent no transaction for {self.bounds.seconds:g} s after the "
                "backfill's last commit"
                if self._write_backfills
                else f"it was open {self.bounds.seconds:g} s"
            )
            try:
                self._end_write(why)
            except ConnectorError as exc:
                self._deferred = exc
            except Exception as exc:  # reported at the next request, as a sentence
                self._deferred = ConnectorError(
                    f"ending the write() of the Airbyte destination {self.destination.name} "
                    f"failed: {type(exc).__name__}: {exc}"
                )
            if self._deferred is not None:
                log.error("%s; the session fails at its next request", self._deferred)

    def _raise_deferred(self) -> None:
        error, self._deferred = self._deferred, None
        if error is not None:
            raise error

    # ---- records ----

    def _fields_record(self, store: request.Store) -> dict[str, Any]:
        """A record built from the selected fields, when the document itself is not selected."""
        selection = self._materialization.bindings[store.binding].fieldSelection
        try:
            key = store.key or (unpack_b64(store.keyPacked) if store.keyPacked else [])
            values = store.values or (unpack_b64(store.valuesPacked) if store.valuesPacked else [])
        except TupleError as exc:
            raise ProtocolError(
                f"`store` of binding {store.binding} has a bad packed tuple: {exc}"
            ) from None
        fields, got = [*selection.keys, *selection.values], [*key, *values]
        if len(fields) != len(got):
            raise ConnectorError(
                f"`store` of binding {store.binding} carries {len(got)} key and value fields, "
                f"but its field selection has {len(fields)}: {fields}"
            )
        return dict(zip(fields, got, strict=True))


def stream_of(resource_path: Sequence[str]) -> StreamId:
    """The (name, namespace) of a binding's resource path `[namespace, stream]` / `[stream]`."""
    return (resource_path[-1], resource_path[0] if len(resource_path) > 1 else None)


def deleted(record: Any, binding: int) -> dict[str, Any]:
    """The record of a deleted document: Airbyte's CDC delete marker set to now (UTC)."""
    if not isinstance(record, Mapping):
        raise ConnectorError(
            f"`store` of binding {binding} deletes a document that is not a JSON object, so "
            f"it cannot carry {CDC_DELETED_AT}"
        )
    stamp = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return {**record, CDC_DELETED_AT: stamp}
