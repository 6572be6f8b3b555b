"""Airbyte's ConnectorSpecification → Flow's Spec, and the secret values of a config.

secret fields (`flow_sdk.secrets`) are also marked `secret: true` (Flow's spelling), `advanced_auth`
becomes `oauth2` when it describes the whole flow (declarative OAuth), and the values of
secret fields in a config are registered with the logger so no log line shows them.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from flow_sdk.connector import DOCS_URL_ENV
from flow_sdk.protocol.flow import OAuth2, Spec
from flow_sdk.secrets import with_secret_marks

"""When set, the documentation link every Spec answers with (as in flow-sdk 0.1.x)."""

RESOURCE_CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Airbyte stream",
    "properties": {
        "stream": {"type": "string", "title": "Stream", "description": "Name of this stream"},
        "syncMode": {
            "type": "string",
            "title": "Sync Mode",
            "enum": ["incremental", "full_refresh"],
            "description": "Sync this resource incrementally, or fully refresh it every run",
        },
        "namespace": {
            "type": "string",
            "title": "Namespace",
            "description": "Enclosing schema namespace of this resource",
        },
        "cursorField": {"type": "array", "title": "Cursor Field", "items": {"type": "string"}},
    },
    "required": ["stream", "syncMode"],
}
RESOURCE_PATH_POINTERS = ["/namespace", "/stream"]

log = logging.getLogger("flow")


def flow_spec(airbyte_spec: Mapping[str, Any], oauth2: OAuth2 | Mapping[str, Any] | None) -> Spec:
    """The Flow Spec of an Airbyte source whose spec (as a plain dict) is `airbyte_spec`."""
    docs_url = os.environ.get(DOCS_URL_ENV) or airbyte_spec.get("documentationUrl") or ""
    if oauth2 is None:
        oauth2 = oauth2_from_advanced_auth(airbyte_spec.get("advanced_auth"))
    elif not isinstance(oauth2, OAuth2):
        oauth2 = OAuth2.model_validate(dict(oauth2))
    config_schema = with_secret_marks(connection_schema(airbyte_spec))
    if oauth2 is not None:
        mark_oauth_provider(config_schema, airbyte_spec.get("advanced_auth"), oauth2.provider)
    spec = Spec(
        configSchema=config_schema,
        resourceConfigSchema=copy.deepcopy(RESOURCE_CONFIG_SCHEMA),
        documentationUrl=docs_url,
        resourcePathPointers=list(RESOURCE_PATH_POINTERS),
    )
    if oauth2 is not None:
        spec.oauth2 = oauth2
    return spec


def connection_schema(airbyte_spec: Mapping[str, Any]) -> Any:
    """The config schema of an Airbyte spec (its `connectionSpecification`)."""
    return airbyte_spec.get("connectionSpecification") or {}


# ---- advanced_auth → oauth2 ----


def mark_oauth_provider(schema: Any, advanced_auth: Any, provider: str) -> None:
    """Annotate, in place, the config object Flow's UI fills through OAuth with
    `x-oauth2-provider` (the UI shows its OAuth button only there): the branch that
    `advanced_auth.predicate_key` / `predicate_value` select, else `credentials`. Warns when
    the OAuth fields are not under `credentials` (Flow's UI and `flowctl raw oauth` expect
    them there)."""
    auth = advanced_auth if isinstance(advanced_auth, Mapping) else {}
    path = [str(p) for p in auth.get("predicate_key") or []]
    value = auth.get("predicate_value")
    parent_path = path[:-1] if path else ["credentials"]
    node: Any = schema
    for name in parent_path:
        node = (node.get("properties") or {}).get(name) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        log.warning(
            "the OAuth fields of this connector are not in a `credentials` object of its config "
            "(advanced_auth points at %s); Flow's UI shows no OAuth button for them",
            "/".join(parent_path),
        )
        return
    if parent_path != ["credentials"]:
        log.warning(
            "the OAuth fields of this connector are under %r, not `credentials`; Flow's UI and "
            "`flowctl raw oauth` expect them in `credentials`",
            "/".join(parent_path),
        )
    branches = [b for key in ("oneOf", "anyOf") for b in node.get(key) or [] if isinstance(b, dict)]
    if path and branches:
        field = path[-1]
        for branch in branches:
            prop = (branch.get("properties") or {}).get(field) or {}
            if value in (prop.get("const"), prop.get("default"), *(prop.get("enum") or [])):
                branch["x-oauth2-provider"] = provider
                return
    node["x-oauth2-provider"] = provider


_VALUES = {
    "client_id_value": "{{{ client_id }}}",
    "client_secret_value": "{{{ client_secret }}}",
    "redirect_uri_value": "{{{ redirect_uri }}}",
    "state_value": "{{{ state }}}",
    "state": "{{{ state }}}",
    "redirect_uri": "{{{ redirect_uri }}}",
    "auth_code_value": "{{{ code }}}",
}
_KEY_DEFAULTS = {
    "client_id_key": "client_id",
    "client_secret_key": "client_secret",
    "redirect_uri_key": "redirect_uri",
    "state_key": "state",
    "scope_key": "scope",
    "auth_code_key": "code",
}
_PLACEHOLDER = re.compile(
    r"\{\{\s*(\{\{\s*([a-z_]+)\s*\}\}|[a-z_]+)\s*(?:\|\s*([A-Za-z0-9]+)\s*)?\}\}"
)


class _Untranslatable(Exception):
    pass


def oauth2_from_advanced_auth(advanced_auth: Any) -> OAuth2 | None:
    """Flow's OAuth2 spec from Airbyte's declarative OAuth (`oauth_connector_input_specification`).

    Older `advanced_auth` blocks only name config fields (Airbyte's servers hold the URLs),
    and some templates use filters Flow lacks: then None, and the connector author passes
    `oauth2=` explicitly."""
    if not isinstance(advanced_auth, Mapping) or advanced_auth.get("auth_flow_type") != "oauth2.0":
        return None
    oauth_spec = advanced_auth.get("oauth_config_specification") or {}
    inputs = oauth_spec.get("oauth_connector_input_specification")
    if not isinstance(inputs, Mapping) or not inputs.get("consent_url"):
        log.debug("advanced_auth has no declarative OAuth flow; pass oauth2= to the shim")
        return None
    try:
        return _declarative_oauth2(inputs, oauth_spec)
    except _Untranslatable as exc:
        log.debug(
            "advanced_auth cannot be expressed as Flow's oauth2 (%s); pass oauth2= to the shim", exc
        )
        return None


def _declarative_oauth2(inputs: Mapping[str, Any], oauth_spec: Mapping[str, Any]) -> OAuth2:
    def template(text: str) -> str:
        return _translate(text, inputs)

    headers = {
        template(k): template(str(v)) for k, v in (inputs.get("access_token_headers") or {}).items()
    }
    params = {
        template(k): template(str(v)) for k, v in (inputs.get("access_token_params") or {}).items()
    }
    body = ""
    if params:
        form = any("x-www-form-urlencoded" in v for v in headers.values())
        body = "&".join(f"{k}={v}" for k, v in params.items()) if form else _json_template(params)
    host = urllib.parse.urlsplit(str(inputs["consent_url"]).split("{{")[0]).hostname or ""
    parts = [
        p for p in host.split(".") if p not in ("www", "api", "app", "com", "io", "net", "org")
    ]
    return OAuth2(
        provider=parts[0] if parts else "oauth2",
        authUrlTemplate=template(str(inputs["consent_url"])),
        accessTokenUrlTemplate=template(str(inputs["access_token_url"])),
        accessTokenMethod="POST",
        accessTokenBody=body,
        accessTokenHeaders=headers,
        accessTokenResponseMap=_response_map(inputs, oauth_spec),
    )


def _translate(text: str, inputs: Mapping[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(2) or match.group(1)
        filter_ = match.group(3)
        if name in _VALUES:
            value = _VALUES[name]
        elif name in _KEY_DEFAULTS:
            value = str(inputs.get(name) or _KEY_DEFAULTS[name])
        elif name == "scope_value":
            value = urllib.parse.quote(str(inputs.get("scope") or ""), safe="")
        else:
            raise _Untranslatable(f"unknown placeholder {name!r}")
        if filter_ is None:
            return value
        if filter_ == "urlEncoder":
            return "{{#urlencode}}" + value + "{{/urlencode}}"
        raise _Untranslatable(f"unsupported filter {filter_!r}")

    return _PLACEHOLDER.sub(replace, text)


def _json_template(params: Mapping[str, str]) -> str:
    items = ", ".join(f'"{k}": "{v}"' for k, v in params.items())
    return "{" + items + "}"


def _response_map(inputs: Mapping[str, Any], oauth_spec: Mapping[str, Any]) -> dict[str, Any]:
    """Config keys ← pointers into the token response. Uses `path_in_connector_config` of the
    complete output spec when given, else `extract_output`."""
    out: dict[str, Any] = {}
    outputs = (oauth_spec.get("complete_oauth_output_specification") or {}).get("properties") or {}
    for name, prop in outputs.items():
        path = (prop or {}).get("path_in_connector_config") or [name]
        out[str(path[-1])] = "/" + name
    for name in inputs.get("extract_output") or []:
        out.setdefault(str(name), "/" + str(name))
    return out
