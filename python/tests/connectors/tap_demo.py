"""A real singer-sdk tap over the demo API (demo_api.py): `users` is incremental on
`updated_at` with a primary key, `events` is keyless and full-table.

Run as a Singer executable (`python tap_demo.py --config ... --catalog ...`) or in process
through `flow_sdk.singer.CaptureShim(delegate=TapDemo)` (see tap_capture.py)."""

from __future__ import annotations

from typing import Any

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.pagination import JSONPathPaginator
from singer_sdk.streams import RESTStream


class DemoStream(RESTStream):
    records_jsonpath = "$.items[*]"

    @property
    def url_base(self) -> str:
        return self.config["api_url"]

    @property
    def http_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.config["api_key"]}


class UsersStream(DemoStream):
    name = "users"
    path = "/users"
    primary_keys = ("id",)
    replication_key = "updated_at"
    is_sorted = True
    STATE_MSG_FREQUENCY = 2
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("updated_at", th.IntegerType),
    ).to_dict()

    def get_new_paginator(self) -> JSONPathPaginator:
        return JSONPathPaginator("$.next_page")

    def get_url_params(self, context: Any, next_page_token: Any) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if next_page_token:
            params["page"] = next_page_token
        start = self.get_starting_replication_key_value(context)
        if start is not None:
            params["since"] = start
        return params


class EventsStream(DemoStream):
    name = "events"
    path = "/events"
    primary_keys = ()
    schema = th.PropertiesList(
        th.Property("kind", th.StringType),
        th.Property("n", th.IntegerType),
    ).to_dict()


class TapDemo(Tap):
    name = "tap-demo"
    config_jsonschema = th.PropertiesList(
        th.Property("api_url", th.StringType, required=True, description="Base URL of the API"),
        th.Property("api_key", th.StringType, required=True, secret=True),
    ).to_dict()

    def discover_streams(self) -> list[DemoStream]:
        return [UsersStream(self), EventsStream(self)]


if __name__ == "__main__":
    TapDemo.cli()
