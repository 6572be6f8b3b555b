"""Flow's catalog rules: each one broken by a catalog Flow would reject, with Flow's sentence
and the catalog location; catalogs Flow accepts pass; and `raw validate`, `preview` and
`run` refuse a broken catalog before any connector process starts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from flow_sdk.runtime.catalog.load import load_catalog
from flow_sdk.runtime.catalog.rules import catalog_problems, check_catalog
from flow_sdk.runtime.errors import CatalogError

ID = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
ONLY = "acmeCo/x"
KEY_TYPES = "but locations used as keys may only be null-able integers, strings, or booleans"


def write(tmp_path: Path, collections: dict[str, Any], **rest: Any) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump({"collections": collections, **rest}, sort_keys=False))
    return path


def schema_of(properties: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, **rest}


# (collection spec, where the problem is, Flow's sentence with {url} for the schema URL)
REJECTED = {
    "key not declared (PtrIsImplicit)": (
        {"schema": {"type": "object"}, "key": ["/id"]},
        "key[0]",
        "location /id is unknown in schema {url}",
    ),
    "key cannot exist (PtrCannotExist)": (
        {"schema": {**ID, "additionalProperties": False}, "key": ["/nope"]},
        "key[0]",
        "location /nope is prohibited from ever existing by the schema {url}",
    ),
    "key of impossible type (PtrCannotExist)": (
        {
            "schema": schema_of({"id": {"allOf": [{"type": "integer"}, {"type": "string"}]}}),
            "key": ["/id"],
        },
        "key[0]",
        "location /id is prohibited from ever existing by the schema {url}",
    ),
    "object key (KeyWrongType)": (
        {"schema": schema_of({"id": {"type": "object"}}), "key": ["/id"]},
        "key[0]",
        f'location /id accepts "object" in schema {{url}}, {KEY_TYPES}',
    ),
    "array key (KeyWrongType)": (
        {"schema": schema_of({"id": {"type": "array"}}), "key": ["/id"]},
        "key[0]",
        f'location /id accepts "array" in schema {{url}}, {KEY_TYPES}',
    ),
    "integer-or-string key (KeyWrongType)": (
        {"schema": schema_of({"id": {"type": ["integer", "string"]}}), "key": ["/id"]},
        "key[0]",
        f'location /id accepts "integer", "string" in schema {{url}}, {KEY_TYPES}',
    ),
    "null-only key (KeyWrongType)": (
        {"schema": schema_of({"id": {"type": "null"}}), "key": ["/id"]},
        "key[0]",
        f'location /id accepts "null" in schema {{url}}, {KEY_TYPES}',
    ),
    "untyped key (KeyWrongType)": (
        {"schema": schema_of({"id": {}}), "key": ["/id"]},
        "key[0]",
        'location /id accepts "array", "boolean", "null", "number", "object", "string" in '
        f"schema {{url}}, {KEY_TYPES}",
    ),
    "reduced key (KeyHasReduction)": (
        {
            "schema": schema_of({"id": {"type": "integer", "reduce": {"strategy": "sum"}}}),
            "key": ["/id"],
        },
        "key[0]",
        "location /id has a reduction strategy, which is disallowed because the location is "
        "used as a key",
    ),
    "read and write key types differ (KeyReadWriteTypesDiffer)": (
        {
            "writeSchema": ID,
            "readSchema": schema_of({"id": {"type": ["string", "null"]}}),
            "key": ["/id"],
        },
        "key[0]",
        'location /id is "string" in readSchema {read_url}, but "integer" in writeSchema '
        "{url}. Types of keyed locations must be the same in read and write schemas.",
    ),
    "schema not an object schema (CollectionSchemaNotObject)": (
        {"schema": {"properties": {"id": {"type": "integer"}}}, "key": ["/id"]},
        "schema",
        "collection schema {url} must have type 'object'",
    ),
    "projection of an unknown location (PtrIsImplicit)": (
        {"schema": ID, "key": ["/id"], "projections": {"other": "/zzz"}},
        "projections.other",
        "location /zzz is unknown in schema {url}",
    ),
    "partition of an object (KeyWrongType)": (
        {
            "schema": schema_of({"id": {"type": "integer"}, "b": {"type": "object"}}),
            "key": ["/id"],
            "projections": {"part": {"location": "/b", "partition": True}},
        },
        "projections.part",
        f'location /b accepts "object" in schema {{url}}, {KEY_TYPES}',
    ),
    "projection re-mapping a canonical field (ProjectionRemapsCanonicalField)": (
        {
            "schema": schema_of({"id": {"type": "integer"}, "a": {"type": "string"}}),
            "key": ["/id"],
            "projections": {"a": "/id"},
        },
        "projections.a",
        'projection a is the canonical field name of location "/a", and cannot re-map it to "/id"',
    ),
    "a format Flow does not know": (
        {
            "schema": schema_of(
                {"id": {"type": "integer"}, "d": {"type": "string", "format": "decimal"}}
            ),
            "key": ["/id"],
        },
        "schema",
        "{url} uses `format: decimal` at /properties/d, which Flow's validator does not know "
        "(it knows: date, date-time, datetime, duration, email, hostname, idn-email, "
        "idn-hostname, integer, ipv4, ipv6, iri, iri-reference, json-pointer, macaddr, "
        "macaddr8, number, regex, relative-json-pointer, sha256, time, uint32, uint64, uri, "
        "uri-reference, uri-template, uuid)",
    ),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_each_rule_rejects_with_flows_sentence(tmp_path: Path, case: str) -> None:
    spec, where, sentence = REJECTED[case]
    path = write(tmp_path, {ONLY: spec})
    field = "readSchema" if "readSchema" in spec else "schema"
    url = f"{path.as_uri()}?ptr=/collections/acmeCo~1x/{'writeSchema' if field == 'readSchema' else 'schema'}"
    read_url = f"{path.as_uri()}?ptr=/collections/acmeCo~1x/readSchema"
    expected = f"{path}: collections.acmeCo/x.{where}: " + sentence.format(
        url=url, read_url=read_url
    )
    assert catalog_problems(load_catalog(path)) == [expected]
    with pytest.raises(CatalogError) as caught:
        check_catalog(load_catalog(path))
    assert str(caught.value) == expected


def test_collection_and_task_names_follow_flows_syntax(tmp_path: Path) -> None:
    task = {
        "endpoint": {"local": {"command": ["true"], "config": {}}},
        "bindings": [{"resource": {"name": "x"}, "target": "acmeCo/my table"}],
    }
    path = write(
        tmp_path, {"acmeCo/my table": {"schema": ID, "key": ["/id"]}}, captures={"acmeCo/c!": task}
    )
    assert catalog_problems(load_catalog(path)) == [
        f'{path}: captures.acmeCo/c!: acmeCo/c! cannot be used as name for capture ("!" is invalid)',
        f"{path}: collections.acmeCo/my table: acmeCo/my table cannot be used as name for "
        'collection (" table" is invalid)',
    ]


def test_a_derivation_shuffle_key_is_a_key_location(tmp_path: Path) -> None:
    derived = {
        "schema": ID,
        "key": ["/id"],
        "derive": {
            "using": {"local": {"command": ["true"], "config": {}}},
            "transforms": [{"name": "t", "source": ONLY, "shuffle": {"key": ["/nope"]}}],
        },
    }
    path = write(tmp_path, {ONLY: {"schema": ID, "key": ["/id"]}, "acmeCo/derived": derived})
    assert catalog_problems(load_catalog(path)) == [
        f"{path}: collections.acmeCo/derived.derive.transforms[0].shuffle.key[0]: location /nope "
        f"is unknown in schema {path.as_uri()}?ptr=/collections/acmeCo~1x/schema"
    ]


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "acmeCo/a": {"schema": {"type": "object"}, "key": ["/id"]},
            "acmeCo/b": REJECTED["object key (KeyWrongType)"][0],
        },
    )
    with pytest.raises(CatalogError) as caught:
        check_catalog(load_catalog(path))
    lines = str(caught.value).splitlines()
    assert lines[0] == "the catalog breaks 2 of Flow's rules:"
    assert [line.split(": ")[1] for line in lines[1:]] == [
        "collections.acmeCo/a.key[0]",
        "collections.acmeCo/b.key[0]",
    ]


ACCEPTED = {
    "nullable string key": schema_of({"id": {"type": ["string", "null"]}}),
    "number key (integer or fractional)": schema_of({"id": {"type": "number"}}),
    "boolean key": schema_of({"id": {"type": "boolean"}}),
    "last-write-wins key": schema_of(
        {"id": {"type": "integer", "reduce": {"strategy": "lastWriteWins"}}}
    ),
    "optional key (current Flow)": schema_of({"id": {"type": "integer"}}),
    "key in a $ref'd definition": {
        "$defs": {"row": schema_of({"id": {"type": "string"}}, required=["id"])},
        "$ref": "#/$defs/row",
    },
    "key declared in every anyOf branch": {
        "type": "object",
        "anyOf": [
            schema_of({"id": {"type": "integer"}}),
            schema_of({"id": {"type": "integer"}, "x": {}}),
        ],
    },
    "key typed by an enum": schema_of({"id": {"enum": ["a", "b"]}}),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_catalogs_flow_accepts_pass(tmp_path: Path, case: str) -> None:
    path = write(tmp_path, {ONLY: {"schema": ACCEPTED[case], "key": ["/id"]}})
    assert catalog_problems(load_catalog(path)) == []


def test_row_id_keys_under_an_optional_meta_pass(tmp_path: Path) -> None:
    meta = schema_of({"row_id": {"type": "integer"}}, required=["row_id"])
    path = write(tmp_path, {ONLY: {"schema": schema_of({"_meta": meta}), "key": ["/_meta/row_id"]}})
    assert catalog_problems(load_catalog(path)) == []


def test_a_read_schema_built_on_the_write_schema_passes(tmp_path: Path) -> None:
    read = {"allOf": [{"$ref": "flow://write-schema"}, {"$ref": "flow://inferred-schema"}]}
    path = write(tmp_path, {ONLY: {"writeSchema": ID, "readSchema": read, "key": ["/id"]}})
    assert catalog_problems(load_catalog(path)) == []


def test_a_schema_file_is_named_by_its_own_url(tmp_path: Path) -> None:
    (tmp_path / "x.schema.yaml").write_text(yaml.safe_dump({"type": "object"}))
    path = write(tmp_path, {ONLY: {"schema": "x.schema.yaml", "key": ["/id"]}})
    assert catalog_problems(load_catalog(path)) == [
        f"{path}: collections.acmeCo/x.key[0]: location /id is unknown in schema "
        f"{(tmp_path / 'x.schema.yaml').as_uri()}"
    ]


def test_the_repositorys_catalogs_pass() -> None:
    root = Path(__file__).parents[4]
    for catalog in [
        root / "test.flow.yaml",
        *sorted((root / "python/examples").glob("*.flow.yaml")),
    ]:
        assert catalog_problems(load_catalog(catalog)) == [], catalog


# ---- the commands refuse before any connector starts ----

BROKEN = {"schema": {"type": "object"}, "key": ["/id"]}


def marking_endpoint(marker: Path) -> dict[str, Any]:
    """A connector that only leaves a file behind: it must never start."""
    touch = f"import pathlib; pathlib.Path({str(marker)!r}).touch()"
    return {"local": {"command": [sys.executable, "-c", touch], "config": {}}}


def broken_catalog(tmp_path: Path) -> tuple[Path, Path, str]:
    marker = tmp_path / "connector-started"
    capture = {
        "endpoint": marking_endpoint(marker),
        "bindings": [{"resource": {"name": "x"}, "target": ONLY}],
    }
    sink = {
        "endpoint": marking_endpoint(marker),
        "bindings": [{"resource": {"table": "x"}, "source": ONLY}],
    }
    path = write(
        tmp_path,
        {ONLY: BROKEN},
        captures={"acmeCo/src": capture},
        materializations={"acmeCo/sink": sink},
    )
    (tmp_path / "fixture.jsonl").write_text('{"commit": true}\n')
    sentence = (
        f"flow-sdk: error: {path}: collections.acmeCo/x.key[0]: location /id is unknown in "
        f"schema {path.as_uri()}?ptr=/collections/acmeCo~1x/schema"
    )
    return path, marker, sentence


@pytest.mark.parametrize(
    "command",
    [
        ["raw", "validate", "--name", "acmeCo/src"],
        ["raw", "validate", "--name", "acmeCo/sink"],
        ["preview", "--name", "acmeCo/src"],
        ["preview", "--name", "acmeCo/sink", "--fixture", "fixture.jsonl"],
        ["run", "--data-dir", "data"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_commands_refuse_a_broken_catalog_before_connectors_run(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    path, marker, sentence = broken_catalog(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = cli(*command, "--source", str(path))
    assert result.code == 1
    assert result.last_error == sentence
    assert not marker.exists(), "a connector ran"
