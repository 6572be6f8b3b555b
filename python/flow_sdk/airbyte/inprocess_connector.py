"""An Airbyte connector object (a `Source` or a `Destination`, airbyte-cdk 2.x–7.x) driven
in this process: what both halves share, its `spec` and `check` and one request's
surroundings as airbyte-cdk's entrypoint sets them up. `source.inprocess` adds `discover` and
`read`, `destination.inprocess` adds `write`. Results come back as plain dicts
(`codec.to_plain`). airbyte-cdk is imported only when a method runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from flow_sdk.airbyte.codec import to_plain
from flow_sdk.airbyte.connector_log_messages import (
    ConnectorFailure,
    log_control,
    log_message,
    log_trace,
)
from flow_sdk.airbyte.spec import connection_schema
from flow_sdk.logger import FlowLogFormatter, RedactingWriter, init_logger
from flow_sdk.secrets import mask_config_secrets

if TYPE_CHECKING:
    from flow_sdk.airbyte.source.manifest import SourceFactory

REQUEST_CACHE_ENV = "REQUEST_CACHE_PATH"
"""Where airbyte-cdk's HTTP request cache keeps its files (its entrypoint sets it)."""


@contextlib.contextmanager
def printed_messages(hook: Callable[[str], bool]) -> Iterator[None]:
    """Route what the process prints to stdout (pointed at stderr) through `hook` first."""
    stdout = sys.stdout
    if not isinstance(stdout, RedactingWriter):
        stdout = RedactingWriter(stdout)
        sys.stdout = stdout  # type: ignore[assignment]  # a text stream
    previous = stdout.line_hook
    stdout.line_hook = hook
    try:
        yield
    finally:
        stdout.flush()
        stdout.line_hook = previous


def ensure_flow_logging() -> None:
    """Importing `airbyte_cdk.entrypoint` (even lazily, mid-run) points the root logger at
    stdout in Airbyte's format; put Flow's handler back before the source runs."""
    root = logging.getLogger()
    if not root.handlers or any(
        not isinstance(h.formatter, FlowLogFormatter) for h in root.handlers
    ):
        init_logger()
    logging.getLogger("airbyte").setLevel(logging.getLogger("flow").level)


class InProcessConnector:
    """An airbyte-cdk connector object (built per request by `factory`, or prebuilt) behind
    the verbs sources and destinations share."""

    is_airbyte_delegate = True

    def __init__(self, source: Any = None, factory: SourceFactory | None = None) -> None:
        """Either a prebuilt `source`, or a `factory` that builds one per request from its
        config, catalog and state (sources that take those in their constructor, such as
        the declarative ones, cannot resume otherwise)."""
        if (source is None) == (factory is None):
            raise TypeError("an in-process Airbyte connector needs either a source or a source factory")
        self.source = source
        self.factory = factory
        self.name = type(source).__name__ if factory is None else factory.__name__
        self._spec: dict[str, Any] | None = None
        self.on_control: Callable[[Mapping[str, Any]], None] | None = None
        """Takes the CONTROL messages of a request outside `read` (set by the shim)."""

    def _build(self, config: Any, catalog: Any = None, state: Any = None) -> None:
        """With a factory: the source of this request (kept as `self.source`, for what runs
        around the request). Built with the source's prints handled: a declarative source
        migrates its config in its constructor and prints the CONTROL message then."""
        if self.factory is not None:
            ensure_flow_logging()
            with printed_messages(self._printed):
                self.source = self.factory(config, catalog, state)

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger("airbyte")

    def spec(self) -> dict[str, Any]:
        if self._spec is None:
            if self.source is None:
                self._build(None)
            ensure_flow_logging()
            self._spec = to_plain(self.source.spec(self.logger))
        return self._spec

    def mask_secrets(self, config: Mapping[str, Any]) -> None:
        mask_config_secrets(connection_schema(self.spec()), config)

    @contextlib.contextmanager
    def _request(self, config: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """One request's surroundings, as airbyte-cdk's entrypoint sets them up: a temporary
        directory alive for the whole request (the source's `configure` persists files
        there) that is also the HTTP request cache's home (`REQUEST_CACHE_PATH`), the
        config read through the source's own `read_config` (where config migrations run),
        protocol messages the source prints to stdout (CONTROL) handled, and messages it
        queued before the request drained. Yields the configured config."""
        ensure_flow_logging()
        previous_cache = os.environ.get(REQUEST_CACHE_ENV)
        with (
            tempfile.TemporaryDirectory(prefix="flow-sdk-airbyte-") as temp_dir,
            printed_messages(self._printed),
        ):
            os.environ[REQUEST_CACHE_ENV] = temp_dir
            try:
                configured = self._configure(config, temp_dir)
                self._drain()
                yield configured
                self._drain()
            finally:
                if previous_cache is None:
                    os.environ.pop(REQUEST_CACHE_ENV, None)
                else:
                    os.environ[REQUEST_CACHE_ENV] = previous_cache

    def _configure(self, config: Mapping[str, Any], temp_dir: str) -> Mapping[str, Any]:
        read_config = getattr(self.source, "read_config", None)
        if callable(read_config):  # config migrations live in `read_config` overrides
            path = os.path.join(temp_dir, "config.json")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(dict(config)))
            config = read_config(path)
        configure = getattr(self.source, "configure", None)
        return configure(dict(config), temp_dir) if configure is not None else config

    def _drain(self) -> None:
        """Messages the source queued outside a request's output (the CDK's message
        repository: config migrations' CONTROL, deprecation logs)."""
        repository = getattr(self.source, "message_repository", None)
        if repository is None:
            return
        for msg in repository.consume_queue():
            self._handle(to_plain(msg))

    def _printed(self, line: str) -> bool:
        """A stdout line of the source: protocol messages are handled, not logged as text.
        A CONTROL printed during `read` (from any thread) has its secrets masked here and is
        handed to the reading thread, which owns the session's output (`_control_in_read`)."""
        if not line.startswith("{"):
            return False
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False
        if type(msg) is not dict or msg.get("type") not in ("CONTROL", "LOG", "TRACE"):
            return False
        if msg["type"] == "CONTROL" and self._control_in_read(msg):
            return True
        self._handle(msg)
        return True

    def _control_in_read(self, msg: dict[str, Any]) -> bool:
        """Whether a read in progress took this printed CONTROL message (only a source reads)."""
        return False

    def _handle(self, msg: Mapping[str, Any]) -> None:
        """A message outside the read loop: CONTROL goes to `on_control` (a config update),
        LOG and TRACE become logs."""
        log = logging.getLogger("flow")
        kind = msg.get("type")
        if kind == "CONTROL":
            control = msg.get("control") or {}
            if self.on_control is not None:
                self.on_control(control)
            else:
                log_control(log, control, self.spec().get("connectionSpecification"))
        elif kind == "LOG":
            log_message(log, msg.get("log") or {})
        elif kind == "TRACE":
            log_trace(log, msg.get("trace") or {}, ConnectorFailure())

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]:
        self._build(dict(config))
        with self._request(config) as configured:
            return to_plain(self.source.check(self.logger, configured))
