"""Shared fixtures for the library's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
CONNECTORS = TESTS / "connectors"


@pytest.fixture
def counter_capture() -> Path:
    """A small native capture connector script (see connectors/counter_capture.py)."""
    return CONNECTORS / "counter_capture.py"
