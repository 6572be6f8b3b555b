"""A task's known sequence of launches (Spec, Validate, Apply, the session) starts each
process while the one before it works, and still sends one request per process: no process
answers twice, none is left running, and one started ahead that the run no longer needs is
killed without a request."""

from __future__ import annotations

import io
import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.launcher import LAUNCH_AHEAD_ENV
from flow_sdk.runtime.run import RunOptions, run

CONNECTORS = Path(__file__).parents[1] / "connectors"
JOURNALED = """
import subprocess, sys, time, json, os, threading
log = sys.argv[1]
def note(*words):
    with open(log, "a") as out:
        out.write(" ".join(str(w) for w in (os.getpid(), time.time(), *words)) + "\\n")
note("start")
child = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE)
def forward():
    for line in sys.stdin.buffer:
        note("request", next(iter(json.loads(line))))
        child.stdin.write(line)
        child.stdin.flush()
    child.stdin.close()
threading.Thread(target=forward, daemon=True).start()
code = child.wait()
time.sleep(float(os.environ.get("LINGER", "0")))
note("end")
os._exit(code)  # a session's connector exits with its stdin still open
"""
"""Runs its command, noting in a log when it started, each request it was sent and when it
ended, `LINGER` seconds after its command (as a connector that is slow to exit)."""


def journaled_catalog(tmp_path: Path, log: Path, count: int) -> Path:
    command = [sys.executable, "-c", JOURNALED, str(log)]
    command += [sys.executable, str(CONNECTORS / "counter_capture.py")]
    catalog = {
        "collections": {
            "acmeCo/alpha": {
                "key": ["/id"],
                "schema": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                    "required": ["id"],
                },
            }
        },
        "captures": {
            "acmeCo/counter": {
                "endpoint": {"local": {"command": command, "config": {"count": count}}},
                "bindings": [{"resource": {"name": "alpha"}, "target": "acmeCo/alpha"}],
            }
        },
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def launches(log: Path) -> list[dict]:
    """Each process in the order it was asked (unasked last): pid, start and end times, and its
    requests as (variant, time)."""
    started: dict[int, float] = {}
    ended: dict[int, float] = {}
    requests: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for line in log.read_text().splitlines():
        pid, at, what, *rest = line.split()
        if what == "start":
            started[int(pid)] = float(at)
        elif what == "end":
            ended[int(pid)] = float(at)
        else:
            requests[int(pid)].append((rest[0], float(at)))

    def order(pid: int) -> tuple[float, float]:  # two may start together: first asked first
        return (requests[pid][0][1] if requests[pid] else float("inf"), started[pid])

    ordered = sorted(started, key=order)
    return [
        {"pid": p, "start": started[p], "end": ended.get(p), "requests": requests[p]}
        for p in ordered
    ]


def test_each_launch_starts_while_the_one_before_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINGER", "2")
    log = tmp_path / "launches.log"
    catalog = journaled_catalog(tmp_path, log, count=20)
    summary = run(
        catalog, RunOptions(data_dir=tmp_path / "data", progress=False), Console(io.StringIO())
    )
    assert sum(summary.captures[0].documents.values()) == 20
    processes = launches(log)
    # one process per request: each sent the probe Spec, then its one request
    asked = [[variant for variant, _ in p["requests"]] for p in processes]
    assert [a[:2] for a in asked] == [
        ["spec", "spec"],
        ["spec", "validate"],
        ["spec", "apply"],
        ["spec", "open"],
    ]
    assert all(a[2:] in ([], ["acknowledge"] * len(a[2:])) for a in asked)
    # started ahead: each next process was running before the one before it had exited
    # (launched one after the other, it would start only after that exit)
    for before, after in zip(processes, processes[1:], strict=False):
        assert after["start"] < before["end"], (before, after)


def test_a_process_started_ahead_and_not_needed_is_killed_unasked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINGER", "1")  # so the one started ahead has noted its start
    log = tmp_path / "launches.log"
    catalog = journaled_catalog(tmp_path, log, count=-1)  # the spec's schema refuses it
    with pytest.raises(RuntimeFailure, match="count"):
        run(catalog, RunOptions(data_dir=tmp_path / "data", progress=False), Console(io.StringIO()))
    processes = launches(log)
    assert len(processes) == 2
    assert [v for v, _ in processes[0]["requests"]] == ["spec", "spec"]
    assert processes[1]["requests"] == []  # started ahead for Validate, which never came
    for process in processes:
        with pytest.raises(ProcessLookupError):
            os.kill(process["pid"], 0)


def test_launch_ahead_off_launches_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINGER", "0.5")
    monkeypatch.setenv(LAUNCH_AHEAD_ENV, "0")
    log = tmp_path / "launches.log"
    catalog = journaled_catalog(tmp_path, log, count=5)
    run(catalog, RunOptions(data_dir=tmp_path / "data", progress=False), Console(io.StringIO()))
    processes = launches(log)
    assert len(processes) == 4
    for before, after in zip(processes, processes[1:], strict=False):
        assert after["start"] > before["end"], (before, after)
