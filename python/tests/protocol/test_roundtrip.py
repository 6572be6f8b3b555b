"""Every request and response variant parses and re-serializes to the same JSON, using the
examples of `flow-protocol.md` and canonical messages built from its field tables."""

from __future__ import annotations

import orjson
import pytest

from flow_sdk.protocol import capture, derive, materialize
from flow_sdk.protocol.wire import ProtocolError, encode, parse_message

RANGE = {"keyEnd": 4294967295, "rClockEnd": 4294967295}
COLLECTION = {
    "name": "acmeCo/users",
    "writeSchema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    "key": ["/id"],
    "uuidPtr": "/_meta/uuid",
    "projections": [
        {
            "ptr": "/id",
            "field": "id",
            "isPrimaryKey": True,
            "inference": {"types": ["integer"], "exists": "MUST"},
        },
        {"field": "flow_document", "inference": {"types": ["object"], "exists": "MUST"}},
    ],
}
CAPTURE_SPEC = {
    "name": "acmeCo/source-hello",
    "connectorType": "LOCAL",
    "config": {"a": 1},
    "bindings": [
        {
            "resourceConfig": {"stream": "users"},
            "resourcePath": ["users"],
            "collection": COLLECTION,
            "backfill": 2,
            "stateKey": "users.v2",
        }
    ],
    "intervalSeconds": 300,
}
MATERIALIZATION_SPEC = {
    "name": "acmeCo/sink",
    "connectorType": "LOCAL",
    "config": {"path": "out.db"},
    "bindings": [
        {
            "resourceConfig": {"table": "users"},
            "resourcePath": ["users"],
            "collection": COLLECTION,
            "fieldSelection": {"keys": ["id"], "values": ["v"], "document": "flow_document"},
            "deltaUpdates": True,
            "journalReadSuffix": "materialize/acmeCo/sink/users",
            "stateKey": "users",
        }
    ],
}

CAPTURE_REQUESTS = [
    {"spec": {"connectorType": "LOCAL", "config": {}}},
    {"discover": {"connectorType": "IMAGE", "config": {"k": "v"}}},
    {
        "validate": {
            "name": "acmeCo/source-hello",
            "connectorType": "LOCAL",
            "config": {"k": "v"},
            "bindings": [
                {"resourceConfig": {"stream": "users"}, "collection": COLLECTION, "backfill": 1}
            ],
            "lastCapture": CAPTURE_SPEC,
            "lastVersion": "abc",
        }
    },
    {
        "apply": {
            "capture": CAPTURE_SPEC,
            "version": "v2",
            "lastCapture": CAPTURE_SPEC,
            "lastVersion": "v1",
        }
    },
    {
        "open": {
            "capture": CAPTURE_SPEC,
            "version": "v2",
            "range": RANGE,
            "state": {"bindingStateV1": {}},
        }
    },
    {"acknowledge": {"checkpoints": 3}},
]
CAPTURE_RESPONSES = [
    {
        "spec": {
            "protocol": 3032023,
            "configSchema": {"type": "object"},
            "resourceConfigSchema": {"type": "object"},
            "documentationUrl": "https://example.com/docs",
            "resourcePathPointers": ["/stream"],
            "oauth2": {
                "provider": "hello",
                "authUrlTemplate": "https://x/auth?{{client_id}}",
                "accessTokenUrlTemplate": "https://x/token",
                "accessTokenHeaders": {"accept": "application/json"},
                "accessTokenResponseMap": {"access_token": "/access_token"},
            },
        }
    },
    {
        "discovered": {
            "bindings": [
                {
                    "recommendedName": "users",
                    "resourceConfig": {"stream": "users"},
                    "documentSchema": {"type": "object"},
                    "key": ["/id"],
                    "resourcePath": ["users"],
                    "disable": True,
                }
            ]
        }
    },
    {"validated": {"bindings": [{"resourcePath": ["users"]}]}},
    {"applied": {"actionDescription": "created things"}},
    {"opened": {"explicitAcknowledgements": True}},
    {"opened": {}},
    {"captured": {"doc": {"id": 1, "name": "a"}}},
    {"captured": {"binding": 2, "doc": {"id": 1, "nested": {"x": None, "y": [1, {}]}}}},
    {"sourcedSchema": {"binding": 1, "documentSchema": {"type": "object"}}},
    {
        "checkpoint": {
            "state": {"updated": {"bindingStateV1": {"users": {"cursor": "2"}}}, "mergePatch": True}
        }
    },
    {"checkpoint": {"state": {"updated": {}}}},
    {"backfillBegin": {"binding": 1}},
    {"backfillComplete": {"binding": 1}},
]

