"""What Flow's control plane and UI read besides documents: `connectorStatus` events from
Airbyte STREAM_STATUS traces, `x-oauth2-provider` on the OAuth credentials object, and an
explicit OAuth2 spec for `flow-sdk airbyte-capture` (`--oauth2`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airbyte_shim_process import MODES, PYTHON, SOURCE, binding, open_request, run_connector

from flow_sdk.airbyte.spec import flow_spec

USERS, EVENTS = (
    binding("users", "incremental", cursor=["updated_at"]),
    binding("events", "full_refresh"),
)
OAUTH2 = {
    "provider": "acme",
    "authUrlTemplate": "https://acme.example/auth?client_id={{{ client_id }}}",
    "accessTokenUrlTemplate": "https://acme.example/token",
    "accessTokenBody": "{}",
    "accessTokenResponseMap": {"refresh_token": "/refresh_token"},
}


def statuses(logs: list[dict]) -> list[str]:
    return [
        line["msg"] for line in logs if line.get("fields", {}).get("eventType") == "connectorStatus"
    ]


def test_stream_statuses_become_connector_status_events(shim: list[str]) -> None:
    run = run_connector(shim, [open_request({"count": 2}, [USERS, EVENTS])])
    assert run.code == 0, run.stderr[-3000:]
    events = statuses(run.logs)
    assert events[-1] == "All 2 streams are complete", events
    assert "Stream 'users' is being read (0 of 2 streams complete)" in events
    assert "Stream 'users' is complete (1 of 2 streams complete)" in events
    assert len(events) == len(set(events)), "one event per change, not per status message"


CREDENTIALS = {
    "type": "object",
    "properties": {
        "credentials": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "auth_type": {"type": "string", "const": "oauth2.0"},
                        "refresh_token": {"type": "string", "airbyte_secret": True},
                    },
                },
                {
                    "type": "object",
                    "properties": {"auth_type": {"type": "string", "const": "token"}},
                },
            ]
        }
    },
}


def test_the_oauth_branch_that_advanced_auth_selects_carries_x_oauth2_provider() -> None:
    airbyte = {
        "connectionSpecification": CREDENTIALS,
        "advanced_auth": {
            "auth_flow_type": "oauth2.0",
            "predicate_key": ["credentials", "auth_type"],
            "predicate_value": "oauth2.0",
        },
    }
    schema = flow_spec(airbyte, OAUTH2).to_wire()["configSchema"]
    oauth, token = schema["properties"]["credentials"]["oneOf"]
    assert oauth["x-oauth2-provider"] == "acme"
    assert "x-oauth2-provider" not in token
    assert "x-oauth2-provider" not in CREDENTIALS["properties"]["credentials"]["oneOf"][0]


def test_oauth_fields_outside_credentials_are_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    airbyte = {
        "connectionSpecification": {"type": "object", "properties": {"auth": {"type": "object"}}},
        "advanced_auth": {"auth_flow_type": "oauth2.0", "predicate_key": ["auth", "type"]},
    }
    schema = flow_spec(airbyte, OAUTH2).to_wire()["configSchema"]
    assert schema["properties"]["auth"]["x-oauth2-provider"] == "acme"
    assert "are under 'auth', not `credentials`" in caplog.text


def test_airbyte_capture_takes_an_explicit_oauth2_spec(tmp_path: Path) -> None:
    path = tmp_path / "oauth2.json"
    path.write_text(json.dumps(OAUTH2))
    for value in (json.dumps(OAUTH2), str(path)):
        argv = [*MODES["subprocess"][:3], "--oauth2", value, "--", PYTHON, SOURCE]
        run = run_connector(argv, [{"spec": {}}])
        assert run.code == 0, run.stderr[-2000:]
        assert run.responses[0]["spec"]["oauth2"]["provider"] == "acme"


def test_sourced_schemas_at_open_when_asked() -> None:
    argv = [*MODES["subprocess"][:3], "--sourced-schemas", "--", PYTHON, SOURCE]
    run = run_connector(argv, [open_request({"count": 1}, [USERS, EVENTS])])
    assert run.code == 0, run.stderr[-3000:]
    variants = [next(iter(r)) for r in run.responses]
    assert variants[:4] == ["opened", "sourcedSchema", "sourcedSchema", "checkpoint"]
    users, events = run.of("sourcedSchema")
    assert users["documentSchema"]["properties"]["updated_at"]["type"] == "integer"
    assert events["binding"] == 1


def test_in_process_requests_get_the_cdk_entrypoint_s_surroundings() -> None:
    """read_config migrations run, the configure() directory lives through the read, and the
    request cache has a directory — as under airbyte-cdk's own entrypoint."""
    argv = [PYTHON, str(Path(__file__).parent / "entrypoint_source.py")]
    probe = binding("probe", "full_refresh")
    run = run_connector(argv, [open_request({"legacy_token": "tok-1"}, [probe])])
    assert run.code == 0, run.stderr[-3000:]
    (doc,) = run.docs()
    assert doc["token"] == "tok-1"
    assert doc["persisted"] == "written by configure"
    assert doc["cache_dir_exists"] is True
