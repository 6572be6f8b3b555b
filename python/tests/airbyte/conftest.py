"""Fixtures of the Airbyte shim tests; the helpers live in `airbyte_shim_process.py` (on sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from airbyte_shim_process import MODES  # noqa: E402
from cached_venv import ROOT, cached_venv  # noqa: E402


@pytest.fixture(scope="session")
def cdk4_python() -> Path:
    """airbyte-cdk 4.6.2 (pydantic models) with this flow-sdk."""
    return cached_venv("airbyte-cdk4", ["airbyte-cdk==4.6.2", f"-e {ROOT / 'python'}"])


@pytest.fixture(scope="session")
def cdk6_python() -> Path:
    """airbyte-cdk 6 (dataclass models, the declarative framework) with this flow-sdk."""
    return cached_venv("airbyte-cdk6", ["airbyte-cdk==6.*", f"-e {ROOT / 'python'}"])


@pytest.fixture(params=list(MODES))
def shim(request: pytest.FixtureRequest) -> list[str]:
    """The test source behind the shim, in process and as a subprocess."""
    return MODES[request.param]
