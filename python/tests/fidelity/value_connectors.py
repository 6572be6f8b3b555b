"""The value matrix's connectors, one per mode, all emitting stream `values` with one record
per case named in the config (`{"cases": [...]}`):

- `airbyte-flow`: an airbyte-cdk 7 source wrapped in process (`CaptureShim(delegate=...)`);
- `airbyte-cdk`: the same source as an Airbyte connector (for `flow-sdk airbyte-capture`);
- `airbyte-plain`: a hand-written Airbyte connector printing `json.dumps`-style literals;
- `singer-flow`: a singer-sdk tap wrapped in process;
- `singer-plain`: a hand-written Singer tap printing literals (as singer-python taps do).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from value_cases import BY_NAME, record  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "case": {"type": "string"}, "v": {}},
}
CONFIG_SCHEMA = {
    "type": "object",
    "required": ["cases"],
    "properties": {"cases": {"type": "array", "items": {"type": "string"}}},
}


def cases(config: Mapping[str, Any]) -> list[Any]:
    return [BY_NAME[name] for name in config["cases"]]


# ---- airbyte-cdk ----


def airbyte_source() -> Any:
    from airbyte_cdk.models import ConnectorSpecification
    from airbyte_cdk.sources import AbstractSource
    from airbyte_cdk.sources.streams import Stream

    class Values(Stream):
        primary_key = "id"

        def __init__(self, config: Mapping[str, Any]) -> None:
            self.config = config

        def get_json_schema(self) -> Mapping[str, Any]:
            return SCHEMA

        def read_records(self, *args: Any, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
            for i, case in enumerate(cases(self.config)):
                yield record(i, case)

    class ValuesSource(AbstractSource):
        def spec(self, logger: Any) -> ConnectorSpecification:
            return ConnectorSpecification(connectionSpecification=CONFIG_SCHEMA)

        def check_connection(self, logger: Any, config: Mapping[str, Any]) -> tuple[bool, Any]:
            return True, None

        def streams(self, config: Mapping[str, Any]) -> list[Stream]:
            return [Values(config)]

    return ValuesSource()


# ---- singer-sdk ----


def singer_tap() -> Any:
    from singer_sdk import Stream, Tap
    from singer_sdk import typing as th

    class Values(Stream):
        name = "values"
        primary_keys = ("id",)
        schema = th.PropertiesList(
            th.Property("id", th.IntegerType), th.Property("case", th.StringType)
        ).to_dict()
        schema["properties"]["v"] = {}

        def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
            for i, case in enumerate(cases(self.config)):
                yield record(i, case)

    class TapValues(Tap):
        name = "tap-values"
        config_jsonschema = CONFIG_SCHEMA

        def discover_streams(self) -> list[Stream]:
            return [Values(self)]

    return TapValues


# ---- plain connectors: literals on stdout ----


def write_line(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape") + b"\n")


def literal_records(config: Mapping[str, Any]) -> list[str]:
    return [record(i, case, literal=True) for i, case in enumerate(cases(config))]


def airbyte_plain(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--config")
    parser.add_argument("--catalog")
    parser.add_argument("--state")
    args = parser.parse_args(argv)
    if args.command == "spec":
        spec = {"connectionSpecification": CONFIG_SCHEMA}
        print(json.dumps({"type": "SPEC", "spec": spec}))
        return
    config = json.loads(Path(args.config).read_text())
    if args.command == "check":
        print(
            json.dumps({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}})
        )
    elif args.command == "discover":
        stream = {
            "name": "values",
            "json_schema": SCHEMA,
            "supported_sync_modes": ["full_refresh"],
            "source_defined_primary_key": [["id"]],
        }
        print(json.dumps({"type": "CATALOG", "catalog": {"streams": [stream]}}))
    else:
        for data in literal_records(config):
            write_line(
                f'{{"type": "RECORD", "record": {{"stream": "values", "data": {data}, "emitted_at": 0}}}}'
            )


def singer_plain(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--catalog")
    parser.add_argument("--state")
    parser.add_argument("--discover", action="store_true")
    parser.add_argument("--about", action="store_true")
    parser.add_argument("--format")
    args = parser.parse_args(argv)
    if args.about:
        print(json.dumps({"name": "tap-values-plain", "settings": CONFIG_SCHEMA}))
        return
    catalog = {
        "streams": [
            {
                "tap_stream_id": "values",
                "stream": "values",
                "schema": SCHEMA,
                "key_properties": ["id"],
                "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
            }
        ]
    }
    if args.discover:
        print(json.dumps(catalog))
        return
    config = json.loads(Path(args.config).read_text())
    print(
        json.dumps(
            {"type": "SCHEMA", "stream": "values", "schema": SCHEMA, "key_properties": ["id"]}
        )
    )
    for data in literal_records(config):
        write_line(f'{{"type": "RECORD", "stream": "values", "record": {data}}}')


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    if mode == "airbyte-flow":
        from flow_sdk.airbyte import CaptureShim

        CaptureShim(delegate=airbyte_source()).main()
    elif mode == "airbyte-cdk":
        from airbyte_cdk.entrypoint import launch

        launch(airbyte_source(), rest)
    elif mode == "airbyte-plain":
        airbyte_plain(rest)
    elif mode == "singer-flow":
        from flow_sdk.singer import CaptureShim as SingerShim

        SingerShim(delegate=singer_tap()).main()
    elif mode == "singer-plain":
        singer_plain(rest)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
