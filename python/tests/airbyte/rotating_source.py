"""A real airbyte-cdk 7 source with single-use refresh tokens (the CDK's own
`SingleUseRefreshTokenOauth2Authenticator`): every session refreshes its access token, the
CDK prints a CONTROL with the rotated refresh token, and the old one is dead from then on.

`python rotating_source.py spec|check|discover|read ...` runs it as an Airbyte connector;
`python rotating_source.py --shim` wraps it in process with `CaptureShim`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

import requests
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.requests_native_auth import (
    SingleUseRefreshTokenOauth2Authenticator,
)

SPEC = {
    "type": "object",
    "required": ["api_url", "credentials"],
    "properties": {
        "api_url": {"type": "string"},
        "check_api": {"type": "boolean"},
        "credentials": {
            "type": "object",
            "required": ["client_id", "client_secret", "refresh_token"],
            "properties": {
                "client_id": {"type": "string"},
                "client_secret": {"type": "string", "airbyte_secret": True},
                "refresh_token": {"type": "string", "airbyte_secret": True},
                "access_token": {"type": "string", "airbyte_secret": True},
                "token_expiry_date": {"type": "string"},
            },
        },
    },
}


class Items(HttpStream):
    primary_key = "id"

    def __init__(self, config: Mapping[str, Any], **kwargs: Any) -> None:
        self._base = config["api_url"].rstrip("/") + "/"
        super().__init__(**kwargs)

    @property
    def url_base(self) -> str:
        return self._base

    def path(self, **kwargs: Any) -> str:
        return "items"

    def next_page_token(self, response: requests.Response) -> None:
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping]:
        yield from response.json()["items"]

    def get_json_schema(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        }


class RotatingSource(AbstractSource):
    def spec(self, logger: Any) -> ConnectorSpecification:
        return ConnectorSpecification(connectionSpecification=SPEC)

    def check_connection(self, logger: Any, config: Mapping[str, Any]) -> tuple[bool, Any]:
        """With `check_api`, the check calls the API, so it rotates the token too."""
        if not config.get("check_api"):
            return True, None
        headers = _authenticator(config).get_auth_header()
        response = requests.get(config["api_url"].rstrip("/") + "/items", headers=headers)
        return response.ok, None if response.ok else response.text

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        return [Items(config, authenticator=_authenticator(config))]


def _authenticator(config: Mapping[str, Any]) -> SingleUseRefreshTokenOauth2Authenticator:
    return SingleUseRefreshTokenOauth2Authenticator(
        config, token_refresh_endpoint=config["api_url"].rstrip("/") + "/oauth/token"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--shim"]:
        from flow_sdk.airbyte import CaptureShim

        CaptureShim(delegate=RotatingSource()).main()
    else:
        launch(RotatingSource(), sys.argv[1:])
