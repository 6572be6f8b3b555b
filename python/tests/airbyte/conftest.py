"""Fixtures of the Airbyte shim tests; the helpers live in `airbyte_shim_process.py` (on sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from airbyte_shim_process import MODES  # noqa: E402


@pytest.fixture(params=list(MODES))
def shim(request: pytest.FixtureRequest) -> list[str]:
    """The test source behind the shim, in process and as a subprocess."""
    return MODES[request.param]
