"""A minimal Airbyte destination without a CDK, for tests of how the shim launches it.

`spec` answers with the sync modes of `$SCRIPTED_MODES` (comma-separated, default
`append,append_dedup`) and first waits, up to a minute, while the file `$SCRIPTED_SPEC_GATE`
(if set) does not exist; `check` succeeds; `write` echoes every STATE line of its input."""

import json
import os
import sys
import time


def spec() -> None:
    gate = os.environ.get("SCRIPTED_SPEC_GATE")
    deadline = time.monotonic() + 60
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    modes = os.environ.get("SCRIPTED_MODES", "append,append_dedup").split(",")
    connection = {
        "type": "object",
        "properties": {"token": {"type": "string", "airbyte_secret": True}},
    }
    answer = {"connectionSpecification": connection, "supported_destination_sync_modes": modes}
    print(json.dumps({"type": "SPEC", "spec": answer}), flush=True)


def write() -> None:
    for line in sys.stdin:
        if '"STATE"' in line:
            sys.stdout.write(line)
            sys.stdout.flush()


if __name__ == "__main__":
    verb = sys.argv[1]
    if verb == "spec":
        spec()
    elif verb == "check":
        print(
            json.dumps({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}})
        )
    elif verb == "write":
        write()
