"""`flow-sdk new`, for real: connectors scaffolded into a copy of this workspace (its working
tree), each then locked, installed (`uv sync` into the copy's own .venv), discovered, and
checked by running the test file it generated, `flow-sdk raw spec` and `preview` against
the new catalog entry, ruff, and the CI matrix rule of test_workflows.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent
TEST_CONNECTORS = ROOT / "python" / "tests" / "connectors"
WATCHED = ("pyproject.toml", "uv.lock", ".github/workflows/ci.yml", "test.flow.yaml")

sys.path.insert(0, str(TEST_CONNECTORS / "manifest_source"))
from items_api import API_KEY, ItemsApi  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the working tree (tracked and new files, as git sees them), no .venv."""
    copy = tmp_path_factory.mktemp("workspace")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{cwd / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def new(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "flow-sdk"), "new", *args], workspace)


def texts(workspace: Path) -> dict[str, str]:
    return {name: (workspace / name).read_text() for name in WATCHED}


def check_scaffold(workspace: Path, name: str, protocol: str) -> None:
    """The generated tests pass in the copy, the files are ruff-clean, and the CI matrix
    and the root pyproject name the connector."""
    done = run(
        [str(workspace / ".venv/bin/pytest"), "-q", "-p", "no:randomly", f"{name}/tests"],
        workspace,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for ruff in (["check", name], ["format", "--check", name]):
        linted = run([str(BIN / "ruff"), *ruff], workspace)
        assert linted.returncode == 0, linted.stdout + linted.stderr
    workflow = yaml.safe_load((workspace / ".github/workflows/ci.yml").read_text())
    matrix = workflow["jobs"]["connectors"]["strategy"]["matrix"]["include"]
    entry = {"connector": name, "python": True, "connector_type": protocol}
    assert entry in matrix
    root = (workspace / "pyproject.toml").read_text()
    assert f'    "{name}",\n' in root and f'{name} = {{ path = "{name}", editable = true }}' in root
    assert f'name = "{name}"' in (workspace / "uv.lock").read_text()


def test_a_native_capture_skeleton(workspace: Path) -> None:
    before = (workspace / "test.flow.yaml").read_text()
    done = new(workspace, "source-hello", "--native")
    assert done.returncode == 0, done.stderr
    said = done.stderr.splitlines()
    for line in (
        "created source-hello/pyproject.toml",
        "created source-hello/source_hello/capture.py",
        "created source-hello/tests/test_source_hello.py",
        "changed .github/workflows/ci.yml (connectors matrix: source-hello, capture)",
        "changed uv.lock (uv lock)",
        "created source-hello/source_hello/__main__.py",
        "created source-hello/config.yaml (a stub config from the connector's Spec: fill it in)",
        "changed test.flow.yaml (discovered 1 binding(s) of acmeCo/hello/source-hello and "
        "their collections)",
    ):
        assert line in said, done.stderr
    after = (workspace / "test.flow.yaml").read_text()
    assert after.startswith(before.split("collections:")[0].rstrip("\n"))  # comments kept
    catalog = yaml.safe_load(after)
    assert catalog["captures"]["acmeCo/hello/source-hello"]["bindings"] == [
        {"resource": {"stream": "items"}, "target": "acmeCo/hello/items"}
    ]
    assert catalog["collections"]["acmeCo/hello/items"]["key"] == ["/id"]
    assert yaml.safe_load((workspace / "source-hello/config.yaml").read_text()) == {"count": 10}
    check_scaffold(workspace, "source-hello", "capture")

    flow_sdk = str(workspace / ".venv/bin/flow-sdk")
    spec = run([flow_sdk, "raw", "spec", "--source", "test.flow.yaml", "--name",
                "acmeCo/hello/source-hello"], workspace)  # fmt: skip
    assert orjson.loads(spec.stdout)["resourcePathPointers"] == ["/stream"], spec.stderr
    preview = run([flow_sdk, "preview", "--source", "test.flow.yaml", "--name",
                   "acmeCo/hello/source-hello", "--sessions", "-1"], workspace)  # fmt: skip
    docs = [orjson.loads(line) for line in preview.stdout.splitlines()]
    assert [d[1]["id"] for d in docs] == list(range(10)), preview.stderr

    # build-local.sh takes the new connector (its argument checks; no engine needed to fail
    # later only at docker).
    built = run(["bash", "build-local.sh", "source-hello"], workspace)
    assert "cannot tell the type" not in built.stderr
    assert "there is no connector directory" not in built.stderr


def test_it_refuses_to_overwrite_and_changes_nothing(workspace: Path) -> None:
    (workspace / "source-taken").mkdir()
    before = texts(workspace)
    done = new(workspace, "source-taken", "--native")
    assert done.returncode == 1
    assert done.stderr.strip().endswith(
        "source-taken already exists; flow-sdk new never overwrites"
    )
    done = new(workspace, "sauce-x", "--native")
    assert "'sauce-x' is not a connector name" in done.stderr
    done = new(workspace, "destination-x", "--manifest", str(TEST_CONNECTORS / "manifest_source/manifest.yaml"))  # fmt: skip
    assert "--manifest makes a capture" in done.stderr
    assert texts(workspace) == before and not (workspace / "sauce-x").exists()


def test_a_failed_lock_puts_the_workspace_back(workspace: Path, tmp_path: Path) -> None:
    package = tmp_path / "impossible"
    (package / "impossible").mkdir(parents=True)
    (package / "impossible" / "__init__.py").write_text("")
    (package / "pyproject.toml").write_text(
        '[project]\nname = "impossible"\nversion = "1.0"\nrequires-python = ">=3.99"\n'
        '[build-system]\nrequires = ["poetry-core>=2.0"]\n'
        'build-backend = "poetry.core.masonry.api"\n'
    )
    before = texts(workspace)
    done = new(workspace, "source-impossible", "--airbyte", str(package))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("flow-sdk: error: `uv lock` failed while locking the workspace: ")
    assert last.endswith("; nothing was changed")
    assert texts(workspace) == before and not (workspace / "source-impossible").exists()


def tiny_source(package: Path, module: str) -> None:
    """A tiny airbyte-cdk source package (the shim tests' cdk7 source), `airbyte-<module>`."""
    (package / module).mkdir(parents=True)
    shutil.copy(TEST_CONNECTORS / "cdk7_source.py", package / module / "source.py")
    (package / module / "__init__.py").write_text(
        f"from {module}.source import TestSource\n\n__all__ = ['TestSource']\n"
    )
    (package / "pyproject.toml").write_text(
        f'[project]\nname = "airbyte-{module.replace("_", "-")}"\nversion = "0.1.0"\n'
        'dependencies = ["airbyte-cdk>=7,<8"]\n'
        f'[tool.poetry]\npackages = [{{ include = "{module}" }}]\n'
        '[build-system]\nrequires = ["poetry-core>=2.0"]\n'
        'build-backend = "poetry.core.masonry.api"\n'
    )


def test_an_airbyte_source_from_a_local_path(workspace: Path, tmp_path: Path) -> None:
    """A tiny airbyte-cdk source package is wired in process."""
    package = tmp_path / "source-tiny"
    tiny_source(package, "source_tiny")
    config = tmp_path / "tiny.config.yaml"
    config.write_text("count: 3\n")
    done = new(workspace, "source-tiny", "--airbyte", str(package), "--config", str(config))
    assert "name the connector directory differently, e.g. source-tiny-flow" in done.stderr
    done = new(workspace, "source-tiny-flow", "--airbyte", str(package), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "wiring: source_tiny.TestSource in process" in done.stderr.splitlines()
    main = (workspace / "source-tiny-flow/source_tiny_flow/__main__.py").read_text()
    assert "CaptureShim(delegate=TestSource()" in main
    connector = (workspace / "source-tiny-flow/pyproject.toml").read_text()
    assert 'airbyte-source-tiny = { path = "vendor/airbyte-source-tiny"' in connector
    vendored = workspace / "source-tiny-flow/vendor/airbyte-source-tiny"
    assert (vendored / "source_tiny" / "__init__.py").is_file()
    assert "created source-tiny-flow/vendor/airbyte-source-tiny/ (a copy of" in done.stderr
    catalog = yaml.safe_load((workspace / "test.flow.yaml").read_text())
    task = catalog["captures"]["acmeCo/tiny-flow/source-tiny-flow"]
    assert task["endpoint"]["local"]["config"] == os.path.relpath(config, workspace)
    assert {b["target"] for b in task["bindings"]} == {
        "acmeCo/tiny-flow/users",
        "acmeCo/tiny-flow/events",
        "acmeCo/tiny-flow/orders",
    }
    check_scaffold(workspace, "source-tiny-flow", "capture")
    # What the image build does (python/Dockerfile runs install_connector.sh with only
    # python/ and the connector directory in its context): the vendored copy is installed
    # from the connector, and the image's launcher answers Spec.
    venv = tmp_path / "image-venv"
    done = run(["scripts/install_connector.sh", str(venv), "source-tiny-flow"], workspace)
    assert done.returncode == 0, done.stderr
    spec = subprocess.run(
        [str(venv / "bin" / "flow-connector")],
        input='{"spec":{"connectorType":"IMAGE","config":{}}}\n',
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert spec.returncode == 0, spec.stderr
    assert '"configSchema"' in spec.stdout.splitlines()[0]


@pytest.fixture
def items_api() -> Iterator[ItemsApi]:
    items = [
        {"id": n, "name": f"item {n}", "updated_at": f"2024-01-0{n}T00:00:00Z"} for n in (2, 3)
    ]
    with ItemsApi(items) as api:
        yield api


def test_a_manifest_source(workspace: Path, tmp_path: Path, items_api: ItemsApi) -> None:
    config = tmp_path / "items.config.yaml"
    config.write_text(
        yaml.safe_dump(
            {"api_url": items_api.url, "api_key": API_KEY, "start_date": "2024-01-01T00:00:00Z"}
        )
    )
    manifest = TEST_CONNECTORS / "manifest_source"
    done = new(
        workspace,
        "source-items",
        "--manifest",
        str(manifest / "manifest.yaml"),
        "--components",
        str(manifest / "components.py"),
        "--config",
        str(config),
    )
    assert done.returncode == 0, done.stderr
    package = workspace / "source-items/source_items"
    assert (package / "manifest.yaml").read_text() == (manifest / "manifest.yaml").read_text()
    assert (package / "components.py").is_file()
    catalog = yaml.safe_load((workspace / "test.flow.yaml").read_text())
    bindings = catalog["captures"]["acmeCo/items/source-items"]["bindings"]
    assert [b["target"] for b in bindings] == ["acmeCo/items/items"]
    check_scaffold(workspace, "source-items", "capture")


def test_a_native_materialization_skeleton(workspace: Path) -> None:
    done = new(workspace, "materialize-files", "--native")
    assert done.returncode == 0, done.stderr
    assert "created materialize-files/source_hello" not in done.stderr
    config = yaml.safe_load((workspace / "materialize-files/config.yaml").read_text())
    assert config == {"directory": ".flow-data/materialize-files"}
    check_scaffold(workspace, "materialize-files", "materialize")


TINY_TAP = '''\
"""A tiny singer-sdk tap: one stream of `count` numbers."""

from singer_sdk import Stream, Tap
from singer_sdk import typing as th


class Numbers(Stream):
    name = "numbers"
    primary_keys = ["n"]
    schema = th.PropertiesList(th.Property("n", th.IntegerType)).to_dict()

    def get_records(self, context):
        for n in range(self.config.get("count", 3)):
            yield {"n": n}


class TapTiny(Tap):
    name = "tap-tiny"
    config_jsonschema = th.PropertiesList(
        th.Property("count", th.IntegerType, default=3)
    ).to_dict()

    def discover_streams(self):
        return [Numbers(self)]
'''


def test_a_singer_tap(workspace: Path, tmp_path: Path) -> None:
    """A singer-sdk tap package from a path: its console script runs behind singer-capture."""
    package = tmp_path / "tap-tiny"
    (package / "tap_tiny").mkdir(parents=True)
    (package / "tap_tiny" / "__init__.py").write_text(TINY_TAP)
    (package / "pyproject.toml").write_text(
        '[project]\nname = "tap-tiny"\nversion = "0.1.0"\ndependencies = ["singer-sdk>=0.54"]\n'
        '[project.scripts]\ntap-tiny = "tap_tiny:TapTiny.cli"\n'
        '[tool.poetry]\npackages = [{ include = "tap_tiny" }]\n'
        '[build-system]\nrequires = ["poetry-core>=2.0"]\n'
        'build-backend = "poetry.core.masonry.api"\n'
    )
    done = new(workspace, "source-numbers", "--singer", str(package))
    assert done.returncode == 0, done.stderr
    assert "wiring: console script tap-tiny as a subprocess" in done.stderr.splitlines()
    assert yaml.safe_load((workspace / "source-numbers/config.yaml").read_text()) == {}
    catalog = yaml.safe_load((workspace / "test.flow.yaml").read_text())
    bindings = catalog["captures"]["acmeCo/numbers/source-numbers"]["bindings"]
    assert [b["target"] for b in bindings] == ["acmeCo/numbers/numbers"]
    check_scaffold(workspace, "source-numbers", "capture")


def test_an_airbyte_destination_from_a_local_path(workspace: Path, tmp_path: Path) -> None:
    """The materialize tests' airbyte-cdk destination, packaged, is wired in process behind
    the MaterializeShim."""
    package = tmp_path / "destination-sqlite3"
    (package / "destination_sqlite3").mkdir(parents=True)
    shutil.copy(
        TEST_CONNECTORS / "sqlite_destination.py",
        package / "destination_sqlite3" / "destination.py",
    )
    (package / "destination_sqlite3" / "__init__.py").write_text(
        "from destination_sqlite3.destination import SqliteDestination\n\n"
        "__all__ = ['SqliteDestination']\n"
    )
    (package / "pyproject.toml").write_text(
        '[project]\nname = "airbyte-destination-sqlite3"\nversion = "0.1.0"\n'
        'dependencies = ["airbyte-cdk>=7,<8"]\n'
        '[tool.poetry]\npackages = [{ include = "destination_sqlite3" }]\n'
        '[build-system]\nrequires = ["poetry-core>=2.0"]\n'
        'build-backend = "poetry.core.masonry.api"\n'
    )
    config = tmp_path / "sqlite.config.yaml"
    config.write_text(yaml.safe_dump({"destination_path": str(tmp_path / "out.sqlite")}))
    done = new(
        workspace, "destination-sqlite-flow", "--airbyte", str(package), "--config", str(config)
    )
    assert done.returncode == 0, done.stderr
    said = done.stderr.splitlines()
    assert "wiring: destination_sqlite3.SqliteDestination in process" in said
    assert not any("discovered" in line for line in said)
    main = (workspace / "destination-sqlite-flow/destination_sqlite_flow/__main__.py").read_text()
    assert "MaterializeShim(delegate=SqliteDestination()).main()" in main
    catalog = yaml.safe_load((workspace / "test.flow.yaml").read_text())
    task = catalog["materializations"]["acmeCo/sqlite-flow/destination-sqlite-flow"]
    assert task["bindings"] == []
    check_scaffold(workspace, "destination-sqlite-flow", "materialize")


def test_an_airbyte_source_from_git(workspace: Path, tmp_path: Path) -> None:
    """`NAME @ git+URL#subdirectory=...` is the connector's dependency as written."""
    repo = tmp_path / "repo"
    tiny_source(repo / "connectors" / "source-tinygit", "source_tinygit")
    for git in (["init", "-q"], ["add", "."], ["commit", "-qm", "tiny"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *git], cwd=repo, check=True
        )
    requirement = (
        f"airbyte-source-tinygit @ git+file://{repo}#subdirectory=connectors/source-tinygit"
    )
    config = tmp_path / "tiny.config.yaml"
    config.write_text("count: 2\n")
    done = new(workspace, "source-git-tiny", "--airbyte", requirement, "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "wiring: source_tinygit.TestSource in process" in done.stderr.splitlines()
    connector = (workspace / "source-git-tiny/pyproject.toml").read_text()
    assert f'    "{requirement}",\n' in connector
    check_scaffold(workspace, "source-git-tiny", "capture")


def test_a_vendored_copy_keeps_subpackages_named_like_build_outputs(tmp_path: Path) -> None:
    """Only the checkout's own VCS, virtualenv and build outputs are left out of the copy."""
    from flow_sdk.runtime.scaffold.new import _not_vendored

    package = tmp_path / "pkg"
    (package / "tiny" / "build").mkdir(parents=True)
    (package / "tiny" / "build" / "steps.py").write_text("STEPS = 1\n")
    (package / "tiny" / "__pycache__").mkdir()
    for top in ("build", "dist", ".git", ".venv"):
        (package / top).mkdir()
    copy = tmp_path / "copy"
    shutil.copytree(package, copy, ignore=_not_vendored(package))
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*")) == [
        "tiny",
        "tiny/build",
        "tiny/build/steps.py",
    ]
