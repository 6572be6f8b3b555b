"""`flow-sdk generate`: stub files for a catalog's missing config references, from each
connector's real Spec (the counter capture and destination-kvdb), and the stub rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from flow_sdk.runtime.catalog.generate import stub_config


def test_generate_writes_missing_configs_from_each_connectors_spec(
    catalog: Path, cli, yaml_edit
) -> None:
    def reference_missing_files(data: dict) -> None:
        capture = data["captures"]["acmeCo/counter"]
        capture["endpoint"]["local"]["config"] = "configs/counter.config.yaml"
        capture["bindings"][1]["resource"] = "configs/beta.resource.json"
        data["materializations"] = {
            "acmeCo/kvdb": {
                "endpoint": {
                    "local": {
                        "command": [sys.executable, "-m", "destination_kvdb"],
                        "config": "kvdb.config.yaml",
                    }
                },
                "bindings": [{"resource": "kvdb/alpha.yaml", "source": "acmeCo/alpha"}],
            }
        }

    yaml_edit(catalog, reference_missing_files)
    result = cli("generate", "--source", str(catalog))
    assert result.code == 0, result.stderr
    here = catalog.parent
    assert yaml.safe_load((here / "configs/counter.config.yaml").read_text()) == {"count": 0}
    assert json.loads((here / "configs/beta.resource.json").read_text()) == {"name": "beta"}
    assert yaml.safe_load((here / "kvdb/alpha.yaml").read_text()) == {"stream": "alpha"}
    assert yaml.safe_load((here / "kvdb.config.yaml").read_text()) == {
        "bucket": {"bucket_type": "kvdb", "bucket_id": "", "secret_key": ""}
    }, "the first alternative of a oneOf, its const, and its required fields"
    assert result.stderr.count("wrote a stub config") == 4

    (here / "configs/counter.config.yaml").write_text("count: 3\n")
    again = cli("generate", "--source", str(catalog))
    assert again.code == 0, again.stderr
    assert "nothing to generate" in again.stderr
    assert (here / "configs/counter.config.yaml").read_text() == "count: 3\n", "never overwritten"
    preview = cli("preview", "--source", str(catalog), "--name", "acmeCo/counter")
    assert preview.code == 0, preview.stderr
    assert len([line for line in preview.lines if line[0] == "acmeCo/beta"]) == 3


def test_stub_rules() -> None:
    schema = {
        "type": "object",
        "$defs": {"port": {"type": "integer", "default": 5432}},
        "properties": {
            "host": {"type": "string"},
            "port": {"$ref": "#/$defs/port"},
            "mode": {"enum": ["fast", "safe"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "ratio": {"type": ["number", "null"]},
            "tls": {"type": "boolean"},
            "optional": {"type": "string"},
        },
        "allOf": [{"properties": {"user": {"type": "string"}}, "required": ["user"]}],
        "required": ["host", "port", "mode", "tags", "ratio", "tls"],
    }
    assert stub_config(schema) == {
        "host": "",
        "port": 5432,
        "mode": "fast",
        "tags": ["", ""],
        "ratio": 0.0,
        "tls": False,
        "user": "",
    }


def test_resource_path_pointers_take_the_collections_trailing_names() -> None:
    schema = {
        "type": "object",
        "properties": {"schema": {"type": "string"}, "stream": {"type": "string"}},
        "required": ["stream"],
    }
    assert stub_config(schema, "acmeCo/my-task/my-collection", ["/schema", "/stream"]) == {
        "stream": "my-collection",
        "schema": "my-task",
    }
    named = {
        "type": "object",
        "properties": {"table": {"type": "string", "x-collection-name": True}},
    }
    named["required"] = ["table"]
    assert stub_config(named, "acmeCo/orders") == {"table": "orders"}
