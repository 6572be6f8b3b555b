"""Fixtures of the fidelity tests. The value rule's helpers (`value_cases.py`,
`value_connectors.py`) live beside them; the PostgreSQL ones give a real PostgreSQL on
127.0.0.1 (installed from Debian's packages when missing) loaded with the tables of
`postgres_tap.py`, and the published tap-postgres in a cached virtualenv beside flow-sdk.
This directory (and `cached_venv` of the Airbyte tests) is put on sys.path."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "airbyte"))

from cached_venv import ROOT, cached_venv  # noqa: E402
from postgres_server import PostgresServer, Unavailable, postgres_server  # noqa: E402
from postgres_tap import DATABASE, SETUP_SQL, TAP_REQUIREMENT  # noqa: E402


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One server per test session (per xdist worker), loaded once, stopped at the end.

    Skipped only where PostgreSQL can neither be found nor installed, and never in CI
    (`CI=true`): there a missing server is an error, so a green run always ran these tests."""
    try:
        with postgres_server() as server:
            server.psql(SETUP_SQL)
            yield server
    except Unavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise
        pytest.skip(f"no PostgreSQL for the fidelity tests: {exc}")


@pytest.fixture(scope="session")
def tap_python() -> Path:
    """The tap's virtualenv, with this flow-sdk installed editable for the in-process shim."""
    return cached_venv("tap-postgres", [TAP_REQUIREMENT, f"-e {ROOT / 'python'}"])


@pytest.fixture(scope="session")
def tap_config(postgres: PostgresServer) -> dict[str, Any]:
    return {
        "host": postgres.host,
        "port": postgres.port,
        "user": postgres.user,
        "password": postgres.password,
        "database": DATABASE,
        "filter_schemas": ["public"],
    }
