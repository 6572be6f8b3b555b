"""The malformed-input corpus: requests and states no connector should ever choke on.

Each case is the bytes a connector reads on stdin (one or more lines). `CASES` apply to every
protocol; `PROTOCOL_CASES` to one; `CAPTURE_STATES` are Open states the Airbyte shim must
refuse with a sentence (its state decoder). Every case must end the connector non-zero with
one readable JSON error line last on stderr — never a hang, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

PROBE = b'{"spec":{"connectorType":"LOCAL","config":{}}}'


@dataclass(frozen=True)
class Case:
    name: str
    stdin: bytes
    session: bool = False
    """Keep stdin open after these lines, as the runtime does during a session."""


def lines(*parts: bytes | dict[str, Any]) -> bytes:
    return b"".join((p if isinstance(p, bytes) else orjson.dumps(p)) + b"\n" for p in parts)


CASES: list[Case] = [
    Case("empty object", lines(b"{}")),
    Case("array", lines(b"[]")),
    Case("null", lines(b"null")),
    Case("string", lines(b'"spec"')),
    Case("number", lines(b"42")),
    Case("true", lines(b"true")),
    Case("not json", lines(b"hello, connector")),
    Case("truncated object", lines(b'{"spec":')),
    Case("truncated final line without newline", b'{"spec":{"connectorType":"LOC'),
    Case("invalid utf-8", lines(b'{"spec":{"connectorType":"\xff\xfe","config":{}}}')),
    Case(
        "lone surrogate escape",
        lines(b'{"spec":{"connectorType":"LOCAL","config":{"k":"\\ud800"}}}'),
    ),
    Case("NaN", lines(b'{"spec":{"connectorType":"LOCAL","config":{"x":NaN}}}')),
    Case("Infinity", lines(b'{"spec":{"connectorType":"LOCAL","config":{"x":Infinity}}}')),
    Case("byte order mark", lines(b"\xef\xbb\xbf" + PROBE)),
    Case("NUL byte", lines(b'{"spec":{"connectorType":"LOCAL","config":{}}}\x00')),
    Case("trailing garbage", lines(PROBE + b" garbage")),
    Case("two objects on one line", lines(PROBE + PROBE)),
    Case(
        "nesting 100000 deep",
        lines(b'{"spec":{"config":' + b"[" * 100_000 + b"]" * 100_000 + b"}}"),
    ),
    Case("2 MB of whitespace then garbage", lines(b" " * (2 << 20) + b"x")),
    Case("two variants", lines({"spec": {}, "validate": {}})),
    Case("unknown variant", lines({"explode": {}})),
    Case("only $internal", lines({"$internal": {"x": 1}})),
    Case("variant null", lines({"spec": None})),
    Case("variant array", lines({"spec": []})),
    Case("variant string", lines({"spec": "LOCAL"})),
    Case("variant number", lines({"spec": 7})),
    Case("open without anything", lines({"open": {}})),
    Case(
        "open with null body parts",
        lines({"open": {"capture": None, "materialization": None, "collection": None}}),
    ),
    Case("open with a list", lines({"open": []})),
    Case("apply without a spec", lines({"apply": {"version": "v1"}})),
    Case("probe, then garbage", lines(PROBE, b"garbage after a good request")),
    Case("probe, then an unknown variant", lines(PROBE, {"explode": True})),
    Case("probe, then a truncated line", PROBE + b'\n{"validate":{'),
    Case(
        "huge integer",
        lines(b'{"spec":{"connectorType":"LOCAL","config":{"n":1' + b"0" * 5000 + b"}}}")
        + lines(b"{}"),
    ),
    Case("1e400", lines(b'{"acknowledge":{"checkpoints":1e400}}')),
    Case("int64 string that is not a number", lines({"acknowledge": {"checkpoints": "many"}})),
    Case("negative checkpoints", lines({"acknowledge": {"checkpoints": -1}})),
    Case("acknowledge first", lines({"acknowledge": {}})),
]

PROTOCOL_CASES: dict[str, list[Case]] = {
    "capture": [
        Case(
            "validate bindings not a list",
            lines(
                {
                    "validate": {
                        "name": "a/b",
                        "connectorType": "LOCAL",
                        "config": {},
                        "bindings": "all",
                    }
                }
            ),
        ),
        Case(
            "open bindings not a list",
            lines(
                {"open": {"capture": {"name": "a/b", "config": {}, "bindings": {}}, "range": {}}}
            ),
        ),
        Case(
            "open range keyEnd a word",
            lines(
                {
                    "open": {
                        "capture": {"name": "a/b", "config": {}, "bindings": []},
                        "range": {"keyEnd": "end"},
                    }
                }
            ),
        ),
        Case(
            "backfill negative",
            lines(
                {
                    "validate": {
                        "name": "a/b",
                        "connectorType": "LOCAL",
                        "config": {},
                        "bindings": [
                            {
                                "resourceConfig": {},
                                "collection": {"name": "a/c", "key": ["/id"]},
                                "backfill": -1,
                            }
                        ],
                    }
                }
            ),
        ),
    ],
    "materialize": [
        Case(
            "validate bindings not a list",
            lines(
                {"validate": {"name": "a/b", "connectorType": "LOCAL", "config": {}, "bindings": 3}}
            ),
        ),
        Case("load before open", lines({"load": {"binding": 0, "keyPacked": "FQE="}})),
        Case("store before open", lines({"store": {"binding": 0, "keyPacked": "FQE=", "doc": {}}})),
        Case("flush before open", lines({"flush": {}})),
        Case("startCommit before open", lines({"startCommit": {"runtimeCheckpoint": {}}})),
        Case("keyPacked not base64", lines({"load": {"binding": 0, "keyPacked": "%%%"}})),
    ],
    "derive": [
        Case("validate transforms not a list", lines({"validate": {"transforms": {"a": 1}}})),
        Case("read before open", lines({"read": {"transform": 0, "doc": {}}})),
        Case("flush before open", lines({"flush": {}})),
        Case("startCommit before open", lines({"startCommit": {"runtimeCheckpoint": {}}})),
        Case("open without collection", lines({"open": {"state": {}}})),
        Case("read transform a word", lines({"read": {"transform": "first", "doc": {}}})),
    ],
}

AIRBYTE_CAPTURE_CASES: list[Case] = [
    Case(
        "open binding without a stream",
        lines(
            PROBE,
            {
                "open": {
                    "capture": {
                        "name": "a/b",
                        "config": {"count": 1},
                        "bindings": [
                            {
                                "resourceConfig": {"table": "x"},
                                "resourcePath": ["x"],
                                "stateKey": "x",
                                "collection": {"name": "a/x", "key": ["/id"]},
                            }
                        ],
                    }
                }
            },
        ),
        session=True,
    ),
    Case("discover without config", lines({"discover": {"connectorType": "LOCAL"}})),
    Case("validate with a config list", lines({"validate": {"name": "a/b", "config": [1]}})),
]
"""Cases the Airbyte capture shim must refuse that a native capture decides for itself."""

CAPTURE_STATES: list[Case] = [
    Case(f"state: {name}", orjson.dumps(state), session=True)
    for name, state in [
        ("a string", "resume"),
        ("a number", 7),
        ("a list", [1, 2]),
        ("unknown top key", {"cursor": 5}),
        ("bindingStateV1 a list", {"bindingStateV1": []}),
        ("bindingStateV1 a string", {"bindingStateV1": "things"}),
        ("entry a number", {"bindingStateV1": {"things": 5}}),
        ("entry unknown key", {"bindingStateV1": {"things": {"cursor": 5}}}),
        ("rowId negative", {"bindingStateV1": {"things": {"rowId": -1}}}),
        ("rowId a string", {"bindingStateV1": {"things": {"rowId": "3"}}}),
        ("rowId a boolean", {"bindingStateV1": {"things": {"rowId": True}}}),
        ("stream not a list", {"bindingStateV1": {"things": {"stream": {"stream_state": {}}}}}),
        ("stream two elements", {"bindingStateV1": {"things": {"stream": [{}, {}]}}}),
        (
            "stream without descriptor",
            {"bindingStateV1": {"things": {"stream": [{"stream_state": {"id": 3}}]}}},
        ),
        ("airbyteGlobal a list", {"airbyteGlobal": []}),
        ("airbyteGlobal sharedState two blobs", {"airbyteGlobal": {"sharedState": [{}, {}]}}),
        ("airbyteLegacy empty", {"airbyteLegacy": []}),
        (
            "0.1.x entry holding a GLOBAL message",
            {"bindingStateV1": {"things": {"state": {"type": "GLOBAL", "global": {}}}}},
        ),
        ("0.1.x entry a string", {"bindingStateV1": {"things": {"state": "x"}}}),
        (
            "the source rejects its cursor",
            {
                "bindingStateV1": {
                    "things": {
                        "rowId": 1,
                        "stream": [
                            {
                                "stream_descriptor": {"name": "things"},
                                "stream_state": {"id": "three"},
                            }
                        ],
                    }
                }
            },
        ),
    ]
]
"""Open states (JSON) for the faulty source's `things` binding (stateKey `things`)."""
