"""`flow-sdk run` end to end: the counter capture (one binding, write-schema validation and
every strictness check on) into a collection journal, then destination-kvdb (its Airbyte
destination behind flow-sdk's materialize shim, as a subprocess) into a local bucket
(SQLite). Documents per second of the whole `run` (catalog checks, every connector launch,
capture, materialization), the seconds of each side, and the runtime's own peak RSS, at
`--documents` and, for the scale figure, at `--scale-documents` (one run).

Each run is a fresh interpreter (`--child`) that calls `flow_sdk.runtime.run.run` and
reports its own `ru_maxrss`: the connectors' memory is theirs, not the runtime's.

    .venv/bin/python bench/runtime_run.py --documents 100000 --runs 3
    .venv/bin/python bench/runtime_run.py --documents 100000 --runs 1 --scale-documents 10000000

`--follow` runs `flow-sdk run --follow` (materializations store each capture commit as it
lands) instead.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchlib import emit, median, paired_ratio  # noqa: E402

COUNTER = HERE.parent / "python/tests/connectors/counter_capture.py"
SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["id", "name"],
}


def catalog(directory: Path, documents: int) -> Path:
    path = directory / "bench.flow.yaml"
    spec = {
        "captures": {
            "bench/counter": {
                "endpoint": {
                    "local": {
                        "command": [sys.executable, str(COUNTER)],
                        "config": {"count": documents, "every": 1000},
                    }
                },
                "bindings": [{"resource": {"name": "alpha"}, "target": "bench/alpha"}],
            }
        },
        "collections": {"bench/alpha": {"schema": SCHEMA, "key": ["/id"]}},
        "materializations": {
            "bench/kvdb": {
                "endpoint": {
                    "local": {
                        "command": [sys.executable, "-m", "destination_kvdb"],
                        "config": {
                            "bucket": {
                                "bucket_type": "local",
                                "path": str(directory / "bucket.sqlite"),
                            }
                        },
                    }
                },
                "bindings": [{"resource": {"stream": "alpha"}, "source": "bench/alpha"}],
            }
        },
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def child(directory: Path, transaction_documents: int | None, follow: bool) -> None:
    """One `run` in this process; prints its figures as one JSON line."""
    from flow_sdk.runtime.console import Console
    from flow_sdk.runtime.run import RunOptions, run

    options = RunOptions(data_dir=directory / "data", progress=False, follow=follow)
    if transaction_documents:
        options.transaction_documents = transaction_documents
    console = Console(io.StringIO())
    started = time.perf_counter()
    summary = run(directory / "bench.flow.yaml", options, console)
    wall = time.perf_counter() - started
    captured = sum(sum(c.documents.values()) for c in summary.captures)
    stored = sum(sum(m.documents.values()) for m in summary.materializations)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "captured": captured,
                "materialized": stored,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def one_run(documents: int, transaction_documents: int | None, follow: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        directory = Path(tmp)
        catalog(directory, documents)
        argv = [sys.executable, __file__, "--child", str(directory)]
        if transaction_documents:
            argv += ["--transaction-documents", str(transaction_documents)]
        if follow:
            argv.append("--follow")
        out, err = directory / "stdout", directory / "stderr"
        with out.open("w") as stdout, err.open("w") as stderr:  # (no pipe to fill meanwhile)
            process = subprocess.Popen(argv, stdout=stdout, stderr=stderr, text=True)
            materializations_kib = _watch_forks(process)
        if process.wait() != 0:
            raise SystemExit(f"the run failed ({process.returncode}): {err.read_text()[-3000:]}")
        result = json.loads(out.read_text().strip().splitlines()[-1])
        result["materializations_rss_mib"] = materializations_kib / 1024
        with sqlite3.connect(directory / "bucket.sqlite") as db:
            (rows,) = db.execute("SELECT count(*) FROM kv").fetchone()
        journal = directory / "data" / "collections" / "bench" / "alpha.jsonl"
        result["journal_mib"] = journal.stat().st_size / (1 << 20)
    assert result["captured"] == result["materialized"] == rows == documents, (result, rows)
    result["per_s"] = documents / result["wall_s"]
    return result


def _watch_forks(process: subprocess.Popen[str]) -> int:
    """Until `process` ends: the peak RSS (KiB, `VmHWM`) of its children that are forks of
    it (the run's materializations process; connectors run other programs), sampled from
    /proc every 50 ms."""
    try:
        command = Path(f"/proc/{process.pid}/cmdline").read_bytes()  # (exec'd: it stays)
    except OSError:
        return 0
    peak = 0
    while process.poll() is None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != process.pid:
                    continue
                if (stat.parent / "cmdline").read_bytes() != command:
                    continue
                for line in (stat.parent / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (OSError, ValueError, IndexError):
                continue
        time.sleep(0.05)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale-documents", type=int, default=0, help="one run at this size")
    parser.add_argument(
        "--transaction-documents", type=int, help="the run's option (default: the runtime's)"
    )
    parser.add_argument("--follow", action="store_true", help="`run --follow`")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.transaction_documents, args.follow)
        return
    runs = []
    for i in range(args.runs):
        runs.append(one_run(args.documents, args.transaction_documents, args.follow))
        r = runs[-1]
        print(
            f"run {i + 1}: {args.documents:,} documents in {r['wall_s']:.2f}s: "
            f"{r['per_s']:,.0f} docs/s, runtime peak RSS {r['peak_rss_mib']:.1f} MiB "
            f"(its materializations process {r['materializations_rss_mib']:.1f} MiB)"
        )
    result = {
        "bench": "runtime_run",
        "follow": args.follow,
        "documents": args.documents,
        "runs": args.runs,
        "per_s": round(median([r["per_s"] for r in runs]) or 0),
        "wall_s": round(median([r["wall_s"] for r in runs]) or 0, 3),
        "peak_rss_mib": round(median([r["peak_rss_mib"] for r in runs]) or 0, 1),
        "materializations_rss_mib": round(
            median([r["materializations_rss_mib"] for r in runs]) or 0, 1
        ),
    }
    if args.scale_documents:
        big = one_run(args.scale_documents, args.transaction_documents, args.follow)
        small = one_run(  # beside it, under the same load
            args.documents, args.transaction_documents, args.follow
        )
        print(
            f"scale: {args.scale_documents:,} documents in {big['wall_s']:.1f}s: "
            f"{big['per_s']:,.0f} docs/s, runtime peak RSS {big['peak_rss_mib']:.1f} MiB "
            f"(journal {big['journal_mib']:.0f} MiB) vs {small['peak_rss_mib']:.1f} MiB; "
            f"its materializations process {big['materializations_rss_mib']:.1f} MiB vs "
            f"{small['materializations_rss_mib']:.1f} MiB"
        )
        result |= {
            "scale_documents": args.scale_documents,
            "scale_per_s": round(big["per_s"]),
            "scale_peak_rss_mib": round(big["peak_rss_mib"], 1),
            "scale_journal_mib": round(big["journal_mib"]),
            "rss_growth_mib": round(big["peak_rss_mib"] - small["peak_rss_mib"], 1),
            "materializations_rss_growth_mib": round(
                big["materializations_rss_mib"] - small["materializations_rss_mib"], 1
            ),
            "scale_rate_ratio": round(paired_ratio([big["per_s"]], [small["per_s"]]), 3),
        }
    print(f"median: {result['per_s']:,} docs/s, runtime peak RSS {result['peak_rss_mib']} MiB")
    emit(result)


if __name__ == "__main__":
    main()
