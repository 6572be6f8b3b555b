"""Virtualenvs of other airbyte-cdk generations for the shim's tests, built once with uv and
cached under `.cache/` (gitignored); the uv cache makes a rebuild take seconds."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / ".cache"


def cached_venv(name: str, requirements: list[str]) -> Path:
    """The Python 3.11 virtualenv `.cache/<name>` holding `requirements` (pip specifiers;
    `-e <dir>` for editable ones), built when missing or built from other requirements.
    Returns its `python`."""
    venv = CACHE / name
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = "\n".join(requirements)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip(f"uv is needed to build the {name} virtualenv")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([uv, "venv", "-q", "--python", "3.11", str(venv)], check=True)
    args = [arg for req in requirements for arg in req.split(" ", 1)]
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), *args], check=True)
    stamp.write_text(wanted)
    return python
