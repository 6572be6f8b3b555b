"""A derivation that publishes every source document it reads, unchanged: the runtime's
reduction and key order of published documents are then all that shapes the output."""

from __future__ import annotations

from flow_sdk.derive import Connector, Publisher, request, response
from flow_sdk.protocol.flow import Spec, SpecRequest


class Echo(Connector):
    def spec(self, spec: SpecRequest) -> Spec:
        return Spec(
            configSchema={"type": "object"},
            resourceConfigSchema={"type": "object"},
            documentationUrl="https://example.com/echo",
        )

    def validate(self, validate: request.Validate) -> response.Validated:
        return response.Validated(
            transforms=[response.ValidatedTransform() for _ in validate.transforms]
        )

    def read(self, read: request.Read, publish: Publisher) -> None:
        publish.publish({k: v for k, v in read.doc.items() if k != "_meta"})


if __name__ == "__main__":
    Echo().main()
