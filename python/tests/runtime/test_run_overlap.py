"""`flow-sdk run` prepares its materializations (Spec, Validate, Apply, and the session's
launch and Open) beside the captures: their connector launches overlap the capture session
instead of following it, and what the materialization stores is still exactly what the
capture committed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from flow_sdk.runtime import following
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import ProtocolViolation, RuntimeFailure
from flow_sdk.runtime.following import _failure
from flow_sdk.runtime.run import RunOptions, run

CONNECTORS = Path(__file__).parents[1] / "connectors"
BIN = Path(sys.executable).parent
DOCUMENTS = 10
"""The counter's documents, a checkpoint a second apart. Its last document waits for the
sink's Apply to end (`APPLIED`, at most two minutes), so the capture runs past it however
loaded the machine is when the materialization is prepared beside the capture, and ends
before it when it is not (a fixed window of 10 s, then 15 s, was missed now and then with two
busy test workers)."""
APPLIED = "applied"
"""The file, beside the launch log, that the sink's third launch (its Apply) leaves."""
TIMED = """
import pathlib, subprocess, sys, time
log, tag = pathlib.Path(sys.argv[1]), sys.argv[2]
started = time.time()
code = subprocess.call(sys.argv[3:])
with open(log, "a") as out:
    out.write(f"{tag} {started} {time.time()}\\n")
if tag == "sink" and log.read_text().count("sink ") == 3:
    (log.parent / "APPLIED").touch()
sys.exit(code)
""".replace("APPLIED", APPLIED)

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
    """`DOCUMENTS` documents, a commit every second, into a SQLite sink; launches logged."""
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
                    "local": {
                        "command": capture,
                        "config": {
                            "count": DOCUMENTS,
                            "every": 1,
                            "sleep": 1.0,
                            "holdFile": str(log.parent / APPLIED),
                        },
                    }
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
    summary = run(
        path, RunOptions(data_dir=tmp_path / "data", progress=False), Console(io.StringIO())
    )

    launches: dict[str, list[tuple[float, float]]] = {"capture": [], "sink": []}
    for line in log.read_text().splitlines():
        tag, started, ended = line.split()
        launches[tag].append((float(started), float(ended)))
    capture_launches = sorted(launches["capture"])
    sink_launches = sorted(launches["sink"])
    assert len(capture_launches) == 4 and len(sink_launches) == 4  # spec, validate, apply, session
    session_started, session_ended = capture_launches[-1]
    assert session_ended - session_started >= DOCUMENTS - 3  # checkpoints a second apart
    prepared_by = sink_launches[2][1]  # the end of its Apply
    assert prepared_by < session_ended, "the materialization was applied only after the capture"
    assert sink_launches[3][0] < session_ended, "its session was launched only after the capture"

    assert sum(summary.materializations[0].documents.values()) == DOCUMENTS
    with sqlite3.connect(tmp_path / "sink.db") as db:
        assert db.execute("select count(*) from alpha").fetchone() == (DOCUMENTS,)


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "executed"])
def test_by_default_settled_transactions_are_stored_while_the_capture_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """A default run stores a transaction as soon as the capture committed enough to settle
    it (two documents here): the first commits while the capture still runs, and the
    transactions are exactly those of one pass after the capture (in key order, five of two);
    from a forked materializations process and from a fresh interpreter."""
    monkeypatch.setattr(following, "can_fork", lambda: forked)
    log = tmp_path / "launches.log"
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(counter_catalog(tmp_path, log)))
    options = RunOptions(data_dir=tmp_path / "data", progress=False, transaction_documents=2)
    summary = run(path, options, Console(io.StringIO()))

    assert summary.materializations[0].transactions == DOCUMENTS // 2
    with sqlite3.connect(tmp_path / "sink.db.calls") as db:
        calls = [
            (json.loads(c), at) for c, at in db.execute("SELECT call, at FROM calls ORDER BY n")
        ]
    transactions: list[list[int]] = [[]]
    for (name, fields), _ in calls:
        if name == "store":
            transactions[-1] += fields["key"]
        elif name == "startCommit":
            transactions.append([])
    assert transactions[:-1] == [[n, n + 1] for n in range(0, DOCUMENTS, 2)]
    first_commit = min(at for (name, _), at in calls if name == "startCommit")
    capture_ended = max(
        float(line.split()[2])
        for line in log.read_text().splitlines()
        if line.startswith("capture ")
    )
    assert first_commit < capture_ended, "nothing was stored before the capture ended"


