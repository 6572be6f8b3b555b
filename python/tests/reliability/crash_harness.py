"""Crash-and-resume driving for the reliability suite: source-bigdata captured by the local
runtime's own commit loop (`run_capture`: fsynced journals, then an atomic state file),
session after session in one data directory, with the connector killed somewhere in each.

Unary answers (spec, validate, apply) are the same for every session of a chain, so they are
asked of the real connector once and replayed (`MemoLauncher`); every session is a real
connector process. `check_committed` is the invariant that must hold after any session,
killed or not: the committed state describes exactly the committed journal, and the journal
holds each record once (full-refresh sweeps repeat whole)."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import orjson
import yaml
from secret_scan import record

from flow_sdk.runtime.backfill import control_of
from flow_sdk.runtime.capture import run as run_capture_module
from flow_sdk.runtime.catalog.load import load_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.journal import DataDir, Journal, read_state
from flow_sdk.runtime.launcher import ConnectorLauncher

RELIABILITY = Path(__file__).parent
CONNECTORS = RELIABILITY / "connectors"
REPO = RELIABILITY.parents[2]
BIN = Path(sys.executable).parent
TASK = "acmeCo/source-bigdata"
STREAMS = ("bigdata", "users", "events")
INCREMENTAL = ("users", "events")
SWEEP_DONE = ({"__ab_full_refresh_sync_complete": True}, {"__ab_no_cursor_state_message": True})

MODES: dict[str, list[str]] = {
    "in-process": [sys.executable, str(CONNECTORS / "killing_bigdata.py")],
    "subprocess-shim": [sys.executable, str(CONNECTORS / "killing_bigdata.py"), "--subprocess"],
    "subprocess-delegate": [
        str(BIN / "flow-sdk"),
        "airbyte-capture",
        "--",
        sys.executable,
        str(CONNECTORS / "killing_airbyte_source.py"),
    ],
    "in-process-proxied": [
        sys.executable,
        str(CONNECTORS / "kill_proxy.py"),
        "--",
        sys.executable,
        str(CONNECTORS / "killing_bigdata.py"),
    ],
}
"""Whose death a chain's kills are: the shim with the source in process; the shim of
subprocess mode (its Airbyte child dies with it); the Airbyte child under a live shim. The
proxied one is the in-process shim behind `kill_proxy.py`, which can corrupt its output."""


class MemoLauncher(ConnectorLauncher):
    """A ConnectorLauncher that asks each distinct unary request of the real connector only once."""

    answers: ClassVar[dict[bytes, Any]] = {}

    def unary(self, model: Any, variant: str, payload: dict[str, Any], answer: str) -> Any:
        key = orjson.dumps(
            [self.task.endpoint.command, variant, payload], option=orjson.OPT_SORT_KEYS
        )
        if key not in self.answers:
            self.answers[key] = super().unary(model, variant, payload, answer)
        return self.answers[key]


def write_catalog(
    directory: Path, command: list[str], record_count: int, checkpoint_interval: int
) -> Path:
    """The workspace catalog's capture (no materialization) running `command`."""
    catalog = yaml.safe_load((REPO / "test.flow.yaml").read_text())
    catalog.pop("materializations", None)
    local = catalog["captures"][TASK]["endpoint"]["local"]
    local["command"] = command
    local["config"].update(record_count=record_count, checkpoint_interval=checkpoint_interval)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "flow.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path


@dataclass
class Session:
    """One session's outcome: the error that ended it (None: it completed) and what the
    runtime printed."""

    error: str | None
    output: str
    documents: int = 0


@dataclass
class Chain:
    """A data directory that sessions of one capture resume into."""

    directory: Path
    mode: str
    record_count: int
    checkpoint_interval: int
    sessions: list[Session] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.catalog = write_catalog(
            self.directory, MODES[self.mode], self.record_count, self.checkpoint_interval
        )
        self.data = DataDir(self.directory / "data")

    def session(self, kill: str | None) -> Session:
        """Run one session through the runtime, with the connector set to die at `kill`."""
        session = capture_session(
            self.catalog, TASK, self.data, {"RELIABILITY_KILL": kill} if kill else {}
        )
        self.sessions.append(session)
        return session

    def state(self) -> dict[str, Any]:
        return read_state(self.data.state_path("captures", TASK))

    def journal(self, stream: str) -> list[dict[str, Any]]:
        """The committed documents of a stream's collection, in order."""
        name = f"acmeCo/{stream}"
        length = self.state().get("journals", {}).get(name, 0)
        journal: Journal = self.data.journal(name)
        lines, _ = journal.read(0, length, 1 << 30)
        return [orjson.loads(line) for line in lines if control_of(line) is None]


