"""Container engines that run connector images: Docker or Podman, as `$CONTAINER_ENGINE`
chooses (the variable build-local.sh reads too), else whichever answers first."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from flow_sdk.errors import ConnectorError

ENGINE_ENV = "CONTAINER_ENGINE"
"""Names the engine that runs image connectors (docker or podman), as for build-local.sh."""
ENGINES = ("docker", "podman")


def container_engine() -> str | None:
    """The engine that runs image connectors: `$CONTAINER_ENGINE` if it answers, else Docker,
    else Podman, whichever answers first (None when none does)."""
    chosen = os.environ.get(ENGINE_ENV, "")
    if chosen:
        return chosen if chosen in ENGINES and engine_answers(chosen) else None
    return next((engine for engine in ENGINES if engine_answers(engine)), None)


def no_engine_reason() -> str:
    chosen = os.environ.get(ENGINE_ENV, "")
    if chosen and chosen not in ENGINES:
        return f"cannot run: {ENGINE_ENV} must be docker or podman, not {chosen!r}"
    if chosen:
        return (
            f"needs {chosen} ({ENGINE_ENV}={chosen}), and it did not answer (`{chosen} info` "
            f"failed); start it, or unset {ENGINE_ENV}"
        )
    return (
        "needs a container engine (Docker or Podman), and none answered (`docker info` and "
        "`podman info` failed); start Docker, install Podman (scripts/prepare_images.sh), or "
        "use an `endpoint.local` command instead"
    )


@functools.cache
def engine_answers(engine: str) -> bool:
    """Whether a container engine answers (not merely whether its client is installed)."""
    if shutil.which(engine) is None:
        return False
    try:
        done = subprocess.run(
            [
                engine,
                "info",
                "--format",
                "{{.Host.Arch}}" if engine == "podman" else "{{.ServerVersion}}",
            ],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def image_command(image: str, files_dir: str, network: str = "bridge") -> list[str]:
    """`<engine> run -i --rm` of an Airbyte connector image for subprocess mode: the shim
    hands config, catalog and state over as files under `files_dir`, so that directory is
    mounted at the same path, and the container runs as this process's user because those
    files are readable by it alone."""
    engine = container_engine()
    if engine is None:
        raise ConnectorError(f"the Airbyte connector image {image!r} {no_engine_reason()}")
    files_dir = os.path.abspath(files_dir)
    return [
        engine,
        "run",
        "-i",
        "--rm",
        "--network",
        network,
        "--volume",
        f"{files_dir}:{files_dir}",
        "--user",
        f"{os.getuid()}:{os.getgid()}",
        image,
    ]
