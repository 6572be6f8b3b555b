"""build-local.sh, driven for real against stand-in `docker` executables on PATH: one that
records its arguments and one that fails like a missing engine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

RECORDING_DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "$DOCKER_LOG"
printf 'DOCKER_BUILDKIT=%s\\n' "$DOCKER_BUILDKIT" >> "$DOCKER_LOG"
[ "$1" = build ] && [ -n "$FAIL_BUILD" ] && exit 17
exit 0
"""
ENGINELESS_DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "$DOCKER_LOG"
if [ "$1" = info ]; then
  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2
  exit 1
fi
exit 0
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace holding the real script and connector directories of every kind."""
    root = tmp_path / "ws"
    (root / "python").mkdir(parents=True)
    shutil.copy2(ROOT / "build-local.sh", root / "build-local.sh")
    shutil.copy2(ROOT / "python" / "Dockerfile", root / "python" / "Dockerfile")
    for name in ("source-alpha", "destination-beta", "materialize-gamma", "source-custom"):
        (root / name).mkdir()
        (root / name / "pyproject.toml").write_text("[project]\n")
    (root / "source-custom" / "Dockerfile").write_text("FROM scratch\n")
    return root


def build(
    workspace: Path, tmp_path: Path, *args: str, docker: str | None = RECORDING_DOCKER, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = [str(bin_dir), "/usr/bin", "/bin"]
    if docker is not None:
        (bin_dir / "docker").write_text(docker)
        (bin_dir / "docker").chmod(0o755)
    log = tmp_path / "docker.log"
    done = subprocess.run(
        [str(workspace / "build-local.sh"), *args],
        cwd=tmp_path,  # the script finds the workspace from its own location
        env={"PATH": os.pathsep.join(path), "DOCKER_LOG": str(log), "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done, log.read_text().splitlines() if log.exists() else []


def test_a_source_is_built_as_a_capture_from_the_template(workspace: Path, tmp_path: Path) -> None:
    done, calls = build(workspace, tmp_path, "source-alpha")
    assert done.returncode == 0, done.stderr
    assert calls[0] == "info"
    assert calls[2] == (
        "build --platform linux/amd64 --file python/Dockerfile"
        " --build-arg CONNECTOR_NAME=source-alpha --build-arg CONNECTOR_TYPE=capture"
        " --build-arg DOCS_URL=https://go.estuary.dev/source-alpha"
        " --tag ghcr.io/estuary/source-alpha:local ."
    )
    assert calls[3] == "DOCKER_BUILDKIT=1"  # RUN --mount needs BuildKit
    assert "built ghcr.io/estuary/source-alpha:local" in done.stderr


@pytest.mark.parametrize("connector", ["destination-beta", "materialize-gamma/"])
def test_destinations_and_materializations_are_built_as_materializations(
    workspace: Path, tmp_path: Path, connector: str
) -> None:
    done, calls = build(workspace, tmp_path, connector)
    assert done.returncode == 0, done.stderr
    name = connector.rstrip("/")
    assert "--build-arg CONNECTOR_TYPE=materialize" in calls[2]
    assert f"--tag ghcr.io/estuary/{name}:local" in calls[2]


def test_a_connector_with_its_own_dockerfile_uses_it_unless_one_is_given(
    workspace: Path, tmp_path: Path
) -> None:
    _, calls = build(workspace, tmp_path, "source-custom")
    assert "--file source-custom/Dockerfile" in calls[2]
    _, calls = build(workspace, tmp_path, "source-custom", "python/Dockerfile")
    assert "--file python/Dockerfile" in calls[-2]


def test_docs_url_and_platform_can_be_overridden(workspace: Path, tmp_path: Path) -> None:
    _, calls = build(
        workspace, tmp_path, "source-alpha", DOCS_URL="https://d.example/a", PLATFORM="linux/arm64"
    )
    assert "--platform linux/arm64" in calls[2]
    assert "--build-arg DOCS_URL=https://d.example/a" in calls[2]


@pytest.mark.parametrize("args", [[], ["--help"], ["-h"]])
def test_usage_on_help_or_no_arguments(workspace: Path, tmp_path: Path, args: list[str]) -> None:
    done, calls = build(workspace, tmp_path, *args)
    out = done.stdout if args else done.stderr
    assert "usage: ./build-local.sh CONNECTOR [DOCKERFILE]" in out
    assert done.returncode == (0 if args else 2)
    assert calls == []


def test_no_engine_is_a_clear_error_and_nothing_is_built(workspace: Path, tmp_path: Path) -> None:
    done, calls = build(workspace, tmp_path, "source-alpha", docker=ENGINELESS_DOCKER)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("build-local.sh: no Docker engine answers ('docker info' failed: Cannot")
    assert "start Docker" in last
    assert calls == ["info"]


def test_no_docker_command_is_a_clear_error(workspace: Path, tmp_path: Path) -> None:
    done, _ = build(workspace, tmp_path, "source-alpha", docker=None)
    assert done.returncode == 1
    assert "the docker command is not installed" in done.stderr


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["bigdata"], "cannot tell the type of 'bigdata'"),
        (["source-missing"], "no connector directory 'source-missing'"),
        (["source-alpha", "nope/Dockerfile"], "Dockerfile 'nope/Dockerfile' does not exist"),
        (["source-alpha", "python/Dockerfile", "extra"], "expected CONNECTOR [DOCKERFILE]"),
    ],
)
def test_bad_arguments_are_clear_errors(
    workspace: Path, tmp_path: Path, args: list[str], complaint: str
) -> None:
    done, calls = build(workspace, tmp_path, *args)
    assert done.returncode != 0
    assert complaint in done.stderr
    assert not any(call.startswith("build") for call in calls)


def test_a_failed_build_fails_the_script(workspace: Path, tmp_path: Path) -> None:
    done, _ = build(workspace, tmp_path, "source-alpha", FAIL_BUILD="1")
    assert done.returncode == 1
    assert "docker build of ghcr.io/estuary/source-alpha:local failed" in done.stderr
