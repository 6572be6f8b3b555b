"""The manifest's custom component: a transformation adding `shout` (the name upper-cased),
so a test sees that components.py ran."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import InitVar, dataclass
from typing import Any

from airbyte_cdk.sources.declarative.transformations import RecordTransformation


@dataclass
class Shout(RecordTransformation):
    parameters: InitVar[Mapping[str, Any]]

    def transform(self, record: dict[str, Any], config: Any = None, **kwargs: Any) -> None:
        record["shout"] = str(record.get("name", "")).upper() + "!"
