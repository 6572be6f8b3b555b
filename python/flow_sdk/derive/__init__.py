"""Native Flow derivations: subclass `Connector`, implement its hooks, call `main()`.

Hooks are named after the protocol verb and take the request; they return a response model
or, as in flow-sdk 0.1.x, a plain dict of it. `read` and `flush` receive a `Publisher`.
See `connector.py` for the transaction order the base class enforces.
"""

from flow_sdk.derive.connector import Connector, Publisher
from flow_sdk.errors import ValidateError
from flow_sdk.protocol import derive as request
from flow_sdk.protocol import derive as response
from flow_sdk.protocol.derive import Request, Response

__all__ = ["Connector", "Publisher", "Request", "Response", "ValidateError", "request", "response"]
