"""Shared fixtures for the library's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: a property's first example may pay an import or a model build, and
# on a loaded two-core CI machine that alone can pass Hypothesis's default 200 ms.
settings.register_profile("flow-sdk", deadline=None)
settings.load_profile("flow-sdk")

TESTS = Path(__file__).parent
CONNECTORS = TESTS / "connectors"


@pytest.fixture
def counter_capture() -> Path:
    """A small native capture connector script (see connectors/counter_capture.py)."""
    return CONNECTORS / "counter_capture.py"


@pytest.fixture(autouse=True)
def own_spec_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test keeps wrapped connectors' specs in its own directory (`flow_sdk.spec_cache`),
    so no test answers from a spec an earlier test's connector left."""
    monkeypatch.setenv("FLOW_SDK_SPEC_CACHE", str(tmp_path_factory.mktemp("spec-cache")))
