"""`flow-sdk run` end to end, as a real subprocess: source-bigdata captured into local
journals, materialized by destination-kvdb into a local bucket; incremental re-runs; and
kill -9 at every commit point, after which a re-run leaves the bucket exactly as an
uninterrupted run does."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
STREAMS = ("bigdata", "users", "events")


def write_catalog(directory: Path, record_count: int) -> Path:
    """The workspace catalog with a smaller source and a bucket inside `directory`."""
    catalog = yaml.safe_load((REPO / "test.flow.yaml").read_text())
    capture = catalog["captures"]["acmeCo/source-bigdata"]["endpoint"]["local"]
    capture["config"].update(record_count=record_count, checkpoint_interval=40)
    sink = catalog["materializations"]["acmeCo/destination-kvdb"]["endpoint"]["local"]
    sink["config"]["bucket"]["path"] = str(directory / "bucket.sqlite")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path


@dataclass
class Pipeline:
    directory: Path
    catalog: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def run(self, kill_at: str | None = None, *extra: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        env.pop("FLOW_SDK_RUN_KILL_AT", None)
        if kill_at:
            env["FLOW_SDK_RUN_KILL_AT"] = kill_at
        args = [str(BIN / "flow-sdk"), "run", "--source", str(self.catalog)]
        args += ["--data-dir", str(self.data), "--transaction-documents", "150", *extra]
        process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=self.directory,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=600)
        finally:
            with contextlib.suppress(ProcessLookupError):  # kill -9 of the run's connectors too
                os.killpg(process.pid, signal.SIGKILL)
        return subprocess.CompletedProcess(args, process.returncode, out, err)

    def bucket(self) -> dict[str, dict]:
        path = self.directory / "bucket.sqlite"
        if not path.exists():
            return {}
        with sqlite3.connect(path) as db:
            # a run killed early may leave the file its materialization's Apply was creating
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'kv'").fetchone():
                return {}
            return {k: orjson.loads(v) for k, v in db.execute("SELECT key, value FROM kv")}

    def state(self, kind: str, name: str) -> dict:
        path = self.data / kind / f"{name}.json"
        return orjson.loads(path.read_bytes()) if path.exists() else {}


def summary(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("run: ")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """One uninterrupted run."""
    directory = tmp_path_factory.mktemp("reference")
    pipeline = Pipeline(directory, write_catalog(directory, 300))
    result = pipeline.run()
    assert result.returncode == 0, result.stderr
    return pipeline


@pytest.mark.slow
def test_a_run_captures_and_materializes_everything(reference):
    bucket = reference.bucket()
    for stream in STREAMS:
        keys = [k for k in bucket if k.startswith(f"{stream}/")]
        assert len(keys) == 300, stream
    assert bucket["users/7"]["id"] == 7
    assert bucket["bigdata/0"]["_meta"]["row_id"] == 0
    offsets = reference.state("materializations", "acmeCo/destination-kvdb")["offsets"]
    journals = reference.state("captures", "acmeCo/source-bigdata")["journals"]
    assert offsets == {name.split("/")[1]: length for name, length in journals.items()}


@pytest.mark.slow
def test_a_second_run_continues_incrementally(tmp_path, reference):
    pipeline = Pipeline(tmp_path, write_catalog(tmp_path, 300))
    assert pipeline.run().returncode == 0
    again = pipeline.run()
    assert again.returncode == 0, again.stderr
    lines = summary(again)
    # full refresh re-reads bigdata; the incremental streams have nothing new
    assert "captured 300 document(s)" in lines[0] and "(acmeCo/bigdata: 300)" in lines[0]
    assert "(acmeCo/bigdata: 300)" in lines[1]
    assert pipeline.bucket() == reference.bucket()
    # more records at the source: only those are captured and materialized
    write_catalog(tmp_path, 350)
    more = pipeline.run()
    assert more.returncode == 0, more.stderr
    assert "acmeCo/users: 50" in summary(more)[1] and "acmeCo/events: 50" in summary(more)[1]
    assert len([k for k in pipeline.bucket() if k.startswith("users/")]) == 350


@pytest.mark.slow
def test_kill_9_at_every_commit_point_then_rerun_gives_the_same_bucket(tmp_path, reference):
    """One data directory, killed at a different point each run; each run continues from
    what the previous one committed. The last run completes."""
    pipeline = Pipeline(tmp_path, write_catalog(tmp_path, 300))
    for kill_at in [
        "capture-appended",  # during capture: journals appended, state not yet written
        "captures-done",  # between capture and materialization
        "stores-sent:2",  # inside a materialization transaction
        "commit-started:2",  # the destination committed, the offsets are not yet recorded
        "materialization-committed:1",
    ]:
        result = pipeline.run(kill_at)
        assert result.returncode == -signal.SIGKILL, (kill_at, result.stderr)
    final = pipeline.run()
    assert final.returncode == 0, final.stderr
    assert pipeline.bucket() == reference.bucket()
    reference_state = reference.state("captures", "acmeCo/source-bigdata")["connectorState"]
    assert pipeline.state("captures", "acmeCo/source-bigdata")["connectorState"] == reference_state


@pytest.mark.slow
def test_following_the_captures_and_killed_at_every_commit_point_gives_the_same_bucket(
    tmp_path, reference
):
    """`run --follow` stores each capture commit while the capture runs: killed at each
    commit point in turn (the materialization's points now fall inside the capture), the
    runs end with the bucket of one uninterrupted run without `--follow`."""
    pipeline = Pipeline(tmp_path, write_catalog(tmp_path, 300))
    for kill_at in ["stores-sent:2", "commit-started:3", "materialization-committed:2"]:
        result = pipeline.run(kill_at, "--follow")
        assert result.returncode == -signal.SIGKILL, (kill_at, result.stderr)
    final = pipeline.run(None, "--follow")
    assert final.returncode == 0, final.stderr
    assert pipeline.bucket() == reference.bucket()


@pytest.mark.slow
def test_an_uncommitted_journal_tail_is_dropped_and_captured_again(tmp_path):
    pipeline = Pipeline(tmp_path, write_catalog(tmp_path, 100))
    assert pipeline.run("capture-appended").returncode == -signal.SIGKILL
    journals = pipeline.data / "collections" / "acmeCo"
    assert sum(p.stat().st_size for p in journals.iterdir()) > 0  # appended, no state counts it
    assert pipeline.state("captures", "acmeCo/source-bigdata") == {}
    assert pipeline.bucket() == {}
    result = pipeline.run(None, "--progress")
    assert result.returncode == 0, result.stderr
    assert "uncommitted journal bytes of an interrupted run" in result.stderr
    for stream in STREAMS:  # not more: the torn tail was truncated before capturing again
        assert len(journal_entries(journals / f"{stream}.jsonl")[0]) == 100
    assert len(pipeline.bucket()) == 300


def journal_entries(path: Path) -> tuple[list[dict], list[dict]]:
    """(documents, backfill signals) of a local collection journal, in order."""
    entries = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    signals = [e for e in entries if set(e) == {"_meta"} and "truncatedAt" in e["_meta"]]
    return [e for e in entries if e not in signals], signals


@pytest.mark.slow
def test_a_re_backfill_leaves_only_the_new_sweeps_rows_in_the_destination(tmp_path):
    """The full-refresh `bigdata` stream is a backfill per run: the shim brackets each sweep
    with backfillBegin / backfillComplete, the runtime journals them and passes them to
    destination-kvdb's shim in `flush`, which overwrites the stream (a new generation)."""
    pipeline = Pipeline(tmp_path, write_catalog(tmp_path, 60))
    assert pipeline.run().returncode == 0
    assert len([k for k in pipeline.bucket() if k.startswith("bigdata/")]) == 60
    write_catalog(tmp_path, 45)  # rows deleted at the source
    again = pipeline.run()
    assert again.returncode == 0, again.stderr
    bucket = pipeline.bucket()
    assert sorted(int(k.split("/")[1]) for k in bucket if k.startswith("bigdata/")) == list(
        range(45)
    )
    # the incremental streams are no backfills: their rows stay
    assert len([k for k in bucket if k.startswith("users/")]) == 60
    docs, signals = journal_entries(pipeline.data / "collections" / "acmeCo" / "bigdata.jsonl")
    assert len(docs) == 60 + 45
    kinds = [next(k for k in s["_meta"] if k.startswith("backfill")) for s in signals]
    assert kinds == ["backfillBegin", "backfillComplete"] * 2
    assert signals[0]["_meta"]["truncatedAt"] == signals[1]["_meta"]["truncatedAt"]
    assert signals[2]["_meta"]["truncatedAt"] > signals[1]["_meta"]["truncatedAt"]
    assert journal_entries(pipeline.data / "collections" / "acmeCo" / "users.jsonl")[1] == []
    state = pipeline.state("captures", "acmeCo/source-bigdata")
    assert state["labels"]["acmeCo/bigdata"]["truncatedAt"] == signals[2]["_meta"]["truncatedAt"]
    assert state["backfills"] == {}  # every begun backfill completed


@pytest.mark.slow
def test_a_materialization_behind_a_truncation_starts_at_its_begin(tmp_path):
    """The capture's state records each collection's last truncation (Flow's
    `estuary.dev/truncated-at` journal label): a materialization that has not read that far
    skips what the newer backfill supersedes, as Flow's readers do."""
    pipeline = Pipeline(tmp_path, write_catalog(tmp_path, 60))
    assert pipeline.run("captures-done").returncode == -signal.SIGKILL  # nothing materialized
    write_catalog(tmp_path, 45)
    result = pipeline.run()
    assert result.returncode == 0, result.stderr
    assert "skips" in result.stderr and "published before its truncation at" in result.stderr
    bucket = pipeline.bucket()
    assert len([k for k in bucket if k.startswith("bigdata/")]) == 45
    assert len([k for k in bucket if k.startswith("users/")]) == 60
    assert "(acmeCo/bigdata: 45, " in summary(result)[1]
