"""The destination's configuration: checked against spec.json field by field (secrets never
quoted), then turned into a typed value naming the bucket to open."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

DEFAULT_BASE_URL = "https://kvdb.io"
MAX_BATCH = 1000
"""KvDB accepts at most this many operations in one transaction request."""


class ConfigError(ValueError):
    """The config cannot be used; the message names the field and what to change."""


@cache
def spec_document() -> dict[str, Any]:
    """The Airbyte ConnectorSpecification shipped with the package (spec.json)."""
    return json.loads(resources.files("destination_kvdb").joinpath("spec.json").read_text())


def connection_schema() -> dict[str, Any]:
    return spec_document()["connectionSpecification"]


@dataclass(frozen=True)
class KvdbBucketConfig:
    """A bucket on KvDB.io (or an API speaking its protocol at `base_url`)."""

    bucket_id: str
    secret_key: str
    base_url: str = DEFAULT_BASE_URL

    @property
    def description(self) -> str:
        return f"KvDB bucket {self.bucket_id} at {self.base_url}"


@dataclass(frozen=True)
class LocalBucketConfig:
    """A bucket in a local SQLite file."""

    path: str

    @property
    def description(self) -> str:
        return f"local bucket {self.path}"


@dataclass(frozen=True)
class KvdbConfig:
    bucket: KvdbBucketConfig | LocalBucketConfig
    batch_size: int = MAX_BATCH

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> KvdbConfig:
        """Validate `config` (raising ConfigError with a readable sentence) and fill defaults."""
        schema = connection_schema()
        root = {key: value for key, value in schema.items() if key != "properties"}
        root["properties"] = {
            name: prop for name, prop in schema["properties"].items() if name != "bucket"
        }
        root["properties"]["bucket"] = {"type": "object"}
        _raise_first(root, dict(config), "config")
        bucket = config["bucket"]
        options = {
            option["properties"]["bucket_type"]["const"]: option
            for option in schema["properties"]["bucket"]["oneOf"]
        }
        kind = bucket.get("bucket_type")
        if kind not in options:
            choices = " or ".join(repr(name) for name in options)
            raise ConfigError(
                f"config.bucket.bucket_type is {kind!r} but must be {choices} "
                "(a KvDB.io bucket or a local bucket file); fix the config."
            )
        _raise_first(options[kind], dict(bucket), "config.bucket")
        batch_size = int(config.get("batch_size", MAX_BATCH))
        if kind == "local":
            return cls(LocalBucketConfig(path=bucket["path"]), batch_size)
        return cls(
            KvdbBucketConfig(
                bucket_id=bucket["bucket_id"],
                secret_key=bucket["secret_key"],
                base_url=bucket.get("base_url", DEFAULT_BASE_URL).rstrip("/"),
            ),
            batch_size,
        )


def local_path(bucket: LocalBucketConfig) -> str:
    """The bucket file's absolute path (`~` expanded, relative to the working directory)."""
    return os.path.abspath(os.path.expanduser(bucket.path))


def _raise_first(schema: Mapping[str, Any], instance: dict[str, Any], where: str) -> None:
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(instance),
        key=lambda error: [str(part) for part in error.absolute_path],
    )
    if errors:
        raise ConfigError(describe(errors[0], schema, where))


def describe(error: jsonschema.ValidationError, schema: Mapping[str, Any], where: str) -> str:
    """One sentence naming the field, its value (unless secret) and what the spec expects."""
    properties = schema.get("properties", {})
    if error.validator == "required":
        missing = error.message.split("'")[1]
        about = properties.get(missing, {}).get("description", "see the spec")
        return f"{where}.{missing} is required ({about}); add it to the config."
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(properties))
        return f"{where} has unknown fields ({error.message}); the fields are {allowed}."
    path = [str(part) for part in error.absolute_path]
    field = properties.get(path[0], {}) if path else {}
    name = f"{where}.{'.'.join(path)}" if path else where
    expectation = {
        "pattern": f"must match {field.get('pattern')} ({field.get('description', '')})",
        "minimum": f"must be at least {field.get('minimum')}",
        "maximum": f"must be at most {field.get('maximum')}",
        "type": f"must be of type {field.get('type')}",
        "const": f"must be {field.get('const')!r}",
    }.get(str(error.validator), error.message)
    if field.get("airbyte_secret"):  # never quote a secret, not even through jsonschema's text
        shown = "a malformed value"
        if error.validator != "pattern":
            expectation = f"must be a {field.get('type')} matching {field.get('pattern')}"
    else:
        shown = repr(error.instance)
    return f"{name} is {shown} but {expectation}; fix the config."
