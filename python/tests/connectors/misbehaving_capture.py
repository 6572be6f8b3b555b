"""A capture connector that misbehaves in the way named by argv[1]; used to check that
the base class turns each mistake into a clear, non-zero exit."""

from __future__ import annotations

import sys

from flow_sdk.capture import Connector, Emitter, request
from flow_sdk.errors import ValidateError
from flow_sdk.protocol.flow import SpecRequest

MODE = sys.argv[1] if len(sys.argv) > 1 else ""


class Misbehaving(Connector):
    def spec(self, spec: SpecRequest) -> dict:
        if MODE == "bad-spec":
            return {"configSchema": {}, "notAField": 1}
        # A flow-sdk 0.1.x style dict answer, without `protocol`.
        return {"configSchema": {"type": "object"}, "resourceConfigSchema": {"type": "object"}}

    def discover(self, discover: request.Discover) -> dict:
        raise RuntimeError("the endpoint exploded")

    def validate(self, validate: request.Validate) -> dict:
        raise ValidateError("the password for user 'x' was rejected; check config.password")

    def open(self, open: request.Open, emit: Emitter) -> None:
        if MODE == "no-opened":
            return
        emit.opened()
        if MODE == "bad-binding":
            emit.captured(7, {"a": 1})
        if MODE == "not-object":
            emit.captured(0, [1, 2])
        if MODE == "crash-mid-group":
            emit.captured(0, {"a": 1})
            emit.checkpoint({"n": 1})
            emit.captured(0, {"a": 2})
            raise RuntimeError("source failed after a document")
        if MODE == "fork-worker":
            # A forked worker closes sys.stdin as it starts, while the session's reader
            # thread waits on the protocol stream: it must not deadlock.
            import multiprocessing

            with multiprocessing.get_context("fork").Pool(2) as pool:
                values = pool.map(abs, [-1, -2, -3])
            emit.captured(0, {"a": sum(values)})
            emit.checkpoint({"forked": True})
        if MODE == "unclosed":
            emit.captured(0, {"a": 1})


if __name__ == "__main__":
    Misbehaving().main()
