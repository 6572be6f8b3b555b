"""Instructions per document of `flow-sdk run`'s two busy processes, counted by valgrind's
callgrind: a figure that does not move with this VM's speed (its wall-clock figures swing by
±20% within minutes), so a change to the per-document path can be judged on one run.

- `runtime`: the runtime process of `runtime_run.py`'s benchmark run (counter capture into
  destination-kvdb), at `--documents` minus at a tenth of it, per document of the difference
  (capture and materialization phases together, the materializations process forked beside
  the captures included; the connectors are not counted).
- `destination`: destination-kvdb's materialization session behind flow-sdk's shim. The
  requests a real `run` sent it are recorded (its command wrapped in `tee`), cut after
  `--documents` stores and their commit, and replayed into `python -m destination_kvdb` under
  callgrind, minus a replay of the same session's requests before its first store.

    .venv/bin/python bench/instructions.py --documents 10000
    .venv/bin/python bench/instructions.py --only destination --root /tmp/old  # another tree

Needs `valgrind` on PATH (Debian: `apt-get install valgrind`). Each count takes ~50× the
run's time.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchlib import checkout_python_path, emit  # noqa: E402
from runtime_run import catalog  # noqa: E402


def callgrind(argv: list[str], root: Path, stdin: Path | None = None) -> int:
    """Instructions `argv` executed under callgrind, with `root`'s packages first on the path:
    its own and those of the processes it forks (a run's materializations process), not of
    the programs it executes (connectors)."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        env = os.environ | {"PYTHONPATH": checkout_python_path(root)}
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out.%p", *argv]
        with open(stdin or os.devnull, "rb") as source:
            done = subprocess.run(
                command, stdin=source, capture_output=True, text=True, env=env, cwd=tmp
            )
    counts = [
        int(line.rsplit(maxsplit=1)[-1])
        for line in done.stderr.splitlines()
        if "Collected :" in line
    ]
    if not counts:
        raise SystemExit(f"callgrind counted nothing ({done.returncode}): {done.stderr[-2000:]}")
    return sum(counts)


def runtime_per_document(root: Path, documents: int) -> float:
    def count(n: int) -> int:
        with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
            catalog(Path(tmp), n)
            return callgrind(
                [sys.executable, str(root / "bench/runtime_run.py"), "--child", tmp], root
            )

    small = max(1, documents // 10)
    return (count(documents) - count(small)) / (documents - small)


def recorded_session(directory: Path, documents: int) -> Path:
    """The requests of a real `run`'s materialization session (this tree's runtime), with
    `documents` stores and the transactions around them."""
    from flow_sdk.runtime.console import Console
    from flow_sdk.runtime.run import RunOptions, run

    spec_path = catalog(directory, documents)
    spec = yaml.safe_load(spec_path.read_text())
    endpoint = spec["materializations"]["bench/kvdb"]["endpoint"]["local"]
    endpoint["command"] = ["sh", "-c", f'tee "{directory}/requests.$$" | "$0" -m destination_kvdb']
    endpoint["command"].append(sys.executable)
    endpoint["config"]["bucket"]["path"] = str(directory / "bucket.sqlite")
    spec_path.write_text(yaml.safe_dump(spec))
    run(spec_path, RunOptions(data_dir=directory / "data", progress=False), Console(io.StringIO()))
    recorded = max(directory.glob("requests.*"), key=lambda p: p.stat().st_size)
    session = directory / "session.jsonl"
    session.write_bytes(recorded.read_bytes())
    return session


def destination_per_document(root: Path, documents: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-destination-") as tmp:
        directory = Path(tmp)
        session = recorded_session(directory, documents).read_bytes().splitlines(keepends=True)
        first_store = next(i for i, line in enumerate(session) if line.startswith(b'{"store"'))
        prefix = directory / "prefix.jsonl"
        prefix.write_bytes(b"".join(session[:first_store]))
        whole = directory / "whole.jsonl"
        whole.write_bytes(b"".join(session))
        argv = [sys.executable, "-m", "destination_kvdb"]

        def replayed(requests: Path) -> int:
            for old in directory.glob("bucket.sqlite*"):
                old.unlink()  # each replay into an empty bucket, as the recorded run
            return callgrind(argv, root, requests)

        return (replayed(whole) - replayed(prefix)) / documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--only", choices=["runtime", "destination"])
    parser.add_argument("--root", type=Path, default=HERE.parent, help="the tree to count")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("bench/instructions.py needs valgrind on PATH (apt-get install valgrind)")
    result: dict[str, object] = {"bench": "instructions", "documents": args.documents}
    result["root"] = str(args.root)
    if args.only in (None, "runtime"):
        result["runtime_per_document"] = round(runtime_per_document(args.root, args.documents))
        print(f"runtime: {result['runtime_per_document']:,} instructions per document")
    if args.only in (None, "destination"):
        per_document = round(destination_per_document(args.root, args.documents))
        result["destination_per_document"] = per_document
        print(f"destination-kvdb session: {per_document:,} instructions per document")
    emit(result)


if __name__ == "__main__":
    main()
