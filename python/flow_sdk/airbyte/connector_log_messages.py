"""A wrapped Airbyte connector's LOG, TRACE and CONTROL messages (what the child connector
says about itself, in process or as a subprocess) → Flow ops logs.

Every message becomes a log line at the matching level (Airbyte's TRACE level is Flow's
debug); unknown types are logged, never fatal. Secret values are masked by the logger.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flow_sdk.causes import readable_cause
from flow_sdk.logger import SHOWN_ABOVE, first_showing, mask_secrets
from flow_sdk.secrets import secret_values

LEVELS = {
    "FATAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "TRACE": logging.DEBUG,
}


GENERIC_MESSAGES = frozenset(
    {
        # airbyte-cdk's AirbyteTracedException default: the cause is in internal_message.
        "Something went wrong in the connector. See the logs for more details.",
    }
)

_TRACEBACK = "\nTraceback (most recent call last):"


class ConnectorFailure:
    """What the connector last said about a failure, to name the stream and the cause when
    it exits."""

    def __init__(self) -> None:
        self.stream: str | None = None
        self.message: str | None = None
        self.failure_type: str | None = None
        self.internal_message: str | None = None

    def describe(self, fallback_stream: str | None) -> str:
        stream = self.stream or fallback_stream
        where = f" while reading stream {stream!r}" if stream else ""
        what = f": {self.message}" if self.message else ""
        internal = self.internal_message
        if internal and internal != self.message and readable_cause(internal) != self.message:
            what += f" ({readable_cause(internal)})"
        kind = f" ({self.failure_type})" if self.failure_type else ""
        return f"the Airbyte source failed{where}{kind}{what}"


def log_message(log: logging.Logger, log_msg: Mapping[str, Any]) -> None:
    """A LOG message at its level; the stack trace, if any, as a field (each traceback is
    shown once: `flow_sdk.logger.first_showing`)."""
    level = LEVELS.get(str(log_msg.get("level", "INFO")).upper(), logging.INFO)
    if not log.isEnabledFor(level):
        return
    message = str(log_msg.get("message", ""))
    stack = log_msg.get("stack_trace")
    if not stack and _TRACEBACK in message:  # the CDK's FATAL logs carry it in the text
        message, stack = message.split(_TRACEBACK, 1)
        stack = _TRACEBACK.lstrip("\n") + stack
    extra = {"stack_trace": stack if first_showing(str(stack)) else SHOWN_ABOVE} if stack else None
    log.log(level, "%s", message, extra=extra)


def _stream_name(desc: Any) -> str | None:
    if not isinstance(desc, Mapping) or not desc.get("name"):
        return None
    return "/".join(filter(None, (desc.get("namespace"), desc["name"])))


def log_trace(log: logging.Logger, trace: Mapping[str, Any], failure: ConnectorFailure) -> None:
    """ERROR (remembered in `failure`), ESTIMATE, STREAM_STATUS and ANALYTICS traces."""
    kind = trace.get("type")
    if kind == "ERROR" or (kind is None and "error" in trace):
        error = trace.get("error") or {}
        message, internal = error.get("message"), error.get("internal_message")
        if internal and (not message or message in GENERIC_MESSAGES):
            message = str(internal)
        message = readable_cause(str(message)) if message else message
        failure.stream = _stream_name(error.get("stream_descriptor")) or failure.stream
        failure.message = message or failure.message
        failure.failure_type = error.get("failure_type")
        failure.internal_message = internal
        fields = {
            k: error[k] for k in ("failure_type", "internal_message") if error.get(k) is not None
        }
        stack = error.get("stack_trace")
        if stack:
            fields["stack_trace"] = stack if first_showing(str(stack)) else SHOWN_ABOVE
        if stream := _stream_name(error.get("stream_descriptor")):
            fields["stream"] = stream
        log.error("%s", message or "the source reported an error", extra=fields)
    elif kind == "ESTIMATE":
        est = trace.get("estimate") or {}
        fields = {
            k: est[k] for k in ("type", "row_estimate", "byte_estimate") if est.get(k) is not None
        }
        fields["stream"] = "/".join(filter(None, (est.get("namespace"), est.get("name"))))
        log.info("progress estimate", extra={"estimate": fields})
    elif kind == "STREAM_STATUS":
        status = trace.get("stream_status") or {}
        fields = {
            "stream": _stream_name(status.get("stream_descriptor")),
            "status": status.get("status"),
        }
        if status.get("reasons"):
            fields["reasons"] = status["reasons"]
        log.info("stream status", extra={"status": fields})
    elif kind == "ANALYTICS":
        analytics = trace.get("analytics") or {}
        log.debug("analytics", extra={"analytics": dict(analytics)})
    else:
        log.info("unknown Airbyte trace type %r; ignored", kind, extra={"trace": dict(trace)})


def log_control(log: logging.Logger, control: Mapping[str, Any], spec_schema: Any) -> None:
    """A CONNECTOR_CONFIG control message seen where no config can be updated (outside a
    shim request): its secrets are masked and it is logged as a warning, never as a
    `configUpdate` event (Flow's control plane takes only sealed, whole configs)."""
    if control.get("type") == "CONNECTOR_CONFIG":
        config = (control.get("connectorConfig") or {}).get("config") or {}
        if spec_schema is not None:
            mask_secrets(secret_values(spec_schema, config))
        log.warning(
            "the source updated its config outside a capture request; it is not kept",
            extra={"keys": sorted(config) if isinstance(config, Mapping) else []},
        )
    else:
        log.info("unknown Airbyte control message type %r; ignored", control.get("type"))


def log_unknown(log: logging.Logger, message: Mapping[str, Any]) -> None:
    log.info("unexpected Airbyte message of type %r; ignored", message.get("type"))
