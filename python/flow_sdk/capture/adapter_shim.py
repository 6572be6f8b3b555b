"""The capture shim every adapter is (`airbyte.CaptureShim`, `singer.CaptureShim`): the
`open` template and the endpoint-config check. An adapter says how to read
(`prepare_read`); the order around it is the same for every ecosystem."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, final

from flow_sdk.capture import Connector, Emitter, request
from flow_sdk.capture.read_loop import AdapterReadLoop
from flow_sdk.errors import ValidateError


@dataclass
class PreparedRead:
    """One session's read, ready to start: its loop and the call that reads into it."""

    loop: AdapterReadLoop
    read: Callable[[], None]
    begin: Callable[[], None] | None = None
    """Runs after `opened`, before the read: checkpoints the adapter's layout needs first
    (a migrated or discarded state, sourced schemas)."""


class AdapterCaptureShim(Connector):
    """A capture connector that wraps another ecosystem's connector."""

    idle_timeout: float | None = None
    """Seconds the connector may send nothing before the capture fails naming its stream
    (None: `FLOW_SDK_IDLE_TIMEOUT`, else three hours; 0: no limit)."""

    @final
    def open(self, open: request.Open, emit: Emitter) -> None:
        """Config, state and catalog are checked before `opened` (a bad one fails the
        session with nothing emitted); then the adapter's first checkpoints, then the read
        under the idle watchdog, then its final checkpoint."""
        prepared = self.prepare_read(open, emit)
        emit.opened()
        if prepared.begin is not None:
            prepared.begin()
        prepared.loop.run(prepared.read, self.idle_timeout)

    def prepare_read(self, open: request.Open, emit: Emitter) -> PreparedRead:
        """The session's config, state, catalog and read loop, checked, before `opened`."""
        raise NotImplementedError


def endpoint_config(config: Any) -> dict[str, Any]:
    """A copy of the endpoint config, which must be a JSON object."""
    if not isinstance(config, Mapping):
        raise ValidateError(
            f"the endpoint config must be a JSON object, not {type(config).__name__}"
        )
    return dict(config)
