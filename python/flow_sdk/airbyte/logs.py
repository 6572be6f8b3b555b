"""Airbyte LOG, TRACE and CONTROL messages → Flow ops logs.

Every message becomes a log line at the matching level (Airbyte's TRACE level is Flow's
debug); unknown types are logged, never fatal. Secret values are masked by the logger.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flow_sdk.logger import mask_secrets
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


class SourceFailure:
    """What the source last said about a failure, to name the stream when it exits."""

    def __init__(self) -> None:
        self.stream: str | None = None
        self.message: str | None = None
        self.failure_type: str | None = None
        self.internal_message: str | None = None

    def describe(self, fallback_stream: str | None) -> str:
        stream = self.stream or fallback_stream
        where = f" while reading stream {stream!r}" if stream else ""
        what = f": {self.message}" if self.message else ""
        if self.internal_message and self.internal_message != self.message:
            what += f" ({self.internal_message})"
        kind = f" ({self.failure_type})" if self.failure_type else ""
        return f"the Airbyte source failed{where}{kind}{what}"


def log_message(log: logging.Logger, log_msg: Mapping[str, Any]) -> None:
    """A LOG message at its level; the stack trace, if any, as a field."""
    level = LEVELS.get(str(log_msg.get("level", "INFO")).upper(), logging.INFO)
    if not log.isEnabledFor(level):
        return
    extra = {"stack_trace": log_msg["stack_trace"]} if log_msg.get("stack_trace") else None
    log.log(level, "%s", log_msg.get("message", ""), extra=extra)


def _stream_name(desc: Any) -> str | None:
    if not isinstance(desc, Mapping) or not desc.get("name"):
        return None
    return "/".join(filter(None, (desc.get("namespace"), desc["name"])))


def log_trace(log: logging.Logger, trace: Mapping[str, Any], failure: SourceFailure) -> None:
    """ERROR (remembered in `failure`), ESTIMATE, STREAM_STATUS and ANALYTICS traces."""
    kind = trace.get("type")
    if kind == "ERROR" or (kind is None and "error" in trace):
        error = trace.get("error") or {}
        failure.stream = _stream_name(error.get("stream_descriptor")) or failure.stream
        failure.message = error.get("message") or failure.message
        failure.failure_type = error.get("failure_type")
        failure.internal_message = error.get("internal_message")
        fields = {
            k: error[k]
            for k in ("failure_type", "internal_message", "stack_trace")
            if error.get(k) is not None
        }
        if stream := _stream_name(error.get("stream_descriptor")):
            fields["stream"] = stream
        log.error("%s", error.get("message") or "the source reported an error", extra=fields)
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
