"""Secret values of a config: what its JSON Schema marks `secret` (Flow) or `airbyte_secret`
(Airbyte), found wherever they sit, so every adapter can mask them in logs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def secret_values(schema: Any, config: Any) -> Iterator[Any]:
    """The values in `config` that `schema` marks as secret (`airbyte_secret` or `secret`),
    following properties, items and every oneOf/anyOf/allOf alternative."""
    for _, value in secret_paths(schema, config):
        yield value


def secret_paths(schema: Any, config: Any, at: str = "") -> Iterator[tuple[str, Any]]:
    """Each secret value of `config` with its JSON pointer (a value may come twice when
    several alternatives of a oneOf mark it)."""
    if not isinstance(schema, Mapping):
        return
    if schema.get("airbyte_secret") is True or schema.get("secret") is True:
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
                token = str(key).replace("~", "~0").replace("/", "~1")
                yield from secret_paths(properties[key], value, f"{at}/{token}")
    elif isinstance(config, list) and isinstance(schema.get("items"), Mapping):
        for index, value in enumerate(config):
            yield from secret_paths(schema["items"], value, f"{at}/{index}")
