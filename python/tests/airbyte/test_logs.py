from __future__ import annotations

import io
import logging

import orjson
import pytest

from flow_sdk.airbyte.connector_log_messages import (
    ConnectorFailure,
    log_control,
    log_message,
    log_trace,
    log_unknown,
)
from flow_sdk.logger import FlowLogFormatter


@pytest.fixture
def flow_log() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(FlowLogFormatter())
    log = logging.getLogger("flow.test_airbyte_logs")
    log.handlers = [handler]
    log.propagate = False
    log.setLevel(logging.DEBUG)
    return log, out


def lines(out: io.StringIO) -> list[dict]:
    parsed = [orjson.loads(line) for line in out.getvalue().splitlines()]
    for line in parsed:
        line.get("fields", {}).pop("logger", None)
    return parsed


@pytest.mark.parametrize(
    "level, flow_level",
    [
        ("FATAL", "error"),
        ("ERROR", "error"),
        ("WARN", "warn"),
        ("INFO", "info"),
        ("DEBUG", "debug"),
        ("TRACE", "debug"),
    ],
)
def test_log_levels(flow_log, level: str, flow_level: str) -> None:
    log, out = flow_log
    log_message(log, {"level": level, "message": "hello %s", "stack_trace": f"tb {level}"})
    (line,) = lines(out)
    assert line["level"] == flow_level and line["msg"] == "hello %s"
    assert line["fields"]["stack_trace"] == f"tb {level}"


def test_traces(flow_log) -> None:
    log, out = flow_log
    failure = ConnectorFailure()
    log_trace(
        log,
        {
            "type": "ERROR",
            "error": {
                "message": "boom",
                "failure_type": "config_error",
                "internal_message": "x",
                "stream_descriptor": {"name": "users", "namespace": "ns"},
            },
        },
        failure,
    )
    log_trace(
        log,
        {"type": "ESTIMATE", "estimate": {"name": "users", "type": "STREAM", "row_estimate": 10}},
        failure,
    )
    log_trace(
        log,
        {
            "type": "STREAM_STATUS",
            "stream_status": {"stream_descriptor": {"name": "users"}, "status": "RUNNING"},
        },
        failure,
    )
    log_trace(
        log,
        {"type": "ANALYTICS", "analytics": {"type": "file-cdk-csv-stream-count", "value": "1"}},
        failure,
    )
    log_trace(log, {"type": "NEW_KIND"}, failure)
    error, estimate, status, analytics, unknown = lines(out)
    assert error["level"] == "error" and error["msg"] == "boom"
    assert error["fields"] == {
        "failure_type": "config_error",
        "internal_message": "x",
        "stream": "ns/users",
    }
    assert estimate["fields"]["estimate"] == {
        "type": "STREAM",
        "row_estimate": 10,
        "stream": "users",
    }
    assert status["fields"]["status"] == {"stream": "users", "status": "RUNNING"}
    assert analytics["level"] == "debug" and analytics["fields"]["analytics"]["value"] == "1"
    assert unknown["level"] == "info" and "NEW_KIND" in unknown["msg"]
    assert (
        failure.describe(None)
        == "the Airbyte source failed while reading stream 'ns/users' (config_error): boom (x)"
    )


def test_control_outside_a_request_is_a_warning_with_secrets_masked(flow_log) -> None:
    """Without a request to update, a CONTROL is no `configUpdate` event (Flow takes only
    sealed, whole configs) and its new secret never reaches the line."""
    log, out = flow_log
    schema = {
        "type": "object",
        "properties": {"refresh_token": {"type": "string", "airbyte_secret": True}},
    }
    log_control(
        log,
        {
            "type": "CONNECTOR_CONFIG",
            "connectorConfig": {"config": {"refresh_token": "rotated-token-1", "x": 1}},
        },
        schema,
    )
    log_control(log, {"type": "SOMETHING_NEW"}, schema)
    log_unknown(log, {"type": "DESTINATION_CATALOG"})
    event, unknown_control, unknown = lines(out)
    assert event["level"] == "warn" and "eventType" not in event["fields"]
    assert event["fields"]["keys"] == ["refresh_token", "x"]
    assert "rotated-token-1" not in out.getvalue()
    assert "SOMETHING_NEW" in unknown_control["msg"] and "DESTINATION_CATALOG" in unknown["msg"]