MATERIALIZE_REQUESTS = [
    {"spec": {"connectorType": "DEKAF", "config": {}}},
    {
        "validate": {
            "name": "acmeCo/sink",
            "connectorType": "LOCAL",
            "config": {"path": "x"},
            "bindings": [
                {
                    "resourceConfig": {"table": "t"},
                    "collection": COLLECTION,
                    "fieldConfig": {"id": {"x": 1}},
                    "backfill": 1,
                }
            ],
        }
    },
    {"apply": {"materialization": MATERIALIZATION_SPEC, "version": "v1"}},
    {
        "open": {
            "materialization": MATERIALIZATION_SPEC,
            "version": "v1",
            "range": RANGE,
            "state": {},
        }
    },
    {"acknowledge": {}},
    {"load": {"keyPacked": "FQE="}},
    {"load": {"binding": 1, "keyPacked": "FQE="}},
    {"flush": {}},
    {
        "store": {
            "keyPacked": "FQE=",
            "valuesPacked": "Am5ldwA=",
            "doc": {"id": 1, "v": "new"},
            "exists": True,
        }
    },
    {"store": {"key": [1], "values": ["new"], "doc": {"id": 1}, "delete": True}},
    {
        "startCommit": {
            "runtimeCheckpoint": {"sources": {"a/journal;materialize/x/t": {"readThrough": "1"}}}
        }
    },
]
MATERIALIZE_RESPONSES = [
    {
        "spec": {
            "protocol": 3032023,
            "configSchema": {},
            "resourceConfigSchema": {"x-collection-name": True},
        }
    },
    {
        "validated": {
            "bindings": [
                {
                    "constraints": {
                        "flow_document": {"type": "LOCATION_REQUIRED", "reason": "the document"},
                        "v": {"type": "FIELD_OPTIONAL", "reason": "ok", "foldedField": "V"},
                    },
                    "resourcePath": ["users"],
                    "deltaUpdates": True,
                }
            ]
        }
    },
    {"applied": {"actionDescription": "created table"}},
    {"opened": {}},
    {"opened": {"runtimeCheckpoint": {"sources": {}}, "disableLoadOptimization": True}},
    {"loaded": {"doc": {"id": 1, "v": "old"}}},
    {"loaded": {"binding": 3, "doc": {"id": 1}}},
    {"flushed": {}},
    {"startedCommit": {"state": {"updated": {"k": 1}, "mergePatch": True}}},
    {"acknowledged": {}},
]

DERIVE_REQUESTS = [
    {"spec": {"connectorType": "IMAGE", "config": {}}},
    {
        "validate": {
            "connectorType": "IMAGE",
            "config": {},
            "collection": COLLECTION,
            "transforms": [
                {"name": "fromUsers", "collection": COLLECTION, "lambdaConfig": {"x": 1}}
            ],
            "shuffleKeyTypes": ["INTEGER"],
            "projectRoot": "/p",
            "importMap": {"a": "b"},
        }
    },
    {"open": {"collection": COLLECTION, "version": "v", "range": RANGE, "state": {"k": 1}}},
    {
        "read": {
            "transform": 1,
            "uuid": {"node": "1234", "clock": "18446744073709551615"},
            "shuffle": {"key": [1], "packed": "FQE=", "hash": 7},
            "doc": {"id": 1},
        }
    },
    {"flush": {}},
    {"startCommit": {"runtimeCheckpoint": {}}},
    {"reset": {}},
]
DERIVE_RESPONSES = [
    {
        "spec": {
            "protocol": 3032023,
            "configSchema": {},
            "resourceConfigSchema": {},
            "documentationUrl": "u",
        }
    },
    {"validated": {"transforms": [{"readOnly": True}, {}], "generatedFiles": {"file:///a": "x"}}},
    {"opened": {}},
    {"published": {"doc": {"id": 1}}},
    {"flushed": {}},
    {"startedCommit": {"state": {"updated": {"k": 2}, "mergePatch": True}}},
]

CASES = (
    [(capture.Request, m) for m in CAPTURE_REQUESTS]
    + [(capture.Response, m) for m in CAPTURE_RESPONSES]
    + [(materialize.Request, m) for m in MATERIALIZE_REQUESTS]
    + [(materialize.Response, m) for m in MATERIALIZE_RESPONSES]
    + [(derive.Request, m) for m in DERIVE_REQUESTS]
    + [(derive.Response, m) for m in DERIVE_RESPONSES]
)


