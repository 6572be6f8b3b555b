"""Secret values of a config: what its JSON Schema marks `secret` (Flow), `airbyte_secret`
(Airbyte) or `writeOnly` (JSON Schema; singer-sdk's `secret=True` writes it), found wherever
they sit. One rule for every adapter: the same node is a secret to Flow's UI (`secret: true`
in the Spec) and masked in every log line."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flow_sdk import json_pointer
from flow_sdk.logger import mask_secrets

SECRET_MARKS = ("secret", "airbyte_secret", "writeOnly")
"""The keywords that make a schema node a secret (any of them `true`)."""


def is_secret(schema: Mapping[str, Any]) -> bool:
    return any(schema.get(mark) is True for mark in SECRET_MARKS)


def with_secret_marks(schema: Any) -> Any:
    """A copy of `schema` where every secret node also has `secret: true`, Flow's spelling
    (the source schema is left as it is)."""
    if isinstance(schema, dict):
        out = {k: with_secret_marks(v) for k, v in schema.items()}
        if is_secret(out):
            out["secret"] = True
        return out
    if isinstance(schema, list):
        return [with_secret_marks(v) for v in schema]
    return schema


def mask_config_secrets(config_schema: Any, config: Any) -> None:
    """Register the secret values of `config` with the logger (masked in every later line)."""
    mask_secrets(secret_values(config_schema, config))


def secret_values(schema: Any, config: Any) -> Iterator[Any]:
    """The values in `config` that `schema` marks as secret (any of `SECRET_MARKS`),
    following properties, items and every oneOf/anyOf/allOf alternative."""
    for _, value in secret_paths(schema, config):
        yield value


def secret_paths(schema: Any, config: Any, at: str = "") -> Iterator[tuple[str, Any]]:
    """Each secret value of `config` with its JSON pointer (a value may come twice when
    several alternatives of a oneOf mark it)."""
    if not isinstance(schema, Mapping):
        return
    if is_secret(schema):
        if isinstance(config, (str, int, float)) and not isinstance(config, bool):
            yield at, config
        return
    for keyword in ("oneOf", "anyOf", "allOf"):
        for alternative in schema.get(keyword) or []:
            yield from secret_paths(alternative, config, at)
    if isinstance(config, Mapping):
        properties = schema.get("properties") or {}
        for key, value in config.items():
            if key in properties:
                token = json_pointer.escape(key)
                yield from secret_paths(properties[key], value, f"{at}/{token}")
    elif isinstance(config, list) and isinstance(schema.get("items"), Mapping):
        for index, value in enumerate(config):
            yield from secret_paths(schema["items"], value, f"{at}/{index}")
