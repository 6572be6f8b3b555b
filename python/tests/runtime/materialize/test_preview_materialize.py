"""`flow-sdk preview` of materializations from a fixture: a native materialization with
loads, the Airbyte shim, and the runtime's §3.3 checks against a scripted connector."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

CONNECTORS = Path(__file__).parents[2] / "connectors"
CLI = "import sys; from flow_sdk.airbyte.destination.materialize_cli import main; main(sys.argv[1:])"
FIXTURE = [
    [
        ["acmeCo/users", {"id": 1, "name": "a"}],
        ["acmeCo/users", {"id": 2, "name": "b"}],
        ["acmeCo/users", {"id": 1, "name": "a2"}],
    ],
    [["acmeCo/users", {"id": 2, "name": "b2"}], ["acmeCo/users", {"id": 3, "name": "c"}]],
]


def write_catalog(
    tmp_path: Path,
    command: list[str],
    config: dict[str, Any],
    resource: dict[str, Any],
    env: dict[str, str] | None = None,
) -> Path:
    local: dict[str, Any] = {"command": command, "config": config}
    if env:
        local["env"] = env
    catalog = {
        "collections": {
            "acmeCo/users": {
                "schema": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                    "required": ["id"],
                },
                "key": ["/id"],
            }
        },
        "materializations": {
            "acmeCo/sink": {
                "endpoint": {"local": local},
                "bindings": [{"resource": resource, "source": "acmeCo/users"}],
            }
        },
    }
    path = tmp_path / "test.flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    (tmp_path / "fixture.json").write_text(json.dumps(FIXTURE))
    return path


def preview(catalog: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "flow_sdk.cli",
            "preview",
            "--source",
            str(catalog),
            "--name",
            "acmeCo/sink",
            "--fixture",
            str(catalog.parent / "fixture.json"),
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=os.environ.copy(),
    )


def lines(proc: subprocess.CompletedProcess[str]) -> list[Any]:
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_native_materialization_with_loads_across_sessions(tmp_path: Path) -> None:
    db = tmp_path / "native.db"
    catalog = write_catalog(
        tmp_path,
        [sys.executable, str(CONNECTORS / "sqlite_materialization.py")],
        {"path": str(db)},
        {"table": "users"},
    )
    out = lines(preview(catalog, "--sessions", "1,1", "--output-state", "--output-apply"))
    assert out == [
        ["applied.actionDescription", ""],
        ["connectorState", {"updated": {"commits": 1}, "mergePatch": True}],
        ["applied.actionDescription", ""],
        ["connectorState", {"updated": {"commits": 1}, "mergePatch": True}],
        ["connectorState", {"updated": {"commits": 1}}],
    ]
    con = sqlite3.connect(db)
    stored = {
        json.loads(k)[0]: (json.loads(d)["name"], n)
        for k, d, n in con.execute("SELECT key, doc, n FROM users")
    }
    assert stored == {1: ("a2", 1), 2: ("b2", 2), 3: ("c", 1)}
    calls = [
        json.loads(c)
        for (c,) in sqlite3.connect(str(db) + ".calls").execute("SELECT call FROM calls ORDER BY n")
    ]
    # Session 2 loaded only key 2 (the one stored before), then stored it with exists.
    assert [c[1]["key"] for c in calls if c[0] == "load"] == [[2]]
    assert [c[1]["exists"] for c in calls if c[0] == "store"] == [False, False, True, False]


def test_airbyte_destination_through_the_shim(tmp_path: Path) -> None:
    db = tmp_path / "dest.db"
    command = [
        sys.executable,
        "-c",
        CLI,
        "--",
        sys.executable,
        str(CONNECTORS / "sqlite_destination.py"),
    ]
    catalog = write_catalog(tmp_path, command, {"destination_path": str(db)}, {"stream": "users"})
    assert lines(preview(catalog)) == []
    con = sqlite3.connect(db)
    rows = [json.loads(d) for (d,) in con.execute("SELECT data FROM users ORDER BY id")]
    assert [(r["id"], r["name"]) for r in rows] == [(1, "a2"), (2, "b2"), (3, "c")]
    assert rows[0]["_meta"]["uuid"] == "DocUUIDPlaceholder-329Bb50aa48EAa9ef"


@pytest.mark.parametrize(
    ("mistake", "rule"),
    [
        ("double-ack", "acknowledged-once"),
        ("store-chatter", "store-phase-silence"),
        ("unknown-key", "no-unknown-keys"),
        ("null-field", "no-nulls"),
        ("flushed-early", "flushed-after-flush"),
        ("no-spec-protocol", "protocol-version"),
    ],
)
def test_protocol_violations_are_named(tmp_path: Path, mistake: str, rule: str) -> None:
    command = [sys.executable, str(CONNECTORS / "scripted_materialization.py")]
    catalog = write_catalog(
        tmp_path, command, {}, {"table": "users"}, env={"SCRIPTED_MISTAKE": mistake}
    )
    proc = preview(catalog)
    assert proc.returncode != 0
    assert f"protocol violation [{rule}]" in proc.stderr.strip().splitlines()[-1]


def test_a_correct_scripted_connector_passes_and_state_merges(tmp_path: Path) -> None:
    command = [sys.executable, str(CONNECTORS / "scripted_materialization.py")]
    catalog = write_catalog(tmp_path, command, {}, {"table": "users"})
    out = lines(preview(catalog, "--output-state", "--initial-state", '{"commits": {"m": 5}}'))
    assert out[-1] == ["connectorState", {"updated": {"commits": {"m": 5, "n": 1}}}]


def test_fixture_naming_an_unknown_collection(tmp_path: Path) -> None:
    command = [sys.executable, str(CONNECTORS / "scripted_materialization.py")]
    catalog = write_catalog(tmp_path, command, {}, {"table": "users"})
    (tmp_path / "fixture.json").write_text(json.dumps([[["acmeCo/other", {"id": 1}]]]))
    proc = preview(catalog)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        f"flow-sdk: error: --fixture {tmp_path / 'fixture.json'}: transaction 0, document 0 "
        "names collection 'acmeCo/other', which no binding of materialization 'acmeCo/sink' "
        "reads (it reads: acmeCo/users)"
    )
