"""destination-kvdb write throughput: records through `DestinationKvdb.write()` in process
into a local bucket (SQLite), batches of 1000 set operations per transaction, a STATE every
10,000 records (each echoed after its commit). Median of `--runs` runs.

    .venv/bin/python bench/destination_kvdb_write.py --records 100000 --runs 3
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from airbyte_cdk.models import AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer

from destination_kvdb import DestinationKvdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import emit  # noqa: E402

CATALOG = {
    "streams": [
        {
            "stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["incremental"]},
            "sync_mode": "incremental",
            "destination_sync_mode": "append_dedup",
            "primary_key": [["id"]],
        }
    ]
}


def messages(records: int) -> list[Any]:
    out = []
    for i in range(records):
        data = {"id": i, "name": f"user {i}", "email": f"u{i}@example.com", "age": i % 90}
        record = {"stream": "users", "data": data, "emitted_at": 1_700_000_000_000}
        out.append(AirbyteMessageSerializer.load({"type": "RECORD", "record": record}))
        if (i + 1) % 10_000 == 0 or i + 1 == records:
            stream = {"stream_descriptor": {"name": "users"}, "stream_state": {"i": i}}
            state = {"type": "STATE", "state": {"type": "STREAM", "stream": stream}}
            out.append(AirbyteMessageSerializer.load(state))
    return out


def one_run(records: int) -> float:
    catalog = ConfiguredAirbyteCatalogSerializer.load(CATALOG)
    batch = messages(records)
    with tempfile.TemporaryDirectory() as directory:
        config = {"bucket": {"bucket_type": "local", "path": str(Path(directory) / "b.sqlite")}}
        started = time.perf_counter()
        echoed = list(DestinationKvdb().write(config, catalog, iter(batch)))
        elapsed = time.perf_counter() - started
    assert len(echoed) == -(-records // 10_000)
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the destination's per-write log lines, on stdout
    rates = [one_run(args.records) for _ in range(args.runs)]
    emit(
        {
            "bench": "destination_kvdb",
            "records": args.records,
            "runs": args.runs,
            "median_per_s": round(statistics.median(rates)),
            "min_per_s": round(min(rates)),
            "max_per_s": round(max(rates)),
        }
    )


if __name__ == "__main__":
    main()
