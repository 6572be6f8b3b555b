"""What every flow-sdk connector process does around its protocol: take stdout for the
protocol, set up logs, optionally wait for a debugger, serve requests until EOF, and turn
any failure into a non-zero exit whose last stderr line says what failed."""

from __future__ import annotations

import abc
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import ValidationError

from flow_sdk import fork_server
from flow_sdk.causes import readable_cause
from flow_sdk.errors import ConnectorError, SessionStopped, ValidateError
from flow_sdk.io import ProtocolWriter, protect_stdin, protect_stdout, stdin_lines
from flow_sdk.logger import init_logger, last_words, redact_std_streams
from flow_sdk.protocol.wire import Envelope, ProtocolError, describe_validation_error

E = TypeVar("E", bound=Envelope)

DEBUGPY_ENV = "FLOW_SDK_DEBUGPY"
DOCS_URL_ENV = "DOCS_URL"
"""Overrides the documentation URL an adapter puts in its Spec (set per image by the Dockerfile)."""


class BaseConnector(abc.ABC):
    """Base of capture, materialize and derive connectors: owns the process lifecycle."""

    log: logging.Logger = logging.getLogger("flow")

    @abc.abstractmethod
    def serve(self, lines: Iterator[bytes], writer: ProtocolWriter) -> None:
        """Answer request `lines` in order until they end (or a session finishes)."""

    def main(self) -> None:
        """Run as a connector process: serve stdin, exit 0 at its end, non-zero on failure."""
        fork_server.offer()  # the local runtime's later launches start from here
        writer = protect_stdout()
        requests = protect_stdin()
        self.log = init_logger()
        redact_std_streams()

        def body() -> None:
            wait_for_debugger(self.log)
            self.serve(stdin_lines(requests), writer)

        code = run_guarded(body, writer, self.log)
        sys.stderr.flush()
        os._exit(code)


def hook_response(envelope: type[E], variant: str, result: Any) -> E:
    """A hook's return value — a response model, a whole envelope, or a flow-sdk 0.1.x dict —
    as a checked response envelope of `variant`. A mistake is the connector's, in a sentence."""
    if isinstance(result, envelope):
        if result.variant != variant:
            raise ProtocolError(
                f"the connector answered `{result.variant}` where `{variant}` is due"
            )
        return result
    if result is None:
        raise ProtocolError(f"the connector returned nothing for `{variant}`")
    payload = result.to_wire() if hasattr(result, "to_wire") else result
    try:
        return envelope.model_validate({variant: payload})
    except ValidationError as exc:
        raise ProtocolError(
            f"the connector's `{variant}` response is invalid: {describe_validation_error(exc)}"
        ) from None


def run_guarded(body, writer: ProtocolWriter, log: logging.Logger) -> int:  # noqa: ANN001
    """Run `body`; return the exit code, logging a failure's cause as the last line."""
    try:
        body()
        writer.flush()
        return 0
    except SessionStopped:
        writer.flush()
        log.debug("stdin closed by the runtime; session stopped")
        return 0
    except ValidateError as exc:
        writer.discard()
        last_words(exc.message)
    except (ProtocolError, ConnectorError) as exc:
        writer.discard()
        last_words(str(exc))
    except BrokenPipeError:
        writer.discard()
        last_words("the runtime closed the connector's stdout")
    except KeyboardInterrupt:
        writer.discard()
        last_words("interrupted")
    except Exception as exc:  # the catch-all that turns a crash into a sentence
        writer.discard()
        log.error("connector failed", exc_info=True)
        last_words(f"connector failed: {readable_cause(f'{type(exc).__name__}: {exc}')}")
    return 1


def wait_for_debugger(log: logging.Logger) -> None:
    """With FLOW_SDK_DEBUGPY=host:port, listen for a debugger and wait until one attaches."""
    where = os.environ.get(DEBUGPY_ENV)
    if not where:
        return
    host, _, port = where.rpartition(":")
    if not port.isdigit():
        raise ConnectorError(
            f"{DEBUGPY_ENV} must be host:port (e.g. 127.0.0.1:5678), not {where!r}"
        )
    try:
        import debugpy  # only when asked: a dev tool, not a dependency of connectors
    except ImportError:
        raise ConnectorError(
            f"{DEBUGPY_ENV} is set but debugpy is not installed here; "
            f"install it (pip install debugpy) or unset {DEBUGPY_ENV}"
        ) from None
    debugpy.listen((host or "127.0.0.1", int(port)))
    log.info("waiting for a debugger to attach", extra={"address": where})
    debugpy.wait_for_client()
