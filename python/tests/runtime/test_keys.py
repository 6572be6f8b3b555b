"""Keys with Flow's semantics through the real `flow-sdk` CLI: captures, materialization
fixtures, derivations and `flow-sdk run` into destination-kvdb reduce and order documents as
Flow's combiner does (`1` and `1.0` one key; `true`, `1` and `"1"` three; booleans before
numbers before strings), and a key value Flow cannot key on, or a document nested too deeply,
ends the command with one sentence naming the collection and the key pointer or the depth."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

RUNTIME_TESTS = Path(__file__).parent
CONNECTORS = RUNTIME_TESTS.parent / "connectors"
UUID = "DocUUIDPlaceholder-329Bb50aa48EAa9ef"
MIXED_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": ["integer", "string", "boolean"]}, "v": {"type": "string"}},
    "required": ["id"],
}
KEYED_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "v": {"type": "string"}},
    "required": ["id"],
}
"""A key Flow's catalog rules accept (one type): for the tests of values the runtime refuses
(the key check comes before the schema check) and of documents nested too deeply."""
DOCS = [
    {"id": 1, "v": "int 1"},
    {"id": True, "v": "true"},
    {"id": "1", "v": "string 1"},
    {"id": 0, "v": "int 0"},
    {"id": False, "v": "false"},
    {"id": 1.0, "v": "float 1.0"},  # the same key as 1, later: it replaces it
    {"id": -2, "v": "int -2"},
    {"id": "a", "v": "string a"},
    {"id": 10, "v": "int 10"},
    {"id": "true", "v": "string true"},
]
REDUCED = [  # one per key, in Flow's order: booleans, numbers by value, strings by bytes
    {"id": False, "v": "false"},
    {"id": True, "v": "true"},
    {"id": -2, "v": "int -2"},
    {"id": 0, "v": "int 0"},
    {"id": 1.0, "v": "float 1.0"},
    {"id": 10, "v": "int 10"},
    {"id": "1", "v": "string 1"},
    {"id": "a", "v": "string a"},
    {"id": "true", "v": "string true"},
]
UNKEYABLE = [
    ({"$oid": "65f0c0ffee"}, 'an object ({"$oid":"65f0c0ffee"})'),
    ([1, 2], "an array ([1,2])"),
    (None, "null"),
    (2.5, "the fractional number 2.5"),
]
TOO_DEEP = "nests {} deep, but the local runtime handles documents nested at most 252 levels"
NOT_A_KEY = "at its collection key /id, but Flow keys can only be strings, integers or booleans"


def text_lines(*values: Any) -> list[str]:
    """Exact output lines (orjson keeps `1.0` and `true` apart from `1`)."""
    return [orjson.dumps(v).decode() for v in values]


def captured_line(doc: dict) -> str:
    """The line scripted_capture.py writes for `doc`."""
    return '{"captured":{"binding":0,"doc":' + json.dumps(doc) + "}}"


def nested(depth: int) -> dict:
    """The document scripted_capture.py's `deep` mode sends: `depth` levels of objects."""
    inner: dict = {}
    for _ in range(depth - 2):
        inner = {"a": inner}
    return {"id": 1, "deep": inner}


# ---- captures: flow-sdk preview ----


def test_an_integer_beyond_64_bits_reads_as_a_float_as_in_flow(scripted, cli) -> None:
    docs = [{"id": 2**70, "v": "big"}, {"id": 2**64 - 1, "v": "u64"}]
    catalog = scripted("docs", env={"SCRIPTED_DOCS": json.dumps(docs)}, schema=KEYED_SCHEMA)
    result = cli("preview", "--source", str(catalog), "--sessions", "1")
    assert result.code == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == text_lines(
        ["acmeCo/things", {"id": 2**64 - 1, "v": "u64", "_meta": {"uuid": UUID}}],
        ["acmeCo/things", {"id": float(2**70), "v": "big", "_meta": {"uuid": UUID}}],
    )


@pytest.mark.parametrize(("value", "described"), UNKEYABLE)
def test_capture_preview_refuses_a_key_flow_cannot_key_on(scripted, cli, value, described) -> None:
    doc = {"id": value, "v": "x"}
    catalog = scripted("docs", env={"SCRIPTED_DOCS": json.dumps([doc])}, schema=KEYED_SCHEMA)
    result = cli("preview", "--source", str(catalog), "--sessions", "1")
    assert result.code == 1
    assert result.stdout == ""
    assert result.last_error == (
        "flow-sdk: error: protocol violation [document-key]: a document of binding 0 "
        f"(acmeCo/things) has {described} {NOT_A_KEY}; offending line: {captured_line(doc)}"
    )


