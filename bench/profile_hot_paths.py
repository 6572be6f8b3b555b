"""Profiles of the shims' hot paths with py-spy (every thread, child processes included),
summarized as the functions with the most samples (self and inclusive).

py-spy is not a dependency of the workspace; install it into the venv first:

    uv pip install --python .venv/bin/python py-spy
    .venv/bin/python bench/profile_hot_paths.py capture-inprocess [--records 200000]
    .venv/bin/python bench/profile_hot_paths.py capture-subprocess
    .venv/bin/python bench/profile_hot_paths.py materialize-inprocess [--records 200000]
    .venv/bin/python bench/profile_hot_paths.py materialize-subprocess
    .venv/bin/python bench/profile_hot_paths.py runtime-preview --records 100000
    .venv/bin/python bench/profile_hot_paths.py runtime-run --records 100000

Raw collapsed stacks are kept in bench/out/profile-<target>.raw (for flamegraph tools).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from capture_shim import open_request  # noqa: E402
from materialize_shim import CLI, DESTINATION, INPROCESS, write_inputs  # noqa: E402

PY = sys.executable


def target(name: str, records: int, tmp: Path) -> tuple[list[str], Path]:
    """The command to profile and the file its stdin reads."""
    stdin = tmp / "stdin"
    if name.startswith("runtime"):  # the local runtime's own scripts, one run each
        stdin.write_bytes(b"")
        script = "runtime_preview.py" if name == "runtime-preview" else "runtime_run.py"
        return [PY, str(HERE / script), "--documents", str(records), "--runs", "1"], stdin
    if name.startswith("capture"):
        config = {"records": records, "streams": 2, "every": 1000}
        stdin.write_bytes(open_request(config, 2))
        if name == "capture-inprocess":
            return [PY, str(HERE / "capture_shim_main.py")], stdin
        cli = [PY, "-m", "flow_sdk.airbyte.source.capture_cli", "--"]
        return [*cli, PY, str(HERE / "capture_source.py")], stdin
    write_inputs(tmp, records, 10_000)
    stdin = tmp / "requests.jsonl"
    if name == "materialize-inprocess":
        return [PY, str(INPROCESS)], stdin
    return [PY, "-c", CLI, "--", PY, str(DESTINATION)], stdin


def summarize(raw: Path, top: int) -> str:
    """Functions by self samples and by inclusive samples (each counted once per stack)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rstrip(")") for f in stack.split(";")
        ]
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    out = [f"{total} samples", "", "self:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    out += ["", "inclusive:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "target",
        choices=[
            "capture-inprocess",
            "capture-subprocess",
            "materialize-inprocess",
            "materialize-subprocess",
            "runtime-preview",
            "runtime-run",
        ],
    )
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--rate", type=int, default=250, help="samples per second")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(PY).parent))
    if py_spy is None:
        raise SystemExit("py-spy is not installed in this venv (see the docstring)")
    out = HERE / "out" / f"profile-{args.target}.raw"
    out.parent.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(HERE), LOG_LEVEL="warn")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        argv, stdin = target(args.target, args.records, Path(tmp))
        record = [py_spy, "record", "--rate", str(args.rate), "--format", "raw", "--threads"]
        record += ["--subprocesses", "--nonblocking", "--output", str(out), "--", *argv]
        if args.target.startswith("capture"):
            # A capture's stdin stays open (EOF would stop it); the Open fits in the pipe.
            read, write = os.pipe()
            os.write(write, stdin.read_bytes())
            with subprocess.Popen(record, stdin=read, stdout=subprocess.DEVNULL, env=env, cwd=HERE):
                os.close(read)
            os.close(write)
        else:
            with open(stdin, "rb") as f:
                subprocess.run(record, stdin=f, stdout=subprocess.DEVNULL, env=env, cwd=HERE)
    print(summarize(out, args.top))


if __name__ == "__main__":
    main()
