"""Validating captured documents against their collection's write schema.

One validator per collection, built (and its schema checked) once per run. Every document
goes through `jsonschema-rs` (compiled, ~0.6 µs a document); the pure-Python `jsonschema`
checks the schema itself and words the error when a document is invalid."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from jsonschema import validators
from jsonschema.exceptions import SchemaError, best_match

from flow_sdk.protocol.flow import CollectionSpec
from flow_sdk.runtime.errors import CatalogError


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
        self._cache[collection.name] = cls(schema)
        try:
            self._fast[collection.name] = jsonschema_rs.validator_for(schema)
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
        if error is None:  # the libraries disagree (formats, say): the lenient one wins
            return None
        at = "/" + "/".join(str(p) for p in error.absolute_path)
        return f"at {at}: {error.message}"
