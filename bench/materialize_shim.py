"""Airbyte materialize shim overhead: N documents through the shim vs the same records fed
to the destination's own `write` command.

The destination is the airbyte-cdk 7 SQLite destination of the tests
(`python/tests/connectors/sqlite_destination.py`, append_dedup with the collection key).
Each run starts from an empty database and times the whole process from start to exit:

- `direct`: `python sqlite_destination.py write --config --catalog < records.jsonl`
  (RECORD lines with a STATE every `--txn` records, as a source would send them);
- `shim-subprocess`: `flow-sdk airbyte-materialize -- python sqlite_destination.py` fed the
  Flow request stream (open, then per transaction flush, stores, startCommit, acknowledge;
  stores carry `doc`, `keyPacked` and `valuesPacked` as the runtime sends them);
- `shim-inprocess`: `MaterializeShim(delegate=SqliteDestination())` fed the same stream;
- `shim-subprocess-nocache`: `shim-subprocess` with `FLOW_SDK_SPEC_CACHE=off`.

The shim's stream starts with the probe Spec the runtime sends every connector process. A
subprocess shim answers it with the destination's spec: kept by an earlier process
(`flow_sdk.spec_cache`; primed once before the timed runs, in a directory of this run), so
the session launches the destination once, for `write`, and checks the kept spec with a
`spec` run beside it; with the cache off, it runs `spec` first and then `write`, in series.

Runs alternate between the variants (and a 1-document run of each, whose times are the fixed
start-up costs: interpreter and CDK imports, the `spec` run); one JSON line reports medians
of wall-clock seconds and CPU seconds of the whole process tree (the machine is shared, so
CPU is the steadier measure), and ratios to `direct`, each the median over runs i of
shim_i / direct_i. `marginal` ratios compare what the documents themselves cost:
(T_i(N) - T_i(1)) / (T_direct,i(N) - T_direct,i(1)).

    python bench/materialize_shim.py [--documents 200000] [--txn 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import orjson

from flow_sdk.protocol.tuple_pack import pack_b64

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Run, emit, interleaved, paired_ratio, run_process, summary  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DESTINATION = ROOT / "python" / "tests" / "connectors" / "sqlite_destination.py"
INPROCESS = ROOT / "python" / "tests" / "connectors" / "inprocess_shim.py"
CLI = "import sys; from flow_sdk.airbyte.destination.materialize_cli import main; main(sys.argv[1:])"


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


def fresh(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--documents", type=int, default=200_000)
    ap.add_argument("--txn", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-materialize-") as tmp:
        env = {**os.environ, "LOG_LEVEL": "warn", "FLOW_SDK_SPEC_CACHE": f"{tmp}/specs"}
        nocache = {**env, "FLOW_SDK_SPEC_CACHE": "off"}
        variants = {}
        for size_name, size in (("n", args.documents), ("one", 1)):
            work = Path(tmp) / size_name
            paths = write_inputs(work, size, args.txn)
            config, catalog = str(paths["config"]), str(paths["catalog"])
            argvs = {
                "direct": (
                    [py, str(DESTINATION), "write", "--config", config, "--catalog", catalog],
                    work / "records.jsonl",
                ),
                "shim-inprocess": ([py, str(INPROCESS)], work / "requests.jsonl"),
                "shim-subprocess": (
                    [py, "-c", CLI, "--", py, str(DESTINATION)],
                    work / "requests.jsonl",
                ),
                "shim-subprocess-nocache": (
                    [py, "-c", CLI, "--", py, str(DESTINATION)],
                    work / "requests.jsonl",
                ),
            }
            for name, (argv, stdin) in argvs.items():
                chosen = nocache if name.endswith("nocache") else env

                def one(
                    argv: list[str] = argv,
                    stdin: Path = stdin,
                    db: Path = paths["db"],
                    env: dict[str, str] = chosen,
                ) -> Run:
                    fresh(db)
                    return run_process(argv, stdin=str(stdin), env=env)

                variants[f"{name}@{size_name}"] = one
        variants["shim-subprocess@one"]()  # keeps the destination's spec (untimed)
        results = interleaved(variants, args.runs)

    def ratio(name: str, what: str) -> float:
        return round(
            paired_ratio(
                [getattr(r, what) for r in results[f"{name}@n"]],
                [getattr(r, what) for r in results["direct@n"]],
            ),
            3,
        )

    def marginal(name: str, what: str) -> float | None:
        """None when the runs are too small for the documents to cost measurable time."""
        ours = [
            getattr(a, what) - getattr(b, what)
            for a, b in zip(results[f"{name}@n"], results[f"{name}@one"], strict=True)
        ]
        direct = [
            getattr(a, what) - getattr(b, what)
            for a, b in zip(results["direct@n"], results["direct@one"], strict=True)
        ]
        try:
            return round(paired_ratio(ours, direct), 3)
        except ValueError:
            return None

    names = ("direct", "shim-inprocess", "shim-subprocess", "shim-subprocess-nocache")
    emit(
        {
            "bench": "materialize",
            "documents": args.documents,
            "transaction": args.txn,
            "variants": {name: summary(results[f"{name}@n"], args.documents) for name in names},
            "startup": {name: summary(results[f"{name}@one"]) for name in names},
            "ratios": {
                f"{name}_over_direct_{what}": ratio(name, what)
                for name in names[1:]
                for what in ("wall", "cpu")
            }
            | {
                f"{name}_over_direct_marginal_{what}": marginal(name, what)
                for name in names[1:]
                for what in ("wall", "cpu")
            },
        }
    )


if __name__ == "__main__":
    main()
