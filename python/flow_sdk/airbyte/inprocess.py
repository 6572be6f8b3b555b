"""An Airbyte `Source` object driven in this process (airbyte-cdk 2.x–7.x).

Requests go to the source's own `spec` / `check` / `discover` / `read`; results come back
as plain dicts (`codec.to_plain`), except records, which the read loop takes straight from
the message objects. airbyte-cdk is imported only here, and only when a method runs.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from flow_sdk.airbyte.codec import to_plain
from flow_sdk.airbyte.logs import SourceFailure, log_control, log_message, log_trace
from flow_sdk.airbyte.manifest import SourceFactory
from flow_sdk.airbyte.read_loop import ReadLoop
from flow_sdk.airbyte.spec import connection_schema
from flow_sdk.logger import FlowLogFormatter, RedactingWriter, init_logger
from flow_sdk.secrets import mask_config_secrets

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


class InProcessSource:
    """Adapts an airbyte-cdk `Source` to the shim's delegate interface."""

    is_airbyte_delegate = True

    def __init__(self, source: Any = None, factory: SourceFactory | None = None) -> None:
        """Either a prebuilt `source`, or a `factory` that builds one per request from its
        config, catalog and state (sources that take those in their constructor, such as
        the declarative ones, cannot resume otherwise)."""
        if (source is None) == (factory is None):
            raise TypeError("InProcessSource needs either a source or a source factory")
        self.source = source
        self.factory = factory
        self.name = type(source).__name__ if factory is None else factory.__name__
        self._spec: dict[str, Any] | None = None
        self.on_control: Callable[[Mapping[str, Any]], None] | None = None
        """Takes the CONTROL messages of a request outside `read` (set by the shim)."""
        self._loop: ReadLoop | None = None
        self._controls: collections.deque[Mapping[str, Any]] = collections.deque()

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

    def _drain(self, loop: ReadLoop | None = None) -> None:
        """Messages the source queued outside a request's output (the CDK's message
        repository: config migrations' CONTROL, deprecation logs)."""
        repository = getattr(self.source, "message_repository", None)
        if repository is None:
            return
        for msg in repository.consume_queue():
            plain = to_plain(msg)
            if loop is not None:
                loop.message(plain)
            else:
                self._handle(plain)

    def _printed(self, line: str) -> bool:
        """A stdout line of the source: protocol messages are handled, not logged as text.
        A CONTROL printed during `read` (from any thread) has its secrets masked here and is
        handed to the reading thread, which owns the session's output."""
        if not line.startswith("{"):
            return False
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False
        if type(msg) is not dict or msg.get("type") not in ("CONTROL", "LOG", "TRACE"):
            return False
        loop = self._loop
        if msg["type"] == "CONTROL" and loop is not None:
            if loop.config_updates is not None:
                loop.config_updates.mask(msg.get("control") or {})
            self._controls.append(msg)
            return True
        self._handle(msg)
        return True

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
            log_trace(log, msg.get("trace") or {}, SourceFailure())

    def _printed_controls(self, loop: ReadLoop) -> None:
        controls = self._controls
        while controls:
            loop.message(controls.popleft())

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]:
        self._build(dict(config))
        with self._request(config) as configured:
            return to_plain(self.source.check(self.logger, configured))

    def discover(self, config: Mapping[str, Any]) -> dict[str, Any]:
        self._build(dict(config))
        with self._request(config) as configured:
            return to_plain(self.source.discover(self.logger, configured))

    def read(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        state: list[dict[str, Any]],
        loop: ReadLoop,
    ) -> None:
        """Iterate the source's `read()` into `loop`: records on the fast path, the rest
        converted to dicts. A factory's source gets the catalog and state at construction."""
        models = _models()
        catalog_model = models.catalog(catalog)
        states = [models.state(s) for s in state] if state else None
        self._build(dict(config), catalog_model, states)
        with self._request(config) as configured:
            self._read(configured, catalog_model, states, loop)

    def _read(
        self, configured: Mapping[str, Any], catalog: Any, state: list[Any] | None, loop: ReadLoop
    ) -> None:
        messages = self.source.read(self.logger, configured, catalog, state)
        record = loop.record_keyed
        message = loop.message
        controls = self._controls
        self._loop = loop
        try:
            for msg in messages:
                if controls:
                    self._printed_controls(loop)
                rec = msg.record
                if rec is not None:
                    record((rec.namespace or None, rec.stream), rec.data)
                else:
                    message(to_plain(msg))
            self._loop = None
            self._printed_controls(loop)
        except BaseException:
            self._loop = None
            # A rotated token printed before the failure must still be kept.
            with contextlib.suppress(Exception):
                self._printed_controls(loop)
            # Close the source's read now, while the error is on its way: left to the
            # garbage collector, its cleanup would log after the error's line, which must
            # stay the last one. Its own failure to close would only hide that error.
            with contextlib.suppress(Exception):
                messages.close()
            raise


class _Models:
    """Builds the delegate CDK's own catalog and state objects from plain dicts."""

    def __init__(self) -> None:
        import airbyte_cdk.models as models

        self.m = models
        self.dataclasses = hasattr(models, "ConfiguredAirbyteCatalogSerializer")

    def catalog(self, data: dict[str, Any]) -> Any:
        if self.dataclasses:
            return self.m.ConfiguredAirbyteCatalogSerializer.load(data)
        return _pydantic_load(self.m.ConfiguredAirbyteCatalog, data)

    def state(self, data: dict[str, Any]) -> Any:
        if self.dataclasses:
            return self.m.AirbyteStateMessageSerializer.load(data)
        return _pydantic_load(self.m.AirbyteStateMessage, data)


def _pydantic_load(model: Any, data: dict[str, Any]) -> Any:
    if hasattr(model, "model_validate"):
        return model.model_validate(data)
    return model.parse_obj(data)


_models_cache: list[_Models] = []


def _models() -> _Models:
    if not _models_cache:
        _models_cache.append(_Models())
    return _models_cache[0]
