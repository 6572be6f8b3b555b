"""An Airbyte `Destination` object driven in this process (airbyte-cdk 2.x–7.x).

`write()` runs on a worker thread and pulls its input from a queue of record batches, so the
request loop never waits on the destination except at `startCommit`. The input iterator
knows exactly when the destination asks for more input while a state it was given is still
unconfirmed: that is reported at once (no timeout) and the shim ends the `write()`.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from flow_sdk.airbyte.codec import to_plain
from flow_sdk.airbyte.destination.write import BATCH, ENDED, FAILED, STARVED, DestinationWrite
from flow_sdk.airbyte.inprocess_connector import InProcessConnector, ensure_flow_logging
from flow_sdk.errors import ConnectorError

_END = object()


class DestinationModels:
    """The delegate CDK's own message and catalog classes (dataclasses from 5.x, pydantic
    before), and how to load one from JSON."""

    def __init__(self) -> None:
        import airbyte_cdk.models as models

        self.m = models
        self.dataclasses = hasattr(models, "AirbyteMessageSerializer")
        self.RECORD = models.Type.RECORD
        self.Message = models.AirbyteMessage
        self.Record = models.AirbyteRecordMessage
        self.positional = (
            _leading_fields(self.Message, 6) == _MESSAGE_FIELDS
            and _leading_fields(self.Record, 4) == _RECORD_FIELDS
        )
        """The models are dataclasses whose fields come in the order `record` relies on to
        build a RECORD positionally (half the cost of keywords); else it uses keywords."""

    def load(self, model_name: str, data: dict[str, Any]) -> Any:
        if self.dataclasses:
            return getattr(self.m, f"{model_name}Serializer").load(data)
        model = getattr(self.m, model_name)
        return (
            model.model_validate(data)
            if hasattr(model, "model_validate")
            else model.parse_obj(data)
        )


_MESSAGE_FIELDS = ("type", "log", "spec", "connectionStatus", "catalog", "record")
_RECORD_FIELDS = ("stream", "data", "emitted_at", "namespace")


def _leading_fields(model: type, count: int) -> tuple[str, ...]:
    """The first `count` positional fields of a dataclass model, in its constructor's order
    (() for pydantic models)."""
    if not dataclasses.is_dataclass(model):
        return ()
    return tuple(f.name for f in dataclasses.fields(model) if f.init and not f.kw_only)[:count]


class InProcessDestination:
    """Adapts an airbyte-cdk `Destination` to the shim: spec and check, and `write()` calls."""

    def __init__(self, destination: Any) -> None:
        self.destination = destination
        self.name = type(destination).__name__
        self._unary = InProcessConnector(destination)  # spec() and check() are the same verbs
        self._models: DestinationModels | None = None

    def spec(self) -> dict[str, Any]:
        return self._unary.spec()

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return self._unary.check(config)

    def start_write(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        streams: Sequence[tuple[str, str | None]],
        log: logging.Logger,
    ) -> DestinationWrite:
        ensure_flow_logging()
        if self._models is None:
            self._models = DestinationModels()
        return InProcessWrite(self, config, catalog, streams, log, self._models)


class InProcessWrite(DestinationWrite):
    def __init__(
        self,
        owner: InProcessDestination,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        streams: Sequence[tuple[str, str | None]],
        log: logging.Logger,
        models: DestinationModels,
    ) -> None:
        super().__init__(log, owner.name)
        self._models = models
        self._streams = list(streams)
        self._inbox: queue.Queue[Any] = queue.Queue(maxsize=8)
        self._batch: list[Any] = []
        self._batch_mixed = False
        """The batch holds more than records (states, traces): `_input` looks at each."""
        self._message, self._record, self._RECORD = models.Message, models.Record, models.RECORD
        self._positional = models.positional
        self._delivered_states = 0
        self._echoed_states = 0
        self.emitted_at = int(time.time() * 1000)
        configured = models.load("ConfiguredAirbyteCatalog", catalog)
        self._thread = threading.Thread(
            target=self._run,
            args=(owner.destination, dict(config), configured),
            name="airbyte destination write",
            daemon=True,
        )
        self._thread.start()

    # ---- the request loop's side ----

    def record(self, binding: int, data: Mapping[str, Any]) -> None:
        """The hot path: the delegate CDK's own RECORD message (its models built inline)."""
        stream, namespace = self._streams[binding]
        batch = self._batch
        if self._positional:  # (type, log, spec, connectionStatus, catalog, record)
            record = self._record(stream, data, self.emitted_at, namespace)
            batch.append(self._message(self._RECORD, None, None, None, None, record))
        else:
            record = self._record(
                stream=stream, namespace=namespace, data=data, emitted_at=self.emitted_at
            )
            batch.append(self._message(type=self._RECORD, record=record))
        if len(batch) >= BATCH:
            self._hand_over()

    def states(self, messages: list[dict[str, Any]]) -> None:
        self._batch.extend(self._models.load("AirbyteMessage", m) for m in messages)
        self._batch_mixed = True
        self._hand_over()
        self.emitted_at = int(time.time() * 1000)

    def send(self, message: dict[str, Any]) -> None:
        self._batch.append(self._models.load("AirbyteMessage", message))
        self._batch_mixed = True

    def _hand_over(self) -> None:
        batch, self._batch = self._batch, []
        self._put((batch, self._batch_mixed))
        self._batch_mixed = False
        self.poll()

    def _put(self, item: Any) -> None:
        while True:
            try:
                self._inbox.put(item, timeout=0.2)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    self.poll()
                    self.finish()
                    raise ConnectorError(
                        f"the Airbyte destination {self.name}'s write() returned before "
                        "reading all of its input, so documents handed to it were never "
                        "written; a destination's write() must consume every message"
                    ) from None

    def _end_input(self) -> None:
        if self._batch:
            self._put((self._batch, self._batch_mixed))
            self._batch = []
        self._put(_END)

    def _exit_status(self) -> str | None:
        self._thread.join(timeout=5)
        return None

    # ---- the worker thread ----

    def _input(self) -> Iterator[Any]:
        inbox = self._inbox
        state_type = self._models.m.Type.STATE
        while True:
            try:
                batch = inbox.get_nowait()
            except queue.Empty:
                if self._delivered_states > self._echoed_states:
                    self._outbox.put((STARVED, None))
                batch = inbox.get()
            if batch is _END:
                return
            messages, mixed = batch
            if not mixed:
                yield from messages  # records only: no state to count
                continue
            for message in messages:
                if message.type == state_type:
                    self._delivered_states += 1
                yield message

    def _run(self, destination: Any, config: dict[str, Any], catalog: Any) -> None:
        outbox = self._outbox
        try:
            for message in destination.write(config, catalog, self._input()):
                plain = to_plain(message)
                if plain.get("type") == "STATE":
                    self._echoed_states += 1
                outbox.put(("message", plain))
        except BaseException as exc:  # reported on the request loop's thread
            self._drain_input()
            outbox.put((FAILED, exc))
            return
        self._drain_input()
        outbox.put((ENDED, None))

    def _drain_input(self) -> None:
        """Unblock a request loop waiting to hand over a batch to a `write()` that is gone."""
        while True:
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                return
