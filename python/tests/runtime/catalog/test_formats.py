"""`format` as Flow's validator checks it (the cases of Flow's `json::schema::formats` tests),
on every document whatever the schema's draft: both the fast validator and the one that
words the error agree."""

from __future__ import annotations

import pytest

from flow_sdk.protocol.flow import CollectionSpec
from flow_sdk.runtime.catalog.formats import check
from flow_sdk.runtime.schema import SchemaValidators

FLOW_CASES = [
    ("date", "2022-09-11", True),
    ("date", "2022-09-11T10:31:25.123Z", False),
    ("date", "2022-9-11", False),
    ("date-time", "2022-09-11T10:31:25.123Z", True),
    ("date-time", "2022-09-11T10:31:25z", True),
    ("date-time", "2022-09-11T10:31:25-00:00", True),
    ("date-time", "2024-01-02T03:04:05", False),
    ("date-time", "10:31:25.123Z", False),
    ("datetime", "2022-09-11T10:31:25.123Z", True),
    ("time", "10:31:25.123-10:00", True),
    ("time", "10:31:25", False),
    ("email", "john@doe.com", True),
    ("email", "john at doe.com", False),
    ("hostname", "hostname dot com", False),
    ("ipv4", "123.45.6.78", True),
    ("ipv4", "0.1.2.3", False),
    ("ipv6", "2001:db8::ff00:42:8329", True),
    ("macaddr", "00:1b-63:84-45:e6", True),
    ("macaddr8", "00:1b:63:84:45:e6", False),
    ("uuid", "DF518555-34F0-446A-8788-7B36F607BBEA", True),
    ("uuid", "df51855534f0446a87887b36f607bbea", False),
    ("duration", "P1M3DT30H4S", True),
    ("duration", "P3DT4H30M5.75S", False),
    ("duration", "P1W3D", False),
    ("uri", "../path/to/bar", False),
    ("uri-reference", "../path/to/bar", True),
    ("uri-template", "http://example.com/~{username}/", True),
    ("json-pointer", "/invalid/es~cape", False),
    ("relative-json-pointer", "0/objects", True),
    ("regex", "[hello", False),
    ("integer", "1234.00", True),
    ("integer", "1_234", False),
    ("uint64", "1234", True),
    ("number", "-1.234", True),
    ("number", "NaN", True),
    ("number", "nan", False),
    (
        "sha256",
        "sha256:" + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        True,
    ),
    ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", False),
    ("idn-hostname", "example.com", False),
]


@pytest.mark.parametrize(("name", "value", "valid"), FLOW_CASES)
def test_formats_as_flow_checks_them(name: str, value: str, valid: bool) -> None:
    assert check(name, value) is valid


@pytest.mark.parametrize("draft", ["https://json-schema.org/draft/2020-12/schema", None])
@pytest.mark.parametrize(("name", "value", "valid"), FLOW_CASES)
def test_documents_are_validated_with_flows_formats(
    draft: str | None, name: str, value: str, valid: bool
) -> None:
    schema = {"type": "object", "properties": {"v": {"type": "string", "format": name}}}
    if draft:
        schema["$schema"] = draft
    collection = CollectionSpec(name="acmeCo/x", key=["/v"], writeSchema=schema)
    problem = SchemaValidators().problem(collection, {"v": value})
    if valid:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(f"at /v: {value!r} is not a {name!r}")
