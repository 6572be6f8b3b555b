"""Validating documents against their collection's write schema, as Flow's runtime does:
with every `format` checked the way Flow checks it (`formats`), and no larger than Flow's
document size limit.

One validator per collection, built (and its schema checked) once per run. Every document
goes through `jsonschema-rs` (compiled, ~0.6 µs a document); the pure-Python `jsonschema`
checks the schema itself and words the error when a document is invalid."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, best_match

from flow_sdk.protocol.flow import CollectionSpec
from flow_sdk.runtime.catalog.formats import format_checker, rs_formats
from flow_sdk.runtime.catalog.shape_inference import subschemas
from flow_sdk.runtime.errors import CatalogError

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""Flow's document size limit: "Estuary allows documents up to 16 MB in size" (its
collections documentation), taken as 16 MiB of serialized JSON."""


def check_connector_schema(schema: Any, value: Any, where: str, which: str) -> None:
    """A catalog's endpoint or resource config (`value`, at `where`) against the connector's
    Spec schema `which` (none given: nothing to check), as Flow's control plane checks it."""
    if schema is None:
        return
    try:
        error = best_match(Draft202012Validator(schema).iter_errors(value))
    except SchemaError as exc:
        raise CatalogError(
            f"the connector's {which} is not a valid JSON Schema: {exc.message}"
        ) from None
    except (TypeError, ValueError, AttributeError) as exc:
        # A malformed keyword (say `"type": 5`) crashes the validator on the way; schemas
        # are not checked up front, which would refuse real connectors' harmless slips.
        raise CatalogError(
            f"the connector's {which} is not a valid JSON Schema: {type(exc).__name__}: {exc}"
        ) from None
    if error is not None:
        at = "/" + "/".join(str(p) for p in error.absolute_path)
        raise CatalogError(
            f"{where} does not match the connector's {which}: at {at}: {error.message}"
        )


def size_problem(size: int) -> str | None:
    """Why a document of `size` serialized bytes is too large for Flow, or None."""
    if size <= MAX_DOCUMENT_BYTES:
        return None
    return (
        f"the document is {size} bytes of JSON, over Flow's limit of {MAX_DOCUMENT_BYTES} "
        "bytes (Estuary allows documents up to 16 MB in size)"
    )


def _used(formats: dict[str, Any], schema: Any) -> dict[str, Any]:
    """The custom format checks a schema uses: jsonschema-rs is slower with any registered,
    used or not."""
    used = {sub.get("format") for _, sub in subschemas(schema)}
    return {name: check for name, check in formats.items() if name in used}


class SchemaValidators:
    """Write-schema validators, cached by collection name."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}
        self._fast: dict[str, Any] = {}

    def prepare(self, collection: CollectionSpec) -> None:
        """Build the validator now, so a broken schema fails before any session starts."""
        if collection.name in self._cache:
            return
        schema = collection.writeSchema
        cls = validators.validator_for(schema if isinstance(schema, dict) else {})
        try:
            cls.check_schema(schema)
        except SchemaError as exc:
            raise CatalogError(
                f"the schema of collection {collection.name!r} is not a valid JSON Schema: {exc.message}"
            ) from None
        self._cache[collection.name] = cls(schema, format_checker=format_checker())
        try:
            self._fast[collection.name] = jsonschema_rs.validator_for(
                schema, validate_formats=True, formats=_used(rs_formats(), schema) or None
            )
        except Exception:  # a schema only the Python library accepts: validate with it alone
            self._fast[collection.name] = self._cache[collection.name]

    def problem(self, collection: CollectionSpec, doc: Any) -> str | None:
        """Why `doc` is invalid against the collection's write schema, or None when valid."""
        fast = self._fast.get(collection.name)
        if fast is None:
            self.prepare(collection)
            fast = self._fast[collection.name]
        if fast.is_valid(doc):
            return None
        error = best_match(self._cache[collection.name].iter_errors(doc))
        if error is not None:
            at = "/" + "/".join(str(p) for p in error.absolute_path)
            return f"at {at}: {error.message}"
        # The libraries disagree: the stricter one (the one Flow agrees with) wins.
        for rs_error in fast.iter_errors(doc):
            at = "/" + "/".join(str(p) for p in rs_error.instance_path)
            return f"at {at}: {rs_error.message}"
        return None
