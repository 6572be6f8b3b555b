"""Capture preview sessions: reduction, state across sessions, acknowledgements, restarts,
session limits and timeouts, driven in process against scripted_capture.py."""

from __future__ import annotations

import io
import time
from pathlib import Path

import orjson

from flow_sdk.runtime.capture.preview import preview_capture
from flow_sdk.runtime.catalog.load import load_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.document_meta import UUID_PLACEHOLDER
from flow_sdk.runtime.preview import PreviewOptions


def preview(catalog: Path, **options: object) -> tuple[list[list], str]:
    loaded = load_catalog(catalog)
    out, err = io.BytesIO(), io.StringIO()
    preview_capture(
        loaded,
        loaded.capture(None),
        PreviewOptions(progress=False, **options),
        output=out,
        console=Console(err),
    )
    return [orjson.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def transactions(lines: list[list]) -> list[list[dict]]:
    """Documents grouped by the connectorState line that commits them."""
    out: list[list[dict]] = [[]]
    for name, value in lines[:-1]:  # the last line is the final full state
        if name == "connectorState":
            out.append([])
        elif name == "acmeCo/things":
            out[-1].append(value)
    return out[:-1]


def test_documents_are_reduced_by_key_within_a_transaction(scripted) -> None:
    lines, _ = preview(scripted("reduce"), output_state=True)
    txns = transactions(lines)
    seen = [(d["id"], d["v"]) for txn in txns for d in txn]
    assert (2, "a") not in seen, "a document replaced in its transaction must not be committed"
    for txn in txns:
        ids = [d["id"] for d in txn]
        assert ids == sorted(set(ids)), "one document per key, ordered by key"
        assert all(d["_meta"] == {"uuid": UUID_PLACEHOLDER} for d in txn)
    last = {d["id"]: d["v"] for txn in txns for d in txn}
    assert last == {1: "c", 2: "b"}
    assert lines[-1] == ["connectorState", {"updated": {"a": 1, "b": {"x": 1}}}]


def test_explicit_acknowledgements_follow_each_commit(scripted) -> None:
    lines, err = preview(scripted("acks"), output_state=True)
    assert [d["id"] for txn in transactions(lines) for d in txn] == [1, 2]
    assert err.count("acknowledged checkpoints=1") == 2


def test_state_is_merged_and_carried_between_sessions(scripted) -> None:
    lines, _ = preview(
        scripted("sessions"), sessions=[1, 1, 1], initial_state={"n": 10}, output_state=True
    )
    ids = [value["id"] for name, value in lines if name == "acmeCo/things"]
    assert ids == [11, 12, 13]
    assert lines[-1] == [
        "connectorState",
        {"updated": {"n": 13, "seen": {"11": True, "12": True, "13": True}}},
    ]
    patches = [value for name, value in lines[:-1] if name == "connectorState"]
    assert patches[0] == {"updated": {"n": 11, "seen": {"11": True}}, "mergePatch": True}


def test_a_connector_that_exits_is_restarted_after_its_interval(scripted) -> None:
    started = time.monotonic()
    lines, err = preview(scripted("sessions", interval="1s"), sessions=[-1, -1])
    assert time.monotonic() - started >= 1.0
    assert [v["id"] for name, v in lines if name == "acmeCo/things"] == [1, 2]
    assert "restarting it when intervalSeconds elapses" in err


def test_max_interval_caps_the_wait(scripted) -> None:
    started = time.monotonic()
    lines, _ = preview(scripted("sessions", interval="1h"), sessions=[-1, -1], max_interval=0.1)
    assert time.monotonic() - started < 30
    assert [v["id"] for name, v in lines if name == "acmeCo/things"] == [1, 2]


def test_sessions_end_after_their_transactions_and_close_stdin(scripted) -> None:
    lines, err = preview(scripted("stream"), sessions=[2, 1], output_state=True)
    states = [v for name, v in lines if name == "connectorState"]
    assert len(states) == 3 + 1  # one per transaction, then the final state
    assert err.count("stdin closed; exiting") == 2
    ids = [v["id"] for name, v in lines if name == "acmeCo/things"]
    assert ids == list(range(1, len(ids) + 1)), "the second session resumes from committed state"
    assert states[-1] == {"updated": {"n": ids[-1]}}


def test_idle_timeout_ends_a_quiet_session(scripted) -> None:
    lines, err = preview(scripted("idle"), idle_timeout=0.5, output_apply=True)
    assert lines[0][0] == "applied.actionDescription"
    assert lines[0][1].startswith("applied version ")
    assert "no data arrived within --idle-timeout" in err
    assert "stdin closed; exiting" in err


def test_timeout_is_the_total_run_time_of_a_busy_preview(scripted) -> None:
    """flowctl's `--timeout`: a connector that never stops producing is stopped gracefully
    when the total time elapses, keeping what it committed, and no further session starts."""
    started = time.monotonic()
    lines, err = preview(scripted("stream"), sessions=[-1, -1], timeout=1.5, output_state=True)
    took = time.monotonic() - started
    assert 1.5 <= took < 15, took
    ids = [v["id"] for name, v in lines if name == "acmeCo/things"]
    assert len(ids) > 3 and ids == list(range(1, len(ids) + 1)), "every committed document"
    assert "--timeout elapsed" in err
    assert err.count("stdin closed; exiting") == 1, "one session: the second never started"


def test_progress_and_summary_go_to_stderr_only(scripted) -> None:
    loaded = load_catalog(scripted("reduce"))
    out, err = io.BytesIO(), io.StringIO()
    progress = preview_capture(
        loaded,
        loaded.capture(None),
        PreviewOptions(progress=True),
        output=out,
        console=Console(err),
    )
    assert sum(progress.documents.values()) >= 2
    assert all(orjson.loads(line)[0] == "acmeCo/things" for line in out.getvalue().splitlines())
    text = err.getvalue()
    assert "docs" in text and "preview" in text  # the bar was drawn
    assert "document(s) in" in text and "acmeCo/things:" in text  # the summary