SLOW_COMMITS = """
import subprocess, sys, time
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE)
for line in sys.stdin.buffer:
    if line.startswith(b'{"startCommit"'):
        time.sleep(0.5)
    child.stdin.write(line)
    child.stdin.flush()
child.stdin.close()
sys.exit(child.wait())
"""
"""Runs the sink it is given, each commit half a second late."""


def test_by_default_a_failed_materialization_leaves_the_others_storing(tmp_path: Path) -> None:
    """Two sinks store ahead; the second fails at its second transaction, while the capture
    runs. The first still stores everything (as when both stored after the capture, in the
    catalog's order), the run fails with the second's failure, and its last lines say what
    each stored before it."""
    log = tmp_path / "launches.log"
    catalog = counter_catalog(tmp_path, log)
    sink = catalog["materializations"]["acmeCo/sink"]
    wrapper = fails_at_store(1, "sink2 stops at its second transaction")
    failing = [sys.executable, "-c", wrapper, *sink["endpoint"]["local"]["command"]]
    catalog["materializations"]["acmeCo/sink2"] = {
        "endpoint": {"local": {"command": failing, "config": {"path": str(tmp_path / "sink2.db")}}},
        "bindings": sink["bindings"],
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    out = io.StringIO()
    options = RunOptions(data_dir=tmp_path / "data", progress=False, transaction_documents=2)
    with pytest.raises(RuntimeFailure) as failure:
        run(path, options, Console(out))

    assert "acmeCo/sink2" in str(failure.value), failure.value
    with sqlite3.connect(tmp_path / "sink.db") as db:
        assert db.execute("select count(*) from alpha").fetchone() == (DOCUMENTS,)
    with sqlite3.connect(tmp_path / "sink2.db") as db:
        assert db.execute("select count(*) from alpha").fetchone() == (2,)
    text = out.getvalue()
    assert f"before the failure: materialized {DOCUMENTS} document(s) with acmeCo/sink " in text
    assert "before the failure: materialized 2 document(s) with acmeCo/sink2 " in text


def test_by_default_a_failed_capture_ends_the_pass_in_flight_after_its_transaction(
    tmp_path: Path,
) -> None:
    """The capture commits 60 documents quickly and fails; the sink, storing ahead a
    document a transaction at half a second each, is far behind. The run fails about one
    transaction after the capture, not after the backlog (~30 s)."""
    log = tmp_path / "launches.log"
    catalog = counter_catalog(tmp_path, log)
    capture = catalog["captures"]["acmeCo/counter"]["endpoint"]["local"]
    capture["config"] = {"count": 60, "every": 1, "sleep": 0.02}
    capture["command"] = [sys.executable, "-c", FAILS_AFTER_CHECKPOINTS, *capture["command"]]
    sink = catalog["materializations"]["acmeCo/sink"]["endpoint"]["local"]
    sink["command"] = [sys.executable, "-c", SLOW_COMMITS, *sink["command"]]
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    options = RunOptions(data_dir=tmp_path / "data", progress=False, transaction_documents=1)
    with pytest.raises(RuntimeFailure):
        run(path, options, Console(io.StringIO()))
    failed_at = time.time()

    capture_ended = max(
        float(line.split()[2])
        for line in log.read_text().splitlines()
        if line.startswith("capture ")
    )
    assert failed_at - capture_ended < 8, "the run waited for the whole pass"
    with sqlite3.connect(tmp_path / "sink.db") as db:
        (stored,) = db.execute("select count(*) from alpha").fetchone()
    assert stored < 60 - 8 / 0.5


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "executed"])
def test_with_follow_the_materialization_stores_each_capture_commit_as_it_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """`run --follow`: the sink stores the capture's commits while the capture runs (one
    transaction per commit it sees, not one for all after the capture), and in the end
    exactly what the capture committed; from a forked child and from a fresh interpreter."""
    monkeypatch.setattr(following, "can_fork", lambda: forked)
    log = tmp_path / "launches.log"
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(counter_catalog(tmp_path, log)))
    options = RunOptions(data_dir=tmp_path / "data", progress=False, follow=True)
    summary = run(path, options, Console(io.StringIO()))

    materialized = summary.materializations[0]
    assert sum(materialized.documents.values()) == DOCUMENTS
    # Commits land a second apart and the sink is ready ~2 s in (~5 s on a loaded machine);
    # after the capture alone, all of them would be one transaction.
    assert materialized.transactions >= 2, materialized
    with sqlite3.connect(tmp_path / "sink.db") as db:
        assert db.execute("select count(*) from alpha").fetchone() == (DOCUMENTS,)

    again = run(path, options, Console(io.StringIO()))  # nothing new: nothing stored twice
    assert again.materializations[0].transactions == 0
    with sqlite3.connect(tmp_path / "sink.db") as db:
        assert db.execute("select count(*) from alpha").fetchone() == (DOCUMENTS,)


