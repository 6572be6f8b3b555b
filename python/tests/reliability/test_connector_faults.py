"""Connector faults, through the local runtime: a source that raises mid-stream, one that
hangs (the idle watchdog), one that writes garbage to stdout, an Airbyte child that exits
non-zero or is killed. Each ends with a sentence naming the stream, and the committed state
never gets past the last checkpoint the connector really emitted."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import orjson
import pytest
from crash_harness import Chain, Session, capture_session, check_committed
from fault_catalog import SHIM_MODES, TASK, faulty_catalog

from flow_sdk.runtime.backfill import control_of
from flow_sdk.runtime.journal import DataDir, read_state

COUNT, EVERY, FAULT_AFTER = 20, 5, 12
COMMITTED_BEFORE_FAULT = FAULT_AFTER // EVERY * EVERY  # the last whole slice before the fault


class Faulty:
    def __init__(self, directory: Path, mode: str) -> None:
        self.catalog = faulty_catalog(directory, mode)
        self.data = DataDir(directory / "data")
        self.marker = uuid.uuid4().hex
        self.mode = mode

    def session(self, fault: str = "", **env: str) -> Session:
        env = {
            "FAULT": fault,
            "FAULT_AFTER": str(FAULT_AFTER),
            "RELIABILITY_RUN": self.marker,
            **env,
        }
        return capture_session(self.catalog, TASK, self.data, env)

    def committed(self) -> tuple[list[int], object]:
        """The committed ids, and the committed cursor of `things`."""
        saved = read_state(self.data.state_path("captures", TASK))
        length = saved.get("journals", {}).get("acmeCo/things", 0)
        lines, _ = self.data.journal("acmeCo/things").read(0, length, 1 << 20)
        entries = (saved.get("connectorState") or {}).get("bindingStateV1") or {}
        cursor = None
        for entry in entries.values():
            cursor = entry["stream"][0]["stream_state"]
        ids = [orjson.loads(line)["id"] for line in lines if control_of(line) is None]
        return ids, cursor

    def survivors(self) -> list[int]:
        """Processes of this test still alive (the faulty source's own children included)."""
        alive = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if f"RELIABILITY_RUN={self.marker}".encode() in environ.split(b"\0"):
                alive.append(int(pid))
        return alive


@pytest.fixture(params=list(SHIM_MODES))
def faulty(request: pytest.FixtureRequest, tmp_path: Path) -> Faulty:
    return Faulty(tmp_path, request.param)


def assert_stopped_at_the_last_checkpoint(faulty: Faulty, exactly: bool = True) -> None:
    """Committed: ids 1..k and the cursor k, for a checkpoint k before the fault — the last
    one, unless the source's own output buffer still held some when it died (`exactly`)."""
    ids, cursor = faulty.committed()
    k = len(ids)
    assert ids == list(range(1, k + 1))
    assert cursor == ({"id": k} if k else None)
    assert k % EVERY == 0 and k <= COMMITTED_BEFORE_FAULT
    if exactly:
        assert k == COMMITTED_BEFORE_FAULT


def then_resume_completes(faulty: Faulty) -> None:
    session = faulty.session()
    assert session.error is None, session.output
    ids, cursor = faulty.committed()
    assert ids == list(range(1, COUNT + 1)) and cursor == {"id": COUNT}


@pytest.mark.slow
def test_a_source_that_raises_mid_stream(faulty):
    session = faulty.session("raise")
    assert session.error is not None
    assert "stream 'things'" in session.error, session.error
    assert "refused the key" in session.error, session.error
    assert_stopped_at_the_last_checkpoint(faulty)
    then_resume_completes(faulty)


@pytest.mark.slow
def test_a_source_that_hangs_is_stopped_by_the_watchdog(faulty):
    started = time.monotonic()
    session = faulty.session("hang", FLOW_SDK_IDLE_TIMEOUT="2")
    assert time.monotonic() - started < 60
    assert session.error is not None
    assert "sent no message for 2 seconds while reading stream 'things'" in session.error
    assert "FLOW_SDK_IDLE_TIMEOUT" in session.error
    # a hung Airbyte child may still hold records in airbyte-cdk's print buffer
    assert_stopped_at_the_last_checkpoint(faulty, exactly=faulty.mode == "in-process")
    deadline = time.monotonic() + 10
    while faulty.survivors() and time.monotonic() < deadline:  # the Airbyte child dies too
        time.sleep(0.1)
    assert faulty.survivors() == []


@pytest.mark.slow
def test_garbage_on_stdout_is_a_log_line_not_a_corrupt_message(faulty):
    session = faulty.session("garbage")
    assert session.error is None, session.output
    assert "this is not JSON {{{" in session.output
    assert "garbage on fd 1" in session.output
    ids, cursor = faulty.committed()
    assert ids == list(range(1, COUNT + 1)) and cursor == {"id": COUNT}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "sentence"),
    [
        ("exit", "the connector exited with code 3; its last stderr line: fatal: giving up"),
        ("kill", "the connector was killed by signal 9"),
    ],
)
def test_an_airbyte_child_that_exits_non_zero_or_is_killed(tmp_path, fault, sentence):
    faulty = Faulty(tmp_path, "subprocess")
    session = faulty.session(fault)
    assert session.error is not None
    assert sentence in session.error, session.error
    assert "things" in session.error, session.error
    assert_stopped_at_the_last_checkpoint(faulty)


def test_a_bad_idle_timeout_is_a_sentence(tmp_path):
    faulty = Faulty(tmp_path, "in-process")
    session = faulty.session("", FLOW_SDK_IDLE_TIMEOUT="soon")
    assert session.error is not None
    assert "FLOW_SDK_IDLE_TIMEOUT must be a number of seconds (0 for no limit), not 'soon'" in (
        session.error
    )
    assert faulty.committed() == ([], None)


@pytest.mark.slow
def test_garbage_on_the_protocol_stream_fails_the_session_at_the_last_commit(tmp_path):
    """A connector whose own stdout gets a non-JSON line (after its 4th checkpoint): the
    runtime names the line and commits nothing past the checkpoints before it."""
    chain = Chain(tmp_path, "in-process-proxied", 60, 9)
    catalog_env = {"RELIABILITY_GARBAGE": "checkpoint:4"}
    session = capture_session(chain.catalog, "acmeCo/source-bigdata", chain.data, catalog_env)
    assert session.error is not None
    assert "this is not a protocol message" in session.error, session.error
    assert "not valid JSON" in session.error or "protocol violation" in session.error
    counts = check_committed(chain)
    assert chain.journal("bigdata") == [] or len(chain.journal("bigdata")) <= 4 * 9
    assert counts["users"] == counts["events"] == 0
