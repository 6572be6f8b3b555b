"""`flow-sdk raw spec | discover | validate` against the counter capture."""

from __future__ import annotations

from pathlib import Path

from flow_sdk.protocol.wire import PROTOCOL


def test_raw_spec_prints_the_spec_response(catalog: Path, cli) -> None:
    result = cli("raw", "spec", "--source", str(catalog))
    assert result.code == 0, result.stderr
    [spec] = result.lines
    assert spec["protocol"] == PROTOCOL
    assert spec["resourcePathPointers"] == ["/name"]
    assert spec["configSchema"]["required"] == ["count"]


def test_raw_validate_prints_resource_paths_and_state_keys(catalog: Path, cli) -> None:
    result = cli("raw", "validate", "--source", str(catalog), "--capture", "acmeCo/counter")
    assert result.code == 0, result.stderr
    assert result.lines == [
        {
            "binding": 0,
            "collection": "acmeCo/alpha",
            "resourcePath": ["alpha"],
            "stateKey": "alpha",
        },
        {"binding": 1, "collection": "acmeCo/beta", "resourcePath": ["beta"], "stateKey": "beta"},
    ]
