"""flow-sdk 0.1.x name of the Singer capture shim.

Deprecated spelling, kept so existing connectors keep working: use
`from flow_sdk.singer import CaptureShim` instead. Also accepts 0.1.x's arguments,
`CaptureShim(config_schema, delegate_factory, usesSchemaInference=True, oauth2=None)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flow_sdk.protocol.flow import OAuth2
from flow_sdk.singer.capture import CaptureShim as _CaptureShim

__all__ = ["CaptureShim"]


class CaptureShim(_CaptureShim):
    """`flow_sdk.singer.CaptureShim`, also callable the 0.1.x way."""

    def __init__(
        self,
        config_schema: Any = None,
        delegate_factory: Any = None,
        usesSchemaInference: bool = True,
        oauth2: OAuth2 | Mapping[str, Any] | None = None,
        *,
        delegate: Any = None,
        **options: Any,
    ) -> None:
        if delegate is None:
            if delegate_factory is None:
                raise TypeError("CaptureShim needs `delegate` (a singer-sdk Tap class)")
            delegate = delegate_factory
        super().__init__(
            delegate,
            oauth2=oauth2,
            usesSchemaInference=usesSchemaInference,
            config_schema=config_schema,
            **options,
        )
