"""The idle watchdog in the Singer shim: a tap that stops talking mid-stream ends the capture
with a sentence naming its stream, after its last checkpoint and nothing past it."""

from __future__ import annotations

import sys
import time

import orjson
from crash_harness import CONNECTORS

from flow_sdk.testing import run_connector

TAP = [sys.executable, "-m", "flow_sdk.cli", "singer-capture", "--", sys.executable, str(CONNECTORS / "hanging_tap.py")]  # fmt: skip
BINDING = {
    "resourceConfig": {"tap_stream_id": "things", "replication_method": "FULL_TABLE"},
    "resourcePath": ["things"],
    "stateKey": "things",
    "collection": {"name": "acmeCo/things", "key": ["/id"], "writeSchema": {"type": "object"}},
}
OPEN = {
    "open": {
        "capture": {"name": "acmeCo/hanging", "config": {}, "bindings": [BINDING]},
        "version": "v1",
        "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
        "state": {},
    }
}


def test_a_hanging_singer_tap_is_stopped_naming_its_stream():
    started = time.monotonic()
    done = run_connector(TAP, [OPEN], env={"FLOW_SDK_IDLE_TIMEOUT": "1.5"}, hold_stdin=60)
    assert time.monotonic() - started < 30
    assert done.code == 1
    last = orjson.loads(done.stderr[-1])
    assert last["level"] == "error"
    assert "sent no message for 1.5 seconds while reading stream 'things'" in last["msg"]
    responses = done.stdout
    assert "checkpoint" in responses[-1], "nothing after the last checkpoint reached stdout"
    assert [r["captured"]["doc"]["id"] for r in responses if "captured" in r] == [1, 2, 3]
