"""Native Flow capture connectors: subclass `Connector`, implement its hooks, call `main()`.

Hooks are named after the protocol verb and take the request; they return a response model
or, as in flow-sdk 0.1.x, a plain dict of it. `open` receives an `Emitter`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any, final

from flow_sdk.capture.emitter import Emitter
from flow_sdk.capture.session import SessionInput
from flow_sdk.connector import BaseConnector, hook_response
from flow_sdk.errors import ValidateError
from flow_sdk.io import ProtocolWriter
from flow_sdk.protocol import capture as request
from flow_sdk.protocol import capture as response
from flow_sdk.protocol.capture import Request, Response
from flow_sdk.protocol.flow import Spec, SpecRequest
from flow_sdk.protocol.wire import ProtocolError, encode, parse_message

__all__ = ["Connector", "Emitter", "Request", "Response", "ValidateError", "request", "response"]

_RESPONSE_OF = {
    "spec": "spec",
    "discover": "discovered",
    "validate": "validated",
    "apply": "applied",
}


class Connector(BaseConnector):
    """A capture connector. The base class owns the request loop: it answers the probe Spec
    and every unary request in order until EOF, and runs one session per process."""

    @abc.abstractmethod
    def spec(self, spec: SpecRequest) -> Spec | dict[str, Any]:
        """The endpoint and resource config schemas. `spec.config` may be `{}` (the probe)."""

    @abc.abstractmethod
    def discover(self, discover: request.Discover) -> response.Discovered | dict[str, Any]:
        """The bindings this endpoint offers."""

    @abc.abstractmethod
    def validate(self, validate: request.Validate) -> response.Validated | dict[str, Any]:
        """Check config and bindings; raise `ValidateError` with a sentence for the user."""

    def apply(self, apply: request.Apply) -> response.Applied | dict[str, Any]:
        """Prepare the endpoint for the spec. Must be idempotent. Default: nothing to do."""
        return response.Applied()

    @abc.abstractmethod
    def open(self, open: request.Open, emit: Emitter) -> None:
        """Run the session: `emit.opened()`, then documents and checkpoints. Return to end
        the session (exit 0 at a checkpoint boundary; the runtime restarts it after
        `intervalSeconds`)."""

    def acknowledge(self, acknowledge: request.Acknowledge) -> None:
        """The runtime committed `acknowledge.checkpoints` more checkpoints. Called on the
        connector's thread at its next checkpoint. Default: nothing to do."""

    @final
    def serve(self, lines: Iterator[bytes], writer: ProtocolWriter) -> None:
        for line in lines:
            req = parse_message(Request, line)
            variant = req.variant
            if variant == "open":
                self._session(req.open, lines, writer)
                return
            if variant == "acknowledge":
                raise ProtocolError("`acknowledge` arrived before any `open`")
            hook = getattr(self, variant)
            result = hook(req.payload_of(variant))
            writer.write(encode(hook_response(Response, _RESPONSE_OF[variant], result)))
            writer.flush()

    def _session(self, open: request.Open, lines: Iterator[bytes], writer: ProtocolWriter) -> None:
        bindings = open.capture.bindings
        names = [
            ".".join(b.resourcePath) or b.collection.name or str(i) for i, b in enumerate(bindings)
        ]
        emitter = Emitter(writer, len(bindings), names=names, log=self.log)
        session = SessionInput(lines, emitter, self.log)
        acked = 0

        def deliver_acks() -> None:
            nonlocal acked
            if count := session.take_acknowledged():
                acked += count
                if acked > emitter.checkpoints:
                    raise ProtocolError(
                        f"the runtime acknowledged {acked} checkpoints but only "
                        f"{emitter.checkpoints} were emitted"
                    )
                self.acknowledge(request.Acknowledge(checkpoints=count))

        emitter._on_checkpoint = deliver_acks
        session.start()
        try:
            self.open(open, emitter)
            if not emitter.is_opened:
                raise ProtocolError("the connector's `open` returned without emitting `opened`")
            emitter.close()
            deliver_acks()
        finally:
            # However the session ends (stopped by the runtime, failed), the conversions it
            # made are summed up before the process's last words.
            emitter.conversions.summary()
