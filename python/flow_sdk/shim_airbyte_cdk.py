"""flow-sdk 0.1.x name of the Airbyte capture shim.

Deprecated spelling, kept so existing connectors keep working: use
`from flow_sdk.airbyte import CaptureShim` instead.
"""

from flow_sdk.airbyte.source.capture import CaptureShim

__all__ = ["CaptureShim"]
