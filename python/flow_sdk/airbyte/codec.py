"""Airbyte messages as plain dicts, whatever CDK generation made them.

The shim's translation works on the JSON shape of the Airbyte protocol (`dict`s with the
protocol's key spelling). In process, the delegate yields model objects — pydantic v1 / v2
models (CDK 0.x–4.x) or plain dataclasses (CDK 5.x+) — and `to_plain` converts them; as a
subprocess, `parse_line` decodes stdout lines straight into dicts. Records never go through
here on the hot path: the capture loop reads `msg.record` attributes directly.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

import orjson


def to_plain(obj: Any) -> Any:
    """`obj` (an Airbyte model, or JSON-like data holding them) as plain JSON data.

    Model fields that are None are left out (the protocol's "unset"); None inside plain
    dicts and lists (state blobs, records) is kept. Pydantic v2 models are dumped as their
    CDK's entrypoint writes them (`exclude_unset`), since their state blobs are models too:
    excluding None would drop the nulls a source wrote into its state. Python field names
    that dodge keywords (`global_`) get their wire spelling back. Always returns new
    containers."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj.value if isinstance(obj, enum.Enum) else obj
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _dataclass_to_plain(obj)
    if hasattr(obj, "model_dump"):  # pydantic v2 (CDK 2.x–4.x)
        return to_plain(obj.model_dump(mode="json", by_alias=True, exclude_unset=True))
    if hasattr(obj, "__fields__") and hasattr(obj, "json"):  # pydantic v1 (CDK 0.x–1.x)
        return orjson.loads(obj.json(by_alias=True, exclude_none=True))
    return obj


def _dataclass_to_plain(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = set()
    for field in dataclasses.fields(obj):
        names.add(field.name)
        value = getattr(obj, field.name, None)
        if value is not None:
            out[wire_name(field.name)] = to_plain(value)
    # CDK 7's AirbyteStateBlob keeps its open-ended content as instance attributes.
    for key, value in vars(obj).items():
        if key not in names:
            out[key] = to_plain(value)
    return out


def wire_name(python_name: str) -> str:
    """`global_` → `global`: the protocol's spelling of a keyword-dodging field name."""
    return python_name[:-1] if python_name.endswith("_") and python_name != "_" else python_name


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One stdout line of an Airbyte connector as a message dict, or None when the line is
    not an Airbyte message (the protocol says such lines are logs)."""
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(message, dict) and isinstance(message.get("type"), str):
        return message
    return None


def state_payload(state: Mapping[str, Any]) -> tuple[str, Any]:
    """The kind (`STREAM`, `GLOBAL`, `LEGACY`) of a STATE message and its payload.

    Accepts the `global_` key that CDK 0.x–4.x write for GLOBAL state (pdv2 models built
    with `global_=` hold it as an extra beside an unset `global`: `{"global": None,
    "global_": {...}}`), and infers the kind from the payload when `type` is missing (which
    the protocol reads as LEGACY)."""
    kind = state.get("type")
    glob = state.get("global")
    if glob is None:
        glob = state.get("global_")
    if kind == "STREAM" or (kind is None and state.get("stream") is not None):
        return "STREAM", state.get("stream")
    if kind == "GLOBAL" or (kind is None and glob is not None):
        return "GLOBAL", glob
    if kind in (None, "LEGACY"):
        return "LEGACY", state.get("data")
    return str(kind), None


def descriptor(stream_state: Mapping[str, Any]) -> tuple[str | None, str]:
    """(namespace, name) of an AirbyteStreamState's stream descriptor."""
    desc = stream_state.get("stream_descriptor") or {}
    return desc.get("namespace") or None, desc.get("name", "")
