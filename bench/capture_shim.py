"""Benchmarks of the Airbyte capture shim (issue 4 §7), on the synthetic incremental source
of `capture_source.py` (airbyte-cdk 7; state every `--every` records).

Variants, each a fresh process, run interleaved `--runs` times (medians reported):
  bare        a process that only iterates `source.read()` (capture_bare.py)
  inprocess   CaptureShim(delegate=BenchSource()).main(), flow-sdk 0.2, Open on stdin
  v019        the same file under flow-sdk 0.1.9 + airbyte-cdk 0.52 (bench/.venvs/flow-sdk-019)
  own_read    the connector's own `read` (capture_source.py read ...) to /dev/null
  subprocess  flow-sdk airbyte-capture -- python capture_source.py
  inprocess@100  the in-process shim with the same records over 100 streams
  bare@100       the bare `source.read()` loop over those 100 streams

    .venv/bin/python bench/capture_shim.py --variants bare,inprocess,v019 --runs 5
    .venv/bin/python bench/capture_shim.py --variants inprocess,inprocess@100 --runs 3
    .venv/bin/python bench/capture_shim.py --variants inprocess --records 2000000 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
PY019 = str(HERE / ".venvs" / "flow-sdk-019" / "bin" / "python")
sys.path.insert(0, str(HERE))
from capture_source import configured_catalog  # noqa: E402


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
            },
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": {},
        }
    }
    return json.dumps(req).encode() + b"\n"


def run(argv: list[str], stdin: bytes | None, out_path: str | None) -> tuple[float, int, int]:
    """(seconds, peak RSS in KiB, exit code) of one child; its stdout goes to `out_path`."""
    env = dict(os.environ, PYTHONPATH=str(HERE), LOG_LEVEL="warn")
    out = open(out_path, "wb") if out_path else open(os.devnull, "wb")  # noqa: SIM115
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=HERE,
    )
    if stdin:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.flush()  # kept open: EOF would tell the capture to stop
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if proc.stdin:
        proc.stdin.close()
    out.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss, proc.returncode


def output_shape(path: str) -> tuple[int, int, int]:
    """(documents, checkpoint bytes, total bytes) of a capture's stdout."""
    docs = checkpoint_bytes = total = 0
    with open(path, "rb") as f:
        for line in f:
            total += len(line)
            if line.startswith(b'{"captured"'):
                docs += 1
            elif line.startswith(b'{"checkpoint"'):
                checkpoint_bytes += len(line)
    return docs, checkpoint_bytes, total


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variants", default="bare,inprocess,v019,own_read,subprocess")
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    config = {"records": args.records, "streams": args.streams, "every": args.every}
    tmp = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(configured_catalog(config)))
    request = open_request(config, args.streams)
    # `inprocess@100`: the in-process shim on the same records spread over 100 streams.
    wide = {"records": args.records, "streams": 100, "every": args.every}
    variants = {
        "inprocess@100": ([PY, "capture_shim_main.py"], open_request(wide, 100), True),
        "bare@100": ([PY, "capture_bare.py", json.dumps(wide)], None, False),
        "bare": ([PY, "capture_bare.py", json.dumps(config)], None, False),
        "inprocess": ([PY, "capture_shim_main.py"], request, True),
        "v019": ([PY019, "capture_shim_main.py"], request, True),
        "own_read": (
            [
                PY,
                "capture_source.py",
                "read",
                "--config",
                str(tmp / "config.json"),
                "--catalog",
                str(tmp / "catalog.json"),
            ],
            None,
            False,
        ),
        "subprocess": (
            [PY, "-m", "flow_sdk.airbyte.capture_cli", "--", PY, "capture_source.py"],
            request,
            True,
        ),
    }
    chosen = args.variants.split(",")
    times: dict[str, list[float]] = {v: [] for v in chosen}
    rss: dict[str, list[int]] = {v: [] for v in chosen}
    shapes: dict[str, tuple[int, int, int]] = {}
    for _ in range(args.runs):
        for name in chosen:  # interleaved, so load drift hits every variant alike
            argv, stdin, capture = variants[name]
            out_path = str(tmp / f"{name}.out") if capture else None
            seconds, peak, code = run(argv, stdin, out_path)
            if code != 0:
                raise SystemExit(f"{name} exited with {code}")
            times[name].append(seconds)
            rss[name].append(peak)
            if out_path:
                shapes[name] = output_shape(out_path)
    print(f"records={args.records} streams={args.streams} every={args.every} runs={args.runs}")
    for name in chosen:
        t = statistics.median(times[name])
        line = f"{name:13s} median {t:6.2f}s  {args.records / t:9,.0f} rec/s  peak RSS {statistics.median(rss[name]) / 1024:6.1f} MiB"
        if name in shapes:
            docs, cp, total = shapes[name]
            line += f"  docs={docs} checkpoints={cp / total:.3%} of {total / 1e6:.1f} MB"
        print(line)
    if "inprocess@100" in times and "inprocess" in times:
        print(
            f"100 streams / 2       = {statistics.median(times['inprocess@100']) / statistics.median(times['inprocess']):.2f}x"
        )
    if "bare@100" in times and "bare" in times:
        print(
            f"bare 100 streams / 2  = {statistics.median(times['bare@100']) / statistics.median(times['bare']):.2f}x"
        )
    if "bare" in times and "inprocess" in times:
        print(
            f"inprocess / bare      = {statistics.median(times['inprocess']) / statistics.median(times['bare']):.2f}x"
        )
    if "v019" in times and "inprocess" in times:
        print(
            f"inprocess vs v019     = {statistics.median(times['v019']) / statistics.median(times['inprocess']):.2f}x faster"
        )
    if "own_read" in times and "subprocess" in times:
        print(
            f"subprocess / own_read = {statistics.median(times['subprocess']) / statistics.median(times['own_read']):.2f}x"
        )


if __name__ == "__main__":
    main()
