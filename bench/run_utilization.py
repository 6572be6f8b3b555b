"""Where a `flow-sdk run` spends its cores: the benchmark catalog of `runtime_run.py` (the
counter capture into destination-kvdb) run once, while its processes' CPU time is read from
`/proc` every `--interval` seconds (Linux). Each process is counted under its role: the
runtime itself (with `--follow`, its materializations process too), the capture's connector, the materialization's connector (processes its
fork servers forked included).

The phases are split at the end of the capture's session (its longest-lived process): each
role's share of one core in the capture phase and in the materialization phase says which
process a phase waits on. `--trace` prints each interval's shares on stderr as it goes.

    .venv/bin/python bench/run_utilization.py --documents 1000000
    .venv/bin/python bench/run_utilization.py --documents 1000000 --follow --trace
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchlib import emit  # noqa: E402
from runtime_run import catalog  # noqa: E402

from flow_sdk.fork_server import OWNER_ENV  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Process:
    role: str
    parent: int = 0
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(time, CPU seconds of user + system) at each reading; never empty once seen."""

    @property
    def first_seen(self) -> float:
        return self.samples[0][0]

    @property
    def last_seen(self) -> float:
        return self.samples[-1][0]

    @property
    def cpu(self) -> float:
        """CPU seconds at the last reading."""
        return self.samples[-1][1]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found += [int(child) for child in listing.read().split()]
    except OSError:
        pass
    return found


def _forked_for(root: int) -> list[int]:
    """Processes of `root`'s fork servers (`flow_sdk.fork_server`): not its descendants, but
    started with its pid as their owner."""
    needle = f"{OWNER_ENV}={root}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found


def _followers(root: int) -> list[int]:
    """`run --follow`'s materializations process: its fork servers are its own."""
    return [pid for pid in _children(root) if _role(pid, root) == "runtime"]


def _stat(pid: int) -> list[str] | None:
    """`/proc/<pid>/stat`'s fields after the command name (state first), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _cpu_seconds(pid: int) -> float | None:
    fields = _stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / TICKS


def _parent(pid: int) -> int:
    fields = _stat(pid)
    return 0 if fields is None else int(fields[1])


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "runtime"
    command = _command(pid)
    if b"counter_capture" in command:
        return "capture"
    if b"destination_kvdb" in command:
        return "materialization"
    if b"flow_sdk.runtime.following" in command or command == _command(root):
        return "runtime"  # `--follow`'s materializations process (executed, or forked)
    return "other"


def _command(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def role_totals(seen: dict[int, Process]) -> dict[str, float]:
    """CPU seconds by role at the last readings."""
    totals: dict[str, float] = {}
    for process in seen.values():
        totals[process.role] = totals.get(process.role, 0.0) + process.cpu
    return totals


def watch(root: subprocess.Popen[bytes], interval: float, trace: bool) -> dict[int, Process]:
    """Read every descendant's CPU time until `root` exits."""
    seen: dict[int, Process] = {}
    started = time.monotonic()
    last_trace: dict[str, float] = {}
    while root.poll() is None:
        now = time.monotonic() - started
        owners = [root.pid, *_followers(root.pid)]
        forked = [pid for owner in owners for pid in _forked_for(owner)]
        pids, pending = [root.pid, *forked], [root.pid, *forked]
        while pending:
            kids = _children(pending.pop())
            pids += kids
            pending += kids
        for pid in pids:
            cpu = _cpu_seconds(pid)
            if cpu is None:
                continue
            if pid not in seen:  # its role read once, from its command line
                seen[pid] = Process(_role(pid, root.pid), _parent(pid))
            seen[pid].samples.append((now, cpu))
        if trace:
            totals = role_totals(seen)
            shares = {r: (c - last_trace.get(r, 0.0)) / interval for r, c in totals.items()}
            last_trace = totals
            line = " ".join(f"{r}={s:4.0%}" for r, s in sorted(shares.items()))
            print(f"{now:6.1f}s {line}", file=sys.stderr)
        time.sleep(interval)
    return seen


def _cpu_between(process: Process, start: float, end: float) -> float:
    """CPU seconds `process` used between `start` and `end` (from its readings)."""

    def at(moment: float) -> float:
        before = [cpu for when, cpu in process.samples if when <= moment]
        return before[-1] if before else 0.0

    return at(end) - at(start)


def phase_shares(seen: dict[int, Process], start: float, end: float) -> dict[str, float]:
    """Each role's share of one core between `start` and `end`."""
    if end <= start:
        return {}
    used: dict[str, float] = {}
    for process in seen.values():
        used[process.role] = used.get(process.role, 0.0) + _cpu_between(process, start, end)
    return {role: round(cpu / (end - start), 3) for role, cpu in sorted(used.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--follow", action="store_true")
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-utilization-") as tmp:
        directory = Path(tmp)
        catalog(directory, args.documents)
        argv = [sys.executable, str(HERE / "runtime_run.py"), "--child", str(directory)]
        if args.follow:
            argv.append("--follow")
        started = time.monotonic()
        root = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        seen = watch(root, args.interval, args.trace)
        wall = time.monotonic() - started
        if root.returncode != 0:
            raise SystemExit(f"the run failed ({root.returncode})")
    totals = {role: round(cpu, 2) for role, cpu in role_totals(seen).items()}
    result = {
        "bench": "run_utilization",
        "documents": args.documents,
        "follow": args.follow,
        "wall_s": round(wall, 2),
        "docs_per_s": round(args.documents / wall),
        "cpu_s": totals,
    }
    # A fork server (the parent of processes forked for later launches) lives on after the
    # session: the session is the longest-lived capture process that forked none.
    servers = {p.parent for p in seen.values()}
    sessions = [p for pid, p in seen.items() if p.role == "capture" and pid not in servers]
    if sessions:  # (a run shorter than a few intervals may show none)
        session = max(sessions, key=lambda p: p.last_seen - p.first_seen)
        result |= {
            "capture_session_s": [round(session.first_seen, 2), round(session.last_seen, 2)],
            "capture_phase_core_shares": phase_shares(seen, session.first_seen, session.last_seen),
            "materialization_phase_core_shares": phase_shares(seen, session.last_seen, wall),
        }
    emit(result)


if __name__ == "__main__":
    main()
