"""`--pip REQUIREMENT`: a published connector run from an isolated virtualenv of its own,
built with uv on first use and cached, so that nobody builds environments by hand.

A virtualenv is keyed by the requirement, the interpreter (`--python`, default: the one
running flow-sdk) and the content of the `--constraint` file, and lives under
`$FLOW_SDK_VENV_CACHE`, else `$XDG_CACHE_HOME/flow-sdk/venvs`, else
`~/.cache/flow-sdk/venvs`. A file lock per virtualenv makes concurrent first uses (the
runtime starts a process per request) wait for one build; a build is marked complete only
after the install succeeded, so an interrupted one is redone. The default entry point is
the package's console script named like the package without the `airbyte-` prefix
(`airbyte-source-faker` → `source-faker`, `tap-github` → `tap-github`).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

from flow_sdk.logger import last_words

CACHE_ENV = "FLOW_SDK_VENV_CACHE"
READY = ".flow-sdk-ready"
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_BOX = re.compile(r"^[\s×│╰─▶├╭╮╯┬┴┼]*")


class InstallError(Exception):
    """A requirement that could not be installed or run: one sentence, for the last line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `--pip`, `--python` and `--constraint` options of the subprocess-mode shims."""
    parser.add_argument(
        "--pip",
        metavar="REQUIREMENT",
        help="install this package (a pip requirement, e.g. 'airbyte-source-faker==7.2.1') into "
        "an isolated cached virtualenv on first use and run it; the command after `--` is then "
        "optional: its entry point (default: the console script named like the package "
        "without `airbyte-`)",
    )
    parser.add_argument(
        "--python",
        metavar="INTERPRETER",
        help="with --pip: the virtualenv's Python (a path or a version uv can find, e.g. 3.11; "
        "default: the one running flow-sdk)",
    )
    parser.add_argument(
        "--constraint",
        metavar="FILE",
        help="with --pip: a pip constraints file (e.g. `uv export` or `pip freeze` output) the "
        "install must honour",
    )


def command_of(args: argparse.Namespace, command: list[str]) -> list[str]:
    """The connector command: `command` as given, or, with `--pip`, the entry point in the
    requirement's cached virtualenv (built now if needed). A failure ends the process with
    one sentence as its last stderr line."""
    try:
        return _command_of(args, command)
    except InstallError as exc:
        last_words(str(exc))
        raise SystemExit(1) from None


def _command_of(args: argparse.Namespace, command: list[str]) -> list[str]:
    if not args.pip:
        if args.python or args.constraint:
            raise InstallError("--python and --constraint only apply with --pip")
        return command
    venv = ensure_venv(args.pip, args.python, args.constraint)
    return entry_point(venv, args.pip, command)


def cache_root() -> Path:
    if override := os.environ.get(CACHE_ENV):
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "flow-sdk" / "venvs"


def package_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if match is None:
        raise InstallError(f"--pip {requirement!r} does not start with a package name")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def venv_dir(requirement: str, python: str | None, constraint: str | None) -> Path:
    """Where the virtualenv of this requirement, interpreter and constraints lives."""
    interpreter = python or sys.executable
    found = shutil.which(interpreter)
    key = {
        "requirement": requirement.strip(),
        "python": os.path.realpath(found) if found else interpreter,
        "constraints": _read_constraint(constraint),
    }
    digest = hashlib.sha256(orjson.dumps(key, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    return cache_root() / f"{package_name(requirement)}-{digest}"


def ensure_venv(requirement: str, python: str | None, constraint: str | None) -> Path:
    """The requirement's virtualenv, built under a file lock when it is not complete yet."""
    venv = venv_dir(requirement, python, constraint)
    if (venv / READY).exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it: wait, reuse
        if not (venv / READY).exists():
            _build(venv, requirement, python or sys.executable, constraint)
    return venv


def _build(venv: Path, requirement: str, python: str, constraint: str | None) -> None:
    uv = _uv()
    _info(f"installing {requirement} into {venv} (first use)")
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    _run([uv, "venv", "-q", "--python", python, str(venv)], requirement, "creating its virtualenv")
    install = [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), requirement]
    if constraint:
        install += ["--constraint", constraint]
    _run(install, requirement, "installing it")
    (venv / READY).write_text(requirement + "\n")
    _info(f"installed {requirement} in {time.monotonic() - started:.1f}s")


def _run(argv: list[str], requirement: str, step: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise InstallError(
            f"--pip {requirement!r} failed while {step}: {reason(done.stderr) or 'no message'}"
        )


def reason(stderr: str) -> str:
    """pip's (uv's) explanation of a failure as one line: `error:` and box drawing removed,
    each `cause:` joined to what it explains, wrapped lines joined."""
    parts: list[str] = []
    for raw in stderr.splitlines():
        boxed = _BOX.match(raw)
        line = raw[boxed.end() :].strip() if boxed else raw.strip()
        continued = bool(boxed) and raw[: boxed.end()].isspace() and raw[:1].isspace()
        if not line:
            continue
        line = line.removeprefix("error: ")
        for label in ("cause: ", "Caused by: "):
            if line.startswith(label):
                parts.append(line.removeprefix(label))
                break
        else:
            if continued and parts and not line.startswith("hint:"):
                parts[-1] += " " + line
            else:
                parts.append(line)
    return ": ".join(p.rstrip(":") for p in parts)


def entry_point(venv: Path, requirement: str, command: list[str]) -> list[str]:
    """The command to run: `command` with its program looked up in the virtualenv first, or
    the default console script."""
    bin_dir = venv / "bin"
    if command:
        program = bin_dir / command[0]
        return [str(program) if program.exists() else command[0], *command[1:]]
    script = package_name(requirement).removeprefix("airbyte-")
    if (bin_dir / script).exists():
        return [str(bin_dir / script)]
    scripts = sorted(
        p.name
        for p in bin_dir.iterdir()
        if p.is_file() and os.access(p, os.X_OK) and not p.name.startswith(("python", "activate"))
    )
    raise InstallError(
        f"--pip {requirement!r} installed no console script named {script}; give the entry "
        f"point after `--` (its virtualenv has: {', '.join(scripts) or 'none'})"
    )


def _read_constraint(constraint: str | None) -> str:
    if not constraint:
        return ""
    try:
        return Path(constraint).read_text()
    except OSError as exc:
        raise InstallError(
            f"--constraint {constraint!r} cannot be read: {exc.strerror or exc}"
        ) from None


def _uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        raise InstallError(
            "--pip needs uv (https://docs.astral.sh/uv/) on PATH or beside this Python to "
            "build the connector's virtualenv; install it with `pip install uv`"
        )
    return found


def _info(message: str) -> None:
    """A log line on stderr (stdout is the protocol's)."""
    line = {"level": "info", "msg": message}
    sys.stderr.write(orjson.dumps(line).decode() + "\n")
    sys.stderr.flush()
