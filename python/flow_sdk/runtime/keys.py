"""Collection keys as Flow's runtime groups and orders them, and the one JSON-pointer lookup.

Flow's combiners reduce and order documents by `doc::Extractor::compare_key`, which compares
key components with `json::node::compare` (estuary/flow `crates/json/src/node/compare.rs`):

- values of different types order null < boolean < number < string (< array < object);
- numbers compare by value across integers and floats, so `1` and `1.0` are ONE key
  (`is_eq(json!(20), json!(20.00))` in that file's tests), while `true` and `1`, or `false`
  and `0`, are different keys (`is_lt(json!(true), json!(1))`);
- strings compare by their UTF-8 bytes (Python's code-point order is the same order).

Catalog builds reject key locations that may be null, fractional, arrays or objects
(`unkeyable` in `crates/validation/src/schema.rs`) or may be missing (`KeyMayNotExist`), so a
Flow runtime never meets such a key value; here one is an error naming the collection and the
key pointer instead of a silent merge. One deviation: Flow compares an integer with a float as
`f64`, Python exactly, so integers beyond 2^53 may differ from a float Flow calls equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from flow_sdk import json_pointer
from flow_sdk.runtime.errors import RuntimeFailure

Key = tuple[tuple[int, Any], ...]
"""A key in comparable form: one `(type rank, value)` pair per component. Equal keys are
equal tuples with equal hashes (Python's `1 == 1.0` and `hash(1) == hash(1.0)`), and tuple
order is Flow's key order."""

_BOOLEAN, _NUMBER, _STRING = 1, 2, 3
_MISSING = object()


class KeyValueError(RuntimeFailure):
    """A document has no value, or a value Flow cannot key on, at a collection key pointer."""


@dataclass(frozen=True)
class Pointer:
    """A parsed JSON pointer (RFC 6901)."""

    text: str
    tokens: tuple[str, ...]

    def find(self, doc: Any) -> tuple[bool, Any]:
        """`(True, value)` at this location, or `(False, None)` when it does not exist."""
        node = doc
        for token in self.tokens:
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return False, None
        return True, node

    def get(self, doc: Any) -> Any:
        """The value here, or None when missing: what Flow's extractors yield for a missing
        location without a default. Object members are read with one lookup each; an array
        on the way takes `find`."""
        node = doc
        for token in self.tokens:
            if type(node) is not dict:
                return self.find(doc)[1]
            node = node.get(token, _MISSING)
            if node is _MISSING:
                return None
        return node


@lru_cache(maxsize=1024)
def pointer(text: str) -> Pointer:
    """The parsed pointer `text` (`""` is the document root)."""
    return Pointer(text, tuple(json_pointer.parse(text)))


class KeyExtractor:
    """Reads one collection's key from documents: its values for the wire, and a `Key` for
    grouping and ordering. `where` names the documents' collection in errors."""

    def __init__(self, where: str, pointers: Sequence[str]) -> None:
        self.where = where
        self.pointers = [pointer(p) for p in pointers]

    def values(self, doc: Any) -> list[Any]:
        """The key's JSON values, each checked to be a string, an integer or a boolean."""
        out = []
        for ptr in self.pointers:
            found, value = ptr.find(doc)
            if not found:
                raise KeyValueError(
                    f"a document of {self.where} has no value at its collection key {ptr.text}"
                )
            if problem := _unkeyable(value):
                raise KeyValueError(
                    f"a document of {self.where} has {problem} at its collection key "
                    f"{ptr.text}, but Flow keys can only be strings, integers or booleans"
                )
            out.append(value)
        return out

    def key(self, doc: Any) -> Key:
        """The document's key in comparable form."""
        return self.values_and_key(doc)[1]

    def values_and_key(self, doc: Any) -> tuple[list[Any], Key]:
        """`values(doc)` and its comparable form. Integer and string components at object
        members are read directly (one dict lookup each); anything else, including every
        error, takes the general path of `values`."""
        values, out = [], []
        for ptr in self.pointers:
            node = doc
            for token in ptr.tokens:
                if type(node) is not dict:
                    return self._general(doc)
                node = node.get(token, _MISSING)
            kind = type(node)
            if kind is int:
                out.append((_NUMBER, node))
            elif kind is str:
                out.append((_STRING, node))
            else:
                return self._general(doc)
            values.append(node)
        return values, tuple(out)

    def _general(self, doc: Any) -> tuple[list[Any], Key]:
        values = self.values(doc)
        return values, comparable(values)


def comparable(values: Sequence[Any]) -> Key:
    """Key values (already checked by `KeyExtractor.values`) in comparable form."""
    return tuple(_component(v) for v in values)


def _component(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):  # before numbers: Python's bool is an int
        return (_BOOLEAN, value)
    if isinstance(value, str):
        return (_STRING, value)
    return (_NUMBER, value)


def _unkeyable(value: Any) -> str | None:
    """What is wrong with `value` as a key component, or None when Flow can key on it."""
    if isinstance(value, (bool, str, int)):
        return None
    if isinstance(value, float):
        return None if value.is_integer() else f"the fractional number {value!r}"
    if value is None:
        return "null"
    kind = "an object" if isinstance(value, dict) else "an array"
    return f"{kind} ({_shown(value)})"


def _shown(value: Any, limit: int = 60) -> str:
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # nested too deeply to encode
        return "nested too deeply to show"
    return text if len(text) <= limit else text[: limit - 1] + "…"