def test_capture_preview_passes_a_document_at_the_depth_limit(scripted, cli) -> None:
    catalog = scripted("deep", env={"SCRIPTED_DEPTH": "252"})
    result = cli("preview", "--source", str(catalog), "--sessions", "1")
    assert result.code == 0, result.stderr[-2000:]
    expected = {**nested(252), "_meta": {"uuid": UUID}}
    assert result.lines == [["acmeCo/things", expected]]


@pytest.mark.parametrize(
    ("depth", "levels"), [(253, "253 levels"), (2000, "more than 1024 levels")]
)
def test_capture_preview_refuses_a_document_nested_too_deeply(scripted, cli, depth, levels) -> None:
    catalog = scripted("deep", env={"SCRIPTED_DEPTH": str(depth)})
    result = cli("preview", "--source", str(catalog), "--sessions", "1")
    assert result.code == 1
    assert result.last_error.startswith(
        "flow-sdk: error: protocol violation [document-depth]: a document of binding 0 "
        f"(acmeCo/things) {TOO_DEEP.format(levels)} (objects and arrays); offending line: "
        '{"captured":{"binding":0,"doc":{"id":1,"deep":{"a":{"a":'
    )


# ---- captures and materializations: flow-sdk run into destination-kvdb ----


def run_catalog(directory: Path, env: dict[str, str], schema: dict, key: str = "/id") -> Path:
    """The scripted capture into acmeCo/things, materialized by destination-kvdb."""
    path = directory / "run.flow.yaml"
    command = [sys.executable, str(RUNTIME_TESTS / "scripted_capture.py")]
    bucket = {"bucket_type": "local", "path": str(directory / "bucket.sqlite")}
    catalog = {
        "captures": {
            "acmeCo/scripted": {
                "endpoint": {"local": {"command": command, "config": {}, "env": env}},
                "bindings": [{"resource": {"name": "things"}, "target": "acmeCo/things"}],
            }
        },
        "collections": {"acmeCo/things": {"schema": schema, "key": [key]}},
        "materializations": {
            "acmeCo/kvdb": {
                "endpoint": {
                    "local": {
                        "command": [sys.executable, "-m", "destination_kvdb"],
                        "config": {"bucket": bucket},
                    }
                },
                "bindings": [{"resource": {"stream": "things"}, "source": "acmeCo/things"}],
            }
        },
    }
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path


def run(cli, catalog: Path):  # noqa: ANN001, ANN201
    data = catalog.parent / "data"
    return cli("run", "--source", str(catalog), "--data-dir", str(data), timeout=240)


def bucket(catalog: Path) -> dict[str, Any]:
    with sqlite3.connect(catalog.parent / "bucket.sqlite") as db:
        return {k: orjson.loads(v) for k, v in db.execute("SELECT key, value FROM kv")}


def test_run_refuses_an_object_key(tmp_path, cli) -> None:
    doc = {"_id": {"$oid": "65f0c0ffee"}}
    env = {"SCRIPTED_MODE": "docs", "SCRIPTED_DOCS": json.dumps([doc])}
    schema = {"type": "object", "properties": {"_id": {"type": "string"}}, "required": ["_id"]}
    catalog = run_catalog(tmp_path, env, schema, key="/_id")
    result = run(cli, catalog)
    assert result.code == 1
    assert result.last_error == (
        "flow-sdk: error: protocol violation [document-key]: a document of binding 0 "
        '(acmeCo/things) has an object ({"$oid":"65f0c0ffee"}) at its collection key /_id, '
        "but Flow keys can only be strings, integers or booleans; offending line: "
        f"{captured_line(doc)}"
    )
    assert not (tmp_path / "bucket.sqlite").exists() or bucket(catalog) == {}


def test_run_refuses_a_document_nested_too_deeply(tmp_path, cli) -> None:
    env = {"SCRIPTED_MODE": "deep", "SCRIPTED_DEPTH": "300"}
    catalog = run_catalog(tmp_path, env, KEYED_SCHEMA)
    result = run(cli, catalog)
    assert result.code == 1
    assert f"(acmeCo/things) {TOO_DEEP.format('300 levels')} (objects and arrays)" in (
        result.last_error
    )


# ---- materializations: flow-sdk preview --fixture ----


def materialization(
    tmp_path: Path, command: list[str], config: dict, resource: dict, schema: dict = MIXED_SCHEMA
) -> Path:
    catalog = {
        "collections": {"acmeCo/users": {"schema": schema, "key": ["/id"]}},
        "materializations": {
            "acmeCo/sink": {
                "endpoint": {"local": {"command": command, "config": config}},
                "bindings": [{"resource": resource, "source": "acmeCo/users"}],
            }
        },
    }
    path = tmp_path / "sink.flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def preview_fixture(cli, catalog: Path, transactions: list, *flags: str):  # noqa: ANN001, ANN201
    fixture = catalog.parent / "fixture.json"
    fixture.write_text(json.dumps(transactions))
    args = ["preview", "--source", str(catalog), "--name", "acmeCo/sink"]
    return cli(*args, "--fixture", str(fixture), *flags, timeout=240)