def capture_session(
    catalog_path: Path,
    name: str,
    data: DataDir,
    env: dict[str, str],
    timeout: float | None = None,
) -> Session:
    """One session of capture `name` through the runtime's `run_capture`, committing into
    `data`, with `env` added to the connector's environment."""
    catalog = load_catalog(catalog_path)
    task = catalog.captures[name]
    task.endpoint.env.update(env)
    text = io.StringIO()
    console = Console(text)
    original = run_capture_module.ConnectorLauncher
    run_capture_module.ConnectorLauncher = MemoLauncher  # type: ignore[misc]  # replays unary answers
    try:
        run = run_capture_module.run_capture(
            catalog, task, data, console, lambda txn: None, timeout
        )
        session = Session(None, text.getvalue(), sum(run.documents.values()))
    except RuntimeFailure as failure:
        session = Session(str(failure), text.getvalue())
    finally:
        run_capture_module.ConnectorLauncher = original  # type: ignore[misc]
    record(f"capture session of {name}", session.error, session.output)
    for path in (data.root / "collections").rglob("*.jsonl"):
        record(f"journal {path.name}", path.read_bytes())
    return session


def state_entries(state: dict[str, Any]) -> dict[str, Any]:
    """The shim's per-stream entries of a committed connector state, by stream name."""
    entries = (state.get("connectorState") or {}).get("bindingStateV1") or {}
    out = {}
    for entry in entries.values():
        stream_state = entry["stream"][0]
        out[stream_state["stream_descriptor"]["name"]] = entry
    return out


def check_committed(chain: Chain) -> dict[str, int]:
    """Assert what must hold after every session: returns the full-refresh sweeps and the
    incremental records committed so far, by stream.

    - users/events: ids 1..n in order, no gap and no duplicate; the state's cursor is the
      last committed record's `updated_at` and its rowId is n.
    - bigdata: row ids are whole sweeps 0..R-1, then one partial sweep 0..m-1 (a resumed
      sweep continues its row ids); the state says `next_index` m and rowId m, or holds
      nothing for bigdata when m is 0 (or, killed right at the sweep's end, the CDK's
      sweep-done marker with rowId 0).
    """
    entries = state_entries(chain.state())
    counts: dict[str, int] = {}
    for stream in INCREMENTAL:
        docs = chain.journal(stream)
        ids = [d["id"] for d in docs]
        assert ids == list(range(1, len(ids) + 1)), f"{stream}: ids {ids}"
        assert [d["_meta"]["row_id"] for d in docs] == list(range(len(docs))), stream
        entry = entries.get(stream)
        if docs:
            assert entry is not None, f"{stream}: {len(docs)} committed records but no state"
            assert entry["stream"][0]["stream_state"] == {"updated_at": docs[-1]["updated_at"]}
            assert entry["rowId"] == len(docs), (stream, entry)
        else:
            assert entry is None or not entry["stream"][0].get("stream_state"), entry
        counts[stream] = len(docs)
    docs = chain.journal("bigdata")
    rows = [d["_meta"]["row_id"] for d in docs]
    assert [d["index"] for d in docs] == rows, "bigdata: row ids are the sweep positions"
    r = chain.record_count
    whole, partial = divmod(len(rows), r)
    assert rows == list(range(r)) * whole + list(range(partial)), f"bigdata row ids {rows}"
    entry = entries.get("bigdata")
    if partial:
        assert entry is not None, "bigdata: a sweep in progress has no state"
        assert entry["stream"][0]["stream_state"] == {"next_index": partial}, entry
        assert entry["rowId"] == partial, entry
    elif entry is not None:  # killed between the sweep's last state and its completion
        assert entry["stream"][0]["stream_state"] in SWEEP_DONE, entry
        assert entry["rowId"] == 0, f"bigdata: the next sweep must start at row 0: {entry}"
    counts["bigdata"] = whole
    return counts


def reduced(chain: Chain, stream: str) -> dict[Any, dict[str, Any]]:
    """The stream's collection as Flow would hold it: the last document of each key."""
    key = "id" if stream in INCREMENTAL else "index"
    return {doc[key]: doc for doc in chain.journal(stream)}
