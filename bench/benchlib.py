"""What every benchmark script shares: timing a child process (wall, CPU, peak RSS, and when
its first and last documents came out), interleaved runs, medians, ratios pair by pair, and
the one-JSON-line result.

Timings on a shared machine drift: every comparison runs its variants interleaved (run i of
A beside run i of B), takes the ratio per pair, and reports the median of those ratios.
"""

from __future__ import annotations

import collections
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

READ_CHUNK = 1 << 20


@dataclass
class Run:
    """One timed run. `first` and `last` are seconds from the start to the chunk of output
    holding the first and the last document (None when nothing was counted)."""

    wall: float
    cpu: float = 0.0
    peak_rss_mib: float = 0.0
    documents: int = 0
    first: float | None = None
    last: float | None = None
    started_at: float = 0.0
    """`time.perf_counter()` when the process was started (CLOCK_MONOTONIC: comparable
    with a child's own `perf_counter()` on Linux)."""
    stdout_tail: bytes = field(default=b"", repr=False)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def steady_rate(self) -> float | None:
        """Documents per second from the first document to the last (start-up excluded)."""
        if self.first is None or self.last is None or self.last <= self.first:
            return None
        return (self.documents - 1) / (self.last - self.first)


def run_process(
    argv: Sequence[str],
    *,
    stdin: bytes | str | None = None,
    marker: bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    save_to: Path | None = None,
) -> Run:
    """Run `argv` to its exit. Its stdout is read here in 1 MiB chunks and dropped (its last
    8 KiB are kept in `Run.stdout_tail`); when `marker` is given, occurrences of it
    count documents and date the first and the last one. `stdin`: bytes written to it and
    kept open until the exit (the runtime keeps a session's stdin open: EOF means stop), or
    a file path to read from. `save_to`: a file that gets the whole stdout. Peak RSS is the child's own (`wait4`); CPU is user + system
    of the child and its descendants. A non-zero exit raises SystemExit with the stderr tail."""
    stdin_file = open(stdin, "rb") if isinstance(stdin, str) else None  # noqa: SIM115
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        stdin=stdin_file or (subprocess.PIPE if stdin is not None else subprocess.DEVNULL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
    )
    assert proc.stdout is not None and proc.stderr is not None
    stderr_tail = collections.deque(maxlen=40)
    reader = threading.Thread(target=stderr_tail.extend, args=(proc.stderr,), daemon=True)
    reader.start()
    if isinstance(stdin, bytes):
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.flush()
    documents, first, last = 0, None, None
    tail = b""
    keep = max(len(marker) - 1, 0) if marker else 0
    out = proc.stdout.fileno()
    saved = open(save_to, "wb") if save_to is not None else None  # noqa: SIM115
    while chunk := os.read(out, READ_CHUNK):
        if saved is not None:
            saved.write(chunk)
        if marker is not None:
            window = tail[-keep:] + chunk if keep else chunk
            if n := window.count(marker):
                now = time.perf_counter() - started
                if first is None:
                    first = now
                last = now
                documents += n
        tail = (tail + chunk)[-8192:]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reader.join(timeout=5)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for f in (proc.stdin, proc.stdout, proc.stderr, stdin_file, saved):
        if f is not None:
            f.close()
    if proc.returncode != 0:
        said = b"".join(stderr_tail).decode(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(argv[:4])} exited with {proc.returncode}: {said}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(
        wall=wall,
        cpu=cpu,
        peak_rss_mib=usage.ru_maxrss / 1024,
        documents=documents,
        first=first,
        last=last,
        started_at=started,
        stdout_tail=tail,
    )


def interleaved(variants: Mapping[str, Callable[[], Run]], runs: int) -> dict[str, list[Run]]:
    """`runs` rounds of every variant in turn, so load drift hits all of them alike."""
    results: dict[str, list[Run]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, one in variants.items():
            results[name].append(one())
    return results


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def paired_ratio(numerators: Sequence[float | None], denominators: Sequence[float | None]) -> float:
    """The median over runs i of numerators[i] / denominators[i]."""
    ratios = [
        a / b
        for a, b in zip(numerators, denominators, strict=True)
        if a is not None and b is not None and b > 0
    ]
    if not ratios:
        raise ValueError("no pair of runs to compare")
    return statistics.median(ratios)


def summary(runs: Sequence[Run], records: int | None = None) -> dict[str, Any]:
    """Medians (and the spread of wall time) of one variant's runs."""
    wall = [r.wall for r in runs]
    out: dict[str, Any] = {
        "runs": len(runs),
        "wall_s": rounded(median(wall)),
        "wall_min_s": rounded(min(wall)),
        "wall_max_s": rounded(max(wall)),
        "cpu_s": rounded(median([r.cpu for r in runs])),
        "peak_rss_mib": rounded(median([r.peak_rss_mib for r in runs]), 1),
    }
    if records:
        out["end_to_end_per_s"] = round(records / statistics.median(wall))
    if any(r.first is not None for r in runs):
        out["documents"] = runs[-1].documents
        out["first_document_s"] = rounded(median([r.first for r in runs]))
        steady = median([r.steady_rate for r in runs])
        out["steady_per_s"] = round(steady) if steady is not None else None
    for key in runs[-1].extra:
        out[key] = rounded(median([r.extra[key] for r in runs]))
    return out


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def machine() -> dict[str, Any]:
    """Where and when: quoted next to every result, since the numbers depend on it."""
    return {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


def checkout_python_path(checkout: Path) -> str:
    """`PYTHONPATH` that puts another checkout's packages (flow-sdk and the workspace's
    connectors) first, for comparing trees in one virtualenv."""
    packages = ("python", "source-bigdata", "destination-kvdb")
    return os.pathsep.join(str(checkout / p) for p in packages)


def emit(result: dict[str, Any]) -> None:
    """The script's result: one JSON line on stdout (what `bench/run.py` collects)."""
    sys.stdout.write(orjson.dumps(result | {"machine": machine()}).decode() + "\n")
    sys.stdout.flush()


def runs_as_dicts(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """The raw runs, for the record (without the output tail)."""
    skip = ("stdout_tail", "started_at")
    return [
        {
            k: rounded(v) if isinstance(v, float) else v
            for k, v in asdict(r).items()
            if k not in skip
        }
        for r in runs
    ]