def users(docs: list[dict]) -> list[list]:
    return [["acmeCo/users", d] for d in docs]


@pytest.mark.parametrize(("value", "described"), UNKEYABLE)
def test_a_fixture_document_with_an_unkeyable_key_is_one_sentence(
    tmp_path, cli, value, described
) -> None:
    command = [sys.executable, str(CONNECTORS / "scripted_materialization.py")]
    catalog = materialization(tmp_path, command, {}, {"table": "users"}, KEYED_SCHEMA)
    result = preview_fixture(cli, catalog, [users([{"id": 1}, {"id": value}])])
    assert result.code == 1
    assert result.last_error == (
        f"flow-sdk: error: --fixture {tmp_path / 'fixture.json'}: transaction 0, document 1: "
        "a document of "
        f"collection acmeCo/users has {described} {NOT_A_KEY}"
    )


def test_a_fixture_document_nested_too_deeply_is_one_sentence(tmp_path, cli) -> None:
    command = [sys.executable, str(CONNECTORS / "scripted_materialization.py")]
    catalog = materialization(tmp_path, command, {}, {"table": "users"}, KEYED_SCHEMA)
    result = preview_fixture(cli, catalog, [users([nested(252), nested(253)])])
    assert result.code == 1
    assert result.last_error == (
        f"flow-sdk: error: a document of acmeCo/users (--fixture {tmp_path / 'fixture.json'}, "
        f"transaction 0, document 1) {TOO_DEEP.format('253 levels')} (objects and arrays)"
    )


# ---- derivations: flow-sdk preview --fixture ----


def derivation(tmp_path: Path, schema: dict = MIXED_SCHEMA) -> Path:
    catalog = {
        "collections": {
            "acmeCo/source": {"schema": schema, "key": ["/id"]},
            "acmeCo/echo": {
                "schema": schema,
                "key": ["/id"],
                "derive": {
                    "using": {
                        "local": {
                            "command": [sys.executable, str(RUNTIME_TESTS / "echo_derivation.py")],
                            "config": {},
                        }
                    },
                    "transforms": [{"name": "echo", "source": "acmeCo/source", "shuffle": "any"}],
                },
            },
        }
    }
    path = tmp_path / "echo.flow.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def preview_derivation(cli, tmp_path: Path, docs: list[dict], schema: dict = MIXED_SCHEMA):  # noqa: ANN001, ANN201
    fixture = tmp_path / "fixture.json"
    fixture.write_text(json.dumps([[["acmeCo/source", d] for d in docs]]))
    args = ["preview", "--source", str(derivation(tmp_path, schema)), "--name", "acmeCo/echo"]
    return cli(*args, "--fixture", str(fixture), timeout=240)


def test_derivation_refuses_a_published_null_key(tmp_path, cli) -> None:
    # Flow's catalog rules allow a null-able key location; the runtime refuses the null value.
    schema = {**KEYED_SCHEMA, "properties": {"id": {"type": ["integer", "null"]}}}
    result = preview_derivation(cli, tmp_path, [{"id": 1, "v": "x"}, {"id": None}], schema)
    assert result.code == 1
    assert result.last_error.startswith(
        "flow-sdk: error: protocol violation [published-key]: a document of derived collection "
        "acmeCo/echo has null at its collection key /id, but Flow keys can only "
        "be strings, integers or booleans; offending line: "
    )


def test_derivation_refuses_a_fixture_document_nested_too_deeply(tmp_path, cli) -> None:
    result = preview_derivation(cli, tmp_path, [nested(253)], KEYED_SCHEMA)
    assert result.code == 1
    assert result.last_error == (
        f"flow-sdk: error: a document of acmeCo/source (--fixture {tmp_path / 'fixture.json'}, "
        f"transaction 0, document 0) {TOO_DEEP.format('253 levels')} (objects and arrays)"
    )


def test_keys_compare_as_flow_s_combiner_does() -> None:
    """Flow refuses a key location of several types at catalog build, so mixed-type keys never
    meet end to end; the ordering the combiner would apply is pinned here: booleans before
    numbers before strings, numbers by value (1 and 1.0 are one key), strings by bytes."""
    from flow_sdk.runtime.keys import comparable

    keys = [["b"], [2], [True], [1.0], ["a"], [False], [1], ["1"]]
    ordered = sorted(keys, key=comparable)
    assert ordered == [[False], [True], [1.0], [1], [2], ["1"], ["a"], ["b"]]
    assert comparable([1]) == comparable([1.0])
    assert len({comparable(k) for k in ([True], [1], ["1"])}) == 3
