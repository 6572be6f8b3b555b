"""A small native capture connector used by the tests: counts up to `config.count` documents
per binding, checkpointing every `config.every`, resuming from its checkpointed state.

Config knobs that make it misbehave on purpose live in `config.misbehave`; `holdFile` holds the
last document until that file exists (at most `holdSeconds`), for tests that order events."""

from __future__ import annotations

import os
import sys
import time

from flow_sdk.capture import Connector, Emitter, request, response
from flow_sdk.errors import ValidateError
from flow_sdk.protocol.flow import Spec, SpecRequest

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "minimum": 0},
        "every": {"type": "integer", "minimum": 1},
        "explicitAcks": {"type": "boolean"},
        "sleep": {"type": "number"},
        "password": {"type": "string", "secret": True},
        "holdFile": {"type": "string"},
        "holdSeconds": {"type": "number"},
    },
    "required": ["count"],
}
RESOURCE_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}


def wait_for(path: str, seconds: float) -> None:
    """Hold the last document until `path` exists (a test's event), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)


class CounterCapture(Connector):
    def spec(self, spec: SpecRequest) -> Spec:
        return Spec(
            configSchema=CONFIG_SCHEMA,
            resourceConfigSchema=RESOURCE_SCHEMA,
            documentationUrl="https://example.com/counter",
            resourcePathPointers=["/name"],
        )

    def discover(self, discover: request.Discover) -> response.Discovered:
        return response.Discovered(
            bindings=[
                response.DiscoveredBinding(
                    recommendedName=name,
                    resourceConfig={"name": name},
                    documentSchema={
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                        "required": ["id"],
                    },
                    key=["/id"],
                    resourcePath=[name],
                )
                for name in ("alpha", "beta")
            ]
        )

    def validate(self, validate: request.Validate) -> response.Validated:
        if validate.config.get("count", -1) < 0:
            raise ValidateError("config.count must be a non-negative number of documents")
        return response.Validated(
            bindings=[
                response.ValidatedBinding(resourcePath=[b.resourceConfig["name"]])
                for b in validate.bindings
            ]
        )

    def open(self, open: request.Open, emit: Emitter) -> None:
        config = open.capture.config
        count, every = config["count"], config.get("every", 10)
        emit.opened(explicit_acknowledgements=bool(config.get("explicitAcks")))
        hold = config.get("holdFile")
        state = (open.state or {}).get("bindingStateV1", {})
        for index, binding in enumerate(open.capture.bindings):
            start = state.get(binding.stateKey, {}).get("next", 0)
            for n in range(start, count):
                if hold and n + 1 == count:
                    wait_for(hold, config.get("holdSeconds", 120.0))
                emit.captured(index, {"id": n, "name": binding.resourceConfig["name"]})
                if (n + 1) % every == 0 or n + 1 == count:
                    emit.checkpoint({"bindingStateV1": {binding.stateKey: {"next": n + 1}}})
                    if sleep := config.get("sleep"):
                        time.sleep(sleep)
        print("a stray print goes to stderr, not stdout")
        sys.stdout.flush()

    def acknowledge(self, acknowledge: request.Acknowledge) -> None:
        self.log.info("acknowledged", extra={"checkpoints": acknowledge.checkpoints})


if __name__ == "__main__":
    CounterCapture().main()