def test_with_follow_a_failed_capture_keeps_what_was_stored_and_ends_the_session(
    tmp_path: Path,
) -> None:
    """The capture exits non-zero after its commits: the run fails, says what the sink
    stored while following, and the sink's session has ended (its input closed)."""
    log = tmp_path / "launches.log"
    out = failed_follow(tmp_path, log, ("captures", "acmeCo/counter"), FAILS_AFTER_CHECKPOINTS)

    with sqlite3.connect(tmp_path / "sink.db") as db:
        (stored,) = db.execute("select count(*) from alpha").fetchone()
    assert stored >= 1, out  # commits a second apart, the sink ready ~2 s in
    assert f"run: before the failure: materialized {stored} document(s)" in out
    sink_launches = [line for line in log.read_text().splitlines() if line.startswith("sink ")]
    assert len(sink_launches) == 4, "the sink's session did not end with the run"


def fails_at_store(commits: int, says: str) -> str:
    """A wrapper that runs the command it is given, passing its input on, and exits 3 at
    the first `store` after `commits` commits, saying `says`."""
    return f"""
import subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE)
commits = 0
for line in sys.stdin.buffer:
    commits += line.startswith(b'{{"startCommit"')
    if line.startswith(b'{{"store"') and commits >= {commits}:
        child.kill()
        print({says!r}, file=sys.stderr)
        sys.exit(3)
    child.stdin.write(line)
    child.stdin.flush()
child.stdin.close()
sys.exit(child.wait())
"""


FAILS_AT_FIRST_STORE = fails_at_store(0, "the sink stops at its first store")


def test_with_follow_a_failed_materialization_stops_the_capture_at_its_next_commit(
    tmp_path: Path,
) -> None:
    """The sink fails at its first store, while the capture still runs: the run fails with
    the sink's failure at the capture's next commit, not after the whole capture."""
    log = tmp_path / "launches.log"
    out = failed_follow(tmp_path, log, ("materializations", "acmeCo/sink"), FAILS_AT_FIRST_STORE)
    assert "acmeCo/sink" in out.splitlines()[-1], out  # the failure names the sink
    # the sink's log line, from the materializations' process, in the run's console
    assert "WARN  acmeCo/sink: the sink stops at its first store" in out, out
    captured = re.search(r"before the failure: captured (\d+) document", out)
    assert captured is not None, out
    assert 1 <= int(captured.group(1)) < DOCUMENTS, out  # commits a second apart


def failed_follow(tmp_path: Path, log: Path, task: tuple[str, str], wrapper: str) -> str:
    """`run --follow` of the counter catalog with one task's command run by `wrapper`,
    which must make the run fail; the run's console output, and its failure last."""
    catalog = counter_catalog(tmp_path, log)
    local = catalog[task[0]][task[1]]["endpoint"]["local"]
    local["command"] = [sys.executable, "-c", wrapper, *local["command"]]
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    out = io.StringIO()
    options = RunOptions(data_dir=tmp_path / "data", progress=False, follow=True)
    with pytest.raises(RuntimeFailure) as failure:
        run(path, options, Console(out))
    return f"{out.getvalue()}\n{failure.value}"


def test_with_follow_the_materializations_process_dies_with_the_run(tmp_path: Path) -> None:
    """`run --follow`'s materializations run in a process of their own; SIGKILL of the run's
    process alone (not its group) takes that process down too, and the sink's session
    ends with it (its input closed)."""
    log = tmp_path / "launches.log"
    path, runtime = follow_process(tmp_path, log, subprocess.DEVNULL)
    try:
        # (forked, it has the run's command line; executed, its settings name the catalog)
        materializations = _wait_for(lambda: _children(runtime.pid, str(path)))
        _wait_for(lambda: (log.parent / APPLIED).exists())  # its sessions are up
        os.kill(runtime.pid, signal.SIGKILL)
        runtime.wait()
        assert _wait_for(lambda: not _alive(materializations[0])), "it outlived the run"
        sinks = lambda: [ln for ln in log.read_text().splitlines() if ln.startswith("sink ")]  # noqa: E731
        assert _wait_for(lambda: len(sinks()) == 4), "the sink's session outlived the run"
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the run
            os.killpg(runtime.pid, signal.SIGKILL)


