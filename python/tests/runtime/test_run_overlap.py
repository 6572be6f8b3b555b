"""`flow-sdk run` prepares its materializations (Spec, Validate, Apply, and the session's
launch and Open) beside the captures: their connector launches overlap the capture session
instead of following it, and what the materialization stores is still exactly what the
capture committed."""

from __future__ import annotations

import io
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml

from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import RuntimeFailure
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

FAILS_AFTER_CHECKPOINTS = """
import subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
checkpointed = False
for line in child.stdout:
    checkpointed = checkpointed or line.startswith(b'{"checkpoint"')
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()
code = child.wait()
sys.exit(3 if checkpointed else code)
"""
"""Runs the command it is given; exits 3 after a session that checkpointed (Spec, Validate
and Apply pass)."""


def timed(log: Path, tag: str, *command: str) -> list[str]:
    """`command`, run by a wrapper that logs when each launch started and ended."""
    return [sys.executable, "-c", TIMED, str(log), tag, *command]


def counter_catalog(tmp_path: Path, log: Path) -> dict:
    """Eight documents, a commit every 0.75 s, into a SQLite sink; launches logged."""
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
    return catalog


def test_materializations_are_applied_while_the_capture_runs(tmp_path: Path) -> None:
    log = tmp_path / "launches.log"
    catalog = counter_catalog(tmp_path, log)
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


def test_with_follow_the_materialization_stores_each_capture_commit_as_it_lands(
    tmp_path: Path,
) -> None:
    """`run --follow`: the sink stores the capture's commits while the capture runs (one
    transaction per commit it sees, not one for all after the capture), and in the end
    exactly what the capture committed."""
    log = tmp_path / "launches.log"
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(counter_catalog(tmp_path, log)))
    options = RunOptions(data_dir=tmp_path / "data", progress=False, follow=True)
    summary = run(path, options, Console(io.StringIO()))

    materialized = summary.materializations[0]
    assert sum(materialized.documents.values()) == 8
    # Commits land 0.75 s apart and the sink is ready ~2 s in: most get a transaction each.
    assert materialized.transactions >= 3, materialized
    with sqlite3.connect(tmp_path / "sink.db") as db:
        assert db.execute("select count(*) from alpha").fetchone() == (8,)

    again = run(path, options, Console(io.StringIO()))  # nothing new: nothing stored twice
    assert again.materializations[0].transactions == 0
    with sqlite3.connect(tmp_path / "sink.db") as db:
        assert db.execute("select count(*) from alpha").fetchone() == (8,)


def test_with_follow_a_failed_capture_keeps_what_was_stored_and_ends_the_session(
    tmp_path: Path,
) -> None:
    """The capture exits non-zero after its commits: the run fails, says what the sink
    stored while following, and the sink's session has ended (its input closed)."""
    log = tmp_path / "launches.log"
    catalog = counter_catalog(tmp_path, log)
    local = catalog["captures"]["acmeCo/counter"]["endpoint"]["local"]
    local["command"] = [sys.executable, "-c", FAILS_AFTER_CHECKPOINTS, *local["command"]]
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    out = io.StringIO()
    options = RunOptions(data_dir=tmp_path / "data", progress=False, follow=True)
    with pytest.raises(RuntimeFailure):
        run(path, options, Console(out))

    with sqlite3.connect(tmp_path / "sink.db") as db:
        (stored,) = db.execute("select count(*) from alpha").fetchone()
    assert stored >= 3, out.getvalue()  # commits 0.75 s apart, the sink ready ~2 s in
    assert f"run: before the failure: materialized {stored} document(s)" in out.getvalue()
    sink_launches = [line for line in log.read_text().splitlines() if line.startswith("sink ")]
    assert len(sink_launches) == 4, "the sink's session did not end with the run"
