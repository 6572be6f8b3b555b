"""The shape of a catalog file (`flow-protocol.md` §6) as a JSON Schema.

Unknown keys are rejected, as Flow's models do (`deny_unknown_fields`). Values that are
references to other files (config, resource, schema) are strings here and inlined later.
"""

from __future__ import annotations

from typing import Any


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "required": required or [],
    }


_NAME_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_JSON_OR_FILE = {"type": ["object", "string"]}
_DURATION = {"type": "string"}
_LOG_LEVEL = {"enum": ["error", "warn", "info", "debug", "trace"]}

SHARDS = _object(
    {
        "disable": {"type": "boolean"},
        "logLevel": _LOG_LEVEL,
        "minTxnDuration": _DURATION,
        "maxTxnDuration": _DURATION,
        "hotStandbys": {"type": "integer", "minimum": 0},
        "ringBufferSize": {"type": "integer", "minimum": 0},
        "readChannelSize": {"type": "integer", "minimum": 0},
    }
)

ENDPOINT = {
    "type": "object",
    "properties": {
        "local": _object(
            {
                "command": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "config": _JSON_OR_FILE,
                "env": _NAME_MAP,
                "protobuf": {"type": "boolean"},
            },
            ["command", "config"],
        ),
        "connector": _object(
            {"image": {"type": "string"}, "config": _JSON_OR_FILE}, ["image", "config"]
        ),
    },
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
}

CAPTURE = _object(
    {
        "endpoint": ENDPOINT,
        "bindings": {
            "type": "array",
            "items": _object(
                {
                    "resource": _JSON_OR_FILE,
                    "target": {"type": "string"},
                    "disable": {"type": "boolean"},
                    "backfill": {"type": "integer", "minimum": 0},
                },
                ["resource", "target"],
            ),
        },
        "interval": _DURATION,
        "shards": SHARDS,
        "autoDiscover": {"type": ["object", "null"]},
        "redactSalt": {"type": "string"},
        "expectPubId": {"type": "string"},
        "delete": {"type": "boolean"},
    },
    ["endpoint"],
)

_SOURCE = {
    "anyOf": [
        {"type": "string"},
        _object(
            {
                "name": {"type": "string"},
                "partitions": {"type": ["object", "null"]},
                "notBefore": {"type": "string"},
                "notAfter": {"type": "string"},
            },
            ["name"],
        ),
    ]
}

MATERIALIZATION = _object(
    {
        "endpoint": ENDPOINT,
        "bindings": {
            "type": "array",
            "items": _object(
                {
                    "resource": _JSON_OR_FILE,
                    "source": _SOURCE,
                    "fields": _object(
                        {
                            "recommended": {"type": ["boolean", "integer"]},
                            "groupBy": {"type": "array", "items": {"type": "string"}},
                            "require": {"type": "object"},
                            "include": {"type": "object"},
                            "exclude": {"type": "array", "items": {"type": "string"}},
                        }
                    ),
                    "priority": {"type": "integer", "minimum": 0},
                    "backfill": {"type": "integer", "minimum": 0},
                    "disable": {"type": "boolean"},
                    "onIncompatibleSchemaChange": {"type": "string"},
                },
                ["resource", "source"],
            ),
        },
        "shards": SHARDS,
        "source": {"type": ["object", "string"]},
        "sourceCapture": {"type": ["object", "string"]},
        "onIncompatibleSchemaChange": {"type": "string"},
        "expectPubId": {"type": "string"},
        "delete": {"type": "boolean"},
    },
    ["endpoint"],
)

_SCHEMA = {"type": ["object", "string", "boolean"]}

COLLECTION = _object(
    {
        "schema": _SCHEMA,
        "writeSchema": _SCHEMA,
        "readSchema": _SCHEMA,
        "key": {"type": "array", "items": {"type": "string", "pattern": "^/"}, "minItems": 1},
        "projections": {"type": "object"},
        "journals": {"type": "object"},
        "derive": {"type": "object"},
        "expectPubId": {"type": "string"},
        "delete": {"type": "boolean"},
        "reset": {"type": "boolean"},
    },
    ["key"],
)

CATALOG = _object(
    {
        "$schema": {"type": "string"},
        "import": {"type": "array", "items": {"type": "string"}},
        "captures": {"type": "object", "additionalProperties": CAPTURE},
        "collections": {"type": "object", "additionalProperties": COLLECTION},
        "materializations": {"type": "object", "additionalProperties": MATERIALIZATION},
        "tests": {"type": "object"},
        "storageMappings": {"type": "object"},
    }
)
