"""A Singer tap's config schema → Flow's Spec, and the secret values of a config.

Singer has no spec message: the schema is the tap's `config_jsonschema` (singer-sdk), its
`--about` settings, or one given by the connector author. Secret settings (singer-sdk's
`secret=True`, which also writes `writeOnly: true`) are marked `secret: true`, Flow's spelling.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from typing import Any

import jsonschema

from flow_sdk.connector import DOCS_URL_ENV
from flow_sdk.errors import ValidateError
from flow_sdk.protocol.flow import OAuth2, Spec
from flow_sdk.secrets import with_secret_marks

DEFAULT_DOCS_URL = "https://docs.estuary.dev"
RESOURCE_CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Singer stream",
    "properties": {
        "tap_stream_id": {
            "type": "string",
            "title": "Stream",
            "description": "The tap_stream_id of the stream in the tap's catalog",
        },
        "replication_method": {
            "type": "string",
            "title": "Replication Method",
            "enum": ["INCREMENTAL", "FULL_TABLE"],
            "description": "Read only what changed since the last bookmark, or the whole stream every run",
        },
        "replication_key": {
            "type": "string",
            "title": "Replication Key",
            "description": "The property INCREMENTAL replication bookmarks (default: the tap's)",
        },
    },
    "required": ["tap_stream_id", "replication_method"],
}
RESOURCE_PATH_POINTERS = ["/tap_stream_id"]
log = logging.getLogger("flow")


def flow_spec(
    config_schema: Mapping[str, Any],
    oauth2: OAuth2 | Mapping[str, Any] | None = None,
    documentation_url: str | None = None,
) -> Spec:
    """The Flow Spec of a Singer tap whose settings are described by `config_schema`."""
    spec = Spec(
        configSchema=with_secret_marks(dict(config_schema) or {"type": "object"}),
        resourceConfigSchema=copy.deepcopy(RESOURCE_CONFIG_SCHEMA),
        documentationUrl=os.environ.get(DOCS_URL_ENV) or documentation_url or DEFAULT_DOCS_URL,
        resourcePathPointers=list(RESOURCE_PATH_POINTERS),
    )
    if oauth2 is not None:
        spec.oauth2 = oauth2 if isinstance(oauth2, OAuth2) else OAuth2.model_validate(dict(oauth2))
    return spec


def check_config(config_schema: Mapping[str, Any], config: Any) -> None:
    """Raise a ValidateError naming every setting of `config` the schema rejects. Singer taps
    validate their config only on some commands; checking first gives one clear error."""
    try:
        cls = jsonschema.validators.validator_for(config_schema)
        errors = sorted(cls(config_schema).iter_errors(config), key=lambda e: list(e.path))
    except (jsonschema.exceptions.SchemaError, TypeError, AttributeError) as exc:
        log.debug("the tap's config schema cannot check configs: %s", exc)
        return
    if errors:
        problems = "; ".join(
            f"{'/'.join(map(str, e.path)) or 'config'}: {e.message}" for e in errors[:5]
        )
        raise ValidateError(f"the endpoint config does not match the tap's settings: {problems}")
