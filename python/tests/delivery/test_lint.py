"""The delivery files pass their linters: hadolint for the image template, shellcheck for
the scripts (both installed as wheels by the workspace's dev dependencies)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SCRIPTS = [
    "build-local.sh",
    "pull_upstream.sh",
    "python/pull_upstream.sh",
    "scripts/install_connector.sh",
    "scripts/prepare_images.sh",
    ".ci/run",
]


def lint(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / tool
    assert executable.exists(), f"{tool} is missing from the dev environment: run 'uv sync'"
    return subprocess.run(
        [str(executable), *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_the_dockerfile_passes_hadolint() -> None:
    done = lint("hadolint", "python/Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_scripts_pass_shellcheck(script: str) -> None:
    done = lint("shellcheck", "--severity=style", script)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (ROOT / script).stat().st_mode & 0o111, f"{script} must be executable"
