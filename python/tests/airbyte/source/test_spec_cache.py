"""The wrapped source's spec kept between capture shim processes (`flow_sdk.spec_cache`): a
subprocess-mode session answers the runtime's probe Spec from the kept spec, so it launches
the source once on its way to the first document (for `read`), and a kept spec that turned
out stale is noticed in that session (a warning) and replaced for the next."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from airbyte_shim_process import Run, binding, open_request, replaced_kept_spec, run_connector
from launch_counter import counted, launched

from flow_sdk import spec_cache

HERE = Path(__file__).parents[1]
SOURCE = [sys.executable, str(HERE / "scripted_connector.py")]
CLI = [sys.executable, "-m", "flow_sdk.airbyte.source.capture_cli", "--"]
PROBE = {"spec": {"connectorType": "LOCAL", "config": {}}}
CANARY = "kept-spec-canary-0451"
OPEN = open_request({"token": CANARY}, [binding("users", "full_refresh")])
STALE = {"connectionSpecification": {"type": "object", "properties": {"token": {"type": "string"}}}}
"""A kept spec an earlier version of the source answered: its `token` was no secret yet."""


def session(source: list[str], env: dict[str, str]) -> Run:
    """The probe Spec, then Open, then the session to its end (the source's `read` exits)."""
    run = run_connector([*CLI, *source], [PROBE, OPEN], env)
    assert run.code == 0, run.stderr[-2000:]
    assert [doc["id"] for doc in run.docs()] == [1, 2]
    return run


def counted_session(tmp_path: Path, env: dict[str, str]) -> tuple[Run, list[str]]:
    """A session of the source behind the launch counter: (its run, the verbs it launched)."""
    log = tmp_path / "launches.log"
    log.unlink(missing_ok=True)
    run = session(counted(log, *SOURCE), env)
    return run, launched(log)


def secret_marked(spec: Any) -> bool:
    """Whether the probe's answer (a Flow Spec) marks the config's `token` secret."""
    return spec["configSchema"]["properties"]["token"].get("secret") is True


def test_a_kept_spec_answers_the_probe_so_the_session_launches_only_read(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    env = {"SCRIPTED_SPEC_GATE": str(gate)}
    gate.touch()
    run, verbs = counted_session(tmp_path, env)
    assert verbs == ["spec", "read"]  # nothing kept yet: the probe waits for `spec`
    assert secret_marked(run.of("spec")[0])
    assert CANARY not in run.stderr and "read with the config" in run.stderr
    kept = spec_cache.load("airbyte-spec", counted(tmp_path / "launches.log", *SOURCE))
    assert kept["connectionSpecification"]["properties"]["token"].get("airbyte_secret") is True
    gate.unlink()  # from now on a `spec` run cannot answer within the session
    started = time.monotonic()
    run, verbs = counted_session(tmp_path, env)
    assert time.monotonic() - started < 30  # the blocked check never held the session up
    assert secret_marked(run.of("spec")[0])
    assert CANARY not in run.stderr
    # The session's only launch on the way to its documents is `read`; the kept spec's check
    # runs beside it (and dies with the shim when the session ends first).
    assert verbs.count("read") == 1 and verbs.count("spec") <= 1, verbs


def stale_session(tmp_path: Path) -> tuple[Run, Any]:
    """A session whose probe is answered from `STALE`: (its run, the spec kept after it).
    Its `read` waits, after the documents, until the check beside it replaced `STALE`."""
    spec_cache.store("airbyte-spec", SOURCE, STALE)
    gate = tmp_path / "read-gate"

    def open_the_gate_once_replaced() -> None:
        replaced_kept_spec(SOURCE, STALE)
        gate.touch()

    opener = threading.Thread(target=open_the_gate_once_replaced, daemon=True)
    opener.start()
    run = session(SOURCE, {"SCRIPTED_READ_GATE": str(gate)})
    opener.join()
    return run, spec_cache.load("airbyte-spec", SOURCE)


def test_a_stale_kept_spec_is_replaced_for_the_next_session_with_a_warning(
    tmp_path: Path,
) -> None:
    run, kept = stale_session(tmp_path)
    assert not secret_marked(run.of("spec")[0])  # this session answered from the kept spec
    assert kept["connectionSpecification"]["properties"]["token"].get("airbyte_secret") is True
    warnings = [line["msg"] for line in run.logs if line.get("level") == "warn"]
    assert warnings == [
        "the spec of the Airbyte connector scripted_connector.py changed since an earlier run "
        "kept it; this process used the kept one, later ones use the new one"
    ], run.stderr
    probe = run_connector([*CLI, *SOURCE], [PROBE])
    assert probe.code == 0 and secret_marked(probe.of("spec")[0])  # the next one: the new spec


def test_a_secret_only_the_fresh_spec_marks_is_masked_in_that_session(tmp_path: Path) -> None:
    """The config is masked when its first log line is written, which may be after the check
    replaced the stale kept spec: the fresh spec's secrets are masked then too."""
    run, _ = stale_session(tmp_path)
    assert "read with the config" in run.stderr
    assert CANARY not in run.stderr


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = Path(os.environ["FLOW_SDK_SPEC_CACHE"])  # this test's (conftest.py)
    monkeypatch.setenv("FLOW_SDK_SPEC_CACHE", "off")
    gate = tmp_path / "gate"
    gate.touch()
    for docs in ("https://docs.example/v1", "https://docs.example/v2"):
        env = {"SCRIPTED_SPEC_GATE": str(gate), "SCRIPTED_DOCS_URL": docs}
        run, verbs = counted_session(tmp_path, env)
        assert verbs == ["spec", "read"]
        assert run.of("spec")[0]["documentationUrl"] == docs  # fetched, never kept
    assert not any(own.iterdir())
