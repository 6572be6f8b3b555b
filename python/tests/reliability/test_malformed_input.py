"""The malformed-input corpus (`malformed_corpus.py`) against real connector processes: the
capture base, the Airbyte capture shim, the materialize base, the Airbyte materialize shim
and the derive base. Every case must end the process within the deadline, non-zero, with
one JSON error line last on stderr that is a sentence from flow-sdk's own error types (never
a traceback, never the catch-all for an unexpected exception), and stdout must hold only
whole protocol messages."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from crash_harness import BIN, CONNECTORS
from malformed_corpus import (
    AIRBYTE_CAPTURE_CASES,
    CAPTURE_STATES,
    CASES,
    PROBE,
    PROTOCOL_CASES,
    Case,
)
from secret_scan import CANARY, record

TESTS = Path(__file__).parents[1]
EXAMPLES = TESTS.parents[0] / "examples"
DEADLINE = 60.0

CONNECTOR_COMMANDS: dict[str, tuple[str, list[str]]] = {
    "capture base": ("capture", [sys.executable, str(TESTS / "connectors" / "counter_capture.py")]),
    "airbyte capture shim": (
        "capture",
        [
            str(BIN / "flow-sdk"),
            "airbyte-capture",
            "--",
            sys.executable,
            str(CONNECTORS / "faulty_source.py"),
        ],
    ),
    "materialize base": (
        "materialize",
        [sys.executable, str(TESTS / "connectors" / "sqlite_materialization.py")],
    ),
    "airbyte materialize shim": (
        "materialize",
        [str(BIN / "flow-sdk"), "airbyte-materialize", "--", str(BIN / "destination-kvdb")],
    ),
    "derive base": ("derive", [sys.executable, str(EXAMPLES / "derive_balances.py")]),
}


@dataclass
class Outcome:
    connector: str
    case: str
    code: int | None
    stdout: bytes
    stderr: str

    def problems(self) -> list[str]:
        """Everything wrong with how the connector ended (empty: a clear failure)."""
        if self.code is None:
            return [f"still running after {DEADLINE:.0f}s"]
        out = []
        if self.code == 0:
            out.append("exited 0")
        for line in self.stdout.splitlines():
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                out.append(f"stdout line is not a whole message: {line[:100]!r}")
        tail = self.stderr.strip().splitlines()
        if not tail:
            return [*out, "nothing on stderr"]
        try:
            last = orjson.loads(tail[-1])
        except orjson.JSONDecodeError:
            return [*out, f"last stderr line is not JSON: {tail[-1][:200]}"]
        msg = last.get("msg", "") if isinstance(last, dict) else ""
        if not isinstance(last, dict) or last.get("level") != "error" or len(msg) < 20:
            out.append(f"last stderr line is not an error sentence: {tail[-1][:200]}")
        if msg.startswith("connector failed:") or "Traceback" in msg:
            out.append(f"an unexpected exception, not a sentence: {msg[:300]}")
        return out


def run(connector: str, case: Case) -> Outcome:
    _, command = CONNECTOR_COMMANDS[connector]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None
    try:
        if case.session:  # stdin stays open during a session, as the runtime keeps it
            proc.stdin.write(case.stdin)
            proc.stdin.flush()
            proc.wait(timeout=DEADLINE)
        out, err = proc.communicate(b"" if case.session else case.stdin, timeout=DEADLINE)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        code = None
    record(f"{connector} / {case.name}", out, err)
    return Outcome(connector, case.name, code, out, err.decode(errors="replace"))


def capture_open(state: bytes) -> bytes:
    """A valid Open of the faulty source's `things` binding, with `state` (raw JSON)."""
    body = {
        "capture": {
            "name": "acmeCo/faulty",
            "connectorType": "LOCAL",
            "config": {"count": 5, "api_key": CANARY},
            "bindings": [
                {
                    "resourceConfig": {
                        "stream": "things",
                        "syncMode": "incremental",
                        "cursorField": ["id"],
                    },
                    "resourcePath": ["things"],
                    "stateKey": "things",
                    "collection": {
                        "name": "acmeCo/things",
                        "key": ["/id"],
                        "writeSchema": {"type": "object"},
                    },
                }
            ],
        },
        "version": "v1",
        "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
    }
    encoded = orjson.dumps({"open": body})
    return PROBE + b"\n" + encoded[:-2] + b',"state":' + state + b"}}\n"


def all_runs() -> list[tuple[str, Case]]:
    runs = []
    for connector, (protocol, _) in CONNECTOR_COMMANDS.items():
        runs += [(connector, case) for case in CASES + PROTOCOL_CASES[protocol]]
    runs += [("airbyte capture shim", case) for case in AIRBYTE_CAPTURE_CASES]
    runs += [
        ("airbyte capture shim", Case(c.name, capture_open(c.stdin), session=True))
        for c in CAPTURE_STATES
    ]
    return runs


RUNS = all_runs()
"""Every (connector, case) pair tried; docs/reliability.md quotes their number."""


@pytest.mark.slow
def test_every_malformed_input_ends_in_one_clear_sentence():
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda run_: run(*run_), RUNS))
    failures = [
        f"{o.connector} / {o.case}: {'; '.join(problems)}"
        for o in outcomes
        if (problems := o.problems())
    ]
    assert not failures, f"{len(failures)} of {len(outcomes)} inputs:\n" + "\n".join(failures)
    assert len(outcomes) >= 200


def test_a_valid_open_of_the_state_corpus_is_accepted():
    """The corpus's Open is itself well formed: with an empty state the session runs."""
    outcome = run("airbyte capture shim", Case("valid", capture_open(b"{}"), session=True))
    assert outcome.code == 0, outcome.stderr
    assert b'"opened"' in outcome.stdout and b'"checkpoint"' in outcome.stdout
