"""Document schemas and keys of captures that adapt another protocol's streams: pointer
escaping, and the `_meta.row_id` every adapted document carries (the key of streams that
have none)."""

from __future__ import annotations

import copy
from typing import Any

ROW_ID_POINTER = "/_meta/row_id"
"""The key of a stream without a primary key: the document's position in its sweep."""


def escape_pointer_token(token: str) -> str:
    """One JSON-pointer token (RFC 6901: `~` → `~0`, `/` → `~1`)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def document_schema(json_schema: Any, schema_inference: bool) -> dict[str, Any]:
    """The stream's schema plus `_meta.row_id` (and `x-infer-schema`), as a new object."""
    schema = copy.deepcopy(json_schema) if isinstance(json_schema, dict) else {"type": "object"}
    properties = schema.setdefault("properties", {})
    meta = properties.get("_meta")
    meta = dict(meta) if isinstance(meta, dict) else {"type": "object"}
    meta["properties"] = {**(meta.get("properties") or {}), "row_id": {"type": "integer"}}
    required = list(meta.get("required") or [])
    if "row_id" not in required:
        required.append("row_id")
    meta["required"] = required
    properties["_meta"] = meta
    if schema_inference:
        schema["x-infer-schema"] = True
    return schema
