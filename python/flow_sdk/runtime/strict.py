"""Strict parsing of connector responses: what Flow's runtime rejects, rejected here first.

Each failure is a `ProtocolViolation` naming its rule and quoting the offending line:
`json-lines` (not one JSON object per line), `partial-message` (output ends mid-line),
`message-depth` (nested deeper than the runtime encodes), `no-duplicate-keys`,
`no-unknown-keys`, `no-nulls`, `one-variant` (exactly one variant key), `response-shape`
(a field of the wrong type), `protocol-version` (Spec without 3032023).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from flow_sdk.protocol.wire import PROTOCOL, Envelope, describe_validation_error
from flow_sdk.runtime.depth import MESSAGE_DEPTH, PARSE_DEPTH, nesting
from flow_sdk.runtime.errors import ProtocolViolation

E = TypeVar("E", bound=Envelope)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class MessageTooDeep(ProtocolViolation):
    """A message nested deeper than the runtime can encode (`message-depth`); `data` is the
    parsed message when it could be parsed, so a caller can name the document's collection."""

    def __init__(self, line: bytes, data: Any) -> None:
        self.data = data
        levels = nesting(data) if data is not None else None
        how = f"{levels} levels" if levels is not None else f"more than {PARSE_DEPTH} levels"
        super().__init__(
            "message-depth",
            f"the message nests {how} deep, more than the {MESSAGE_DEPTH} the runtime encodes",
            line,
        )


def _json_int(text: str) -> int | float:
    """An integer as orjson and Flow's serde_json read it: beyond 64 bits, a float."""
    value = int(text)
    return value if -(1 << 63) <= value < (1 << 64) else float(value)


def decode_strict(line: bytes) -> Any:
    """One JSON value from a line, rejecting duplicate object keys at any depth."""
    return decode_line(line)[0]


def decode_line(line: bytes) -> tuple[Any, bool]:
    """`decode_strict`'s value, and whether the line (less its newline) is exactly orjson's
    encoding of it: then any part of the line is the encoding of the value it holds."""
    if not line.endswith(b"\n"):
        raise ProtocolViolation(
            "partial-message",
            "the connector wrote a partial message (no final newline) and then closed its output",
            line,
        )
    # Fast path: a line that is exactly orjson's encoding of what it parses to cannot hold a
    # duplicate key (the encoding of a parsed object has each key once). Anything else takes
    # the full check.
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    else:
        try:
            if orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE) == line:  # (no slice)
                return data, True
        except orjson.JSONEncodeError:  # parsed, but nested too deeply to encode again
            raise MessageTooDeep(line, data) from None
    try:
        return json.loads(line, object_pairs_hook=_no_duplicates, parse_int=_json_int), False
    except RecursionError:  # deeper than orjson parses, and too deep for `json`
        raise MessageTooDeep(line, None) from None
    except _DuplicateKey as dup:
        raise ProtocolViolation(
            "no-duplicate-keys", f"the key {dup.key!r} appears twice in one object", line
        ) from None
    except ValueError as exc:
        raise ProtocolViolation(
            "json-lines", f"stdout must carry one JSON message per line ({exc})", line
        ) from None


def parse_response(model: type[E], line: bytes) -> E:
    """A response envelope, checked as strictly as Flow's runtime checks it."""
    return parse_variant(model, line)[1]


def parse_variant(model: type[E], line: bytes) -> tuple[str, E]:
    """The variant name and the checked envelope of a response line."""
    return check_variant(model, decode_strict(line), line)


def captured_fields(data: Any) -> tuple[int, dict[str, Any]] | None:
    """`(binding, doc)` of a decoded capture response that is plainly a well-formed
    `captured` (an integer binding, an object document, no other keys); None for anything
    else, which `check_variant` then checks in full. Skipping the envelope model for the
    common case is most of a preview's per-document cost."""
    if type(data) is not dict or len(data) != 1:
        return None
    captured = data.get("captured")
    if type(captured) is not dict:
        return None
    doc = captured.get("doc")
    binding = captured.get("binding", 0)
    if type(doc) is not dict or type(binding) is not int:
        return None
    if len(captured) != (2 if "binding" in captured else 1):
        return None  # an unknown key: the full check names it
    return binding, doc


def check_variant(model: type[E], data: Any, line: bytes) -> tuple[str, E]:
    """The variant name and the checked envelope of a decoded response `line`."""
    if not isinstance(data, dict):
        raise ProtocolViolation("json-lines", "a message must be a JSON object", line)
    present = [k for k in model.variants if k in data]
    if len(present) != 1:
        detail = (
            f"more than one message variant ({', '.join(present)})"
            if present
            else f"no known message variant (expected one of: {', '.join(model.variants)})"
        )
        unknown = [k for k in data if k not in model.variants]
        if not present and unknown:
            raise ProtocolViolation(
                "no-unknown-keys", f"unknown key {unknown[0]!r}; {detail}", line
            )
        raise ProtocolViolation("one-variant", detail, line)
    variant = present[0]
    if data[variant] is None:
        raise ProtocolViolation("no-nulls", f"`{variant}` is null; omit fields instead", line)
    try:
        envelope = model.model_validate(data)
    except ValidationError as exc:
        raise ProtocolViolation(_rule_of(exc), describe_validation_error(exc), line) from None
    if variant == "spec":
        check_protocol(data["spec"], line)
    return variant, envelope


def check_resource_paths(
    paths: Sequence[Sequence[str]], requested: int, *, non_empty: bool = False
) -> None:
    """A Validated answers each requested binding once, in order, with unique resource
    paths (non-empty ones, for materializations)."""
    if len(paths) != requested:
        raise ProtocolViolation(
            "validated-bindings",
            f"Validated has {len(paths)} binding(s) but the request had {requested}; "
            "answer each binding once, in order",
        )
    seen: dict[tuple[str, ...], int] = {}
    for i, resource_path in enumerate(paths):
        path = tuple(resource_path)
        if non_empty and not path:
            raise ProtocolViolation("resource-path", f"binding {i} has an empty resourcePath")
        if path in seen:
            raise ProtocolViolation(
                "unique-resource-paths",
                f"bindings {seen[path]} and {i} have the same resourcePath {list(path)}",
            )
        seen[path] = i


def check_protocol(spec: dict[str, Any], line: bytes) -> None:
    """A Spec response must carry `protocol: 3032023`."""
    got = spec.get("protocol")
    if got != PROTOCOL:
        detail = "is missing" if got is None else f"is {got!r}"
        raise ProtocolViolation(
            "protocol-version",
            f"the Spec response's `protocol` {detail}; it must be {PROTOCOL}",
            line,
        )


def _rule_of(exc: ValidationError) -> str:
    for err in exc.errors():
        if err["type"] == "extra_forbidden":
            return "no-unknown-keys"
        if "is null" in str(err.get("msg", "")) or err["type"] == "none_forbidden":
            return "no-nulls"
    return "response-shape"
