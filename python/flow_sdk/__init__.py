"""flow-sdk: run Airbyte and Singer connectors as Estuary Flow connectors, and write
native Flow connectors in Python.

Native connectors subclass `flow_sdk.capture.Connector` (or `materialize` / `derive`).
The adapters live in `flow_sdk.airbyte` and `flow_sdk.singer`.
"""

from flow_sdk.errors import ConnectorError, ValidateError

__all__ = ["ConnectorError", "ValidateError"]
__version__ = "0.2.0"
