"""Fixtures of the image tests: the container engine (or a skip naming why there is none)
and each workspace connector's image, built once per test session with build-local.sh."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from flow_sdk.containers import ENGINE_ENV, container_engine

ROOT = Path(__file__).resolve().parents[3]
REQUIRE_ENV = "FLOW_SDK_REQUIRE_IMAGES"
"""Set (to 1) where an engine must exist, as in GitHub's CI: no engine fails instead of skipping."""
PREPARE = "run scripts/prepare_images.sh (as root) to install and prepare Podman"
# The bases python/Dockerfile builds FROM; without a registry only the stand-ins exist.
BASES = ("docker.io/library/python:3.11-slim", "ghcr.io/astral-sh/uv:")

sys.path.insert(0, str(ROOT / "destination-kvdb" / "tests"))  # the loopback KvDB server


def _skip(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1, but {reason}")
    pytest.skip(reason)


def engine_or_skip() -> str:
    """The engine to build and run images with; the tests skip, saying why, without one."""
    engine = container_engine()
    if engine is None:
        chosen = os.environ.get(ENGINE_ENV)
        _skip(
            f"no container engine answers ({ENGINE_ENV}={chosen} does not)"
            if chosen
            else f"no container engine answers (`docker info` and `podman info` failed): {PREPARE}"
        )
    if engine == "podman":
        uv_tag = next(
            line.split(":", 2)[-1]
            for line in (ROOT / "python" / "Dockerfile").read_text().splitlines()
            if line.startswith("ARG UV_IMAGE=")
        )
        for base in (BASES[0], BASES[1] + uv_tag):
            exists = subprocess.run(["podman", "image", "exists", base], capture_output=True)
            if exists.returncode != 0:
                pytest.skip(
                    f"podman has no base image {base} and no registry may serve it: {PREPARE}"
                )
    return engine


@pytest.fixture(scope="session")
def engine() -> str:
    return engine_or_skip()


class Images:
    """Builds `ghcr.io/estuary/<connector>:local` with build-local.sh, once per session; a
    lock file makes concurrent test workers wait for one build (the second is then cached)."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.built: dict[str, str] = {}

    def __call__(self, connector: str) -> str:
        if connector not in self.built:
            lock_path = Path(tempfile.gettempdir()) / f"flow-sdk-image-build-{connector}.lock"
            with lock_path.open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                started = time.monotonic()
                done = subprocess.run(
                    [str(ROOT / "build-local.sh"), connector],
                    env={**os.environ, ENGINE_ENV: self.engine},
                    capture_output=True,
                    text=True,
                    timeout=1200,
                )
            if done.returncode != 0:  # our image does not build: a failure, never a skip
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
                pytest.fail(f"build-local.sh {connector} failed with {self.engine}:\n{tail}")
            print(f"built {connector} in {time.monotonic() - started:.1f}s", file=sys.stderr)
            self.built[connector] = f"ghcr.io/estuary/{connector}:local"
        return self.built[connector]


@pytest.fixture(scope="session")
def images(engine: str) -> Images:
    return Images(engine)
