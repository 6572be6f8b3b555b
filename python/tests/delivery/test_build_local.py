"""build-local.sh, driven for real against stand-in `docker` and `podman` executables on a
PATH that holds nothing else but the few tools the script uses: recording engines, one
that fails like a missing Docker engine, one without buildx. (python/tests/images/ builds
real images.)"""

from __future__ import annotations

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
NO_BUILDX_DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "$DOCKER_LOG"
[ "$1" = buildx ] && exit 1
exit 0
"""
RECORDING_PODMAN = """#!/bin/sh
printf 'podman %s\\n' "$*" >> "$DOCKER_LOG"
[ "$1" = build ] && [ -n "$FAIL_BUILD" ] && exit 17
[ "$1" = image ] && [ -n "$STAND_IN" ] && echo true
exit 0
"""
TOOLS = ("bash", "dirname", "cat", "env")
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
    workspace: Path,
    tmp_path: Path,
    *args: str,
    docker: str | None = RECORDING_DOCKER,
    podman: str | None = None,
    **env: str,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"the build-local.sh tests need {tool} on PATH"
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    for name, script in (("docker", docker), ("podman", podman)):
        (bin_dir / name).unlink(missing_ok=True)
        if script is not None:
            (bin_dir / name).write_text(script)
            (bin_dir / name).chmod(0o755)
    log = tmp_path / "docker.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        ["/bin/bash", str(workspace / "build-local.sh"), *args],
        cwd=tmp_path,  # the script finds the workspace from its own location
        env={"PATH": str(bin_dir), "DOCKER_LOG": str(log), "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done, log.read_text().splitlines() if log.exists() else []


def build_call(calls: list[str]) -> str:
    """The engine's build command line among the recorded calls."""
    builds = [call for call in calls if call.startswith(("build ", "podman build "))]
    assert len(builds) == 1, calls
    return builds[0]


def test_a_source_is_built_as_a_capture_from_the_template(workspace: Path, tmp_path: Path) -> None:
    done, calls = build(workspace, tmp_path, "source-alpha")
    assert done.returncode == 0, done.stderr
    assert calls[0] == "info"
    assert build_call(calls) == (
        "build --platform linux/amd64 --file python/Dockerfile"
        " --build-arg CONNECTOR_NAME=source-alpha --build-arg CONNECTOR_TYPE=capture"
        " --build-arg DOCS_URL=https://go.estuary.dev/source-alpha"
        " --tag ghcr.io/estuary/source-alpha:local ."
    )
    assert calls[calls.index(build_call(calls)) + 1] == "DOCKER_BUILDKIT=1"  # RUN --mount needs it
    assert "built ghcr.io/estuary/source-alpha:local" in done.stderr


@pytest.mark.parametrize("connector", ["destination-beta", "materialize-gamma/"])
def test_destinations_and_materializations_are_built_as_materializations(
    workspace: Path, tmp_path: Path, connector: str
) -> None:
    done, calls = build(workspace, tmp_path, connector)
    assert done.returncode == 0, done.stderr
    name = connector.rstrip("/")
    assert "--build-arg CONNECTOR_TYPE=materialize" in build_call(calls)
    assert f"--tag ghcr.io/estuary/{name}:local" in build_call(calls)


def test_a_connector_with_its_own_dockerfile_uses_it_unless_one_is_given(
    workspace: Path, tmp_path: Path
) -> None:
    _, calls = build(workspace, tmp_path, "source-custom")
    assert "--file source-custom/Dockerfile" in build_call(calls)
    _, calls = build(workspace, tmp_path, "source-custom", "python/Dockerfile")
    assert "--file python/Dockerfile" in build_call(calls)


def test_docs_url_and_platform_can_be_overridden(workspace: Path, tmp_path: Path) -> None:
    _, calls = build(
        workspace, tmp_path, "source-alpha", DOCS_URL="https://d.example/a", PLATFORM="linux/arm64"
    )
    assert "--platform linux/arm64" in build_call(calls)
    assert "--build-arg DOCS_URL=https://d.example/a" in build_call(calls)


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
    assert "podman is not installed" in last
    assert calls == ["info"]