def test_a_failure_of_the_materializations_process_keeps_its_class_and_sentence() -> None:
    """What the child reports comes back as the same `RuntimeFailure` (a protocol
    violation's own `__init__` takes other arguments), and a bug keeps its traceback."""
    violation = ProtocolViolation("opened-first", "the first response was not `opened`", b"{}")
    kind = type(violation)
    where = 'Traceback (most recent call last):\n  File "session.py", line 1\nProtocolViolation'
    again = _failure(kind.__module__, kind.__qualname__, str(violation), where)
    assert type(again) is ProtocolViolation and str(again) == str(violation)
    assert where in str(again.__cause__)  # what `--debug` prints below the run's own traceback
    bug = _failure("builtins", "KeyError", "'x'", "Traceback (most recent call last):\nKeyError")
    assert type(bug) is RuntimeError and "KeyError" in str(bug)


def follow_process(tmp_path: Path, log: Path, stderr: int) -> tuple[Path, subprocess.Popen[str]]:
    """`flow-sdk run --follow` of the counter catalog, started in a session of its own."""
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(counter_catalog(tmp_path, log)))
    command = [str(BIN / "flow-sdk"), "run", "--source", str(path), "--follow"]
    command += ["--data-dir", str(tmp_path / "data")]
    runtime = subprocess.Popen(
        command, stderr=stderr, text=True, cwd=tmp_path, start_new_session=True
    )
    return path, runtime


def _children(pid: int, marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(check, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while not (result := check()):
        if time.monotonic() > deadline:
            return result
        time.sleep(0.05)
    return result


ECHOES_OPEN = """
import subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE)
for line in sys.stdin.buffer:
    if line.startswith(b'{"open"'):
        print("the sink was opened with " + line.decode().strip(), file=sys.stderr)
    child.stdin.write(line)
    child.stdin.flush()
child.stdin.close()
sys.exit(child.wait())
"""
"""Runs the command it is given, passing its input on; prints the `open` request (its
config resolved) on stderr."""


def test_with_follow_secrets_the_materializations_resolve_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `$env` value is resolved (and registered for masking) in the materializations'
    process: its lines and failures reach the run's console masked all the same."""
    secret = str(tmp_path / "sink-secret-path.db")
    monkeypatch.setenv("FOLLOW_SINK_PATH", secret)
    log = tmp_path / "launches.log"
    catalog = counter_catalog(tmp_path, log)
    local = catalog["materializations"]["acmeCo/sink"]["endpoint"]["local"]
    local["config"] = {"path": {"$env": "FOLLOW_SINK_PATH"}}
    local["command"] = [sys.executable, "-c", ECHOES_OPEN, *local["command"]]
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    out = io.StringIO()
    options = RunOptions(data_dir=tmp_path / "data", progress=False, follow=True)
    run(path, options, Console(out))
    assert "the sink was opened with" in out.getvalue()
    assert "sink-secret-path" not in out.getvalue() and "***" in out.getvalue()


def test_with_follow_a_materializations_process_that_dies_stops_the_captures(
    tmp_path: Path,
) -> None:
    """The materializations' process is killed while the capture runs: the run fails at
    the capture's next commit, not after the whole capture, and says so."""
    log = tmp_path / "launches.log"
    path, runtime = follow_process(tmp_path, log, subprocess.PIPE)
    try:
        materializations = _wait_for(lambda: _children(runtime.pid, str(path)))
        _wait_for(lambda: (log.parent / APPLIED).exists())  # the capture is committing
        os.kill(materializations[0], signal.SIGKILL)
        _, err = runtime.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runtime.pid, signal.SIGKILL)
    assert runtime.returncode != 0, err
    assert "materializations process ended without a result (exit code -9)" in err, err
    captured = re.search(r"before the failure: captured (\d+) document", err)
    assert captured is not None and int(captured.group(1)) < DOCUMENTS, err
