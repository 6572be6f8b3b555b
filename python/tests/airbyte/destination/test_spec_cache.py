"""The wrapped connector's spec kept between shim processes (`flow_sdk.spec_cache`): a
subprocess-mode session answers the runtime's probe Spec from the kept spec, so it launches
the destination once on its way to the first record (for `write`), and a kept spec that turned
out stale is noticed in that session and replaced for the next."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from airbyte_shim_process import replaced_kept_spec
from launch_counter import counted, launched

from flow_sdk import spec_cache
from flow_sdk.protocol.tuple_pack import pack_b64

HERE = Path(__file__).parents[1]
DESTINATION = [sys.executable, str(HERE / "scripted_connector.py")]
CLI = "import sys; from flow_sdk.airbyte.destination.materialize_cli import main; main(sys.argv[1:])"
PROBE = {"spec": {"connectorType": "LOCAL", "config": {}}}
OPEN = {
    "open": {
        "materialization": {
            "name": "acmeCo/sink",
            "config": {"token": "kept-spec-canary-0451"},
            "bindings": [
                {
                    "resourceConfig": {"stream": "users"},
                    "resourcePath": ["users"],
                    "collection": {
                        "name": "acmeCo/users",
                        "key": ["/id"],
                        "writeSchema": {"type": "object"},
                    },
                    "fieldSelection": {"keys": ["id"], "document": "flow_document"},
                    "deltaUpdates": True,
                    "stateKey": "users",
                }
            ],
        },
        "version": "test",
        "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
        "state": {},
    }
}
TRANSACTION = [
    {"flush": {}},
    {"store": {"binding": 0, "keyPacked": pack_b64([1]), "doc": {"id": 1}}},
    {"startCommit": {"runtimeCheckpoint": {}}},
    {"acknowledge": {}},
]


def launch_log(tmp_path: Path) -> Path:
    return tmp_path / "launches.log"


def shim(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "--", *counted(launch_log(tmp_path), *DESTINATION)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )


def whole_session(tmp_path: Path, env: dict[str, str]) -> tuple[list[str], str, list[str]]:
    """Runs probe, Open and one transaction to EOF: (response kinds, stderr, verbs launched)."""
    responses, err, verbs = answered_session(tmp_path, env)
    return [next(iter(r)) for r in responses], err, verbs


def answered_session(tmp_path: Path, env: dict[str, str]) -> tuple[list[dict], str, list[str]]:
    """`whole_session` with the responses themselves."""
    launch_log(tmp_path).unlink(missing_ok=True)
    requests = [PROBE, OPEN, {"acknowledge": {}}, *TRANSACTION]
    proc = shim(tmp_path, env)
    out, err = proc.communicate(b"".join(json.dumps(r).encode() + b"\n" for r in requests), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    responses = [json.loads(line) for line in out.splitlines()]
    return responses, err.decode(), launched(launch_log(tmp_path))


def test_a_kept_spec_answers_the_probe_so_the_session_launches_only_write(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    env = {"SCRIPTED_SPEC_GATE": str(gate)}
    gate.touch()
    kinds, _, verbs = whole_session(tmp_path, env)
    assert kinds == ["spec", "opened", "acknowledged", "flushed", "startedCommit", "acknowledged"]
    assert verbs == ["spec", "write"]  # nothing kept yet: the probe waits for `spec`
    gate.unlink()  # from now on a `spec` run cannot answer within the session
    started = time.monotonic()
    kinds, _, verbs = whole_session(tmp_path, env)
    assert kinds == ["spec", "opened", "acknowledged", "flushed", "startedCommit", "acknowledged"]
    assert time.monotonic() - started < 30  # the blocked check never held the session up
    # The session's only launch on the way to its records is `write`; the kept spec's check
    # runs beside it (and dies with the shim when the session ends first).
    assert "write" in verbs and verbs.count("spec") <= 1


def test_a_stale_kept_spec_stops_the_session_whose_sync_modes_it_chose(tmp_path: Path) -> None:
    whole_session(tmp_path, {"SCRIPTED_MODES": "append"})
    command = counted(launch_log(tmp_path), *DESTINATION)
    stale = spec_cache.load("airbyte-spec", command)
    assert stale["supported_destination_sync_modes"] == ["append"]
    proc = shim(tmp_path, {"SCRIPTED_MODES": "append_dedup,append"})
    assert proc.stdin is not None and proc.stdout is not None
    stderr: list[bytes] = []
    drain = threading.Thread(target=lambda: stderr.extend(proc.stderr or []), daemon=True)
    drain.start()
    for request in (PROBE, OPEN, {"acknowledge": {}}):
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        proc.stdout.readline()
    kept = replaced_kept_spec(command, stale)  # by the check beside the session
    assert kept["supported_destination_sync_modes"] == ["append_dedup", "append"]
    proc.stdin.write(b'{"flush":{}}\n')
    proc.stdin.close()
    assert proc.wait(timeout=30) != 0
    drain.join(timeout=10)
    last = json.loads(stderr[-1])["msg"]
    assert "now supports the sync modes ['append_dedup', 'append']" in last, last
    assert "chose its modes from a kept spec that said ['append']" in last
    assert b"kept-spec-canary-0451" not in b"".join(stderr)


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: Any) -> None:
    own = Path(os.environ["FLOW_SDK_SPEC_CACHE"])  # this test's (conftest.py)
    monkeypatch.setenv("FLOW_SDK_SPEC_CACHE", "off")
    gate = tmp_path / "gate"
    gate.touch()
    for docs in ("https://docs.example/v1", "https://docs.example/v2"):
        env = {"SCRIPTED_SPEC_GATE": str(gate), "SCRIPTED_DOCS_URL": docs}
        responses, _, verbs = answered_session(tmp_path, env)
        assert verbs == ["spec", "write"]
        assert responses[0]["spec"]["documentationUrl"] == docs  # fetched, never kept
    assert not any(own.iterdir())
