"""Secrets never printed: the faulty source, told to leak its `api_key` (a secret field) into
its logs, prints, connection-check message, exception and exit text, run through the
`flow-sdk` CLI — raw spec, discover, validate and preview, failures included, in process and
as a subprocess. Nothing the runtime prints may hold the value; everything is also recorded
for the suite-wide scan (conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fault_catalog import TASK, faulty_catalog
from secret_scan import CANARY, record

COMMANDS: list[tuple[str, str, list[str], bool]] = [
    # (mode, FAULT, flow-sdk arguments after --source, succeeds)
    ("in-process", "", ["raw", "spec", "--capture", TASK], True),
    ("in-process", "check", ["raw", "validate", "--capture", TASK], False),
    ("in-process", "raise", ["preview", "--name", TASK, "--sessions", "-1", "--debug"], False),
    ("in-process", "", ["preview", "--name", TASK, "--sessions", "-1"], True),
    ("subprocess", "", ["raw", "discover", "--capture", TASK], True),
    ("subprocess", "check", ["raw", "validate", "--capture", TASK], False),
    ("subprocess", "", ["preview", "--name", TASK, "--sessions", "-1"], True),
    ("subprocess", "exit", ["preview", "--name", TASK, "--sessions", "-1"], False),
]


def flow_sdk(catalog: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    command = args[:2] if args[0] == "raw" else args[:1]
    rest = args[len(command) :]
    return subprocess.run(
        [sys.executable, "-m", "flow_sdk.cli", *command, "--source", str(catalog), *rest],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "fault", "args", "succeeds"), COMMANDS)
def test_a_leaky_source_never_gets_its_secret_printed(tmp_path, mode, fault, args, succeeds):
    env = {"FAULT_LEAK": "1", "FAULT": fault, "FAULT_AFTER": "3"}
    catalog = faulty_catalog(tmp_path, mode, env, count=6, every=2)
    done = flow_sdk(catalog, args)
    record(f"flow-sdk {' '.join(args)} ({mode}, FAULT={fault})", done.stdout, done.stderr)
    assert (done.returncode == 0) == succeeds, done.stderr
    if fault:  # the leaking parts ran, and said something
        assert "**********" in done.stderr or "the connector exited with code 3" in done.stderr
    printed = done.stdout + done.stderr
    assert CANARY not in printed, [line for line in printed.splitlines() if CANARY in line]
