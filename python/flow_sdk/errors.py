"""Exceptions grouped by what the process should do with them.

All of them end the connector with a non-zero exit and their message as the last stderr
line; `ValidateError` and `ConnectorError` are user-facing and print without a traceback.
"""

from __future__ import annotations

__all__ = ["ConnectorError", "ProtocolError", "SessionStopped", "ValidateError"]


class ProtocolError(Exception):
    """A message that does not follow the protocol. The text is a sentence for the user.

    Defined here, not beside the wire models, so `import flow_sdk` stays free of pydantic."""


class ValidateError(Exception):
    """Configuration or bindings the user must fix (bad credentials, unknown stream, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectorError(Exception):
    """A failure whose message is a complete sentence for the user (a delegate crashed,
    state could not be understood, ...)."""


class SessionStopped(BaseException):
    """The runtime closed stdin during a session: unwind the connector and exit 0.

    A BaseException, so connector code catching `Exception` does not swallow it."""
