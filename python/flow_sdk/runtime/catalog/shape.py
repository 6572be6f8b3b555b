"""What Flow infers from a collection's JSON Schema about each document location: the types
it may take, whether it must, may or cannot exist, and its reduction strategy.

The catalog rules (`catalog.rules`) judge keys and projections by these inferences, as Flow's
`doc::Shape` does: `intersect` is `allOf`, `union` is `anyOf`, and a property the schema
never mentions is *implicit* (allowed, but unknown). `shape_inference` builds shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import orjson

from flow_sdk import json_pointer

ARRAY, BOOLEAN, FRACTIONAL, INTEGER, NULL, OBJECT, STRING = 1, 2, 4, 8, 16, 32, 64
NUMBER = INTEGER | FRACTIONAL
ANY = ARRAY | BOOLEAN | NUMBER | NULL | OBJECT | STRING
INVALID = 0
TYPE_NAMES = {
    "array": ARRAY,
    "boolean": BOOLEAN,
    "integer": INTEGER,
    "null": NULL,
    "number": NUMBER,
    "object": OBJECT,
    "string": STRING,
}
KEYABLE = {BOOLEAN, INTEGER, FRACTIONAL, NUMBER, STRING}
MULTIPLE = "(multiple strategies)"
"""The reduction of a location whose union branches disagree on their strategy."""


class Exists(Enum):
    MUST = "must"
    MAY = "may"
    IMPLICIT = "implicit"
    CANNOT = "cannot"

    def then(self, child: Exists) -> Exists:
        """The existence of a child location reached through this one."""
        for weakest in (Exists.CANNOT, Exists.IMPLICIT, Exists.MAY):
            if weakest in (self, child):
                return weakest
        return Exists.MUST


def type_names(types: int) -> list[str]:
    """Type names in Flow's order (`number` for integer-or-fractional)."""
    out = []
    for name, bit in (("array", ARRAY), ("boolean", BOOLEAN)):
        if types & bit:
            out.append(name)
    if types & FRACTIONAL and not types & INTEGER:
        out.append("fractional")
    if types & INTEGER and not types & FRACTIONAL:
        out.append("integer")
    if types & NULL:
        out.append("null")
    if types & NUMBER == NUMBER:
        out.append("number")
    for name, bit in (("object", OBJECT), ("string", STRING)):
        if types & bit:
            out.append(name)
    return out


def describe_types(types: int) -> str:
    """A type set as Flow prints one in its errors: `"integer", "string"`."""
    return ", ".join(f'"{name}"' for name in type_names(types))


def is_keyable(types: int) -> bool:
    """One scalar family (boolean, integer, number or string), optionally with null."""
    return (types & ~NULL) in KEYABLE


