"""`preview --fixture` of a materialization in both of flowctl's forms (a real CLI process
and a native SQLite materialization that records every call): the legacy array and
current flowctl's JSON lines with `{"commit": true}` markers, empty transactions, a FIFO
fed one transaction at a time, stdin `-`, and malformed fixtures as one sentence."""

from __future__ import annotations

import errno
import json
import os
import selectors
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.fixture import Fixture, Readers

MATERIALIZATION = Path(__file__).parent.parent / "connectors" / "sqlite_materialization.py"
USERS = "acmeCo/users"
READERS = Readers({USERS}, "binding of materialization 'acmeCo/sink'")


def doc(i: int, name: str) -> list[Any]:
    return [USERS, {"id": i, "name": name}]


COMMIT = {"commit": True}
LINES = [COMMIT, doc(1, "a"), doc(2, "b"), COMMIT, doc(1, "a2"), COMMIT, doc(3, "c")]
"""An empty transaction, two documents, one, and a final one without a marker."""
LEGACY = [[], [doc(1, "a"), doc(2, "b")], [doc(1, "a2")], [doc(3, "c")]]


def jsonl(values: list[Any]) -> str:
    return "".join(json.dumps(v) + "\n" for v in values)


def write_catalog(tmp_path: Path) -> Path:
    catalog = {
        "collections": {
            USERS: {
                "schema": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                    "required": ["id"],
                },
                "key": ["/id"],
            }
        },
        "materializations": {
            "acmeCo/sink": {
                "endpoint": {
                    "local": {
                        "command": [sys.executable, str(MATERIALIZATION)],
                        "config": {"path": str(tmp_path / "sink.db")},
                    }
                },
                "bindings": [{"resource": {"table": "users"}, "source": USERS}],
            }
        },
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def preview_args(catalog: Path, fixture: str, *flags: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flow_sdk.cli",
        "preview",
        "--source",
        str(catalog),
        "--name",
        "acmeCo/sink",
        "--fixture",
        fixture,
        "--output-state",
        *flags,
    ]


def stored_per_transaction(tmp_path: Path) -> list[list[Any]]:
    """The keys stored by each committed transaction, from the connector's own call log."""
    calls = sqlite3.connect(tmp_path / "sink.db.calls")
    out: list[list[Any]] = [[]]
    for (raw,) in calls.execute("SELECT call FROM calls ORDER BY n"):
        name, fields = json.loads(raw)
        if name == "store":
            out[-1].append(fields["key"][0])
        elif name == "startCommit":
            out.append([])
    return out[:-1]


def rows(tmp_path: Path) -> dict[int, str]:
    db = sqlite3.connect(tmp_path / "sink.db")
    return {
        json.loads(k)[0]: json.loads(d)["name"] for k, d in db.execute("SELECT key, doc FROM users")
    }


EXPECTED_STORES = [[], [1, 2], [1], [3]]
EXPECTED_ROWS = {1: "a2", 2: "b", 3: "c"}


