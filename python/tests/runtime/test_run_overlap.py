"""`flow-sdk run` prepares its materializations (Spec, Validate, Apply, and the session's
launch and Open) beside the captures: their connector launches overlap the capture session
instead of following it, and what the materialization stores is still exactly what the
capture committed."""

from __future__ import annotations

import io
import sqlite3
import sys
from pathlib import Path

import yaml

from flow_sdk.runtime.console import Console
from flow_sdk.runtime.run import RunOptions, run

CONNECTORS = Path(__file__).parents[1] / "connectors"
TIMED = """
import subprocess, sys, time
log, tag = sys.argv[1], sys.argv[2]
started = time.time()
code = subprocess.call(sys.argv[3:])
with open(log, "a") as out:
    out.write(f"{tag} {started} {time.time()}\\n")
sys.exit(code)
"""


def timed(log: Path, tag: str, *command: str) -> list[str]:
    """`command`, run by a wrapper that logs when each launch started and ended."""
    return [sys.executable, "-c", TIMED, str(log), tag, *command]


def test_materializations_are_applied_while_the_capture_runs(tmp_path: Path) -> None:
    log = tmp_path / "launches.log"
    capture = timed(log, "capture", sys.executable, str(CONNECTORS / "counter_capture.py"))
    sink = timed(log, "sink", sys.executable, str(CONNECTORS / "sqlite_materialization.py"))
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
                "endpoint": {
                    "local": {"command": capture, "config": {"count": 8, "every": 1, "sleep": 0.75}}
                },
                "bindings": [{"resource": {"name": "alpha"}, "target": "acmeCo/alpha"}],
            }
        },
        "materializations": {
            "acmeCo/sink": {
                "endpoint": {
                    "local": {"command": sink, "config": {"path": str(tmp_path / "sink.db")}}
                },
                "bindings": [{"resource": {"table": "alpha"}, "source": "acmeCo/alpha"}],
            }
        },
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    summary = run(path, RunOptions(data_dir=tmp_path / "data", progress=False), Console(io.StringIO()))

    launches: dict[str, list[tuple[float, float]]] = {"capture": [], "sink": []}
    for line in log.read_text().splitlines():
        tag, started, ended = line.split()
        launches[tag].append((float(started), float(ended)))
    capture_launches = sorted(launches["capture"])
    sink_launches = sorted(launches["sink"])
    assert len(capture_launches) == 4 and len(sink_launches) == 4  # spec, validate, apply, session
    session_started, session_ended = capture_launches[-1]
    assert session_ended - session_started >= 5  # eight checkpoints 0.75 s apart
    prepared_by = sink_launches[2][1]  # the end of its Apply
    assert prepared_by < session_ended, "the materialization was applied only after the capture"
    assert sink_launches[3][0] < session_ended, "its session was launched only after the capture"

    assert sum(summary.materializations[0].documents.values()) == 8
    with sqlite3.connect(tmp_path / "sink.db") as db:
        assert db.execute("select count(*) from alpha").fetchone() == (8,)
