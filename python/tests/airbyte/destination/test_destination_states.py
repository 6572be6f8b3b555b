"""A transaction's STATE messages and the check of their echoes, and the bounds of a write()."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flow_sdk.airbyte.destination.bounds import WriteBounds
from flow_sdk.airbyte.destination.states import GLOBAL, STREAM, TransactionStates, stream_status
from flow_sdk.errors import ConnectorError

MARKER = {"session": "s1", "transaction": 3}
COUNTS = {("users", None): 2, ("events", "raw"): 1, ("idle", None): 0}


def echoed(message: dict[str, Any], records: float | None = None) -> dict[str, Any]:
    """A destination's echo of `message`: its state, stamped like the CDK stamps it."""
    state = copy.deepcopy(message["state"])
    if records is not None:
        state["destinationStats"] = {"recordCount": records}
    return state


def test_one_stream_state_per_stream_with_records() -> None:
    states = TransactionStates("dest", STREAM, MARKER, COUNTS)
    messages = states.messages()
    assert [m["state"]["stream"]["stream_descriptor"] for m in messages] == [
        {"name": "users"},
        {"name": "events", "namespace": "raw"},
    ]
    assert messages[1]["state"]["sourceStats"] == {"recordCount": 1.0}
    assert messages[1]["state"]["stream"]["stream_state"] == {"flow_sdk": MARKER}
    # Echoes may come in any order; each settles its own stream.
    states.accept(echoed(messages[1], 1))
    assert states.pending == 1 and states.pending_labels() == "users"
    states.accept(echoed(messages[0]))
    assert states.pending == 0 and states.total == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m, "of stream 'users' that was already confirmed"),
        (
            lambda m: m["stream"]["stream_descriptor"].update(name="other"),
            "of stream 'other' that is not one the shim sent for this transaction",
        ),
        (
            lambda m: m["stream"]["stream_state"]["flow_sdk"].update(transaction=2),
            "of stream 'users' that is not one the shim sent",
        ),
        (
            lambda m: m.update(destinationStats={"recordCount": 5}),
            "confirmed 5 records of stream 'users' for transaction 3, but the shim sent 2",
        ),
    ],
)
def test_wrong_stream_echoes_are_sentences(mutate: Any, message: str) -> None:
    states = TransactionStates("dest", STREAM, MARKER, COUNTS)
    first = states.messages()[0]
    states.accept(echoed(first))
    again = TransactionStates("dest", STREAM, MARKER, COUNTS)
    if "already" not in message:
        states = again
    echo = echoed(first)
    mutate(echo)
    with pytest.raises(ConnectorError, match=message):
        states.accept(echo)


def test_a_global_echo_for_stream_states_is_refused() -> None:
    stream_states = TransactionStates("dest", STREAM, MARKER, COUNTS)
    (glob,) = TransactionStates("dest", GLOBAL, MARKER, COUNTS).messages()
    with pytest.raises(ConnectorError, match="echoed a GLOBAL state for transaction 3, but"):
        stream_states.accept(echoed(glob))


def test_one_global_state_counts_every_stream() -> None:
    states = TransactionStates("dest", GLOBAL, MARKER, COUNTS)
    (message,) = states.messages()
    assert message["state"]["sourceStats"] == {"recordCount": 3.0}
    assert message["state"]["global"]["shared_state"] == {"flow_sdk": MARKER}
    with pytest.raises(ConnectorError, match="confirmed 2 records for transaction 3"):
        states.accept(echoed(message, 2))
    states.accept(echoed(message, 3))
    assert states.pending == 0


def test_stream_status_messages() -> None:
    status = stream_status(("events", "raw"), "COMPLETE")["trace"]
    assert status["type"] == "STREAM_STATUS"
    assert status["stream_status"] == {
        "stream_descriptor": {"name": "events", "namespace": "raw"},
        "status": "COMPLETE",
    }


def test_write_bounds() -> None:
    bounds = WriteBounds(transactions=3, seconds=10)
    assert not bounds.due(2, 9.9)
    assert bounds.due(3, 0) and bounds.due(1, 10)
    with pytest.raises(ValueError, match="at least one transaction"):
        WriteBounds(transactions=0)
    with pytest.raises(ValueError, match="positive number of seconds"):
        WriteBounds(seconds=0)
