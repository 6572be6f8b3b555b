"""A native capture of the documents in a JSON-lines file, for `flow-sdk run` tests of the
materialize shim: each session captures the lines added since the last committed one (its
state is the number of lines read), one checkpoint per line, so the file is the collection."""

from __future__ import annotations

from pathlib import Path

import orjson

from flow_sdk.capture import Connector, Emitter, request, response
from flow_sdk.protocol.flow import Spec, SpecRequest


class JsonlCapture(Connector):
    def spec(self, spec: SpecRequest) -> Spec:
        return Spec(
            configSchema={
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
            resourceConfigSchema={
                "type": "object",
                "properties": {"stream": {"type": "string"}},
                "required": ["stream"],
            },
            documentationUrl="https://example.com/jsonl-capture",
            resourcePathPointers=["/stream"],
        )

    def discover(self, discover: request.Discover) -> response.Discovered:
        return response.Discovered(bindings=[])

    def validate(self, validate: request.Validate) -> response.Validated:
        return response.Validated(
            bindings=[
                response.ValidatedBinding(resourcePath=[b.resourceConfig["stream"]])
                for b in validate.bindings
            ]
        )

    def open(self, open: request.Open, emit: Emitter) -> None:
        emit.opened()
        lines = Path(open.capture.config["path"]).read_bytes().splitlines()
        state = (open.state or {}).get("bindingStateV1", {})
        key = open.capture.bindings[0].stateKey
        for n in range(state.get(key, {}).get("lines", 0), len(lines)):
            emit.captured(0, orjson.loads(lines[n]))
            emit.checkpoint({"bindingStateV1": {key: {"lines": n + 1}}})


if __name__ == "__main__":
    JsonlCapture().main()
