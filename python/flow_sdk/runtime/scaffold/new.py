"""The steps of `flow-sdk new`, in order: files, workspace edits, `uv lock` and `uv sync`,
the package's `__main__` (for a wrapped package, after finding its Source or Destination
class in the synced environment), a stub config, discover. Until the connector can run, a
failure puts the workspace back as it was; after that (a config the stub cannot satisfy),
the connector stays and the error says what is left to do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flow_sdk.pip_env import reason
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.scaffold import templates
from flow_sdk.runtime.scaffold.plan import CATALOG, WORKFLOW, Plan, ScaffoldError
from flow_sdk.runtime.scaffold.templates import Wiring
from flow_sdk.runtime.scaffold.workspace import (
    Snapshot,
    add_to_catalog,
    add_to_ci_matrix,
    add_to_root_pyproject,
)


def new_connector(plan: Plan, console: Console, discover: bool = True) -> None:
    """Scaffold `plan`, saying on `console` each file it created or changed."""
    snapshot = Snapshot(plan)
    try:
        _write_files(plan, console)
        add_to_root_pyproject(plan)
        console.line(f"changed pyproject.toml (workspace dependency and testpaths: {plan.name})")
        add_to_ci_matrix(plan)
        console.line(f"changed {WORKFLOW} (connectors matrix: {plan.name}, {plan.protocol})")
        add_to_catalog(plan)
        console.line(f"changed {CATALOG} ({_kind(plan)} {plan.task}, no bindings yet)")
        try:
            _uv(plan, ["lock"], "locking the workspace")
        except ScaffoldError as exc:
            raise ScaffoldError(f"{exc}{_lock_hint(plan)}") from None
        console.line("changed uv.lock (uv lock)")
        _uv(plan, ["sync", "--frozen", "--inexact"], "installing it into the workspace")
        console.line(f"installed {plan.name} into {_venv(plan).parent.name}/ (uv sync)")
        main = plan.directory / plan.package / "__main__.py"
        main.write_text(templates.package_main(plan, _wiring(plan, console)))
        console.line(f"created {_rel(plan, main)}")
        _format(plan)
    except BaseException as exc:
        snapshot.restore()
        if isinstance(exc, ScaffoldError):
            raise ScaffoldError(f"{exc}; nothing was changed") from None
        raise
    with _workspace_path(plan):
        _configure(plan, console, discover)


def _lock_hint(plan: Plan) -> str:
    if plan.dependency is None or plan.dependency.path is not None:
        return ""
    command = "singer-capture" if plan.origin.kind == "singer" else "airbyte-capture"
    if plan.protocol != "capture":
        command = "airbyte-materialize"
    return (
        f" (a package the workspace's pins cannot live with runs in a virtualenv of its own: "
        f"`command: [flow-sdk, {command}, --pip, {plan.dependency.requirement}]` in a catalog)"
    )


def _kind(plan: Plan) -> str:
    return "capture" if plan.protocol == "capture" else "materialization"


def _rel(plan: Plan, path: Path) -> str:
    return path.relative_to(plan.workspace).as_posix()


def _write_files(plan: Plan, console: Console) -> None:
    files: dict[Path, str] = {
        plan.directory / "pyproject.toml": templates.pyproject(plan),
        plan.directory / "__main__.py": templates.render(
            templates.ROOT_MAIN, name=plan.name, package=plan.package
        ),
        plan.directory / plan.package / "__init__.py": templates.render(
            templates.PACKAGE_INIT, name=plan.name, words=templates.origin_words(plan)
        ),
        plan.directory / "tests" / f"test_{plan.package}.py": templates.test_file(plan),
    }
    package = plan.directory / plan.package
    if plan.origin.kind == "native":
        module = "capture" if plan.protocol == "capture" else "materialization"
        files[package / f"{module}.py"] = templates.native_module(plan)
    elif plan.origin.kind == "manifest":
        assert plan.origin.path is not None
        files[package / "manifest.yaml"] = plan.origin.path.read_text()
        if plan.origin.components is not None:
            files[package / "components.py"] = plan.origin.components.read_text()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        console.line(f"created {_rel(plan, path)}")
    _vendor(plan, console)


def _vendor(plan: Plan, console: Console) -> None:
    """Copy a wrapped package given as a local path into the connector (`vendor/NAME`): the
    image build sees only `python/` and the connector directory, so a path outside them
    would build here and nowhere else."""
    dep = plan.dependency
    if dep is None or dep.path is None or plan.origin.path is None:
        return
    target = plan.directory / dep.path
    shutil.copytree(plan.origin.path, target, ignore=_not_vendored(plan.origin.path))
    console.line(
        f"created {_rel(plan, target)}/ (a copy of {plan.origin.path}: edit it there; the "
        "image builds from it)"
    )


_CACHES = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")
_TOP_LEVEL_ONLY = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info")


def _not_vendored(root: Path) -> Callable[[str, list[str]], set[str]]:
    """What a vendored copy leaves out: caches anywhere, and the checkout's VCS, virtualenv
    and build outputs at its top only (a subpackage named `build` is code, and is kept)."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        left_out = set(_CACHES(directory, names))
        if Path(directory) == root:
            left_out |= set(_TOP_LEVEL_ONLY(directory, names))
        return left_out

    return ignore


# ---- uv and the workspace environment ----


