"""An Airbyte `Source` object driven in this process (airbyte-cdk 2.x–7.x).

Requests go to the source's own `spec` / `check` / `discover` / `read`; results come back
as plain dicts (`codec.to_plain`), except records, which the read loop takes straight from
the message objects. airbyte-cdk is imported only here, and only when a method runs.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Mapping
from typing import Any

from flow_sdk.airbyte.codec import to_plain
from flow_sdk.airbyte.read_loop import ReadLoop
from flow_sdk.airbyte.spec import mask_config_secrets
from flow_sdk.logger import FlowLogFormatter, init_logger


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

    def __init__(self, source: Any) -> None:
        self.source = source
        self.name = type(source).__name__
        self._spec: dict[str, Any] | None = None

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger("airbyte")

    def spec(self) -> dict[str, Any]:
        if self._spec is None:
            ensure_flow_logging()
            self._spec = to_plain(self.source.spec(self.logger))
        return self._spec

    def mask_secrets(self, config: Mapping[str, Any]) -> None:
        mask_config_secrets(self.spec(), config)

    def _configured(self, config: Mapping[str, Any]) -> Mapping[str, Any]:
        configure = getattr(self.source, "configure", None)
        if configure is None:
            return config
        with tempfile.TemporaryDirectory(prefix="flow-sdk-airbyte-") as temp_dir:
            return configure(dict(config), temp_dir)

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]:
        ensure_flow_logging()
        return to_plain(self.source.check(self.logger, self._configured(config)))

    def discover(self, config: Mapping[str, Any]) -> dict[str, Any]:
        ensure_flow_logging()
        return to_plain(self.source.discover(self.logger, self._configured(config)))

    def read(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        state: list[dict[str, Any]],
        loop: ReadLoop,
    ) -> None:
        """Iterate the source's `read()` into `loop`: records on the fast path, the rest
        converted to dicts."""
        ensure_flow_logging()
        models = _models()
        messages = self.source.read(
            self.logger,
            self._configured(config),
            models.catalog(catalog),
            [models.state(s) for s in state] if state else None,
        )
        record = loop.record
        message = loop.message
        try:
            for msg in messages:
                rec = msg.record
                if rec is not None:
                    record(rec.namespace, rec.stream, rec.data)
                else:
                    message(to_plain(msg))
        except BaseException:
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
