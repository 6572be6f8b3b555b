"""A minimal Airbyte connector without a CDK, source and destination at once, for tests of
how the shims launch the connector they wrap.

`spec` answers with a secret `token`, the sync modes of `$SCRIPTED_MODES` (comma-separated,
default `append,append_dedup`) and the `documentationUrl` `$SCRIPTED_DOCS_URL` (if set); it
first waits, up to a minute, while the file `$SCRIPTED_SPEC_GATE` (if set) does not exist.
`check` succeeds; `write` echoes every STATE line of its input; `read` writes the records
`{"id": 1}` and `{"id": 2}` and a stream state for each configured stream, waits like `spec`
for `$SCRIPTED_READ_GATE`, then logs its config (a shim masks its secrets)."""

import json
import os
import sys
import time


def wait_for(gate_env: str) -> None:
    gate = os.environ.get(gate_env)
    deadline = time.monotonic() + 60
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)


def say(kind: str, key: str, payload: object) -> None:
    print(json.dumps({"type": kind, key: payload}), flush=True)


def spec() -> None:
    wait_for("SCRIPTED_SPEC_GATE")
    modes = os.environ.get("SCRIPTED_MODES", "append,append_dedup").split(",")
    connection = {
        "type": "object",
        "properties": {"token": {"type": "string", "airbyte_secret": True}},
    }
    answer = {"connectionSpecification": connection, "supported_destination_sync_modes": modes}
    if os.environ.get("SCRIPTED_DOCS_URL"):
        answer["documentationUrl"] = os.environ["SCRIPTED_DOCS_URL"]
    say("SPEC", "spec", answer)


def read(config_path: str, catalog_path: str) -> None:
    with open(catalog_path) as f:
        streams = [configured["stream"]["name"] for configured in json.load(f)["streams"]]
    for stream in streams:
        for i in (1, 2):
            say("RECORD", "record", {"stream": stream, "data": {"id": i}, "emitted_at": 0})
        state = {"stream_descriptor": {"name": stream}, "stream_state": {"last": 2}}
        say("STATE", "state", {"type": "STREAM", "stream": state})
    wait_for("SCRIPTED_READ_GATE")
    with open(config_path) as f:
        say("LOG", "log", {"level": "INFO", "message": f"read with the config {f.read()}"})


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
        say("CONNECTION_STATUS", "connectionStatus", {"status": "SUCCEEDED"})
    elif verb == "read":
        read(sys.argv[sys.argv.index("--config") + 1], sys.argv[sys.argv.index("--catalog") + 1])
    elif verb == "write":
        write()
