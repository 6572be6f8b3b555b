"""The shared capture record path (`AdapterReadLoop.record_keyed`) in isolation: CPU
nanoseconds per record of an Airbyte `ReadLoop` into an Emitter writing to /dev/null.

    .venv/bin/python bench/record_path.py [--records 500000] [--runs 3]

Prints one JSON line: the median and every run's ns/record. Run it beside another checkout
(its own interpreter) to compare two versions of the hot path side by side.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time

from flow_sdk.airbyte.source.read_loop import ReadLoop
from flow_sdk.airbyte.source.state import ShimState
from flow_sdk.capture.emitter import Emitter
from flow_sdk.io import ProtocolWriter
from flow_sdk.protocol.flow import CaptureBinding

BINDING = {
    "resourceConfig": {"stream": "s", "syncMode": "incremental"},
    "resourcePath": ["s"],
    "stateKey": "s",
    "collection": {
        "name": "acmeCo/s",
        "key": ["/id"],
        "writeSchema": {"type": "object"},
        "projections": [],
        "partitionFields": [],
    },
    "backfill": 0,
}


def one_run(records: int) -> float:
    """CPU ns per record over `records` records of one stream."""
    writer = ProtocolWriter(os.open(os.devnull, os.O_WRONLY))
    emit = Emitter(writer, 1)
    emit.opened()
    binding = CaptureBinding.model_validate(BINDING)
    loop = ReadLoop(emit, ShimState([binding], {}), logging.getLogger("bench"))
    record = loop.record_keyed
    key = (None, "s")
    started = time.process_time()
    for i in range(records):
        record(key, {"id": i, "name": "abc", "v": 1.5})
    return (time.process_time() - started) / records * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [round(one_run(args.records)) for _ in range(args.runs)]
    print(
        json.dumps(
            {
                "bench": "record_path",
                "records": args.records,
                "ns_per_record": statistics.median(runs),
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
