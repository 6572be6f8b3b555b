"""Validating captured documents against their collection's write schema with `jsonschema`.

One validator per collection, built (and its schema checked) once per run."""

from __future__ import annotations

from typing import Any

from jsonschema import validators
from jsonschema.exceptions import SchemaError, best_match

from flow_sdk.protocol.flow import CollectionSpec
from flow_sdk.runtime.errors import CatalogError


class SchemaValidators:
    """Write-schema validators, cached by collection name."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

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

    def problem(self, collection: CollectionSpec, doc: Any) -> str | None:
        """Why `doc` is invalid against the collection's write schema, or None when valid."""
        validator = self._cache.get(collection.name)
        if validator is None:
            self.prepare(collection)
            validator = self._cache[collection.name]
        if validator.is_valid(doc):
            return None
        error = best_match(validator.iter_errors(doc))
        if error is None:  # pragma: no cover - is_valid and iter_errors disagree
            return "invalid"
        at = "/" + "/".join(str(p) for p in error.absolute_path)
        return f"at {at}: {error.message}"
