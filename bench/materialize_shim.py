"""Airbyte materialize shim overhead: N documents through the shim vs the same records fed
to the destination's own `write` command.

The destination is the airbyte-cdk 7 SQLite destination of the tests
(`python/tests/materialize/sqlite_destination.py`, append_dedup with the collection key).
Each run starts from an empty database and times the whole process from start to exit:

- `direct`: `python sqlite_destination.py write --config --catalog < records.jsonl`
  (RECORD lines with a STATE every `--txn` records, as a source would send them);
- `shim-subprocess`: `flow-sdk airbyte-materialize -- python sqlite_destination.py` fed the
  Flow request stream (open, then per transaction flush, stores, startCommit, acknowledge;
  stores carry `doc`, `keyPacked` and `valuesPacked` as the runtime sends them);
- `shim-inprocess`: `MaterializeShim(delegate=SqliteDestination())` fed the same stream.

The shim's stream starts with the probe Spec the runtime sends every connector process, so
the shim runs the destination's `spec` once per session, as it does in production.

Runs alternate between the variants; medians of `--runs` are reported as one JSON line:
wall-clock seconds, CPU seconds of the whole process tree (the machine is shared, so CPU is
the steadier measure), and the same for a 1-document run, whose times are the fixed
start-up costs (interpreter and CDK imports, the `spec` run). `marginal_ratio` compares
what the documents themselves cost: (T(N) - T(1)) / (T_direct(N) - T_direct(1)).

    python bench/materialize_shim.py [--documents 200000] [--txn 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from flow_sdk.protocol.tuple_pack import pack_b64

ROOT = Path(__file__).resolve().parent.parent
DESTINATION = ROOT / "python" / "tests" / "materialize" / "sqlite_destination.py"
INPROCESS = ROOT / "python" / "tests" / "materialize" / "inprocess_shim.py"
CLI = "import sys; from flow_sdk.airbyte.materialize_cli import main; main(sys.argv[1:])"


def document(i: int) -> dict:
    """A ~300-byte document, as the emitter benchmark uses."""
    return {
        "id": i,
        "name": f"user-{i:08d}",
        "email": f"user{i}@example.com",
        "active": i % 3 == 0,
        "score": i * 0.25,
        "tags": ["alpha", "beta", f"t{i % 17}"],
        "address": {"street": f"{i} Main Street", "city": "Springfield", "zip": f"{i % 99999:05d}"},
        "updated_at": "2024-01-01T00:00:00Z",
        "_meta": {"uuid": "DocUUIDPlaceholder-329Bb50aa48EAa9ef"},
    }


def binding() -> dict:
    return {
        "resourceConfig": {"stream": "users"},
        "resourcePath": ["users"],
        "collection": {"name": "acmeCo/users", "key": ["/id"], "writeSchema": {"type": "object"}},
        "fieldSelection": {"keys": ["id"], "values": ["name"], "document": "flow_document"},
        "deltaUpdates": True,
        "stateKey": "users",
    }


def write_inputs(work: Path, documents: int, txn: int) -> dict[str, Path]:
    work.mkdir(parents=True, exist_ok=True)
    db = work / "out.db"
    config = {"destination_path": str(db)}
    (work / "config.json").write_bytes(orjson.dumps(config))
    catalog = {
        "streams": [
            {
                "stream": {
                    "name": "users",
                    "json_schema": {"type": "object"},
                    "supported_sync_modes": ["incremental"],
                },
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
                "primary_key": [["id"]],
            }
        ]
    }
    (work / "catalog.json").write_bytes(orjson.dumps(catalog))
    with open(work / "records.jsonl", "wb") as direct, open(work / "requests.jsonl", "wb") as flow:
        flow.write(b'{"spec":{"connectorType":"LOCAL","config":{}}}\n')
        flow.write(
            orjson.dumps(
                {
                    "open": {
                        "materialization": {
                            "name": "acmeCo/sink",
                            "config": config,
                            "bindings": [binding()],
                        },
                        "version": "bench",
                        "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
                        "state": {},
                    }
                }
            )
            + b'\n{"acknowledge":{}}\n'
        )
        for start in range(0, documents, txn):
            flow.write(b'{"flush":{}}\n')
            for i in range(start, min(start + txn, documents)):
                doc = document(i)
                direct.write(
                    orjson.dumps(
                        {
                            "type": "RECORD",
                            "record": {"stream": "users", "emitted_at": 1, "data": doc},
                        }
                    )
                    + b"\n"
                )
                store = {
                    "binding": 0,
                    "keyPacked": pack_b64([i]),
                    "valuesPacked": pack_b64([doc["name"]]),
                    "doc": doc,
                }
                flow.write(b'{"store":' + orjson.dumps(store) + b"}\n")
            state = {"type": "STATE", "state": {"type": "LEGACY", "data": {"txn": start}}}
            direct.write(orjson.dumps(state) + b"\n")
            flow.write(b'{"startCommit":{"runtimeCheckpoint":{}}}\n{"acknowledge":{}}\n')
    return {"db": db, "config": work / "config.json", "catalog": work / "catalog.json"}


def timed(argv: list[str], stdin: Path, db: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + sys of the process and its descendants)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "LOG_LEVEL": "warn"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(stdin, "rb") as f:
        start = time.perf_counter()
        proc = subprocess.run(
            argv, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed: {proc.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--documents", type=int, default=200_000)
    ap.add_argument("--txn", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    py = sys.executable
    sizes = {"n": args.documents, "one": 1}
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-materialize-") as tmp:
        for size_name, size in sizes.items():
            work = Path(tmp) / size_name
            paths = write_inputs(work, size, args.txn)
            variants = {
                "direct": (
                    [
                        py,
                        str(DESTINATION),
                        "write",
                        "--config",
                        str(paths["config"]),
                        "--catalog",
                        str(paths["catalog"]),
                    ],
                    work / "records.jsonl",
                ),
                "shim-subprocess": (
                    [py, "-c", CLI, "--", py, str(DESTINATION)],
                    work / "requests.jsonl",
                ),
                "shim-inprocess": ([py, str(INPROCESS)], work / "requests.jsonl"),
            }
            per = results[size_name] = {name: {"wall": [], "cpu": []} for name in variants}
            for _ in range(args.runs):
                for name, (argv, stdin) in variants.items():
                    wall, cpu = timed(argv, stdin, paths["db"])
                    per[name]["wall"].append(wall)
                    per[name]["cpu"].append(cpu)
    med = {
        size: {name: {k: statistics.median(v) for k, v in m.items()} for name, m in per.items()}
        for size, per in results.items()
    }
    n, one = med["n"], med["one"]
    out = {
        "documents": args.documents,
        "transaction": args.txn,
        "runs": args.runs,
        "wall_seconds": {k: round(v["wall"], 2) for k, v in n.items()},
        "cpu_seconds": {k: round(v["cpu"], 2) for k, v in n.items()},
        "startup_wall_seconds": {k: round(v["wall"], 2) for k, v in one.items()},
        "startup_cpu_seconds": {k: round(v["cpu"], 2) for k, v in one.items()},
        "ratio_wall": {k: round(v["wall"] / n["direct"]["wall"], 3) for k, v in n.items()},
        "ratio_cpu": {k: round(v["cpu"] / n["direct"]["cpu"], 3) for k, v in n.items()},
        "marginal_ratio_wall": {
            k: round(
                (v["wall"] - one[k]["wall"]) / (n["direct"]["wall"] - one["direct"]["wall"]), 3
            )
            for k, v in n.items()
        },
        "marginal_ratio_cpu": {
            k: round((v["cpu"] - one[k]["cpu"]) / (n["direct"]["cpu"] - one["direct"]["cpu"]), 3)
            for k, v in n.items()
        },
        "all_wall_seconds": {k: [round(x, 2) for x in v["wall"]] for k, v in results["n"].items()},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(orjson.dumps(out).decode())


if __name__ == "__main__":
    main()
