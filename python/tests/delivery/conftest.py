"""Fixtures for the delivery tests: the workspace's scripts, loaded or run from its root."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures"


def load_script(name: str) -> ModuleType:
    """Import scripts/<name>.py (the scripts directory is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"delivery_{name}", ROOT / "scripts" / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def image_smoke() -> ModuleType:
    return load_script("image_smoke")


SMOKE_WORKSPACE = """\
[project]
name = "smoke-workspace"
version = "0.0.0"
requires-python = ">=3.10"
dependencies = ["flow-sdk", "source-smoke"]

[tool.uv]
package = false

[tool.uv.sources]
flow-sdk = { path = "python", editable = true }
source-smoke = { path = "source-smoke", editable = true }
"""


@pytest.fixture(scope="session")
def smoke_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway workspace (flow-sdk, one tiny connector, its own uv.lock) to build from."""
    root = tmp_path_factory.mktemp("workspace")
    ignore = shutil.ignore_patterns("tests", "__pycache__", ".venv", "*.egg-info")
    shutil.copytree(ROOT / "python", root / "python", ignore=ignore)
    shutil.copytree(FIXTURES / "source-smoke", root / "source-smoke", ignore=ignore)
    shutil.copytree(ROOT / "scripts", root / "scripts", ignore=ignore)
    shutil.copy2(ROOT / ".dockerignore", root / ".dockerignore")
    shutil.copy2(ROOT / "uv.lock", root / "uv.lock")  # a warm start: locked versions are kept
    (root / "pyproject.toml").write_text(SMOKE_WORKSPACE)
    uv = shutil.which("uv")
    assert uv, "the delivery tests need uv on PATH (scripts/bootstrap.sh installs it)"
    subprocess.run([uv, "lock", "--quiet"], cwd=root, check=True, timeout=300)
    return root
