"""Fixtures of the reliability suite; its helper modules (`crash_harness`, ...) are put on
sys.path. The session ends with the secret scan of everything the suite's runs printed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import secret_scan  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def secret_values_are_never_printed() -> Iterator[None]:
    yield
    found = secret_scan.leaks()
    assert not found, f"the secret canary was printed {len(found)} time(s):\n" + "\n".join(found)
