"""A connector that writes its last checkpoints and exits at once: the runtime must commit
those checkpoints (reading EOF right behind them) instead of dropping them."""

from __future__ import annotations

import io
import sys
import time

import orjson

from flow_sdk.protocol.flow import CaptureBinding, CaptureSpec, CollectionSpec
from flow_sdk.runtime.capture.session import CaptureSession, SessionEnded, Transaction
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.process import EOF, ConnectorProcess, Launch
from flow_sdk.runtime.schema import SchemaValidators

BURST_THEN_EXIT = r"""
import sys
sys.stdin.readline()
lines = ['{"opened":{}}']
for n in range(1, 5):
    lines.append('{"captured":{"binding":0,"doc":{"id":%d}}}' % n)
    if n % 2 == 0:
        lines.append('{"checkpoint":{"state":{"updated":{"n":%d},"mergePatch":true}}}' % n)
sys.stdout.write("\n".join(lines) + "\n")
"""


def test_checkpoints_written_just_before_exit_are_committed() -> None:
    collection = CollectionSpec(name="acmeCo/things", key=["/id"], writeSchema={"type": "object"})
    spec = CaptureSpec(
        name="acmeCo/burst",
        bindings=[CaptureBinding(resourcePath=["things"], collection=collection, stateKey="t")],
    )
    console = Console(io.StringIO())
    with ConnectorProcess(Launch(argv=[sys.executable, "-c", BURST_THEN_EXIT]), console) as proc:
        session = CaptureSession(proc, spec, SchemaValidators(), console)
        session.open("v1", {})
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while proc._lines.queue[-1][-1] is not EOF and time.monotonic() < deadline:
            time.sleep(0.01)  # everything, EOF included, is queued before the session reads
        txn = session.next_transaction(timeout=10)
        assert isinstance(txn, Transaction), "the last checkpoints were dropped at EOF"
        assert [orjson.loads(doc)["id"] for _, doc in txn.documents] == [1, 2, 3, 4]
        assert [state.updated for state in txn.states] == [{"n": 2}, {"n": 4}]
        ended = session.next_transaction(timeout=10)
        assert isinstance(ended, SessionEnded) and ended.reason == "the connector exited"
