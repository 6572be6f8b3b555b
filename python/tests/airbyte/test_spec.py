from __future__ import annotations

import copy
import logging

import pytest

from flow_sdk.airbyte.spec import flow_spec, oauth2_from_advanced_auth
from flow_sdk.logger import FlowLogFormatter, mask_secrets
from flow_sdk.protocol.flow import OAuth2
from flow_sdk.secrets import secret_values, with_secret_marks

CONN = {
    "type": "object",
    "properties": {
        "api_key": {"type": "string", "airbyte_secret": True},
        "host": {"type": "string"},
        "credentials": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"client_secret": {"type": "string", "airbyte_secret": True}},
                },
                {"type": "object", "properties": {"password": {"type": "string", "secret": True}}},
            ]
        },
        "keys": {"type": "array", "items": {"type": "string", "airbyte_secret": True}},
    },
}

DECLARATIVE_AUTH = {
    "auth_flow_type": "oauth2.0",
    "predicate_key": ["credentials", "auth_type"],
    "oauth_config_specification": {
        "oauth_connector_input_specification": {
            "consent_url": "https://app.example.com/oauth/authorize?{{client_id_key}}={{client_id_value}}&{{redirect_uri_key}}={{ {{redirect_uri_value}} | urlEncoder}}&scope={{scope_value}}&{{state_key}}={{state_value}}",
            "access_token_url": "https://api.example.com/oauth/token",
            "scope": "read write",
            "access_token_headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "access_token_params": {
                "{{ auth_code_key }}": "{{ auth_code_value }}",
                "client_id": "{{ client_id_value }}",
                "client_secret": "{{ client_secret_value }}",
                "grant_type": "authorization_code",
            },
            "extract_output": ["access_token", "refresh_token"],
        },
        "complete_oauth_output_specification": {
            "properties": {
                "refresh_token": {
                    "type": "string",
                    "path_in_connector_config": ["credentials", "refresh_token"],
                }
            }
        },
    },
}


def test_airbyte_secrets_are_also_flow_secrets_and_the_source_schema_is_untouched() -> None:
    original = copy.deepcopy(CONN)
    marked = with_secret_marks(CONN)
    assert marked["properties"]["api_key"]["secret"] is True
    assert (
        marked["properties"]["credentials"]["oneOf"][0]["properties"]["client_secret"]["secret"]
        is True
    )
    assert marked["properties"]["keys"]["items"]["secret"] is True
    assert "secret" not in marked["properties"]["host"]
    assert original == CONN


def test_secret_values_follow_properties_one_of_and_items() -> None:
    config = {
        "api_key": "k-123456",
        "host": "db.example.com",
        "credentials": {"client_secret": "cs-abcdef"},
        "keys": ["first-key", "second-key"],
    }
    assert sorted(secret_values(CONN, config)) == [
        "cs-abcdef",
        "first-key",
        "k-123456",
        "second-key",
    ]
    assert list(secret_values(CONN, {"credentials": {"password": "pw-xyz123"}})) == ["pw-xyz123"]


def test_masked_values_never_reach_a_log_line() -> None:
    mask_secrets(secret_values(CONN, {"api_key": "super-secret-value"}))
    record = logging.LogRecord(
        "flow", logging.INFO, "", 0, "key is %s", ("super-secret-value",), None
    )
    record.config = {"api_key": "super-secret-value"}
    line = FlowLogFormatter().format(record)
    assert "super-secret-value" not in line and "**********" in line


def test_a_write_only_field_is_a_secret_to_airbyte_and_singer_alike() -> None:
    """One rule for every adapter: `writeOnly` (what singer-sdk's `secret=True` writes, and
    plain JSON Schema's word) is a Flow secret and masked, in an Airbyte spec too."""
    conn = {"type": "object", "properties": {"token": {"type": "string", "writeOnly": True}}}
    spec = flow_spec({"connectionSpecification": conn}, None)
    assert spec.configSchema["properties"]["token"]["secret"] is True
    assert list(secret_values(conn, {"token": "tok-0123456789"})) == ["tok-0123456789"]


def test_spec_maps_docs_url_resource_schema_and_pointers(monkeypatch: pytest.MonkeyPatch) -> None:
    airbyte = {"documentationUrl": "https://docs.airbyte.com/x", "connectionSpecification": CONN}
    monkeypatch.delenv("DOCS_URL", raising=False)
    spec = flow_spec(airbyte, None)
    assert spec.documentationUrl == "https://docs.airbyte.com/x"
    assert spec.resourcePathPointers == ["/namespace", "/stream"]
    assert spec.resourceConfigSchema["required"] == ["stream", "syncMode"]
    assert spec.oauth2 is None
    wire = spec.to_wire()
    assert wire["protocol"] == 3032023 and "oauth2" not in wire
    monkeypatch.setenv("DOCS_URL", "https://go.estuary.dev/x")
    assert flow_spec(airbyte, None).documentationUrl == "https://go.estuary.dev/x"


def test_declarative_advanced_auth_becomes_oauth2() -> None:
    oauth = oauth2_from_advanced_auth(DECLARATIVE_AUTH)
    assert oauth is not None
    assert oauth.provider == "example"
    assert oauth.authUrlTemplate == (
        "https://app.example.com/oauth/authorize?client_id={{{ client_id }}}"
        "&redirect_uri={{#urlencode}}{{{ redirect_uri }}}{{/urlencode}}&scope=read%20write&state={{{ state }}}"
    )
    assert oauth.accessTokenUrlTemplate == "https://api.example.com/oauth/token"
    assert oauth.accessTokenBody == (
        "code={{{ code }}}&client_id={{{ client_id }}}&client_secret={{{ client_secret }}}&grant_type=authorization_code"
    )
    assert oauth.accessTokenResponseMap == {
        "refresh_token": "/refresh_token",
        "access_token": "/access_token",
    }


def test_advanced_auth_without_urls_or_with_unknown_filters_gives_no_oauth2() -> None:
    legacy = {
        "auth_flow_type": "oauth2.0",
        "oauth_config_specification": {"complete_oauth_output_specification": {}},
    }
    assert oauth2_from_advanced_auth(legacy) is None
    odd = copy.deepcopy(DECLARATIVE_AUTH)
    odd["oauth_config_specification"]["oauth_connector_input_specification"]["consent_url"] += (
        "&challenge={{ {{state_value}} | codeChallengeS256 }}"
    )
    assert oauth2_from_advanced_auth(odd) is None
    assert oauth2_from_advanced_auth(None) is None


def test_explicit_oauth2_wins_over_advanced_auth() -> None:
    explicit = OAuth2(provider="mine", authUrlTemplate="https://mine.example/auth")
    airbyte = {"connectionSpecification": CONN, "advanced_auth": DECLARATIVE_AUTH}
    assert flow_spec(airbyte, explicit).oauth2 == explicit
    assert (
        flow_spec(airbyte, {"provider": "dict", "authUrlTemplate": "u"}).oauth2.provider == "dict"
    )
    assert flow_spec(airbyte, None).oauth2.provider == "example"
