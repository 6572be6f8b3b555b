"""A raw materialization (no flow-sdk base class) that breaks §3.3 in the way its
`SCRIPTED_MISTAKE` environment variable names, so the local runtime's checks can be tested:
`double-ack`, `store-chatter`, `unknown-key`, `null-field`, `flushed-early`, `no-spec-protocol`.
With no mistake it answers correctly."""

from __future__ import annotations

import json
import os
import sys

MISTAKE = os.environ.get("SCRIPTED_MISTAKE", "")
SPEC = {
    "protocol": 3032023,
    "configSchema": {"type": "object"},
    "resourceConfigSchema": {
        "type": "object",
        "properties": {"table": {"type": "string", "x-collection-name": True}},
    },
    "documentationUrl": "https://example.com/scripted",
}


def say(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        if "spec" in request:
            spec = dict(SPEC)
            if MISTAKE == "no-spec-protocol":
                del spec["protocol"]
            say({"spec": spec})
        elif "validate" in request:
            bindings = []
            for b in request["validate"]["bindings"]:
                constraints = {
                    p["field"]: {"type": "FIELD_OPTIONAL"} for p in b["collection"]["projections"]
                }
                bindings.append(
                    {
                        "constraints": constraints,
                        "resourcePath": [b["resourceConfig"]["table"]],
                        "deltaUpdates": True,
                    }
                )
            say({"validated": {"bindings": bindings}})
        elif "apply" in request:
            say({"applied": {"actionDescription": "nothing to do"}})
        elif "open" in request:
            say({"opened": {"surprise": 1}} if MISTAKE == "unknown-key" else {"opened": {}})
        elif "acknowledge" in request:
            say({"acknowledged": {}})
            if MISTAKE == "double-ack":
                say({"acknowledged": {}})
            if MISTAKE == "flushed-early":
                say({"flushed": {}})
        elif "flush" in request:
            say({"flushed": None} if MISTAKE == "null-field" else {"flushed": {}})
        elif "store" in request:
            store = request["store"]
            assert store["key"] and store["keyPacked"], "requests carry both key forms"
            if MISTAKE == "store-chatter":
                say({"acknowledged": {}})
        elif "startCommit" in request:
            say(
                {"startedCommit": {"state": {"updated": {"commits": {"n": 1}}, "mergePatch": True}}}
            )


if __name__ == "__main__":
    main()