@dataclass
class Shape:
    """The inferred constraints of one location."""

    types: int = ANY
    enum: list[Any] | None = None
    reduction: str | None = None
    properties: dict[str, tuple[bool, Shape]] = field(default_factory=dict)
    """Named properties: (required, shape)."""
    patterns: list[tuple[str, Shape]] = field(default_factory=list)
    additional: Shape | None = None
    items: list[Shape] = field(default_factory=list)
    """Tuple items, by position."""
    additional_items: Shape | None = None
    min_items: int = 0
    max_items: int | None = None

    def locate(self, ptr: str) -> tuple[Shape, Exists]:
        """The shape at JSON pointer `ptr`, and whether a document must, may or cannot have it."""
        shape, exists = self, Exists.MUST
        for token in json_pointer.parse(ptr):
            shape, child = shape._step(token)
            exists = exists.then(child)
        if shape.types == INVALID:
            exists = Exists.CANNOT
        return shape, exists

    def _step(self, token: str) -> tuple[Shape, Exists]:
        index = _index(token)
        if index is not None and self.types & ARRAY:
            if self.types == ARRAY and index < self.min_items:
                exists = Exists.MUST
            elif self.max_items is not None and index >= self.max_items:
                exists = Exists.CANNOT
            elif (
                self.max_items is not None
                or index < len(self.items)
                or self.additional_items is not None
            ):
                exists = Exists.MAY
            else:
                exists = Exists.IMPLICIT
            if index < len(self.items):
                return self.items[index], exists
            return self.additional_items or Shape(), exists
        if token == "-" and self.types & ARRAY:
            return self.additional_items or Shape(), Exists.CANNOT
        if self.types & OBJECT:
            return self._property(token)
        return Shape(), Exists.CANNOT

    def _property(self, name: str) -> tuple[Shape, Exists]:
        if name in self.properties:
            required, shape = self.properties[name]
            return shape, Exists.MUST if self.types == OBJECT and required else Exists.MAY
        for pattern, shape in self.patterns:
            if matches(pattern, name):
                return shape, Exists.MAY
        if self.additional is not None:
            return self.additional, Exists.MAY
        return Shape(), Exists.IMPLICIT

    def _imputed(self, name: str) -> Shape | None:
        """What the patterns or additionalProperties say of a property not named here."""
        for pattern, sub in self.patterns:
            if matches(pattern, name):
                return sub
        return self.additional

    def locations(self) -> Iterator[tuple[str, bool, Shape]]:
        """Every statically known location below the root: (pointer, is a pattern, shape)."""
        yield from self._locations("", False)

    def _locations(self, at: str, pattern: bool) -> Iterator[tuple[str, bool, Shape]]:
        if at:
            yield at, pattern, self
        for name in sorted(self.properties):
            yield from self.properties[name][1]._locations(f"{at}/{json_pointer.escape(name)}", pattern)
        for regex, shape in self.patterns:
            yield from shape._locations(f"{at}/{json_pointer.escape(regex)}", True)
        if self.additional is not None:
            yield from self.additional._locations(f"{at}/*", True)
        for i, shape in enumerate(self.items):
            yield from shape._locations(f"{at}/{i}", pattern)
        if self.additional_items is not None:
            yield from self.additional_items._locations(f"{at}/-", True)


def _index(token: str) -> int | None:
    if token.isdigit() and token.isascii() and (token == "0" or not token.startswith("0")):
        return int(token)
    return None


def matches(pattern: str, name: str) -> bool:
    """Whether a JSON Schema `pattern` (unanchored) matches `name`; a bad regex never does."""
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def value_types(value: Any) -> int:
    """The type bit of one JSON value (an integral float is an integer, as in Flow)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return INTEGER if value.is_integer() else FRACTIONAL
    if isinstance(value, str):
        return STRING
    return ARRAY if isinstance(value, list) else OBJECT


def narrow(shape: Shape) -> Shape:
    """Enum variants restrict the types, and the types the variants."""
    if shape.enum is not None:
        shape.enum = [v for v in shape.enum if value_types(v) & shape.types]
        allowed = INVALID
        for v in shape.enum:
            allowed |= value_types(v)
        shape.types &= allowed
    return shape


def _same(a: Any, b: Any) -> bool:
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        b, option=orjson.OPT_SORT_KEYS
    )


def intersect(a: Shape, b: Shape) -> Shape:
    """Both shapes' constraints at once (`allOf`, `$ref`)."""
    enum = a.enum if b.enum is None else b.enum if a.enum is None else None
    if a.enum is not None and b.enum is not None:
        enum = [v for v in a.enum if any(_same(v, w) for w in b.enum)]
    out = Shape(types=a.types & b.types, enum=enum, reduction=a.reduction or b.reduction)
    if a.types & OBJECT and b.types & OBJECT:
        out.properties = {}
        for name in sorted(set(a.properties) | set(b.properties)):
            if name in a.properties and name in b.properties:
                (ra, sa), (rb, sb) = a.properties[name], b.properties[name]
                out.properties[name] = (ra or rb, intersect(sa, sb))
            else:
                own, other = (a, b) if name in a.properties else (b, a)
                required, shape = own.properties[name]
                imputed = other._imputed(name)
                out.properties[name] = (
                    required,
                    shape if imputed is None else intersect(shape, imputed),
                )
        patterns = dict(a.patterns)
        for regex, shape in b.patterns:
            patterns[regex] = intersect(patterns[regex], shape) if regex in patterns else shape
        out.patterns = list(patterns.items())
        out.additional = (
            _both(a.additional, b.additional, intersect) or a.additional or b.additional
        )
    if a.types & ARRAY and b.types & ARRAY:
        out.min_items = max(a.min_items, b.min_items)
        maxes = [m for m in (a.max_items, b.max_items) if m is not None]
        out.max_items = min(maxes) if maxes else None
        for i in range(max(len(a.items), len(b.items))):
            left = a.items[i] if i < len(a.items) else a.additional_items
            right = b.items[i] if i < len(b.items) else b.additional_items
            out.items.append(_both(left, right, intersect) or left or right or Shape())
        out.additional_items = (
            _both(a.additional_items, b.additional_items, intersect)
            or a.additional_items
            or b.additional_items
        )
    return narrow(out)


