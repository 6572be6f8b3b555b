"""The source's configuration: checked against spec.json, then against what a pattern cannot
say (a real calendar date), and turned into a typed value the streams share."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from source_bigdata.generate import epoch_seconds


class ConfigError(ValueError):
    """The config cannot be used; the message says which field and what to change."""


@cache
def spec_document() -> dict[str, Any]:
    """The Airbyte ConnectorSpecification shipped with the package (spec.json)."""
    return json.loads(resources.files("source_bigdata").joinpath("spec.json").read_text())


def config_schema() -> dict[str, Any]:
    return spec_document()["connectionSpecification"]


@dataclass(frozen=True)
class BigdataConfig:
    data_name: str
    record_count: int
    seed: int
    start_date: datetime.datetime
    checkpoint_interval: int

    @property
    def start_seconds(self) -> int:
        return epoch_seconds(self.start_date)

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> BigdataConfig:
        """Validate `config` (raising ConfigError with a readable sentence) and fill defaults."""
        schema = config_schema()
        errors = sorted(
            jsonschema.Draft7Validator(schema).iter_errors(dict(config)),
            key=lambda error: list(error.absolute_path),
        )
        if errors:
            raise ConfigError(describe(errors[0], schema))
        defaults = {name: prop.get("default") for name, prop in schema["properties"].items()}
        merged = {**defaults, **config}
        try:
            start = datetime.datetime.strptime(merged["start_date"], "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise ConfigError(
                f"config.start_date {merged['start_date']!r} is not a real date and time; "
                "use the form 2024-01-01T00:00:00Z."
            ) from None
        return cls(
            data_name=merged["data_name"],
            record_count=merged["record_count"],
            seed=merged["seed"],
            start_date=start.replace(tzinfo=datetime.timezone.utc),
            checkpoint_interval=merged["checkpoint_interval"],
        )


def describe(error: jsonschema.ValidationError, schema: Mapping[str, Any]) -> str:
    """One sentence naming the field, the bad value and what the spec expects of it."""
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        field = schema["properties"].get(missing, {})
        return (
            f"config.{missing} is required ({field.get('description', 'see the spec')}); "
            "add it to the config."
        )
    where = "config." + ".".join(str(part) for part in path) if path else "config"
    field = schema["properties"].get(str(path[0]), {}) if path else {}
    expectation = {
        "pattern": f"must match {field.get('pattern')}",
        "minimum": f"must be at least {field.get('minimum')}",
        "maximum": f"must be at most {field.get('maximum')}",
        "type": f"must be of type {field.get('type')}",
    }.get(str(error.validator), error.message)
    return f"{where} is {error.instance!r} but {expectation}; fix the config."
