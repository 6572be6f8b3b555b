"""Benchmarks of the Airbyte capture shim (issue 4 §7) on the synthetic incremental source
of `capture_source.py` (airbyte-cdk 7; a STATE every `--every` records).

Variants, each a fresh process (imports and start-up included), run interleaved:
  bare           a process that only iterates `source.read()` (capture_bare.py)
  inprocess      CaptureShim(delegate=BenchSource()).main(), this workspace, Open on stdin
  launch         the connector's own CLI: airbyte-cdk `launch()` → `read` (capture_source.py)
  subprocess     flow-sdk airbyte-capture -- python capture_source.py
  v019           capture_shim_main.py under flow-sdk 0.1.9 + airbyte-cdk 0.52
                 (bench/.venvs/flow-sdk-019; skipped when that venv is missing)
  estuary        capture_estuary_main.py: estuary-cdk's Airbyte shim (estuary-cdk from PyPI,
                 airbyte-cdk 4.6.2; bench/.venvs/estuary-cdk; skipped when missing)
  bare@100, inprocess@100   the same records spread over 100 streams

`--suite memory` instead runs the in-process shim at `--records` and `--memory-records`
(peak RSS of each). Prints one JSON line: per-variant medians and the ratios, each the
median over runs of run i of A / run i of B.

    .venv/bin/python bench/capture_shim.py --records 200000 --runs 5
    .venv/bin/python bench/capture_shim.py --suite memory --records 200000 --memory-records 2000000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchlib import Run, emit, interleaved, paired_ratio, run_process, summary  # noqa: E402
from capture_source import configured_catalog  # noqa: E402

PY = sys.executable
PY019 = HERE / ".venvs" / "flow-sdk-019" / "bin" / "python"
PYESTUARY = HERE / ".venvs" / "estuary-cdk" / "bin" / "python"
CAPTURED = b'{"captured":'
RECORD = b'"type":"RECORD"'
ALL_VARIANTS = "bare,inprocess,launch,subprocess,v019,estuary,bare@100,inprocess@100"


def open_request(config: dict, streams: int) -> bytes:
    bindings = [
        {
            "resourceConfig": {
                "stream": f"items{i}",
                "syncMode": "incremental",
                "cursorField": ["seq"],
            },
            "resourcePath": [f"items{i}"],
            "collection": {
                "name": f"bench/items{i}",
                "writeSchema": {"type": "object"},
                "key": ["/id"],
            },
            "stateKey": f"items{i}",
        }
        for i in range(streams)
    ]
    req = {
        "open": {
            "capture": {
                "name": "bench/cap",
                "connectorType": "LOCAL",
                "config": config,
                "bindings": bindings,
                "intervalSeconds": 1,
            },
            "version": "bench",
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": {},
        }
    }
    return json.dumps(req).encode() + b"\n"


def checkpoint_share(output: Path) -> float:
    """Checkpoint lines' share of a capture's output bytes."""
    checkpoint = total = 0
    with open(output, "rb") as f:
        for line in f:
            total += len(line)
            if line.startswith(b'{"checkpoint"'):
                checkpoint += len(line)
    return checkpoint / total


class Capture:
    """The variants, over one temporary directory of config and catalog files."""

    def __init__(self, records: int, streams: int, every: int, tmp: Path) -> None:
        self.records = records
        self.env = dict(os.environ, PYTHONPATH=str(HERE), LOG_LEVEL="warn")
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        narrow = {"records": records, "streams": streams, "every": every}
        wide = {"records": records, "streams": 100, "every": every}
        self.config = narrow
        (tmp / "config.json").write_text(json.dumps(narrow))
        (tmp / "catalog.json").write_text(json.dumps(configured_catalog(narrow)))
        self.request = open_request(narrow, streams)
        self.wide = wide
        self.wide_request = open_request(wide, 100)

    def shim(
        self,
        python: str | Path,
        request: bytes,
        name: str | None = None,
        script: str = "capture_shim_main.py",
    ) -> Run:
        """The shim in process; with a `name`, its output is kept in `<name>.out`."""
        argv = [str(python), script]
        out = self.tmp / f"{name}.out" if name else None
        return run_process(
            argv, stdin=request, marker=CAPTURED, env=self.env, cwd=str(HERE), save_to=out
        )

    def bare(self, config: dict) -> Run:
        run = run_process([PY, "capture_bare.py", json.dumps(config)], env=self.env, cwd=str(HERE))
        said = json.loads(run.stdout_tail.splitlines()[-1])["bare"]
        run.documents = said["records"]
        if said["first"] is not None:
            run.first = said["first"] - run.started_at
            run.last = said["last"] - run.started_at
        return run

    def launch(self) -> Run:
        argv = [PY, "capture_source.py", "read", "--config", str(self.tmp / "config.json")]
        argv += ["--catalog", str(self.tmp / "catalog.json")]
        return run_process(argv, marker=RECORD, env=self.env, cwd=str(HERE))

    def subprocess(self) -> Run:
        argv = [PY, "-m", "flow_sdk.airbyte.source.capture_cli", "--", PY, "capture_source.py"]
        return run_process(argv, stdin=self.request, marker=CAPTURED, env=self.env, cwd=str(HERE))

    def variants(self) -> dict:
        return {
            "bare": lambda: self.bare(self.config),
            "inprocess": lambda: self.shim(PY, self.request, "inprocess"),
            "launch": self.launch,
            "subprocess": self.subprocess,
            "v019": lambda: self.shim(PY019, self.request, "v019"),
            "estuary": lambda: self.shim(
                PYESTUARY, self.request, "estuary", script="capture_estuary_main.py"
            ),
            "bare@100": lambda: self.bare(self.wide),
            "inprocess@100": lambda: self.shim(PY, self.wide_request, "inprocess@100"),
        }

    def checkpoint_shares(self, chosen: list[str]) -> dict[str, float]:
        """Checkpoints' share of the output bytes, from each shim variant's last run."""
        return {
            name: round(checkpoint_share(self.tmp / f"{name}.out"), 6)
            for name in ("inprocess", "v019", "estuary", "inprocess@100")
            if name in chosen
        }


def ratios(results: dict[str, list[Run]]) -> dict[str, float]:
    """Each: the median over runs i of A_i / B_i (wall seconds unless said otherwise)."""

    def wall(name: str) -> list[float]:
        return [r.wall for r in results[name]]

    def steady(name: str) -> list[float | None]:
        return [r.steady_rate for r in results[name]]

    pairs = {
        # name: (numerator, denominator) of wall times: < 1 is faster
        "inprocess_over_bare": ("inprocess", "bare"),
        "inprocess_over_launch": ("inprocess", "launch"),
        "subprocess_over_launch": ("subprocess", "launch"),
        "inprocess100_over_inprocess": ("inprocess@100", "inprocess"),
        "bare100_over_bare": ("bare@100", "bare"),
        # documents per second end to end: ours / 0.1.9 is their wall / ours
        "v019_speedup_end_to_end": ("v019", "inprocess"),
        "estuary_speedup_end_to_end": ("estuary", "inprocess"),
    }
    out = {}
    for key, (a, b) in pairs.items():
        if a in results and b in results:
            out[key] = round(paired_ratio(wall(a), wall(b)), 3)
    for key, (a, b) in {
        "v019_speedup_steady": ("inprocess", "v019"),
        "estuary_speedup_steady": ("inprocess", "estuary"),
        "inprocess_steady_over_bare_steady": ("inprocess", "bare"),
    }.items():
        if a in results and b in results:
            out[key] = round(paired_ratio(steady(a), steady(b)), 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", choices=["compare", "memory"], default="compare")
    p.add_argument("--variants", default=ALL_VARIANTS)
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--memory-records", type=int, default=2_000_000)
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="capture-bench-") as tmp:
        if args.suite == "memory":
            emit(memory(args, Path(tmp)))
            return
        capture = Capture(args.records, args.streams, args.every, Path(tmp))
        chosen = [v for v in args.variants.split(",") if v]
        skipped = []
        for name, python in (("v019", PY019), ("estuary", PYESTUARY)):
            if name in chosen and not python.exists():
                chosen.remove(name)
                skipped.append(name)
        every = capture.variants()
        results = interleaved({name: every[name] for name in chosen}, args.runs)
        emit(
            {
                "bench": "capture",
                "records": args.records,
                "streams": args.streams,
                "every": args.every,
                "variants": {name: summary(runs, args.records) for name, runs in results.items()},
                "ratios": ratios(results),
                "checkpoint_share": capture.checkpoint_shares(chosen),
                "skipped": skipped,
            }
        )


def memory(args: argparse.Namespace, tmp: Path) -> dict:
    """Peak RSS of the in-process shim at two record counts, interleaved."""
    small = Capture(args.records, args.streams, args.every, tmp / "small")
    large = Capture(args.memory_records, args.streams, args.every, tmp / "large")
    results = interleaved(
        {
            "small": lambda: small.shim(PY, small.request),
            "large": lambda: large.shim(PY, large.request),
        },
        args.runs,
    )
    growth = [b.peak_rss_mib - a.peak_rss_mib for a, b in zip(*results.values(), strict=True)]
    return {
        "bench": "capture_memory",
        "records": {"small": args.records, "large": args.memory_records},
        "variants": {
            "small": summary(results["small"], args.records),
            "large": summary(results["large"], args.memory_records),
        },
        "rss_growth_mib": round(statistics.median(growth), 1),
    }


if __name__ == "__main__":
    main()
