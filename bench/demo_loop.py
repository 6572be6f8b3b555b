"""The workspace's own dev loop, timed: `flow-sdk preview` of source-bigdata (`--sessions 1`)
and `flow-sdk run` of `test.flow.yaml` (source-bigdata into destination-kvdb's local bucket),
each a fresh `flow-sdk` process in a fresh copy of the catalog, wall seconds (median of
`--runs`). Both are mostly connector launches (Spec, Validate, Apply and the session of each
task, each an airbyte-cdk process), which is what this measures.

`--against DIR` runs the same commands with another checkout's packages first on
`PYTHONPATH` (same virtualenv), interleaved run by run, and reports each ratio pair by pair:

    .venv/bin/python bench/demo_loop.py --runs 3
    git worktree add /tmp/old <commit> && .venv/bin/python bench/demo_loop.py --against /tmp/old
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from benchlib import checkout_python_path, emit, median, paired_ratio  # noqa: E402

COMMANDS = {
    "preview": ["preview", "--name", "acmeCo/source-bigdata", "--sessions", "1"],
    "run": ["run"],
}


def timed(command: list[str], checkout: Path | None) -> float:
    """Wall seconds of one `flow-sdk` command in a fresh directory holding the catalog."""
    env = dict(os.environ, LOG_LEVEL="warn")
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    if checkout is not None:
        env["PYTHONPATH"] = checkout_python_path(checkout)
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        shutil.copy(ROOT / "test.flow.yaml", tmp)
        argv = [sys.executable, "-m", "flow_sdk.cli", *command, "--source", "test.flow.yaml"]
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout, compared run by run")
    args = parser.parse_args()
    result: dict[str, object] = {"bench": "demo_loop", "runs": args.runs}
    for name, command in COMMANDS.items():
        ours, theirs = [], []
        for i in range(args.runs):
            ours.append(timed(command, None))
            line = f"{name} run {i + 1}: {ours[-1]:.2f}s"
            if args.against:
                theirs.append(timed(command, args.against))
                line += f" (against: {theirs[-1]:.2f}s)"
            print(line)
        result[f"{name}_s"] = round(median(ours) or 0, 2)
        if theirs:
            result[f"{name}_against_s"] = round(median(theirs) or 0, 2)
            result[f"{name}_ratio"] = round(paired_ratio(ours, theirs), 3)
    emit(result)


if __name__ == "__main__":
    main()
