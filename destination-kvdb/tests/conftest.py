"""Fixtures of destination-kvdb's tests; the helpers live in `kvdb_driver.py` and
`kvdb_server.py` (on sys.path)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kvdb_driver import BUCKET_ID, SECRET, AirbyteCli  # noqa: E402
from kvdb_server import FakeKvdb, serving  # noqa: E402


@pytest.fixture
def kvdb() -> Iterator[FakeKvdb]:
    with serving() as fake:
        fake.bucket(BUCKET_ID, SECRET)
        yield fake


@pytest.fixture
def cli(tmp_path: Path) -> AirbyteCli:
    return AirbyteCli(tmp_path)
