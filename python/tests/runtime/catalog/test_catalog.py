"""Catalog loading: imports, file references, and errors that name the file and field."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from flow_sdk.runtime.catalog.load import CaptureDef, MaterializationDef, load_catalog
from flow_sdk.runtime.errors import CatalogError


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def capture(**overrides: object) -> dict:
    spec = {
        "endpoint": {"local": {"command": ["true"], "config": {"a": 1}}},
        "bindings": [{"resource": {"name": "x"}, "target": "acmeCo/x"}],
    }
    spec.update(overrides)
    return spec


COLLECTIONS = {"acmeCo/x": {"schema": {"type": "object"}, "key": ["/id"]}}


def test_the_fixture_catalog_loads_with_imports_and_file_references(catalog: Path) -> None:
    loaded = load_catalog(catalog)
    task = loaded.capture(None)
    assert isinstance(task, CaptureDef)
    assert task.endpoint.config == {"count": 5, "every": 2}
    assert task.endpoint.env == {"COUNTER_ENV": "set"}
    assert [b.resource for b in task.bindings] == [{"name": "alpha"}, {"name": "beta"}]
    assert task.interval_seconds == 1.0
    assert task.log_level == "info"
    assert loaded.collections["acmeCo/beta"].write_schema["required"] == ["id"]
    assert len(loaded.files) == 2


def test_materializations_are_loaded(tmp_path: Path) -> None:
    path = write(
        tmp_path / "flow.yaml",
        {
            "collections": COLLECTIONS,
            "materializations": {
                "acmeCo/sink": {
                    "endpoint": {"local": {"command": ["sink"], "config": {}}},
                    "bindings": [
                        {
                            "resource": {"table": "x"},
                            "source": {"name": "acmeCo/x", "notBefore": "2024-01-01T00:00:00Z"},
                        },
                        {
                            "resource": {"table": "y"},
                            "source": "acmeCo/x",
                            "disable": True,
                            "fields": {"recommended": True},
                        },
                    ],
                    "shards": {"logLevel": "debug"},
                }
            },
        },
    )
    task = load_catalog(path).task(None)
    assert isinstance(task, MaterializationDef)
    assert [b.source for b in task.enabled_bindings] == ["acmeCo/x"]
    assert task.bindings[0].source_options == {"notBefore": "2024-01-01T00:00:00Z"}
    assert task.log_level == "debug"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "captures": {
                    "acmeCo/c": capture(endpoint={"local": {"comand": ["x"], "config": {}}})
                }
            },
            r"flow.yaml: captures.acmeCo/c.endpoint.local: unknown key 'comand' \(expected one of: command, config, env, protobuf\)",
        ),
        (
            {"captures": {"acmeCo/c": capture(intervall="5m")}},
            r"captures.acmeCo/c: unknown key 'intervall'",
        ),
        (
            {"captures": {"acmeCo/c": capture(interval="5 minutes later")}},
            r"flow.yaml: captures.acmeCo/c.interval: '5 minutes later' is not a duration",
        ),
        (
            {"captures": {"acmeCo/c": capture(shards={"logLevel": "loud"})}},
            r"captures.acmeCo/c.shards.logLevel: 'loud' is not one of",
        ),
        (
            {
                "captures": {
                    "acmeCo/c": capture(
                        bindings=[{"resource": "missing.yaml", "target": "acmeCo/x"}]
                    )
                }
            },
            r"missing.yaml does not exist \(referenced by .*flow.yaml: captures.acmeCo/c.bindings\[0\].resource\)",
        ),
        (
            {
                "captures": {
                    "acmeCo/c": capture(
                        endpoint={"local": {"command": "python x.py", "config": {}}}
                    )
                }
            },
            r"captures.acmeCo/c.endpoint.local.command: must be array, not string",
        ),
        (
            {"captures": {"acmeCo/c": capture(endpoint={})}},
            r"captures.acmeCo/c.endpoint: give exactly one of `local` or `connector`",
        ),
        (
            {"collections": {"acmeCo/x": {"schema": {}}}},
            r"collections.acmeCo/x: 'key' is missing \(required\)",
        ),
        (
            {"collections": {"acmeCo/x": {"schema": {}, "writeSchema": {}, "key": ["/id"]}}},
            r"collections.acmeCo/x: give either `schema`, or both `writeSchema` and `readSchema`",
        ),
        (
            {"import": ["nowhere.flow.yaml"]},
            r"nowhere.flow.yaml does not exist \(referenced by .*flow.yaml: import\[0\]\)",
        ),
        (
            {
                "captures": {
                    "acmeCo/c": capture(
                        endpoint={"local": {"command": ["x"], "config": {}, "protobuf": True}}
                    )
                }
            },
            r"protobuf: the local runtime speaks JSON lines only",
        ),
    ],
)
def test_catalog_errors_name_the_file_and_field(tmp_path: Path, data: dict, message: str) -> None:
    path = write(tmp_path / "flow.yaml", data)
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("captures: [unclosed\n")
    with pytest.raises(CatalogError, match=r"flow.yaml is not valid YAML"):
        load_catalog(path)


def test_missing_catalog_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"nope.flow.yaml does not exist"):
        load_catalog(tmp_path / "nope.flow.yaml")


def test_task_selection_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path / "flow.yaml",
        {"collections": COLLECTIONS, "captures": {"acmeCo/a": capture(), "acmeCo/b": capture()}},
    )
    loaded = load_catalog(path)
    with pytest.raises(
        CatalogError, match=r"defines 2 captures \(acmeCo/a, acmeCo/b\); choose one with --capture"
    ):
        loaded.capture(None)
    with pytest.raises(
        CatalogError, match=r"has no capture named 'acmeCo/c' \(it has: acmeCo/a, acmeCo/b\)"
    ):
        loaded.capture("acmeCo/c")
    assert loaded.capture("acmeCo/b").name == "acmeCo/b"


def test_a_binding_to_an_undefined_collection_is_an_error(tmp_path: Path) -> None:
    from flow_sdk.runtime.capture.build import validate_request

    loaded = load_catalog(write(tmp_path / "flow.yaml", {"captures": {"acmeCo/c": capture()}}))
    with pytest.raises(
        CatalogError, match=r"names the collection 'acmeCo/x', which no file .* defines"
    ):
        validate_request(loaded.capture(None), loaded, {}, "LOCAL")


def test_two_captures_without_a_name_via_cli(tmp_path: Path, cli) -> None:
    path = write(
        tmp_path / "flow.yaml",
        {"collections": COLLECTIONS, "captures": {"acmeCo/a": capture(), "acmeCo/b": capture()}},
    )
    result = cli("raw", "spec", "--source", str(path))
    assert result.code == 1
    assert result.last_error == (
        f"flow-sdk: error: {path} defines 2 tasks (capture acmeCo/a, capture acmeCo/b); "
        "choose one with --name"
    )
    assert "Traceback" not in result.stderr
    discover = cli("raw", "discover", "--source", str(path))
    assert discover.last_error.endswith("choose one with --capture"), "discover is captures-only"


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({}, "which needs a container engine (Docker or Podman), and none answered"),
        ({"CONTAINER_ENGINE": "podman"}, "which needs podman (CONTAINER_ENGINE=podman)"),
        ({"CONTAINER_ENGINE": "nerdctl"}, "CONTAINER_ENGINE must be docker or podman"),
    ],
)
def test_image_connectors_without_an_engine_are_a_clear_error(
    tmp_path: Path, cli, env: dict[str, str], complaint: str
) -> None:
    image = capture(endpoint={"connector": {"image": "ghcr.io/estuary/source-x:dev", "config": {}}})
    path = write(
        tmp_path / "flow.yaml", {"collections": COLLECTIONS, "captures": {"acmeCo/c": image}}
    )
    no_engines = tmp_path / "empty-bin"  # a PATH where neither docker nor podman is found
    no_engines.mkdir()
    result = cli("raw", "spec", "--source", str(path), env={"PATH": str(no_engines), **env})
    assert result.code == 1
    assert "runs the image 'ghcr.io/estuary/source-x:dev'" in result.last_error
    assert complaint in result.last_error


def test_a_missing_command_is_a_clear_error(tmp_path: Path, cli) -> None:
    missing = capture(
        endpoint={"local": {"command": [str(tmp_path / "no-such-connector")], "config": {}}}
    )
    path = write(
        tmp_path / "flow.yaml", {"collections": COLLECTIONS, "captures": {"acmeCo/c": missing}}
    )
    result = cli("raw", "spec", "--source", str(path))
    assert result.code == 1
    assert "could not start acmeCo/c" in result.last_error
    assert "check `endpoint.local.command`" in result.last_error
    assert sys.executable  # the CLI ran under this interpreter
