"""Native Flow materializations: subclass `Connector`, implement its hooks, call `main()`.

Hooks are named after the protocol verb and take the request; they return a response model
or, as in flow-sdk 0.1.x, a plain dict of it. See `connector.py` for the transaction rules
the base class enforces.
"""

from flow_sdk.errors import ValidateError
from flow_sdk.materialize.connector import Connector
from flow_sdk.protocol import materialize as request
from flow_sdk.protocol import materialize as response
from flow_sdk.protocol.materialize import Request, Response

__all__ = ["Connector", "Request", "Response", "ValidateError", "request", "response"]
