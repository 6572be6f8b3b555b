"""What `flow-sdk new` will create and change, decided (and refused) before anything is
written: a half-made connector in a shared workspace is worse than none."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flow_sdk.pip_env import package_name
from flow_sdk.runtime.errors import RuntimeFailure

NAME_RE = re.compile(r"^(source|destination|materialize)-[a-z0-9][a-z0-9-]*$")
PROTOCOLS = {"source": "capture", "destination": "materialize", "materialize": "materialize"}
CATALOG = "test.flow.yaml"
WORKFLOW = Path(".github/workflows/ci.yml")


VENDOR = "vendor"
"""Where a connector keeps the copy of a wrapped package given as a local path."""


class ScaffoldError(RuntimeFailure):
    """`flow-sdk new` refused or failed; the message says why and what was left."""


@dataclass(frozen=True)
class Origin:
    """Where the connector's code comes from."""

    kind: str
    """`native`, `airbyte` (a package: PyPI, git or path), `manifest` or `singer`."""
    requirement: str | None = None
    """The pip requirement as given (`airbyte`, `singer`), or the package's path."""
    path: Path | None = None
    """A local package directory (`airbyte` from a path) or the manifest file."""
    components: Path | None = None
    """The manifest's `components.py`, if any."""


@dataclass(frozen=True)
class Dependency:
    """The wrapped package as the new connector's pyproject.toml declares it."""

    name: str
    requirement: str
    """The `[project] dependencies` entry: a name, a pin, or `name @ git+...`."""
    path: str | None = None
    """For a local package: its path relative to the connector directory (`vendor/NAME`:
    the package is copied there, so the image build, whose context holds only `python/` and
    the connector directory, has it)."""


@dataclass
class Plan:
    workspace: Path
    name: str
    """The connector directory's name, e.g. `source-hello`."""
    origin: Origin
    prefix: str
    config: Path | None
    """`--config FILE`; None: a stub is generated from the connector's Spec."""
    dependency: Dependency | None = None
    extras: list[str] = field(default_factory=list)

    @property
    def directory(self) -> Path:
        return self.workspace / self.name

    @property
    def package(self) -> str:
        return self.name.replace("-", "_")

    @property
    def protocol(self) -> str:
        return PROTOCOLS[self.name.split("-", 1)[0]]

    @property
    def task(self) -> str:
        return f"{self.prefix}/{self.name}"

    @property
    def config_reference(self) -> str:
        """The endpoint config as the catalog names it, relative to the catalog."""
        path = self.config if self.config is not None else self.directory / "config.yaml"
        return _relative(path, self.workspace)


def make_plan(
    directory: str | Path,
    origin: Origin,
    config: str | Path | None = None,
    prefix: str | None = None,
) -> Plan:
    """The plan of `flow-sdk new`, or a ScaffoldError naming the first thing in the way."""
    target = Path(directory).resolve()
    workspace, name = target.parent, target.name
    if not NAME_RE.match(name):
        raise ScaffoldError(
            f"{name!r} is not a connector name: it starts with source- (a capture), "
            "destination- or materialize- (a materialization), then lowercase letters, digits "
            "and dashes, as build-local.sh and the CI matrix expect"
        )
    _check_workspace(workspace)
    config_path = _existing(config, "--config") if config is not None else None
    plan = Plan(workspace, name, origin, prefix or _default_prefix(workspace, name), config_path)
    _check_origin(plan)
    plan.dependency = _dependency(plan)
    _check_free(plan)
    return plan


def _check_workspace(workspace: Path) -> None:
    for needed in ("pyproject.toml", CATALOG, str(WORKFLOW)):
        if not (workspace / needed).is_file():
            raise ScaffoldError(
                f"{workspace} is not a connectors workspace: it has no {needed} (flow-sdk new "
                "creates DIR in the workspace root, beside source-bigdata)"
            )


def _existing(path: str | Path, flag: str) -> Path:
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise ScaffoldError(f"{flag} {path}: there is no such file")
    return resolved


def _default_prefix(workspace: Path, name: str) -> str:
    """`<tenant>/<name without its kind>`: the tenant of the catalog's first task (else
    acmeCo), and a prefix of its own so that discovered collections cannot collide with
    another connector's (`acmeCo/hello/greetings`)."""
    catalog = _catalog(workspace)
    tenant = "acmeCo"
    for section in ("captures", "materializations", "collections"):
        for task in catalog.get(section) or {}:
            tenant = str(task).split("/", 1)[0]
            return f"{tenant}/{name.split('-', 1)[1]}"
    return f"{tenant}/{name.split('-', 1)[1]}"


