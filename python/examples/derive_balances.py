"""An example Python derivation: account balances from a collection of transfers.

Each transfer `{id, sender, recipient, amount}` moves `amount` from one account to another;
the derivation publishes the new balance of both accounts, `{account, balance}`. Balances
live in memory and commit with each transaction as a merge patch of the accounts it changed,
so a restarted derivation continues where it left off. Preview it with a fixture:

    flow-sdk preview --source python/examples/balances.flow.yaml \\
        --name acmeCo/balances --fixture python/examples/balances.fixture.json --output-state
"""

from __future__ import annotations

from typing import Any

from flow_sdk.derive import Connector, Publisher, ValidateError, request, response
from flow_sdk.protocol.flow import ConnectorState, Spec, SpecRequest


class Balances(Connector):
    def __init__(self) -> None:
        self.balances: dict[str, float] = {}
        self.changed: set[str] = set()

    def spec(self, spec: SpecRequest) -> Spec:
        return Spec(
            configSchema={"type": "object", "properties": {}},
            resourceConfigSchema={"type": "object", "properties": {}},
            documentationUrl="https://github.com/estuary/flow-sdk/tree/main/python/examples",
        )

    def validate(self, validate: request.Validate) -> response.Validated:
        for transform in validate.transforms:
            props = (transform.collection.writeSchema or {}).get("properties") or {}
            missing = [p for p in ("sender", "recipient", "amount") if p not in props]
            if missing:
                raise ValidateError(
                    f"transform {transform.name!r} reads {transform.collection.name!r}, whose "
                    f"documents have no {', '.join(missing)}: it must be a collection of transfers"
                )
        return response.Validated(
            transforms=[response.ValidatedTransform() for _ in validate.transforms]
        )

    def open(self, open: request.Open) -> None:
        self.balances = dict((open.state or {}).get("balances") or {})
        self.changed.clear()

    def read(self, read: request.Read, publish: Publisher) -> None:
        transfer: dict[str, Any] = read.doc
        amount = transfer["amount"]
        for account, delta in ((transfer["sender"], -amount), (transfer["recipient"], amount)):
            balance = self.balances.get(account, 0) + delta
            self.balances[account] = balance
            self.changed.add(account)
            publish.publish({"account": account, "balance": balance})

    def start_commit(self, start_commit: request.StartCommit) -> response.StartedCommit:
        patch = {"balances": {a: self.balances[a] for a in sorted(self.changed)}}
        self.changed.clear()
        return response.StartedCommit(state=ConnectorState(updated=patch, mergePatch=True))


if __name__ == "__main__":
    Balances().main()
