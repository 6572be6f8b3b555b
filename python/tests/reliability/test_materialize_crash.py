"""Materialize crash and resume: destination-kvdb behind the Airbyte materialize shim (in
process, and as `flow-sdk airbyte-materialize` over its Airbyte CLI) is SIGKILLed during the
store phase, between `startCommit` and the echo, between `startedCommit` and the runtime,
and around `acknowledge`; each session of the local runtime's materialization loop resumes
from what it committed. At the end the bucket is exactly what one uninterrupted run writes."""

from __future__ import annotations

import io
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from crash_harness import BIN, CONNECTORS, MODES, REPO, TASK, MemoLauncher, capture_session
from secret_scan import record

from flow_sdk.runtime.capture.run import committed_lengths
from flow_sdk.runtime.catalog.load import load_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.journal import DataDir, read_state
from flow_sdk.runtime.materialize import run as run_materialize_module

MATERIALIZATION = "acmeCo/destination-kvdb"
PROXY = [sys.executable, str(CONNECTORS / "kill_proxy.py"), "--"]
DESTINATIONS = {
    "in-process": [sys.executable, "-m", "destination_kvdb"],
    "subprocess": [
        str(BIN / "flow-sdk"),
        "airbyte-materialize",
        "--",
        str(BIN / "destination-kvdb"),
    ],
}
TRANSACTION_DOCUMENTS = 40
KILLS = [
    "acknowledge:1",  # the recovery Acknowledge right after Open
    "store:5",  # in the store phase of the first transaction
    "startCommit:1",  # the destination has the records, has not echoed the state
    "startedCommit:1",  # the destination committed; the runtime never heard
    "acknowledge:2",  # the runtime recorded the commit, post-commit work in flight
    "acknowledged:2",
    "store:90",  # in a later transaction
]


def write_catalog(directory: Path, command: list[str]) -> Path:
    catalog = yaml.safe_load((REPO / "test.flow.yaml").read_text())
    capture = catalog["captures"][TASK]["endpoint"]["local"]
    capture["command"] = MODES["in-process"]
    capture["config"].update(record_count=60, checkpoint_interval=9)
    sink = catalog["materializations"][MATERIALIZATION]["endpoint"]["local"]
    sink["command"] = command
    sink["config"]["bucket"]["path"] = str(directory / "bucket.sqlite")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding one committed capture of source-bigdata."""
    directory = tmp_path_factory.mktemp("captured")
    catalog = write_catalog(directory, DESTINATIONS["in-process"])
    session = capture_session(catalog, TASK, DataDir(directory / "data"), {})
    assert session.error is None, session.output
    return directory / "data"


class Sink:
    """A copy of the captured data directory that one materialization runs into."""

    def __init__(self, directory: Path, captured: Path, mode: str) -> None:
        shutil.copytree(captured, directory / "data")
        self.directory = directory
        self.data = DataDir(directory / "data")
        self.catalog = write_catalog(directory, PROXY + DESTINATIONS[mode])
        self.committed: list[tuple[str, int, int]] = []
        """(collection, documents, journal bytes) per collection of each committed transaction."""

    def session(
        self, kill: str | None = None, documents: int = TRANSACTION_DOCUMENTS
    ) -> str | None:
        catalog = load_catalog(self.catalog)
        task = catalog.materializations[MATERIALIZATION]
        if kill:
            task.endpoint.env["RELIABILITY_KILL"] = kill
        text = io.StringIO()
        original = run_materialize_module.ConnectorLauncher
        run_materialize_module.ConnectorLauncher = MemoLauncher  # type: ignore[misc]  # replays unary answers
        error = None
        try:
            run_materialize_module.run_materialization(
                catalog,
                task,
                self.data,
                committed_lengths(self.data, TASK),
                Console(text),
                lambda total: None,
                lambda collection, count, read: self.committed.append((collection, count, read)),
                documents,
            )
        except RuntimeFailure as failure:
            error = str(failure)
        finally:
            run_materialize_module.ConnectorLauncher = original  # type: ignore[misc]
        record(f"materialization ({kill})", error, text.getvalue())
        return error

    def bucket(self) -> dict[str, Any]:
        with sqlite3.connect(self.directory / "bucket.sqlite") as db:
            return {k: orjson.loads(v) for k, v in db.execute("SELECT key, value FROM kv")}

    def offsets(self) -> dict[str, int]:
        return read_state(self.data.state_path("materializations", MATERIALIZATION))["offsets"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, captured: Path) -> dict[str, Any]:
    sink = Sink(tmp_path_factory.mktemp("reference"), captured, "in-process")
    assert sink.session() is None
    bucket = sink.bucket()
    assert len(bucket) == 3 * 60
    return bucket


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(DESTINATIONS))
def test_kill_9_inside_materialization_transactions_then_resume(
    tmp_path, captured, reference, mode
):
    sink = Sink(tmp_path, captured, mode)
    for kill in KILLS:
        error = sink.session(kill)
        assert error is not None, f"{kill}: the connector did not die"
        assert "killed by signal 9" in error, (kill, error)
    assert sink.session() is None
    assert sink.bucket() == reference
    lengths = committed_lengths(sink.data, TASK)
    assert sorted(sink.offsets().values()) == sorted(lengths.values())


def test_transactions_are_bounded_by_journal_bytes_too(tmp_path, captured, reference, monkeypatch):
    """A transaction stops taking documents once it read `TRANSACTION_BYTES` of journal (the
    store lines it holds until sorted), whatever its document bound; nothing is lost."""
    lengths = committed_lengths(DataDir(captured), TASK)
    bound = min(lengths.values()) // 4
    monkeypatch.setattr(run_materialize_module, "TRANSACTION_BYTES", bound)
    sink = Sink(tmp_path, captured, "in-process")
    assert sink.session(documents=10_000) is None
    assert sink.bucket() == reference
    assert sorted(sink.offsets().values()) == sorted(lengths.values())
    # each transaction read about `bound` bytes of journal: never a line more
    journals = [DataDir(captured).journal(c).path.read_bytes() for c in lengths]
    longest = max(len(line) for journal in journals for line in journal.splitlines(True))
    reads = [read for _, _, read in sink.committed]
    assert len(reads) >= 4 * len(lengths) and max(reads) < bound + longest, (bound, reads)
