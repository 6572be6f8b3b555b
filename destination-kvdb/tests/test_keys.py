"""Typed primary keys on both buckets: `1`, `"1"`, `true`, `1.0` and null get distinct bucket
keys, while a bucket written before (bare keys only) is updated in place by a replay."""

from __future__ import annotations

import re
from urllib.parse import quote

import hypothesis
import hypothesis.strategies as st
import orjson
import pytest
from airbyte_cdk.models import AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer
from kvdb_driver import configured_stream, kvdb_config, local_config, record

from destination_kvdb import DestinationKvdb
from destination_kvdb.config import KvdbConfig
from destination_kvdb.destination import open_bucket
from destination_kvdb.keys import (
    JSON_TAG,
    RecordKeyError,
    component,
    declared_string,
    escape,
    key_text,
    primary_key_suffix,
    suffix_function,
)

UNTYPED = configured_stream("things", "append_dedup", [["id"]])
INTEGERS = configured_stream(
    "users",
    "append_dedup",
    [["id"]],
    json_schema={"type": "object", "properties": {"id": {"type": "integer"}}},
)
STRINGS = configured_stream(
    "codes",
    "append_dedup",
    [["id"]],
    json_schema={"type": "object", "properties": {"id": {"type": ["null", "string"]}}},
)


@pytest.fixture(params=["local", "kvdb"])
def config(request, tmp_path):
    if request.param == "local":
        return local_config(tmp_path / "bucket.sqlite")
    return kvdb_config(request.getfixturevalue("kvdb"))


def contents(config) -> dict[str, str]:
    with open_bucket(KvdbConfig.parse(config)) as bucket:
        return dict(bucket.items(""))


def write(config, streams, messages) -> None:
    catalog = ConfiguredAirbyteCatalogSerializer.load({"streams": streams})
    loaded = [AirbyteMessageSerializer.load(m) for m in messages]
    list(DestinationKvdb().write(config, catalog, loaded))


def rows(stream: str, ids: list) -> list[dict]:
    return [record(stream, {"id": i}) for i in ids]


def test_each_typed_key_gets_its_own_bucket_key_in_an_untyped_stream(config):
    ids = [1, "1", True, "true", 1.0, "1.0", None, "null", "abc", False, 0, "0", -3, "01"]
    write(config, [UNTYPED], rows("things", ids))
    assert contents(config) == {
        "things/1": '{"id":1}',
        "things/.str.1": '{"id":"1"}',
        "things/true": '{"id":true}',
        "things/.str.true": '{"id":"true"}',
        "things/1%2E0": '{"id":1.0}',
        "things/.str.1%2E0": '{"id":"1.0"}',
        "things/.json.null": '{"id":null}',
        "things/null": '{"id":"null"}',
        "things/abc": '{"id":"abc"}',
        "things/false": '{"id":false}',
        "things/0": '{"id":0}',
        "things/.str.0": '{"id":"0"}',
        "things/-3": '{"id":-3}',
        "things/01": '{"id":"01"}',
    }


def test_a_string_keyed_stream_keeps_every_string_bare(config):
    write(config, [STRINGS], rows("codes", ["1", "true", "abc", 1, True, 1.0, None]))
    assert contents(config) == {
        "codes/1": '{"id":"1"}',
        "codes/true": '{"id":"true"}',
        "codes/abc": '{"id":"abc"}',
        "codes/.json.1": '{"id":1}',
        "codes/.json.true": '{"id":true}',
        "codes/.json.1%2E0": '{"id":1.0}',
        "codes/.json.null": '{"id":null}',
    }


def test_composite_keys_distinguish_each_component(config):
    stream = configured_stream("pairs", "append_dedup", [["org"], ["id"]])
    write(
        config,
        [stream],
        [record("pairs", {"org": "a", "id": 1}), record("pairs", {"org": "a", "id": "1"})],
    )
    assert sorted(contents(config)) == ["pairs/a/.str.1", "pairs/a/1"]


