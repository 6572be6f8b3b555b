"""`flow-sdk airbyte-capture` options, with a connector that is not Python at all (sh)."""

from __future__ import annotations

import sys
from pathlib import Path

from airbyte_shim_process import run_connector

CONNECTOR = r"""#!/bin/sh
case "$1" in
  spec) echo '{"type":"SPEC","spec":{"documentationUrl":"https://own.example","connectionSpecification":{"type":"object","properties":{"token":{"type":"string","airbyte_secret":true}}}}}' ;;
  discover)
    echo "{\"type\":\"LOG\",\"log\":{\"level\":\"INFO\",\"message\":\"config file $3\"}}"
    echo "token is $(cat "$3")" >&2
    echo 'not a message'
    echo '{"type":"CATALOG","catalog":{"streams":[{"name":"s","json_schema":{},"supported_sync_modes":["full_refresh"]}]}}' ;;
esac
"""


def test_options_with_a_shell_connector(tmp_path: Path) -> None:
    script = tmp_path / "source.sh"
    script.write_text(CONNECTOR)
    script.chmod(0o755)
    files = tmp_path / "files"
    files.mkdir()
    argv = [
        sys.executable, "-m", "flow_sdk.airbyte.source.capture_cli",
        "--docs-url", "https://docs.example/shim", "--no-schema-inference", "--files-dir", str(files),
        "--", str(script),
    ]  # fmt: skip
    run = run_connector(argv, [{"spec": {}}, {"discover": {"config": {"token": "tok-123456"}}}])
    assert run.code == 0, run.stderr
    spec, discovered = run.responses[0]["spec"], run.responses[1]["discovered"]
    assert spec["documentationUrl"] == "https://docs.example/shim"
    (binding,) = discovered["bindings"]
    assert "x-infer-schema" not in binding["documentSchema"] and binding["key"] == ["/_meta/row_id"]
    messages = [line["msg"] for line in run.logs]
    assert any(m.startswith(f"config file {files}/") for m in messages), messages
    assert any(m == "not a message" for m in messages), "stray stdout lines are logged"
    assert "tok-123456" not in run.stderr, "stderr lines are masked too"
    assert not any(files.iterdir()), "the config file (with secrets) is removed"


def test_missing_command_is_a_usage_error() -> None:
    run = run_connector(
        [sys.executable, "-m", "flow_sdk.airbyte.source.capture_cli", "--docs-url", "x"], []
    )
    assert run.code == 2 and "give the Airbyte connector command after `--`" in run.stderr
