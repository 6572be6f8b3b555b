"""Any Airbyte destination as a Flow materialization: `MaterializeShim`.

Every binding is delta updates. `store` becomes a RECORD of the binding's stream,
`startCommit` a STATE; the destination echoing that STATE means the records are durably
committed, and only then is `startedCommit` sent. One `write()` spans many transactions;
a destination that echoes only at the end of its input gets its `write()` ended at each
commit instead, and the next transaction starts a new one in append mode.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from flow_sdk.airbyte.destination_inprocess import InProcessDestination
from flow_sdk.airbyte.destination_process import SubprocessDestination
from flow_sdk.airbyte.destination_spec import (
    APPEND,
    OVERWRITE,
    configured_stream,
    materialize_spec,
    sync_mode,
    validated,
)
from flow_sdk.airbyte.destination_write import DestinationWrite
from flow_sdk.airbyte.spec import mask_config_secrets
from flow_sdk.errors import ConnectorError, ValidateError
from flow_sdk.materialize import Connector, request, response
from flow_sdk.protocol.flow import MaterializationSpec, Spec, SpecRequest
from flow_sdk.protocol.tuple_pack import TupleError, unpack_b64

ECHO_TIMEOUT_SECONDS = 5.0
"""How long a subprocess destination may take to echo a state before the shim ends its
`write()` to collect the echo (in process, a late echo is detected exactly)."""

log = logging.getLogger("flow")


class MaterializeShim(Connector):
    """Runs an Airbyte destination as a Flow materialization.

    Pass `delegate=` an airbyte-cdk `Destination` object to run it in this process, or
    `command=` the destination's executable (any CDK generation or language) to run it as a
    child process: `<command> spec | check --config | write --config --catalog`."""

    decode_packed = False  # the record is the document; fields are decoded only without one

    def __init__(
        self,
        delegate: Any = None,
        *,
        command: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        documentation_url: str = "",
        echo_timeout: float = ECHO_TIMEOUT_SECONDS,
    ) -> None:
        if (delegate is None) == (command is None):
            raise TypeError("MaterializeShim needs exactly one of delegate= or command=")
        self.destination: InProcessDestination | SubprocessDestination = (
            InProcessDestination(delegate)
            if delegate is not None
            else SubprocessDestination(command or [], env)
        )
        self.documentation_url = documentation_url
        self.echo_timeout = echo_timeout
        self._write: DestinationWrite | None = None
        self._materialization = MaterializationSpec()
        self._airbyte_spec: dict[str, Any] = {}
        self._overwritten: set[str] = set()
        self._overwriting: set[str] = set()
        self._echoes_late = False
        self._session = secrets.token_hex(6)
        self._sync_id = int(time.time())
        self._transaction = 0
        self._records = 0
        self._pending_since_state = 0

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
        mask_config_secrets(airbyte_spec, config)
        status = self.destination.check(config if isinstance(config, Mapping) else {})
        if status.get("status") != "SUCCEEDED":
            why = status.get("message") or "no reason given"
            raise ValidateError(
                f"the Airbyte destination {self.destination.name} rejected the config: {why}"
            )

    # ---- the session ----

    def open(self, open: request.Open) -> response.Opened:
        self._materialization = open.materialization
        self._airbyte_spec = self.destination.spec()
        mask_config_secrets(self._airbyte_spec, open.materialization.config)
        state = open.state if isinstance(open.state, Mapping) else {}
        bindings = state.get("bindingStateV1") or {}
        self._overwritten = {
            k for k, v in bindings.items() if isinstance(v, Mapping) and v.get("overwritten")
        }
        return response.Opened()

    def store(self, store: request.Store) -> None:
        write = self._write
        if write is None:
            write = self._write = self._start_write()
        if store.doc is not None:
            write.record(store.binding, store.doc)
        else:
            write.record(store.binding, self._fields_record(store))
        self._pending_since_state += 1

    def start_commit(self, start_commit: request.StartCommit) -> response.StartedCommit | None:
        write = self._write
        if write is None:
            return None  # no stores in this transaction: nothing for the destination to commit
        self._transaction += 1
        sent = self._pending_since_state
        write.state(self._state_message(sent))
        echo = None if self._echoes_late else write.wait_for_state(self._echo_timeout(write))
        if echo is None:
            echo = self._end_write_for_echo(write)
        self._verify_echo(echo, sent)
        self._pending_since_state = 0
        self._records += sent
        if not self._overwriting:
            return None
        patch = {key: {"overwritten": True} for key in sorted(self._overwriting)}
        self._overwritten |= self._overwriting
        self._overwriting = set()
        return response.StartedCommit(
            state={"updated": {"bindingStateV1": patch}, "mergePatch": True}
        )

    def close(self) -> None:
        """End the `write()` at the session's end: every state it got was already echoed."""
        write, self._write = self._write, None
        if write is not None and not write.ended:
            extra = write.finish()
            if extra:
                raise ConnectorError(
                    f"the Airbyte destination {self.destination.name} echoed a state the "
                    f"shim never sent: {str(extra[0])[:300]}"
                )
        log.debug("materialize shim session finished", extra={"records": self._records})

    # ---- internals ----

    def _start_write(self) -> DestinationWrite:
        supported = list(self._airbyte_spec.get("supported_destination_sync_modes") or [APPEND])
        streams = []
        for binding in self._materialization.bindings:
            wants_overwrite = binding.backfill > 0 and binding.stateKey not in self._overwritten
            mode = sync_mode(supported, overwrite=wants_overwrite)
            if wants_overwrite and mode == OVERWRITE:
                self._overwriting.add(binding.stateKey)
            elif wants_overwrite:
                log.warning(
                    "binding %s was backfilled, but the destination does not support "
                    "overwrite; its old records stay",
                    binding.stateKey,
                )
            streams.append(configured_stream(binding, mode, self._sync_id))
        names = [(s["stream"]["name"], s["stream"].get("namespace")) for s in streams]
        log.debug(
            "starting the destination's write()",
            extra={
                "modes": {
                    "/".join(filter(None, (ns, n))): s["destination_sync_mode"]
                    for (n, ns), s in zip(names, streams, strict=True)
                }
            },
        )
        return self.destination.start_write(
            self._materialization.config or {}, {"streams": streams}, names, log
        )

    def _fields_record(self, store: request.Store) -> dict[str, Any]:
        """A record built from the selected fields, when the document itself is not selected."""
        selection = self._materialization.bindings[store.binding].fieldSelection
        try:
            key = store.key or (unpack_b64(store.keyPacked) if store.keyPacked else [])
            values = store.values or (unpack_b64(store.valuesPacked) if store.valuesPacked else [])
        except TupleError as exc:
            raise ConnectorError(
                f"`store` of binding {store.binding} has a bad packed tuple: {exc}"
            ) from None
        fields, got = [*selection.keys, *selection.values], [*key, *values]
        if len(fields) != len(got):
            raise ConnectorError(
                f"`store` of binding {store.binding} carries {len(got)} key and value fields, "
                f"but its field selection has {len(fields)}: {fields}"
            )
        return dict(zip(fields, got, strict=True))

    def _state_message(self, records: int) -> dict[str, Any]:
        marker = {"session": self._session, "transaction": self._transaction}
        stream_states = []
        for binding in self._materialization.bindings:
            path = binding.resourcePath
            descriptor = (
                {"name": path[-1]} if len(path) < 2 else {"name": path[-1], "namespace": path[0]}
            )
            stream_states.append(
                {"stream_descriptor": descriptor, "stream_state": {"flow_sdk": marker}}
            )
        return {
            "type": "STATE",
            "state": {
                "type": "GLOBAL",
                "global": {"shared_state": {"flow_sdk": marker}, "stream_states": stream_states},
                "sourceStats": {"recordCount": float(records)},
            },
        }

    def _echo_timeout(self, write: DestinationWrite) -> float | None:
        return None if isinstance(self.destination, InProcessDestination) else self.echo_timeout

    def _end_write_for_echo(self, write: DestinationWrite) -> dict[str, Any]:
        """The destination waits for more input before it confirms: end this `write()` so it
        commits, and take the echo from what it writes before returning."""
        if not self._echoes_late:
            log.info(
                "the Airbyte destination %s did not confirm the commit before asking for more "
                "input; ending its write() at every commit from now on",
                self.destination.name,
            )
        if not isinstance(self.destination, InProcessDestination):
            self._echoes_late = True
        self._write = None
        states = write.finish()
        if not states:
            raise ConnectorError(
                f"the Airbyte destination {self.destination.name} finished its write() without "
                f"echoing the state of transaction {self._transaction}, so its records may not be "
                "committed; the transaction is not acknowledged"
            )
        if len(states) > 1:
            raise ConnectorError(
                f"the Airbyte destination {self.destination.name} echoed {len(states)} states for "
                "one transaction; destinations must echo each state they get exactly once"
            )
        return states[0]

    def _verify_echo(self, echo: Mapping[str, Any], sent: int) -> None:
        glob = echo.get("global") or echo.get("global_") or {}
        marker = (
            (glob.get("shared_state") or {}).get("flow_sdk") if isinstance(glob, Mapping) else None
        )
        want = {"session": self._session, "transaction": self._transaction}
        if marker != want:
            raise ConnectorError(
                f"the Airbyte destination {self.destination.name} echoed a state that is not the "
                f"one of transaction {self._transaction} (got {str(echo)[:300]}); destinations "
                "must echo the states they get, in order"
            )
        stats = echo.get("destinationStats")
        count = stats.get("recordCount") if isinstance(stats, Mapping) else None
        if count is not None and count != sent:
            raise ConnectorError(
                f"the Airbyte destination {self.destination.name} confirmed {count:g} records for "
                f"transaction {self._transaction}, but the shim sent {sent}; the transaction is "
                "not acknowledged"
            )
