"""Schema shapes as Flow infers them: the existence and type of each location (the cases of
Flow's `doc::shape::location` tests), and how in-place applications combine."""

from __future__ import annotations

import pytest

from flow_sdk.runtime.catalog.shape import describe_types, is_keyable
from flow_sdk.runtime.catalog.shape_inference import Inference

OBJ = {
    "type": "object",
    "properties": {
        "prop": {"const": "prop"},
        "parent": {
            "type": "object",
            "properties": {
                "opt-child": {"const": "opt-child"},
                "req-child": {"const": "req-child"},
                "40two": {"const": "forty-two"},
                "impossible": {"allOf": [{"type": "integer"}, {"type": "string"}]},
            },
            "required": ["req-child"],
        },
        "1": {
            "type": "object",
            "properties": {
                "-": {
                    "type": "object",
                    "properties": {"2": {"const": "int-prop"}},
                    "required": ["2"],
                }
            },
            "required": ["-"],
        },
    },
    "required": ["parent", "1"],
    "patternProperties": {"pattern+": {"const": "pattern"}},
    "additionalProperties": {"const": "addl-prop"},
}
ARR1 = {
    "type": "array",
    "minItems": 2,
    "maxItems": 10,
    "items": [{"const": "zero"}, {"const": "one"}, {"const": "two"}],
    "additionalItems": {"const": "addl-item"},
}
ARR2 = {"type": "array", "items": [{"const": "0"}, {"const": "1"}]}


@pytest.mark.parametrize(
    ("schema", "ptr", "value", "exists"),
    [
        (OBJ, "/1/-/2", "int-prop", "must"),
        (OBJ, "/prop", "prop", "may"),
        (OBJ, "/missing", "addl-prop", "may"),
        (OBJ, "/parent/opt-child", "opt-child", "may"),
        (OBJ, "/parent/req-child", "req-child", "must"),
        (OBJ, "/parent/missing", None, "implicit"),
        (OBJ, "/parent/40two", "forty-two", "may"),
        (OBJ, "/parent/impossible", None, "cannot"),
        (OBJ, "/patternnnnnn", "pattern", "may"),
        (OBJ, "/123", "addl-prop", "may"),
        (ARR1, "/0", "zero", "must"),
        (ARR1, "/2", "two", "may"),
        (ARR1, "/9", "addl-item", "may"),
        (ARR1, "/10", "addl-item", "cannot"),
        (ARR1, "/-", None, "cannot"),
        (ARR2, "/1", "1", "may"),
        (ARR2, "/123", None, "implicit"),
        (ARR2, "/not-an-index", None, "cannot"),
    ],
)
def test_locations_exist_as_flow_infers(
    schema: dict, ptr: str, value: str | None, exists: str
) -> None:
    shape, found = Inference(schema).shape().locate(ptr)
    assert found.value == exists
    if value is not None:
        assert shape.enum == [value]


def test_anyof_keeps_only_what_every_branch_declares() -> None:
    schema = {
        "type": "object",
        "anyOf": [
            {"properties": {"id": {"type": "integer"}}, "required": ["id"]},
            {"properties": {"id": {"type": "string"}, "x": {}}, "required": ["id"]},
        ],
    }
    shape = Inference(schema).shape()
    located, exists = shape.locate("/id")
    assert (describe_types(located.types), exists.value) == ('"integer", "string"', "must")
    assert shape.locate("/x")[1].value == "implicit"


def test_types_of_enums_refs_and_intersections() -> None:
    schema = {
        "$defs": {"id": {"type": ["string", "null"]}},
        "type": "object",
        "properties": {
            "e": {"enum": ["a", 1.5]},
            "r": {"$ref": "#/$defs/id"},
            "n": {"allOf": [{"type": ["number", "string"]}, {"type": "number"}]},
        },
    }
    shape = Inference(schema).shape()
    assert describe_types(shape.locate("/e")[0].types) == '"fractional", "string"'
    assert is_keyable(shape.locate("/r")[0].types)
    assert describe_types(shape.locate("/n")[0].types) == '"number"'
