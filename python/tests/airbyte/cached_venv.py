"""Virtualenvs of other airbyte-cdk generations (and of published taps) for the shims' tests,
built once with uv and cached under `.cache/` (gitignored); the uv cache makes a rebuild take
seconds. A file lock per virtualenv lets pytest-xdist workers share one build."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / ".cache"


def cached_venv(name: str, requirements: list[str], overrides: list[str] = ()) -> Path:
    """The Python 3.11 virtualenv `.cache/<name>` holding `requirements` (pip specifiers;
    `-e <dir>` for editable ones), built when missing or built from other requirements.
    `overrides` replace a dependency's pin (uv's `--override`), for a published package whose
    metadata cannot be satisfied as it stands. Returns its `python`."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it: wait, then reuse
        return _build(name, requirements, list(overrides))


def _build(name: str, requirements: list[str], overrides: list[str]) -> Path:
    venv = CACHE / name
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = "\n".join(requirements + [f"--override {o}" for o in overrides])
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    beside = Path(sys.executable).with_name("uv")  # the workspace's own (a dev dependency)
    uv = str(beside) if beside.exists() else shutil.which("uv")
    if uv is None:
        pytest.skip(f"uv is needed to build the {name} virtualenv")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([uv, "venv", "-q", "--python", "3.11", str(venv)], check=True)
    args = [arg for req in requirements for arg in req.split(" ", 1)]
    if overrides:
        override_file = CACHE / f"{name}.overrides.txt"
        override_file.write_text("\n".join(overrides) + "\n")
        args += ["--override", str(override_file)]
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), *args], check=True)
    stamp.write_text(wanted)
    return python