def _catalog(workspace: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load((workspace / CATALOG).read_text()) or {}
    except yaml.YAMLError as exc:
        raise ScaffoldError(f"{workspace / CATALOG} is not valid YAML: {exc}") from None
    return data if isinstance(data, dict) else {}


def _check_origin(plan: Plan) -> None:
    kind, protocol = plan.origin.kind, plan.protocol
    if kind in ("manifest", "singer") and protocol != "capture":
        flag = f"--{kind}"
        raise ScaffoldError(
            f"{flag} makes a capture, so the connector's name starts with source-, not "
            f"{plan.name.split('-', 1)[0]}-"
        )
    if kind == "manifest":
        assert plan.origin.path is not None
        _existing(plan.origin.path, "--manifest")
        if plan.origin.components is not None:
            _existing(plan.origin.components, "--components")
    elif plan.origin.components is not None:
        raise ScaffoldError("--components goes with --manifest only")


def _dependency(plan: Plan) -> Dependency | None:
    origin = plan.origin
    if origin.kind not in ("airbyte", "singer"):
        return None
    assert origin.requirement is not None
    flag = f"--{origin.kind}"
    if origin.path is not None:
        name = _project_name(origin.path, flag)
        dependency = Dependency(name, name, f"{VENDOR}/{name}")
    else:
        requirement = origin.requirement.strip()
        if requirement.startswith(("git+", "http://", "https://", "file:")):
            raise ScaffoldError(
                f"{flag} {requirement!r}: name the package of a URL, as pip does: "
                f"'NAME @ {requirement}' (e.g. 'source-foo @ git+https://github.com/o/r.git"
                "#subdirectory=source-foo')"
            )
        try:
            name = package_name(requirement)
        except Exception as exc:  # pip_env's InstallError: says what is wrong
            raise ScaffoldError(f"{flag} {requirement!r}: {exc}") from None
        dependency = Dependency(name, requirement)
    module = dependency.name.removeprefix("airbyte-").replace("-", "_")
    if dependency.name == plan.name or module == plan.package:
        raise ScaffoldError(
            f"{flag} names the package {dependency.name!r}, whose module {module} would be the "
            f"connector's own (`python -m {plan.package}` must run the Flow connector); name "
            f"the connector directory differently, e.g. {plan.name}-flow"
        )
    return dependency


def _project_name(path: Path, flag: str) -> str:
    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        raise ScaffoldError(
            f"{flag} {path}: a local package is a directory with a pyproject.toml, and this "
            "one has none"
        )
    name = _toml_project_name(pyproject)
    if not isinstance(name, str) or not name:
        raise ScaffoldError(f"{pyproject} has no [project] name")
    return package_name(name)


def _toml_project_name(pyproject: Path) -> str | None:
    text = pyproject.read_text()
    try:
        import tomllib
    except ImportError:  # Python 3.10: the [project] table's name line
        found = re.search(r'^\[project\][^\[]*?^name\s*=\s*"([^"]+)"', text, re.M | re.S)
        return found.group(1) if found else None
    try:
        return tomllib.loads(text).get("project", {}).get("name")
    except tomllib.TOMLDecodeError as exc:
        raise ScaffoldError(f"{pyproject} is not valid TOML: {exc}") from None


def _check_free(plan: Plan) -> None:
    """Refuse when anything the scaffold would create exists, or a name it would add is
    taken: every check runs before the first write."""
    if plan.directory.exists():
        raise ScaffoldError(f"{plan.directory} already exists; flow-sdk new never overwrites")
    root = (plan.workspace / "pyproject.toml").read_text()
    if re.search(rf'^\s*"?{re.escape(plan.name)}"?\s*=|"{re.escape(plan.name)}"', root, re.M):
        raise ScaffoldError(f"the workspace pyproject.toml already names {plan.name}")
    workflow = yaml.safe_load((plan.workspace / WORKFLOW).read_text()) or {}
    try:
        matrix = workflow["jobs"]["connectors"]["strategy"]["matrix"]["include"]
    except (KeyError, TypeError):
        raise ScaffoldError(
            f"{WORKFLOW} has no jobs.connectors.strategy.matrix.include list to add {plan.name} to"
        ) from None
    if any(isinstance(e, dict) and e.get("connector") == plan.name for e in matrix):
        raise ScaffoldError(f"{WORKFLOW}'s connector matrix already lists {plan.name}")
    catalog = _catalog(plan.workspace)
    for section in ("captures", "materializations", "collections"):
        for taken in catalog.get(section) or {}:
            if taken == plan.task or str(taken).startswith(plan.prefix + "/"):
                raise ScaffoldError(
                    f"{CATALOG} already has {section[:-1]} {taken!r} under the prefix "
                    f"{plan.prefix!r}; choose another with --prefix"
                )
    if plan.config is None and (plan.directory / "config.yaml").exists():
        raise ScaffoldError(f"{plan.directory / 'config.yaml'} already exists")


def _relative(path: Path, start: Path) -> str:
    import os

    return Path(os.path.relpath(path, start)).as_posix()
