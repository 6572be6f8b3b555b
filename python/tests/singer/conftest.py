"""Fixtures of the Singer shim tests: the demo API on 127.0.0.1 and the demo tap behind the
shim in both modes. The helper modules of this directory are put on sys.path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CONNECTORS = HERE.parent / "connectors"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(CONNECTORS))

from demo_api import DemoApi  # noqa: E402

API_KEY = "sekrit-api-key-7"
MODES = {
    "inprocess": [sys.executable, str(HERE / "tap_capture.py")],
    "subprocess": [
        sys.executable,
        "-m",
        "flow_sdk.cli",
        "singer-capture",
        "--",
        sys.executable,
        str(CONNECTORS / "tap_demo.py"),
    ],
}


@pytest.fixture
def api() -> Iterator[DemoApi]:
    with DemoApi(API_KEY) as server:
        server.add_users(5)
        yield server


@pytest.fixture
def config(api: DemoApi) -> dict[str, str]:
    return {"api_url": api.url, "api_key": API_KEY}


@pytest.fixture(params=list(MODES))
def shim(request: pytest.FixtureRequest) -> list[str]:
    """The demo tap behind the shim: in process, and as a subprocess of `flow-sdk singer-capture`."""
    return MODES[request.param]
