"""JSON Schemas into `shape.Shape`s, as Flow's `Shape::infer` does: a location's own keywords
(`type`, `const`/`enum`, `reduce`, properties, items), then its in-place applications
(`$ref`, `allOf` intersected; `oneOf`, `anyOf`, `then`/`else` unioned). Also `subschemas`,
the schema objects of a document, for checks of every keyword (such as `format`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flow_sdk import json_pointer
from flow_sdk.runtime.catalog.shape import (
    INVALID,
    TYPE_NAMES,
    Shape,
    intersect,
    matches,
    narrow,
    union,
)


class Inference:
    """Infers shapes of one schema document, resolving its local `$ref`s."""

    def __init__(self, root: Any, refs: dict[str, Any] | None = None) -> None:
        self.root = root
        self.refs = refs or {}
        """Schemas of absolute `$ref`s (e.g. `flow://write-schema`)."""
        self._visiting: list[str] = []

    def shape(self, schema: Any | None = None) -> Shape:
        return self._infer(self.root if schema is None else schema)

    def _infer(self, schema: Any) -> Shape:
        if schema is False:
            return Shape(types=INVALID)
        if not isinstance(schema, dict):
            return Shape()
        shape = Shape()
        kind = schema.get("type")
        if isinstance(kind, str):
            kind = [kind]
        if isinstance(kind, list):
            shape.types = INVALID
            for name in kind:
                shape.types |= TYPE_NAMES.get(name, INVALID) if isinstance(name, str) else 0
        if "const" in schema:
            shape.enum = [schema["const"]]
        elif isinstance(schema.get("enum"), list):
            shape.enum = list(schema["enum"])
        reduce = schema.get("reduce")
        if isinstance(reduce, dict) and reduce.get("strategy"):
            shape.reduction = str(reduce["strategy"])
        self._object(schema, shape)
        self._array(schema, shape)
        shape = narrow(shape)
        if isinstance(schema.get("$ref"), str):
            shape = intersect(shape, self._ref(schema["$ref"]))
        for sub in schema.get("allOf") or []:
            shape = intersect(shape, self._infer(sub))
        for keyword in ("oneOf", "anyOf"):
            branches = [self._infer(sub) for sub in schema.get(keyword) or []]
            if branches:
                merged = branches[0]
                for branch in branches[1:]:
                    merged = union(merged, branch)
                shape = intersect(shape, merged)
        if "if" in schema and "then" in schema and "else" in schema:
            shape = intersect(
                shape, union(self._infer(schema["then"]), self._infer(schema["else"]))
            )
        if shape.additional is None and "unevaluatedProperties" in schema:
            shape.additional = self._infer(schema["unevaluatedProperties"])
        if shape.additional_items is None and "unevaluatedItems" in schema:
            shape.additional_items = self._infer(schema["unevaluatedItems"])
        return shape

    def _object(self, schema: dict[str, Any], shape: Shape) -> None:
        required = schema.get("required")
        required = set(required) if isinstance(required, list) else set()
        for name, sub in (schema.get("properties") or {}).items():
            shape.properties[name] = (name in required, self._infer(sub))
        for name in sorted(required - set(shape.properties)):
            if isinstance(name, str):
                shape.properties[name] = (True, Shape())
        for regex, sub in (schema.get("patternProperties") or {}).items():
            shape.patterns.append((regex, self._infer(sub)))
        if "additionalProperties" in schema:
            shape.additional = self._infer(schema["additionalProperties"])
        for name, (req, sub) in list(shape.properties.items()):
            for regex, pattern_shape in shape.patterns:
                if matches(regex, name):
                    sub = intersect(sub, pattern_shape)
            shape.properties[name] = (req, sub)

    def _array(self, schema: dict[str, Any], shape: Shape) -> None:
        tuple_items = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):
            tuple_items, items = items, schema.get("additionalItems")
        if isinstance(tuple_items, list):
            shape.items = [self._infer(sub) for sub in tuple_items]
        if items is not None:
            shape.additional_items = self._infer(items)
        elif "additionalItems" in schema and tuple_items is not None:
            shape.additional_items = self._infer(schema["additionalItems"])
        if isinstance(schema.get("minItems"), int):
            shape.min_items = schema["minItems"]
        if isinstance(schema.get("maxItems"), int):
            shape.max_items = schema["maxItems"]

    def _ref(self, ref: str) -> Shape:
        if ref in self._visiting:
            return Shape()  # a recursive schema: don't expand it again
        target = self._resolve(ref)
        if target is None:
            return Shape()
        self._visiting.append(ref)
        try:
            return self._infer(target)
        finally:
            self._visiting.pop()

    def _resolve(self, ref: str) -> Any:
        if ref in self.refs:
            return self.refs[ref]
        if not ref.startswith("#"):
            return None
        node = json_pointer.get(self.root, ref[1:])
        return None if node is json_pointer.MISSING else node


SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMAS = (
    "additionalProperties",
    "unevaluatedProperties",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
)


def subschemas(schema: Any, at: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (sub)schema object of a schema document, with its JSON pointer."""
    if not isinstance(schema, dict):
        return
    yield at, schema
    for keyword in SUBSCHEMA_MAPS:
        for name, sub in (schema.get(keyword) or {}).items():
            yield from subschemas(sub, f"{at}/{keyword}/{json_pointer.escape(name)}")
    for keyword in SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(keyword) or []):
            yield from subschemas(sub, f"{at}/{keyword}/{i}")
    items = schema.get("items")
    if isinstance(items, list):
        for i, sub in enumerate(items):
            yield from subschemas(sub, f"{at}/items/{i}")
    else:
        yield from subschemas(items, f"{at}/items")
    for keyword in SUBSCHEMAS:
        yield from subschemas(schema.get(keyword), f"{at}/{keyword}")
