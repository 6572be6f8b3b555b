"""source-bigdata throughput: how fast records are made, and what reaches stdout through
each face of the connector. Prints one JSON line per measurement (medians of `--runs`).

- `generate`: RecordMaker.records in process, per stream (the source's own cost), per
  second of CPU time, so that other work sharing the cores does not blur it.
- `airbyte-read`: `source-bigdata read` (airbyte-cdk entrypoint) into a pipe drained by
  `cat > /dev/null`; records/s counted over the whole process, startup included.
- `flow-capture`: `python -m source_bigdata` (CaptureShim) answering an Open, same pipe.

    python bench/bigdata_throughput.py [--records 200000] [--runs 3] [--skip-processes]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from source_bigdata.generate import MAKERS, epoch_seconds

BIN = Path(sys.executable).parent
START = epoch_seconds(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))


def generate(stream: str, records: int) -> float:
    maker = MAKERS[stream](42, START, records, "bench")
    began = time.process_time()
    for _ in maker.records(0, records):
        pass
    return records / (time.process_time() - began)


def drained(argv: list[str], stdin: bytes | None, records: int) -> float:
    """Records/s of a process whose stdout goes to `cat > /dev/null`. Its stdin stays open
    until it exits, as the runtime keeps it open for a whole session."""
    sink = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    began = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=sink.stdin, stderr=subprocess.DEVNULL
    )
    assert proc.stdin is not None and sink.stdin is not None
    if stdin:
        proc.stdin.write(stdin)
        proc.stdin.flush()
    code = proc.wait()
    elapsed = time.perf_counter() - began
    proc.stdin.close()
    sink.stdin.close()
    sink.wait()
    if code != 0:
        raise SystemExit(f"{argv[0]} failed with exit code {code}")
    return records / elapsed


def config(records: int) -> dict:
    return {"data_name": "bench", "record_count": records, "seed": 42, "checkpoint_interval": 1000}


def airbyte_read(workdir: Path, stream: str, records: int) -> float:
    (workdir / "config.json").write_text(json.dumps(config(records)))
    catalog = {
        "streams": [
            {
                "stream": {
                    "name": stream,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh"],
                },
                "sync_mode": "full_refresh",
                "destination_sync_mode": "append",
            }
        ]
    }
    (workdir / "catalog.json").write_text(json.dumps(catalog))
    argv = [str(BIN / "source-bigdata"), "read", "--config", str(workdir / "config.json")]
    return drained([*argv, "--catalog", str(workdir / "catalog.json")], None, records)


def flow_capture(stream: str, records: int) -> float:
    collection = {"name": f"acmeCo/{stream}", "key": ["/_meta/row_id"], "writeSchema": {}}
    binding = {
        "resourceConfig": {"stream": stream, "syncMode": "full_refresh"},
        "resourcePath": [stream],
        "collection": collection,
        "stateKey": stream,
    }
    capture = {"name": "acmeCo/bench", "connectorType": "LOCAL", "config": config(records)}
    open_ = {
        "open": {
            "capture": capture | {"bindings": [binding]},
            "version": "bench",
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": {},
        }
    }
    stdin = json.dumps(open_).encode() + b"\n"
    return drained([sys.executable, "-m", "source_bigdata"], stdin, records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-processes", action="store_true")
    args = parser.parse_args()

    def report(what: str, stream: str, rates: list[float]) -> None:
        line = {
            "bench": what,
            "stream": stream,
            "records": args.records,
            "median_per_s": round(statistics.median(rates)),
            "min_per_s": round(min(rates)),
            "max_per_s": round(max(rates)),
        }
        print(json.dumps(line), flush=True)

    for stream in MAKERS:
        report("generate", stream, [generate(stream, args.records) for _ in range(args.runs)])
    if args.skip_processes:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for stream in ("bigdata", "events"):
            rates = [airbyte_read(Path(tmp), stream, args.records) for _ in range(args.runs)]
            report("airbyte-read", stream, rates)
            report(
                "flow-capture",
                stream,
                [flow_capture(stream, args.records) for _ in range(args.runs)],
            )


if __name__ == "__main__":
    main()
