"""An airbyte-cdk 7 source that depends on what the CDK's entrypoint sets up around a
request: its `read_config` migrates a legacy config key (and says so with a CONTROL), its
`configure` persists a file in the request's temporary directory, and its stream reads that
file and the request cache directory while records are read. Wrapped in process."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream

from flow_sdk.airbyte import CaptureShim


class Probe(Stream):
    primary_key = "id"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def get_json_schema(self) -> Mapping[str, Any]:
        return {"type": "object", "properties": {"id": {"type": "integer"}}}

    def read_records(self, *args: Any, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        cache = os.environ.get("REQUEST_CACHE_PATH")
        with open(self.config["persisted"]) as f:
            persisted = f.read()
        yield {
            "id": 1,
            "token": self.config["token"],
            "persisted": persisted,
            "cache_dir_exists": bool(cache and os.path.isdir(cache)),
        }


class EntrypointSource(AbstractSource):
    @classmethod
    def read_config(cls, config_path: str) -> MutableMapping[str, Any]:
        config = super().read_config(config_path)
        if "legacy_token" in config:
            config["token"] = config.pop("legacy_token")
        return config

    def configure(self, config: Mapping[str, Any], temp_dir: str) -> Mapping[str, Any]:
        path = os.path.join(temp_dir, "persisted.txt")
        with open(path, "w") as f:
            f.write("written by configure")
        return {**config, "persisted": path}

    def spec(self, logger: Any) -> ConnectorSpecification:
        return ConnectorSpecification(connectionSpecification={"type": "object"})

    def check_connection(self, logger: Any, config: Mapping[str, Any]) -> tuple[bool, Any]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        return [Probe(config)]


if __name__ == "__main__":
    CaptureShim(delegate=EntrypointSource()).main()
