"""Capture crash and resume: the connector is SIGKILLed at 22 points spread over a capture
of source-bigdata (one full-refresh and two incremental streams), in process and in both
halves of subprocess mode; each session resumes from what the local runtime committed.

After every session the committed state must describe exactly the committed documents
(nothing checkpointed past what was emitted), and at the end every record is there: none
missing, no duplicate from a resume (full-refresh sweeps repeat whole, as they should)."""

from __future__ import annotations

import pytest
from crash_harness import STREAMS, Chain, check_committed, reduced

RECORDS = 60
INTERVAL = 9

KILLS: dict[str, list[str]] = {
    "in-process": [
        "before:bigdata:5",  # inside the first group: nothing committed yet
        "flushed:bigdata:20",  # an unfinished group already on stdout
        "checkpointed:bigdata:33",  # right after a checkpoint reached stdout
        "before:bigdata:59",  # the last record of the sweep
        "checkpointed:bigdata:59",  # between the sweep's last state and its completion
        "before:users:4",
        "checkpointed:users:17",
        "flushed:users:40",
        "checkpointed:users:59",
        "before:events:0",
        "flushed:events:30",
        "checkpointed:events:59",
    ],
    "subprocess-shim": [
        "flushed:bigdata:13",
        "checkpointed:bigdata:59",
        "before:users:31",
        "flushed:events:9",
        "checkpointed:events:45",
    ],
    "subprocess-delegate": [
        "before:bigdata:10",
        "stated:bigdata:59",
        "flushed:users:25",
        "stated:users:40",
        "before:events:50",
    ],
}
KILLED_POINTS = sum(len(points) for points in KILLS.values())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """One uninterrupted session."""
    chain = Chain(tmp_path_factory.mktemp("reference"), "in-process", RECORDS, INTERVAL)
    session = chain.session(None)
    assert session.error is None, session.output
    assert check_committed(chain) == {"bigdata": 1, "users": RECORDS, "events": RECORDS}
    return chain


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(KILLS))
def test_kill_9_anywhere_then_resume_loses_nothing(tmp_path, reference, mode):
    chain = Chain(tmp_path, mode, RECORDS, INTERVAL)
    for kill in KILLS[mode]:
        session = chain.session(kill)
        assert session.error is not None, f"{kill}: the connector did not die"
        assert "killed by signal 9" in session.error, (
            kill,
            session.error,
        )
        check_committed(chain)
    final = chain.session(None)
    assert final.error is None, final.output
    counts = check_committed(chain)
    assert counts["users"] == counts["events"] == RECORDS
    assert counts["bigdata"] >= 1
    for stream in STREAMS:
        assert reduced(chain, stream) == reduced(reference, stream), stream
