"""The STATE messages of one materialize transaction, and the check of their echoes.

Airbyte's platform forwards the source's states, which are per stream (`STREAM`) unless the
source is a CDC source (`GLOBAL`). Destinations built on PyAirbyte's record processor confirm
only STREAM states: a GLOBAL one is filed under a key they never finalize, so it is never
echoed. The shim therefore sends, by default, one STREAM state for every stream that got
records in the transaction; `GLOBAL` (one state for all streams) is an option for
destinations that need it. Each state carries a marker naming the session and transaction,
so an echo is matched to exactly what was sent, and `sourceStats.recordCount` so the
destination's `destinationStats.recordCount` can be checked.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from flow_sdk.errors import ConnectorError

STREAM, GLOBAL = "stream", "global"
STATE_TYPES = (STREAM, GLOBAL)
"""`state_type` values of the shim: what kind of STATE message ends a transaction."""

StreamId = tuple[str, str | None]


def descriptor(stream: StreamId) -> dict[str, Any]:
    """A protocol stream descriptor (`namespace` only when there is one)."""
    name, namespace = stream
    return {"name": name, "namespace": namespace} if namespace else {"name": name}


def label(stream: StreamId) -> str:
    """`namespace.name` or `name`, for messages."""
    name, namespace = stream
    return f"{namespace}.{name}" if namespace else name


def stream_status(stream: StreamId, status: str) -> dict[str, Any]:
    """A TRACE STREAM_STATUS message (`STARTED` / `COMPLETE`), as Airbyte's platform sends a
    destination the statuses its source emitted."""
    return {
        "type": "TRACE",
        "trace": {
            "type": "STREAM_STATUS",
            "emitted_at": time.time() * 1000,
            "stream_status": {"stream_descriptor": descriptor(stream), "status": status},
        },
    }


class TransactionStates:
    """The states that end transaction `transaction`, and the echoes still owed for them.

    `counts` maps each stream to the records it got in this transaction; only streams with
    records get a STREAM state (a state means "everything of this stream before me")."""

    def __init__(
        self,
        destination: str,
        state_type: str,
        marker: dict[str, Any],
        counts: Mapping[StreamId, int],
    ) -> None:
        if state_type not in STATE_TYPES:
            raise ValueError(f"state_type must be one of {STATE_TYPES}, not {state_type!r}")
        self.destination = destination
        self.state_type = state_type
        self.marker = marker
        self.counts = {stream: n for stream, n in counts.items() if n}
        self.owed: set[StreamId] | None = set(self.counts) if state_type == STREAM else None
        self.global_owed = state_type == GLOBAL

    @property
    def transaction(self) -> int:
        return int(self.marker["transaction"])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def messages(self) -> list[dict[str, Any]]:
        """The STATE messages to send, in stream order of the catalog."""
        if self.state_type == GLOBAL:
            return [
                {
                    "type": "STATE",
                    "state": {
                        "type": "GLOBAL",
                        "global": {
                            "shared_state": {"flow_sdk": self.marker},
                            "stream_states": [
                                {
                                    "stream_descriptor": descriptor(s),
                                    "stream_state": {"flow_sdk": self.marker},
                                }
                                for s in self.counts
                            ],
                        },
                        "sourceStats": {"recordCount": float(self.total)},
                    },
                }
            ]
        return [
            {
                "type": "STATE",
                "state": {
                    "type": "STREAM",
                    "stream": {
                        "stream_descriptor": descriptor(stream),
                        "stream_state": {"flow_sdk": self.marker},
                    },
                    "sourceStats": {"recordCount": float(count)},
                },
            }
            for stream, count in self.counts.items()
        ]

    @property
    def pending(self) -> int:
        """Echoes still owed."""
        if self.owed is not None:
            return len(self.owed)
        return int(self.global_owed)

    def pending_labels(self) -> str:
        if self.owed is not None:
            return ", ".join(sorted(label(s) for s in self.owed)) or "none"
        return "the GLOBAL state"

    def accept(self, echo: Mapping[str, Any]) -> None:
        """Check one echoed state against what was sent and mark it confirmed. Raises
        ConnectorError (the transaction is then never acknowledged) for anything else."""
        stream_echo = echo.get("stream")
        global_echo = echo.get("global") or echo.get("global_")
        if self.state_type == GLOBAL:
            self._accept_global(echo, global_echo)
        elif isinstance(stream_echo, Mapping):
            self._accept_stream(echo, stream_echo)
        else:
            kind = echo.get("type") or ("GLOBAL" if global_echo else "LEGACY")
            raise ConnectorError(
                f"the Airbyte destination {self.destination} echoed a {kind} state for "
                f"transaction {self.transaction}, but the shim sent STREAM states "
                f"(got {str(echo)[:300]}); destinations must echo the states they get"
            )

    def _accept_global(self, echo: Mapping[str, Any], glob: Any) -> None:
        shared = glob.get("shared_state") if isinstance(glob, Mapping) else None
        marker = shared.get("flow_sdk") if isinstance(shared, Mapping) else None
        if not self.global_owed or marker != self.marker:
            raise ConnectorError(
                f"the Airbyte destination {self.destination} echoed a state that is not the "
                f"one of transaction {self.transaction} (got {str(echo)[:300]}); destinations "
                "must echo the states they get, in order"
            )
        self._check_count(echo, self.total, "")
        self.global_owed = False

    def _accept_stream(self, echo: Mapping[str, Any], stream_echo: Mapping[str, Any]) -> None:
        desc = stream_echo.get("stream_descriptor") or {}
        stream: StreamId = (str(desc.get("name")), desc.get("namespace") or None)
        state = stream_echo.get("stream_state")
        marker = state.get("flow_sdk") if isinstance(state, Mapping) else None
        assert self.owed is not None
        if stream not in self.owed or marker != self.marker:
            why = (
                "was already confirmed"
                if stream in self.counts and marker == self.marker
                else "is not one the shim sent for this transaction"
            )
            raise ConnectorError(
                f"the Airbyte destination {self.destination} echoed a state of stream "
                f"{label(stream)!r} that {why} (transaction {self.transaction}, got "
                f"{str(echo)[:300]}); destinations must echo each state they get exactly once"
            )
        self._check_count(echo, self.counts[stream], f" of stream {label(stream)!r}")
        self.owed.discard(stream)

    def _check_count(self, echo: Mapping[str, Any], sent: int, what: str) -> None:
        stats = echo.get("destinationStats")
        count = stats.get("recordCount") if isinstance(stats, Mapping) else None
        if count is not None and count != sent:
            raise ConnectorError(
                f"the Airbyte destination {self.destination} confirmed {count:g} records"
                f"{what} for transaction {self.transaction}, but the shim sent {sent}; the "
                "transaction is not acknowledged"
            )

    def accept_all(self, echoes: Sequence[Mapping[str, Any]]) -> None:
        for echo in echoes:
            self.accept(echo)