@pytest.mark.parametrize(
    ("model", "message"),
    CASES,
    ids=lambda v: (
        next(iter(v)) if isinstance(v, dict) else v.__module__.split(".")[-1] + "." + v.__name__
    ),
)
def test_round_trip(model, message: dict) -> None:
    line = orjson.dumps(message)
    parsed = parse_message(model, line, strict=model.__name__ == "Response")
    assert parsed.variant == next(iter(message))
    assert orjson.loads(encode(parsed)) == message


def test_protocol_example_line_pair() -> None:
    request = parse_message(capture.Request, b'{"spec":{"connectorType":"LOCAL","config":{}}}')
    assert request.variant == "spec"
    assert request.spec.config == {}
    spec = capture.Response(
        spec={
            "configSchema": {"type": "object"},
            "resourceConfigSchema": {"type": "object"},
            "documentationUrl": "https://example.com/docs",
            "resourcePathPointers": ["/stream"],
        }
    )
    assert orjson.loads(encode(spec)) == {
        "spec": {
            "protocol": 3032023,
            "configSchema": {"type": "object"},
            "resourceConfigSchema": {"type": "object"},
            "documentationUrl": "https://example.com/docs",
            "resourcePathPointers": ["/stream"],
        }
    }


def test_defaults_and_nulls_are_omitted() -> None:
    out = orjson.loads(
        encode(capture.Response(captured=capture.Captured(binding=0, doc={"a": None})))
    )
    assert out == {"captured": {"doc": {"a": None}}}
    out = orjson.loads(encode(capture.Response(opened=capture.Opened())))
    assert out == {"opened": {}}
    out = orjson.loads(encode(materialize.Response(flushed=materialize.Flushed())))
    assert out == {"flushed": {}}


def test_int64_fields_are_strings_and_accept_numbers() -> None:
    read = parse_message(derive.Request, b'{"read":{"uuid":{"node":1234,"clock":"5678"}}}')
    assert read.read.uuid.node == 1234
    assert orjson.loads(encode(read))["read"]["uuid"] == {"node": "1234", "clock": "5678"}


def test_spec_always_carries_protocol() -> None:
    assert orjson.loads(encode(capture.Response(spec={})))["spec"]["protocol"] == 3032023


def test_requests_ignore_unknown_keys_and_internal() -> None:
    line = b'{"$internal":"EgJIaRgB","open":{"capture":{"name":"a/b","linkedCollections":["x"],"bindings":[{"collectionIndex":1,"stateKey":"k"}]},"futureField":{"x":1}}}'
    request = parse_message(capture.Request, line)
    assert request.open.capture.bindings[0].stateKey == "k"
    assert "$internal" not in orjson.loads(encode(request))


def test_raw_proto_variant_names_are_not_confused_with_unknown_top_level_keys() -> None:
    # A known variant beside an unknown top-level key (a newer runtime's addition) is accepted.
    assert parse_message(capture.Request, b'{"spec":{},"newTopLevel":1}').variant == "spec"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"not json", "not valid JSON"),
        (b'{"spec":{"con', "not valid JSON"),
        (b'{"frobnicate":{}}', "no known message variant"),
        (b'{"spec":{},"discover":{}}', "more than one message variant: spec, discover"),
        (b'{"acknowledge":{"checkpoints":"many"}}', "acknowledge/checkpoints"),
        (b'{"validate":{"bindings":{}}}', "validate/bindings"),
        (b"[1,2]", "must be a JSON object"),
    ],
)
def test_malformed_requests_are_sentences(line: bytes, expected: str) -> None:
    with pytest.raises(ProtocolError, match=expected):
        parse_message(capture.Request, line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"opened":{"explicitAcknowledgements":true,"extra":1}}', "unknown key"),
        (b'{"checkpoint":{"state":null}}', "null"),
        (b'{"captured":{"binding":0,"doc":{}},"captured":{"binding":1,"doc":{}}}', "duplicate key"),
        (b'{"opened":{},"$internal":"x"}', "unknown key"),
    ],
)
def test_strict_response_parsing(line: bytes, expected: str) -> None:
    with pytest.raises(ProtocolError, match=expected):
        parse_message(capture.Response, line, strict=True)
