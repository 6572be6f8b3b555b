"""An example native Flow capture: greetings, numbered, resumable.

Each binding names a stream (only `greetings` exists) and captures `config.count` documents
`{id, message}` in total, checkpointing every `config.every` documents. A checkpoint records
the next id under the binding's `stateKey`, so a restarted session continues after the last
committed document instead of starting over. Run it through the local runtime:

    flow-sdk raw spec --source python/examples/hello.flow.yaml
    flow-sdk raw discover --source python/examples/hello.flow.yaml --emit-raw
    flow-sdk raw validate --source python/examples/hello.flow.yaml
    flow-sdk preview --source python/examples/hello.flow.yaml --sessions 1 --output-state
"""

from __future__ import annotations

from flow_sdk.capture import Connector, Emitter, ValidateError, request, response
from flow_sdk.protocol.flow import Spec, SpecRequest

STREAMS = ("greetings",)
CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "greeting": {"type": "string", "default": "Hello", "description": "What to say."},
        "count": {"type": "integer", "minimum": 0, "description": "Documents per stream."},
        "every": {
            "type": "integer",
            "minimum": 1,
            "default": 10,
            "description": "Checkpoint interval.",
        },
    },
    "required": ["count"],
}
RESOURCE_SCHEMA = {
    "type": "object",
    "properties": {"stream": {"type": "string"}},
    "required": ["stream"],
}
DOCUMENT_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "message": {"type": "string"}},
    "required": ["id", "message"],
}


class HelloCapture(Connector):
    def spec(self, spec: SpecRequest) -> Spec:
        return Spec(
            configSchema=CONFIG_SCHEMA,
            resourceConfigSchema=RESOURCE_SCHEMA,
            documentationUrl="https://github.com/estuary/flow-sdk/tree/main/python/examples",
            resourcePathPointers=["/stream"],  # the binding's stateKey comes from /stream
        )

    def discover(self, discover: request.Discover) -> response.Discovered:
        return response.Discovered(
            bindings=[
                response.DiscoveredBinding(
                    recommendedName=stream,
                    resourceConfig={"stream": stream},
                    documentSchema=DOCUMENT_SCHEMA,
                    key=["/id"],
                    resourcePath=[stream],
                )
                for stream in STREAMS
            ]
        )

    def validate(self, validate: request.Validate) -> response.Validated:
        # The runtime has checked the config and resources against the Spec's schemas;
        # validate checks what a schema cannot, in sentences the user can act on.
        for index, binding in enumerate(validate.bindings):
            stream = binding.resourceConfig["stream"]
            if stream not in STREAMS:
                raise ValidateError(
                    f"binding {index} names stream {stream!r}, which this endpoint does not "
                    f"offer (it offers: {', '.join(STREAMS)})"
                )
        return response.Validated(
            bindings=[
                response.ValidatedBinding(resourcePath=[b.resourceConfig["stream"]])
                for b in validate.bindings
            ]
        )

    def open(self, open: request.Open, emit: Emitter) -> None:
        config = open.capture.config
        greeting, count, every = (
            config.get("greeting", "Hello"),
            config["count"],
            config.get("every", 10),
        )
        emit.opened()
        state = (open.state or {}).get("bindingStateV1", {})
        for index, binding in enumerate(open.capture.bindings):
            start = state.get(binding.stateKey, {}).get("next", 0)  # resume after the last commit
            for n in range(start, count):
                emit.captured(index, {"id": n, "message": f"{greeting} #{n}"})
                if (n + 1) % every == 0 or n + 1 == count:
                    # A merge patch of the connector state: only this binding's entry changes.
                    emit.checkpoint({"bindingStateV1": {binding.stateKey: {"next": n + 1}}})
        # Returning ends the session; the runtime starts the next one after intervalSeconds.


if __name__ == "__main__":
    HelloCapture().main()