def test_a_bucket_written_before_is_updated_in_place(config):
    """The keys below are what destination-kvdb wrote before keys were typed: every value
    bare. A replay of the same records overwrites them and adds nothing."""
    before = {
        "users/1": '{"id":1,"v":"old"}',
        "users/2": '{"id":2,"v":"old"}',
        "codes/1": '{"id":"1","v":"old"}',
        "codes/007": '{"id":"007","v":"old"}',
        "codes/true": '{"id":"true","v":"old"}',
        "things/1": '{"id":1,"v":"old"}',
        "things/abc": '{"id":"abc","v":"old"}',
        "things/1%2E5": '{"id":1.5,"v":"old"}',
    }
    with open_bucket(KvdbConfig.parse(config)) as bucket:
        bucket.transact([("set", k, v) for k, v in before.items()])
    replay = [
        record("users", {"id": 1, "v": "new"}),
        record("users", {"id": 2, "v": "new"}),
        record("codes", {"id": "1", "v": "new"}),
        record("codes", {"id": "007", "v": "new"}),
        record("codes", {"id": "true", "v": "new"}),
        record("things", {"id": 1, "v": "new"}),
        record("things", {"id": "abc", "v": "new"}),
        record("things", {"id": 1.5, "v": "new"}),
    ]
    write(config, [INTEGERS, STRINGS, UNTYPED], replay)
    after = contents(config)
    assert sorted(after) == sorted(before)
    assert all(value.endswith('"v":"new"}') for value in after.values())
    # the value that used to collide with the integer 1 now has a key of its own
    write(config, [UNTYPED], [record("things", {"id": "1", "v": "string"})])
    assert contents(config)["things/.str.1"] == '{"id":"1","v":"string"}'
    assert contents(config)["things/1"] == '{"id":1,"v":"new"}'


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"properties": {"id": {"type": "string"}}}, True),
        ({"properties": {"id": {"type": ["string", "null"]}}}, True),
        ({"properties": {"id": {"type": ["string", "integer"]}}}, False),
        ({"properties": {"id": {"type": "integer"}}}, False),
        ({"properties": {"id": {"anyOf": [{"type": "string"}]}}}, False),
        ({"properties": {"id": {}}}, False),
        ({}, False),
    ],
)
def test_declared_string_reads_the_key_fields_type(schema, expected):
    assert declared_string(schema, ["id"]) is expected
    nested = {"properties": {"user": {"type": "object", **schema}}}
    assert declared_string(nested, ["user", "id"]) is expected


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(
    st.one_of(
        st.text(),
        st.from_regex(r"[A-Za-z0-9_~.%/ -]*", fullmatch=True),
        st.integers(min_value=-(1 << 70), max_value=1 << 70).map(str),
    )
)
def test_escape_with_its_shortcut_is_percent_escaping(segment: str) -> None:
    """`escape` skips quoting for a segment with nothing to escape; the result is the same."""
    assert escape(segment) == quote(segment, safe="-_~").replace(".", "%2E")


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(
    st.one_of(
        st.integers(min_value=-(1 << 70), max_value=1 << 70),
        st.sampled_from([-(1 << 63), (1 << 63) - 1, 1 << 63, (1 << 64) - 1, True, False, 0]),
    )
)
def test_an_integer_key_has_its_json_text(value: int) -> None:
    """`key_text` writes an int without orjson, the same text; beyond orjson's range it still
    fails as before."""
    try:
        expected = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        with pytest.raises(orjson.JSONEncodeError):
            key_text(value)
        return
    assert key_text(value) == expected


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(
    st.one_of(
        st.integers(min_value=-(1 << 70), max_value=1 << 70),
        st.sampled_from([-(1 << 63), (1 << 63) - 1, 1 << 63, (1 << 64) - 1, True, False, 0]),
    ),
    st.booleans(),
)
def test_an_integer_component_is_its_escaped_json_text(value: int, string_typed: bool) -> None:
    """`component`'s shortcut for an int gives what the general path gives (and beyond
    orjson's range fails as it does)."""
    try:
        expected = (JSON_TAG if string_typed else "") + escape(key_text(value))
    except orjson.JSONEncodeError:
        with pytest.raises(orjson.JSONEncodeError):
            component(value, string_typed=string_typed)
        return
    assert component(value, string_typed=string_typed) == expected


KEY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    st.dictionaries(
        st.sampled_from(["id", "b", "c"]),
        KEY_VALUE | st.dictionaries(st.sampled_from(["id", "b"]), KEY_VALUE, max_size=2),
        max_size=3,
    ),
    st.sampled_from([[["id"]], [["b"], ["id"]], [["c", "id"]]]),
    st.lists(st.booleans(), max_size=2),
)
def test_a_streams_key_function_is_primary_key_suffix(data, primary_key, string_typed) -> None:
    """`suffix_function`'s shortcut for one top-level field gives what the general path gives,
    and fails where it fails."""
    try:
        expected = primary_key_suffix(data, primary_key, string_typed)
    except (RecordKeyError, orjson.JSONEncodeError) as exc:  # (no field; beyond 64 bits)
        with pytest.raises(type(exc), match=re.escape(str(exc))):
            suffix_function(primary_key, string_typed)(data)
        return
    assert suffix_function(primary_key, string_typed)(data) == expected
