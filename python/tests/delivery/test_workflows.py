"""The CI workflow: a test job running the README's test command, and a connector build
matrix that names every connector directory of the workspace with its Flow protocol."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def connector_dirs() -> dict[str, str]:
    """Connector directory → Flow protocol, by the naming rule build-local.sh uses."""
    kinds = {"source": "capture", "destination": "materialize", "materialize": "materialize"}
    found = {}
    for path in ROOT.iterdir():
        match = re.match(r"(source|destination|materialize)-", path.name)
        if match and path.is_dir() and (path / "pyproject.toml").is_file():
            found[path.name] = kinds[match.group(1)]
    return found


def matrix(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return workflow["jobs"]["connectors"]["strategy"]["matrix"]["include"]


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action)]


def test_every_connector_directory_is_built_with_its_type(workflow: dict[str, Any]) -> None:
    entries = {e["connector"]: e for e in matrix(workflow)}
    for name, kind in connector_dirs().items():
        assert name in entries, (
            f"{name} is missing from the connector matrix of {WORKFLOW.relative_to(ROOT)}: add "
            f"'- connector: {name}' with 'python: true' and 'connector_type: {kind}'"
        )
        assert entries[name]["connector_type"] == kind, f"{name} is a {kind} connector"
        if not (ROOT / name / "Dockerfile").exists():
            assert entries[name]["python"] is True, f"{name} has no Dockerfile of its own"


def test_every_matrix_entry_names_an_existing_connector(workflow: dict[str, Any]) -> None:
    for entry in matrix(workflow):
        assert set(entry) == {"connector", "python", "connector_type"}
        assert entry["connector"] in connector_dirs(), f"{entry['connector']} has no directory"


def test_the_test_job_runs_the_readme_test_command(workflow: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "./run-tests.sh" in readme
    runs = [s.get("run", "") for s in workflow["jobs"]["test"]["steps"]]
    assert "./run-tests.sh" in [r.strip() for r in runs]
    assert workflow["jobs"]["connectors"]["needs"] == "test"


def test_images_are_built_from_the_template_and_pushed_from_main_only(
    workflow: dict[str, Any],
) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    job = workflow["jobs"]["connectors"]
    assert job["permissions"]["packages"] == "write"
    assert job["env"]["IMAGE"] == "ghcr.io/estuary/${{ matrix.connector }}"
    publish = job["env"]["PUBLISH"]
    assert "refs/heads/main" in publish and "github.event_name == 'push'" in publish
    builds = steps_using(job, "docker/build-push-action")
    for step in builds:
        assert step["with"]["file"].startswith("${{ matrix.python && 'python/Dockerfile'")
        args = step["with"]["build-args"]
        for arg in ("CONNECTOR_NAME=", "CONNECTOR_TYPE=${{ matrix.connector_type }}", "DOCS_URL="):
            assert arg in args
    local, published = builds
    assert "push" not in local["with"] and local["with"]["load"] is True
    assert published["if"] == "env.PUBLISH == 'true'"
    assert published["with"]["push"] == "${{ env.PUBLISH == 'true' }}"
    login = steps_using(job, "docker/login-action")[0]
    assert login["if"] == "env.PUBLISH == 'true'" and login["with"]["registry"] == "ghcr.io"


def test_the_uv_versions_agree_with_the_dockerfile(workflow: dict[str, Any]) -> None:
    """The uv image tag is the one scripts/prepare_images.sh built a stand-in of (from
    PyPI's wheel of that version) and the image tests built with; CI's uv is the same."""
    dockerfile = (ROOT / "python" / "Dockerfile").read_text()
    tag = re.search(r"^ARG UV_IMAGE=ghcr\.io/astral-sh/uv:(\S+)$", dockerfile, re.M)
    assert tag, "python/Dockerfile names no ghcr.io/astral-sh/uv:TAG"
    setup_uv = steps_using(workflow["jobs"]["test"], "astral-sh/setup-uv")[0]
    assert setup_uv["with"]["version"] == tag.group(1)


def test_ci_requires_the_image_tests_and_never_publishes_stand_in_bases(
    workflow: dict[str, Any],
) -> None:
    suite = next(s for s in workflow["jobs"]["test"]["steps"] if s.get("run") == "./run-tests.sh")
    assert suite["env"]["FLOW_SDK_REQUIRE_IMAGES"] == "1"
    steps = workflow["jobs"]["connectors"]["steps"]
    names = [s.get("name", "") for s in steps]
    guard = names.index("Never publish an image built on stand-in bases")
    assert guard < names.index("Publish ${{ matrix.connector }} (main only)")
    assert "dev.flow-sdk.stand-in-base" in steps[guard]["run"]