@pytest.mark.parametrize("form", ["jsonl", "legacy"])
def test_both_forms_run_the_same_transactions(tmp_path: Path, form: str) -> None:
    fixture = tmp_path / f"fixture.{form}"
    fixture.write_text(jsonl(LINES) if form == "jsonl" else json.dumps(LEGACY, indent=1))
    assert list(Fixture(str(fixture), READERS).transactions()) == [
        [tuple(d) for d in txn] for txn in LEGACY
    ]
    catalog = write_catalog(tmp_path)
    done = subprocess.run(
        preview_args(catalog, str(fixture)), capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    states = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(states) == 5, "a state line per committed transaction, and the final state"
    assert states[-1] == ["connectorState", {"updated": {"commits": 1}}]
    assert stored_per_transaction(tmp_path) == EXPECTED_STORES
    assert rows(tmp_path) == EXPECTED_ROWS
    assert "session 1 committed 4 transaction(s)" in done.stderr


def test_a_lone_commit_marker_is_one_empty_transaction(tmp_path: Path) -> None:
    fixture = tmp_path / "fixture.empty.json"
    fixture.write_text('{"commit": true}\n')
    assert list(Fixture(str(fixture), READERS).transactions()) == [[]]
    done = subprocess.run(
        preview_args(write_catalog(tmp_path), str(fixture), "--output-apply"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)[0] for line in done.stdout.splitlines()] == [
        "applied.actionDescription",
        "connectorState",
        "connectorState",
    ]
    assert stored_per_transaction(tmp_path) == [[]]


def test_stdin_fixture_streams(tmp_path: Path) -> None:
    done = subprocess.run(
        preview_args(write_catalog(tmp_path), "-"),
        input=jsonl(LINES),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert stored_per_transaction(tmp_path) == EXPECTED_STORES
    assert rows(tmp_path) == EXPECTED_ROWS


class Lines:
    """stdout of a process, one line at a time, failing the test instead of hanging."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.selector = selectors.DefaultSelector()
        assert proc.stdout is not None
        self.selector.register(proc.stdout, selectors.EVENT_READ)

    def next(self, timeout: float = 60) -> Any:
        assert self.selector.select(timeout), "the preview printed nothing in time"
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the preview ended early: {self.proc.communicate()[1].decode()[-2000:]}"
        return json.loads(line)


def open_writer(fifo: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """The FIFO's write end, once the preview opens it for reading."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "the preview never opened the fixture"
        time.sleep(0.05)


def test_a_fifo_fixture_runs_each_transaction_as_it_arrives(tmp_path: Path) -> None:
    fifo = tmp_path / "fixture.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        preview_args(write_catalog(tmp_path), str(fifo)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        writer = open_writer(fifo, proc)
        os.set_blocking(writer, True)
        out = Lines(proc)
        os.write(writer, jsonl([doc(1, "a"), doc(2, "b"), COMMIT]).encode())
        assert out.next() == ["connectorState", {"updated": {"commits": 1}, "mergePatch": True}]
        # The first transaction committed while the fixture's writer is still open.
        assert stored_per_transaction(tmp_path) == [[1, 2]]
        os.write(writer, jsonl([COMMIT, doc(2, "b2")]).encode())
        assert out.next()[0] == "connectorState"
        assert stored_per_transaction(tmp_path) == [[1, 2], []]
        os.close(writer)  # EOF: the trailing document is the last transaction
        assert out.next()[0] == "connectorState"
        assert out.next() == ["connectorState", {"updated": {"commits": 1}}]
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stored_per_transaction(tmp_path) == [[1, 2], [], [2]]
    assert rows(tmp_path) == {1: "a", 2: "b2"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '{"commit": true}\nnot json\n',
            "line 2 is not JSON (invalid literal",
        ),
        (
            '["acmeCo/users", 5]\n',
            'line 1 must be ["<collection>", {document}] or {"commit": true}, not ["acmeCo/users",5]',
        ),
        (
            '{"commit": true}\n["acmeCo/other", {"id": 1}]\n',
            "line 2 names collection 'acmeCo/other', which no binding of materialization "
            "'acmeCo/sink' reads (it reads: acmeCo/users)",
        ),
        ("[[1]]", 'transaction 0, document 0 must be ["<collection>", {document}] or '),
        ('{"oops": 1}', 'line 1 must be ["<collection>", {document}] or {"commit": true}'),
    ],
)
def test_malformed_fixtures_are_one_sentence(tmp_path: Path, text: str, problem: str) -> None:
    fixture = tmp_path / "bad.jsonl"
    fixture.write_text(text)
    with pytest.raises(RuntimeFailure) as caught:
        list(Fixture(str(fixture), READERS).transactions())
    assert str(caught.value).startswith(f"--fixture {fixture}: {problem}")
