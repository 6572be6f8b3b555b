"""The `flow-sdk` command end to end, with the counter capture: discover (both ways),
preview and its older spelling `raw capture`, and errors as one-line sentences."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


def test_discover_emit_raw_prints_each_binding(catalog: Path, cli) -> None:
    result = cli("raw", "discover", "--source", str(catalog), "--emit-raw", "-o", "json")
    assert result.code == 0, result.stderr
    assert [b["recommendedName"] for b in result.lines] == ["alpha", "beta"]
    assert result.lines[0]["key"] == ["/id"]
    assert result.lines[0]["resourcePath"] == ["alpha"]


def test_discover_writes_bindings_and_collections(catalog: Path, cli, yaml_edit) -> None:
    # Start from a catalog with one binding and without the beta collection.
    def only_alpha(data: dict) -> None:
        data["captures"]["acmeCo/counter"]["bindings"] = [
            {"resource": {"name": "alpha"}, "target": "acmeCo/alpha", "backfill": 2}
        ]

    yaml_edit(catalog, only_alpha)
    yaml_edit(
        catalog.parent / "collections.flow.yaml", lambda d: d["collections"].pop("acmeCo/beta")
    )
    (catalog.parent / "counter.schema.yaml").write_text("{}\n")

    result = cli("raw", "discover", "--source", str(catalog))
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    assert f"Wrote 3 specifications under {catalog.parent}" in result.stderr

    written = yaml.safe_load(catalog.read_text())
    bindings = written["captures"]["acmeCo/counter"]["bindings"]
    assert bindings == [
        {"resource": {"name": "alpha"}, "target": "acmeCo/alpha", "backfill": 2},
        {"resource": {"name": "beta"}, "target": "acmeCo/beta"},
    ]
    assert written["captures"]["acmeCo/counter"]["endpoint"]["local"]["config"] == (
        "counter.config.yaml"
    ), "file references stay references"
    beta = written["collections"]["acmeCo/beta"]
    assert beta["key"] == ["/id"] and beta["schema"]["required"] == ["id"]
    # acmeCo/alpha lives in the imported file, with its schema in a file of its own
    schema = yaml.safe_load((catalog.parent / "counter.schema.yaml").read_text())
    assert schema["properties"]["id"] == {"type": "integer"}

    again = cli("raw", "validate", "--source", str(catalog))
    assert again.code == 0, again.stderr
    assert [row["stateKey"] for row in again.lines] == ["alpha.v2", "beta"]


def test_preview_with_sessions_state_acks_and_restart(catalog: Path, cli) -> None:
    (catalog.parent / "counter.config.yaml").write_text(
        "count: 5\nevery: 2\nexplicitAcks: true\nsleep: 0.2\n"
    )
    result = cli(
        "preview", "--source", str(catalog), "--name", "acmeCo/counter",
        "--sessions", "-1,-1", "--output-state", "--output-apply", "--max-interval", "0.2s",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    lines = result.lines
    docs = [(name, doc["id"]) for name, doc in lines if name.startswith("acmeCo/")]
    assert docs == [("acmeCo/alpha", i) for i in range(5)] + [("acmeCo/beta", i) for i in range(5)]
    assert [line for line in lines if line[0] == "applied.actionDescription"] == [
        ["applied.actionDescription", ""]
    ] * 2
    assert lines[-1] == [
        "connectorState",
        {"updated": {"bindingStateV1": {"alpha": {"next": 5}, "beta": {"next": 5}}}},
    ]
    assert "acknowledged" in result.stderr  # the counter logs each acknowledgement
    assert "a stray print goes to stderr" in result.stderr
    assert "preview: 10 document(s)" in result.stderr
    second_session = lines[lines.index(["applied.actionDescription", ""], 1) + 1 :]
    assert not [line for line in second_session if line[0].startswith("acmeCo/")], (
        "the second session resumes from the committed state"
    )


def test_raw_capture_is_preview_under_its_old_name(catalog: Path, cli) -> None:
    result = cli("raw", "capture", "--source", str(catalog), "--capture", "acmeCo/counter")
    assert result.code == 0, result.stderr
    assert len([line for line in result.lines if line[0].startswith("acmeCo/")]) == 10


def test_errors_are_one_line_sentences_without_tracebacks(catalog: Path, cli) -> None:
    result = cli("preview", "--source", str(catalog), "--name", "acmeCo/nope")
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert result.last_error.startswith("flow-sdk: error: ")
    assert "has no task named 'acmeCo/nope' (it has: acmeCo/counter)" in result.last_error


def test_bad_flag_values_are_errors(catalog: Path, cli) -> None:
    result = cli("preview", "--source", str(catalog), "--delay", "soon")
    assert result.code == 1
    assert "--delay: 'soon' is not a duration" in result.last_error


def test_adapter_commands_are_passed_through_or_explained(cli) -> None:
    result = cli("airbyte-capture", "--", "source-faker", "--flag")
    if result.code == 2:  # the Airbyte adapters are not installed in this checkout yet
        assert "flow-sdk airbyte-capture` is not available" in result.last_error
        assert "Traceback" not in result.stderr


def test_log_json_writes_every_stderr_line_as_a_json_log(catalog: Path, cli) -> None:
    result = cli("preview", "--source", str(catalog), "--name", "acmeCo/counter", "--log-json")
    assert result.code == 0, result.stderr
    logs = [json.loads(line) for line in result.stderr.splitlines()]
    assert all({"ts", "level", "message", "source"} <= set(log) for log in logs)
    assert {"acmeCo/counter", "flow-sdk"} <= {log["source"] for log in logs}
    assert any(log["message"].startswith("a stray print goes to stderr") for log in logs)
    assert any(log["message"].startswith("preview: 10 document(s)") for log in logs)

    failed = cli("preview", "--source", str(catalog), "--name", "acmeCo/nope", "--log-json")
    assert failed.code == 1
    last = json.loads(failed.stderr.splitlines()[-1])
    assert last["level"] == "error" and "has no task named 'acmeCo/nope'" in last["message"]
