"""An Airbyte `Source` object driven in this process (airbyte-cdk 2.x–7.x): `discover` and
`read` on top of the verbs every in-process connector has (`inprocess_connector`). Records
go to the read loop straight from the message objects; everything else as plain dicts.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Mapping
from typing import Any

from flow_sdk.airbyte.codec import to_plain
from flow_sdk.airbyte.inprocess_connector import InProcessConnector
from flow_sdk.airbyte.source.manifest import SourceFactory
from flow_sdk.airbyte.source.read_loop import ReadLoop


class InProcessSource(InProcessConnector):
    """Adapts an airbyte-cdk `Source` to the shim's delegate interface."""

    def __init__(self, source: Any = None, factory: SourceFactory | None = None) -> None:
        super().__init__(source, factory)
        self._loop: ReadLoop | None = None
        self._controls: collections.deque[Mapping[str, Any]] = collections.deque()

    def _control_in_read(self, msg: dict[str, Any]) -> bool:
        loop = self._loop
        if loop is None:
            return False
        if loop.config_updates is not None:
            loop.config_updates.mask(msg.get("control") or {})
        self._controls.append(msg)
        return True

    def _printed_controls(self, loop: ReadLoop) -> None:
        controls = self._controls
        while controls:
            loop.message(controls.popleft())

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