def _uv(plan: Plan, args: list[str], step: str) -> None:
    beside = Path(sys.executable).with_name("uv")
    uv = str(beside) if beside.exists() else shutil.which("uv")
    if uv is None:
        raise ScaffoldError("flow-sdk new needs uv on PATH (or beside this Python): pip install uv")
    done = subprocess.run(
        [uv, *args, "--quiet"],
        cwd=plan.workspace,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise ScaffoldError(
            f"`uv {' '.join(args)}` failed while {step}: {reason(done.stderr) or 'no message'}"
        )


def _format(plan: Plan) -> None:
    """Long names can push a template's line past the workspace's ruff limit: the files are
    formatted with the workspace's ruff (a dev tool it has), so CI's lint passes."""
    ruff = _venv(plan) / "ruff"
    if ruff.exists():
        subprocess.run(
            [str(ruff), "format", "--quiet", str(plan.directory)],
            cwd=plan.workspace,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )


def _venv(plan: Plan) -> Path:
    """The workspace environment's bin directory (where `uv sync` installed the connector)."""
    override = os.environ.get("UV_PROJECT_ENVIRONMENT")
    venv = Path(override) if override else plan.workspace / ".venv"
    return venv / "bin"


@contextmanager
def _workspace_path(plan: Plan) -> Iterator[None]:
    """The connector runs as `python -m <package>`: the workspace environment's `python`."""
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{_venv(plan)}{os.pathsep}{before}"
    try:
        yield
    finally:
        os.environ["PATH"] = before


# ---- wiring a wrapped package ----

_FIND = r"""
import importlib, importlib.metadata as md, inspect, json, sys
name, protocol = sys.argv[1], sys.argv[2]
dist = md.distribution(name)
scripts = sorted(e.name for e in dist.entry_points if e.group == "console_scripts")
tops = [e.value.split(":")[0].split(".")[0] for e in dist.entry_points
        if e.group == "console_scripts"]
tops += [name.replace("-", "_"), name.removeprefix("airbyte-").replace("-", "_")]
found = {}
try:
    if protocol == "capture":
        from airbyte_cdk.sources import Source as Base
    else:
        from airbyte_cdk.destinations import Destination as Base
except ImportError:
    Base = None
for top in dict.fromkeys(tops):
    for module_name in (top, f"{top}.source", f"{top}.destination"):
        try:
            module = importlib.import_module(module_name)
        except Exception:
            continue
        for value in vars(module).values():
            if (Base and inspect.isclass(value) and issubclass(value, Base)
                    and value.__module__.split(".")[0] == top and not inspect.isabstract(value)):
                try:
                    value()
                except Exception:
                    continue
                found.setdefault(value.__module__ + "." + value.__qualname__, module_name)
print(json.dumps({"scripts": scripts, "classes": found}))
"""


def _wiring(plan: Plan, console: Console) -> Wiring:
    if plan.origin.kind == "native":
        return Wiring("native")
    if plan.origin.kind == "manifest":
        return Wiring("manifest")
    assert plan.dependency is not None
    python = _venv(plan) / "python"
    done = subprocess.run(
        [str(python), "-c", _FIND, plan.dependency.name, plan.protocol],
        capture_output=True,
        text=True,
        cwd=plan.workspace,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ScaffoldError(f"could not inspect {plan.dependency.name} once installed: {last}")
    found = json.loads(done.stdout)
    classes: dict[str, str] = found["classes"]
    if plan.origin.kind == "airbyte" and len(classes) == 1:
        qualified, module = next(iter(classes.items()))
        wiring = Wiring("inprocess", module=module, cls=qualified.rsplit(".", 1)[1])
        console.line(f"wiring: {module}.{wiring.cls} in process")
        return wiring
    script = _script(plan, found["scripts"])
    style = "singer" if plan.origin.kind == "singer" else "script"
    why = "" if style == "singer" else f" ({_no_class(classes)})"
    console.line(f"wiring: console script {script} as a subprocess{why}")
    return Wiring(style, script=script)


def _no_class(classes: dict[str, str]) -> str:
    if not classes:
        return "no class of the package could be built without arguments"
    return f"several classes could be the connector: {', '.join(sorted(classes))}"


def _script(plan: Plan, scripts: list[str]) -> str:
    assert plan.dependency is not None
    wanted = plan.dependency.name.removeprefix("airbyte-")
    if wanted in scripts:
        return wanted
    if len(scripts) == 1:
        return scripts[0]
    raise ScaffoldError(
        f"{plan.dependency.name} has no console script named {wanted} to run (it has: "
        f"{', '.join(scripts) or 'none'})"
    )


# ---- config and discover ----


def _configure(plan: Plan, console: Console, discover: bool) -> None:
    from flow_sdk.runtime.catalog.generate import generate

    catalog = plan.workspace / CATALOG
    if plan.config is None:
        try:
            for path in generate(catalog, console):
                console.line(
                    f"created {_rel(plan, path)} (a stub config from the connector's Spec: "
                    "fill it in)"
                )
        except RuntimeFailure as exc:
            raise ScaffoldError(
                f"{plan.name} was created, but its Spec could not be read to stub a config: {exc}"
            ) from None
    if plan.protocol != "capture" or not discover:
        return
    from flow_sdk.runtime.catalog.discover_write import write_discovered
    from flow_sdk.runtime.raw import raw_discover

    try:
        loaded, task, discovered, pointers = raw_discover(catalog, plan.task, console)
        write_discovered(loaded, task, discovered, console, pointers)
    except RuntimeFailure as exc:
        raise ScaffoldError(
            f"{plan.name} was created, but discover failed: {exc}; fix the config "
            f"({plan.config_reference}) and run `flow-sdk raw discover --source {CATALOG} "
            f"--capture {plan.task}`"
        ) from None
    console.line(
        f"changed {CATALOG} (discovered {len(discovered.bindings)} binding(s) of {plan.task} "
        "and their collections)"
    )