def test_a_chosen_docker_without_an_engine_is_not_replaced_by_podman(
    workspace: Path, tmp_path: Path
) -> None:
    done, calls = build(
        workspace,
        tmp_path,
        "source-alpha",
        docker=ENGINELESS_DOCKER,
        podman=RECORDING_PODMAN,
        CONTAINER_ENGINE="docker",
    )
    assert done.returncode == 1
    assert "no Docker engine answers" in done.stderr
    assert "start Docker" in done.stderr
    assert calls == ["info"]


def test_no_docker_command_is_a_clear_error(workspace: Path, tmp_path: Path) -> None:
    done, _ = build(workspace, tmp_path, "source-alpha", docker=None)
    assert done.returncode == 1
    assert "the docker command is not installed, and podman is not installed" in done.stderr


@pytest.mark.parametrize(
    "docker", [ENGINELESS_DOCKER, NO_BUILDX_DOCKER, None], ids=["no-engine", "no-buildx", "none"]
)
def test_podman_builds_when_docker_cannot(workspace: Path, tmp_path: Path, docker: str) -> None:
    done, calls = build(workspace, tmp_path, "source-alpha", docker=docker, podman=RECORDING_PODMAN)
    assert done.returncode == 0, done.stderr
    assert build_call(calls) == (
        "podman build --platform linux/amd64 --file python/Dockerfile"
        " --build-arg CONNECTOR_NAME=source-alpha --build-arg CONNECTOR_TYPE=capture"
        " --build-arg DOCS_URL=https://go.estuary.dev/source-alpha"
        " --tag ghcr.io/estuary/source-alpha:local ."
    )
    assert "(podman)" in done.stderr
    assert "stand-in" not in done.stderr


def test_podman_can_be_chosen_over_a_working_docker(workspace: Path, tmp_path: Path) -> None:
    done, calls = build(
        workspace, tmp_path, "source-alpha", podman=RECORDING_PODMAN, CONTAINER_ENGINE="podman"
    )
    assert done.returncode == 0, done.stderr
    assert all(call.startswith("podman ") for call in calls), "docker is never asked"
    assert build_call(calls).startswith("podman build ")


def test_docker_with_buildkit_is_preferred_to_podman(workspace: Path, tmp_path: Path) -> None:
    done, calls = build(workspace, tmp_path, "source-alpha", podman=RECORDING_PODMAN)
    assert done.returncode == 0, done.stderr
    assert build_call(calls).startswith("build ")
    assert not any(call.startswith("podman ") for call in calls)


def test_an_image_on_stand_in_bases_is_flagged_never_to_push(
    workspace: Path, tmp_path: Path
) -> None:
    done, _ = build(
        workspace,
        tmp_path,
        "source-alpha",
        podman=RECORDING_PODMAN,
        CONTAINER_ENGINE="podman",
        STAND_IN="1",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "build-local.sh: warning: ghcr.io/estuary/source-alpha:local is built on stand-in base"
        " images (scripts/prepare_images.sh): for local checks only, never push it"
    )


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        (
            {"CONTAINER_ENGINE": "nerdctl"},
            "CONTAINER_ENGINE must be docker or podman, not 'nerdctl'",
        ),
        ({"CONTAINER_ENGINE": "podman"}, "CONTAINER_ENGINE=podman, but the podman command is not"),
    ],
)
def test_bad_engine_choices_are_clear_errors(
    workspace: Path, tmp_path: Path, env: dict[str, str], complaint: str
) -> None:
    done, calls = build(workspace, tmp_path, "source-alpha", **env)
    assert done.returncode == 1
    assert complaint in done.stderr
    assert calls == []


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


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_a_failed_build_fails_the_script(workspace: Path, tmp_path: Path, engine: str) -> None:
    done, _ = build(
        workspace,
        tmp_path,
        "source-alpha",
        podman=RECORDING_PODMAN,
        FAIL_BUILD="1",
        CONTAINER_ENGINE=engine,
    )
    assert done.returncode == 1
    assert f"{engine} build of ghcr.io/estuary/source-alpha:local failed" in done.stderr