def union(a: Shape, b: Shape) -> Shape:
    """Only the constraints both shapes share (`anyOf`, `oneOf`, `then`/`else`)."""
    if a.types == INVALID:
        return b
    if b.types == INVALID:
        return a
    enum = None
    if a.enum is not None and b.enum is not None:
        enum = a.enum + [v for v in b.enum if not any(_same(v, w) for w in a.enum)]
    reduction = a.reduction if a.reduction == b.reduction else None
    if a.reduction and b.reduction and a.reduction != b.reduction:
        reduction = MULTIPLE
    out = Shape(types=a.types | b.types, enum=enum, reduction=reduction)
    obj_a, obj_b = a.types & OBJECT, b.types & OBJECT
    if obj_a and obj_b:
        for name in sorted(set(a.properties) | set(b.properties)):
            if name in a.properties and name in b.properties:
                (ra, sa), (rb, sb) = a.properties[name], b.properties[name]
                out.properties[name] = (ra and rb, union(sa, sb))
                continue
            own, other = (a, b) if name in a.properties else (b, a)
            imputed = other._imputed(name)
            if imputed is not None:
                out.properties[name] = (False, union(own.properties[name][1], imputed))
        b_patterns = dict(b.patterns)
        for regex, shape in a.patterns:
            if regex in b_patterns:
                out.patterns.append((regex, union(shape, b_patterns[regex])))
            elif b.additional is not None:
                out.patterns.append((regex, union(shape, b.additional)))
        for regex, shape in b.patterns:
            if regex not in dict(a.patterns) and a.additional is not None:
                out.patterns.append((regex, union(a.additional, shape)))
        out.additional = _both(a.additional, b.additional, union)
    else:
        source = a if obj_a else b
        out.properties, out.patterns, out.additional = (
            dict(source.properties),
            list(source.patterns),
            source.additional,
        )
    if a.types & ARRAY and b.types & ARRAY:
        out.min_items = min(a.min_items, b.min_items)
        out.max_items = (
            max(a.max_items, b.max_items)
            if a.max_items is not None and b.max_items is not None
            else None
        )
        for i in range(max(len(a.items), len(b.items))):
            left = a.items[i] if i < len(a.items) else a.additional_items
            right = b.items[i] if i < len(b.items) else b.additional_items
            if left is None or right is None:
                break
            out.items.append(union(left, right))
        out.additional_items = _both(a.additional_items, b.additional_items, union)
    else:
        source = a if a.types & ARRAY else b
        out.items, out.additional_items = list(source.items), source.additional_items
        out.min_items, out.max_items = source.min_items, source.max_items
    return out


def _both(a: Shape | None, b: Shape | None, op: Any) -> Shape | None:
    return op(a, b) if a is not None and b is not None else None
