"""The image smoke test (scripts/image_smoke.py): python/Dockerfile replayed without Docker,
for every connector of the workspace and for a throwaway one, and the ways it must fail."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "python" / "Dockerfile"


def connectors() -> list[str]:
    found = [
        p.name for p in ROOT.iterdir() if re.match(r"(source|destination|materialize)-", p.name)
    ]
    return sorted(name for name in found if (ROOT / name / "pyproject.toml").is_file())


@pytest.mark.slow
@pytest.mark.parametrize(
    "connector",
    connectors()
    or [
        pytest.param(
            "none", marks=pytest.mark.skip(reason="no connector directories in the workspace yet")
        )
    ],
)
def test_workspace_connector_image_installs_and_answers_spec(
    image_smoke: ModuleType, connector: str
) -> None:
    result = image_smoke.smoke(connector, DOCKERFILE)
    assert result["type"] == image_smoke.connector_type(connector)
    assert result["documentationUrl"]


def test_every_connector_directory_is_found(image_smoke: ModuleType) -> None:
    assert image_smoke.workspace_connectors() == connectors()


@pytest.mark.slow
def test_throwaway_connector_image_installs_only_its_locked_main_dependencies(
    image_smoke: ModuleType, smoke_workspace: Path
) -> None:
    result = image_smoke.smoke(
        "source-smoke", smoke_workspace / "python" / "Dockerfile", smoke_workspace
    )
    assert result == {
        "connector": "source-smoke",
        "type": "capture",
        "spec_seconds": result["spec_seconds"],
        "documentationUrl": "https://go.estuary.dev/source-smoke",  # DOCS_URL reached the process
        "total_seconds": result["total_seconds"],
    }


def variant(workspace: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = (workspace / "python" / "Dockerfile").read_text()
    assert old in text
    path = tmp_path / "Dockerfile"
    path.write_text(text.replace(old, new))
    return path


def test_a_missing_copy_fails_the_install_step(
    image_smoke: ModuleType, smoke_workspace: Path, tmp_path: Path
) -> None:
    dockerfile = variant(smoke_workspace, tmp_path, "COPY python/ python/\n", "")
    with pytest.raises(image_smoke.SmokeError, match=r"line \d+ \(RUN\) failed"):
        image_smoke.smoke("source-smoke", dockerfile, smoke_workspace)


def test_a_connector_missing_from_the_lock_is_refused(
    image_smoke: ModuleType, smoke_workspace: Path, tmp_path: Path
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for name in ("python", "scripts", "source-smoke"):
        (context / name).symlink_to(smoke_workspace / name)
    for name in ("pyproject.toml", ".dockerignore"):
        (context / name).write_text((smoke_workspace / name).read_text())
    lock = (smoke_workspace / "uv.lock").read_text()
    (context / "uv.lock").write_text(lock.replace('name = "source-smoke"', 'name = "source-other"'))
    with pytest.raises(image_smoke.SmokeError, match="'source-smoke' is not in uv.lock"):
        image_smoke.smoke("source-smoke", context / "python" / "Dockerfile", context)


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("USER 10001:10001\n", "USER 0:0\n", "non-root USER"),
        ("FLOW_RUNTIME_CODEC=json", "FLOW_RUNTIME_CODEC=proto", "FLOW_RUNTIME_CODEC=json"),
        (
            "FLOW_RUNTIME_PROTOCOL=${CONNECTOR_TYPE}",
            "FLOW_RUNTIME_PROTOCOL=derive",
            "PROTOCOL=capture",
        ),
        ('ENTRYPOINT ["/opt/venv/bin/flow-connector"]', "ENTRYPOINT flow-connector", "exec-form"),
        ("WORKDIR /src\n", "WORKDIR /src\nADD . .\n", "does not support ADD"),
    ],
)
def test_an_image_flow_cannot_run_is_refused(
    image_smoke: ModuleType,
    smoke_workspace: Path,
    tmp_path: Path,
    old: str,
    new: str,
    complaint: str,
) -> None:
    dockerfile = variant(smoke_workspace, tmp_path, old, new)
    with pytest.raises(image_smoke.SmokeError, match=re.escape(complaint)):
        image_smoke.smoke("source-smoke", dockerfile, smoke_workspace)


def test_connector_type_follows_the_directory_name(image_smoke: ModuleType) -> None:
    assert image_smoke.connector_type("source-bigdata") == "capture"
    assert image_smoke.connector_type("destination-kvdb") == "materialize"
    assert image_smoke.connector_type("materialize-x") == "materialize"
    with pytest.raises(image_smoke.SmokeError, match="must start with"):
        image_smoke.connector_type("bigdata")


def test_the_dockerfile_is_parsed_into_stages(image_smoke: ModuleType) -> None:
    global_args, stages = image_smoke.parse_dockerfile(DOCKERFILE.read_text())
    assert [a.args.split("=")[0] for a in global_args] == ["PYTHON_IMAGE", "UV_IMAGE"]
    assert [s.name for s in stages] == ["uv", "builder", None]
    run = [i for i in stages[1].instructions if i.keyword == "RUN"][-1]
    assert "scripts/install_connector.sh" in run.args and "\\" not in run.args
