"""A hand-written Singer tap that writes three records of stream `things` and a STATE, then
three more, then hangs (a request without a timeout): the Singer half of the watchdog test."""

from __future__ import annotations

import json
import sys
import time

STREAM = {
    "tap_stream_id": "things",
    "stream": "things",
    "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    "metadata": [
        {
            "breadcrumb": [],
            "metadata": {"table-key-properties": ["id"], "forced-replication-method": "FULL_TABLE"},
        }
    ],
}


def emit(message: dict) -> None:
    print(json.dumps(message), flush=True)


def main() -> None:
    if "--about" in sys.argv:  # not supported, as with many hand-written taps
        sys.exit("unknown option --about")
    if "--discover" in sys.argv:
        emit({"streams": [STREAM]})
        return
    emit(
        {"type": "SCHEMA", "stream": "things", "schema": STREAM["schema"], "key_properties": ["id"]}
    )
    for i in range(1, 7):
        emit({"type": "RECORD", "stream": "things", "record": {"id": i}})
        if i == 3:
            emit({"type": "STATE", "value": {"bookmarks": {"things": {"id": 3}}}})
    time.sleep(3600)


if __name__ == "__main__":
    main()
