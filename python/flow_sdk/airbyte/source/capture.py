"""`CaptureShim`: an Airbyte source, in process or as a subprocess, as a Flow capture.

The shim maps each capture request onto the source (see `docs/design.md`, "Airbyte ↔ Flow
mapping (capture)"); the modules beside it hold the pieces: `spec`, `discover`, `state`,
`read_loop`, `logs`, and the two ways of running the source, `inprocess` and `process`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from flow_sdk.airbyte.source.config_update import (
    STATE_KEY,
    ConfigUpdates,
    lay_over,
    without_overlay,
)
from flow_sdk.airbyte.source.discover import discovered, validated_bindings
from flow_sdk.airbyte.source.manifest import Manifest, SourceFactory
from flow_sdk.airbyte.source.read_loop import ReadLoop
from flow_sdk.airbyte.source.state import DISCARD_STATE_ENV, ShimState
from flow_sdk.airbyte.spec import connection_schema, flow_spec
from flow_sdk.capture import Emitter, request, response
from flow_sdk.capture.adapter_shim import AdapterCaptureShim, PreparedRead, endpoint_config
from flow_sdk.capture.schema import document_schema, source_schema
from flow_sdk.errors import ConnectorError, ValidateError
from flow_sdk.protocol.flow import CaptureBinding, OAuth2, Spec, SpecRequest
from flow_sdk.secrets import with_secret_marks


class AirbyteDelegate(Protocol):
    """What the shim needs of a source; `InProcessSource` and `SubprocessSource` provide it.
    Results are plain dicts in the Airbyte protocol's JSON shape. A delegate with an
    `on_control` attribute gets the shim's handler of CONTROL messages seen outside `read`
    (during check, discover, configuring); inside `read` they go to the `ReadLoop`."""

    name: str
    is_airbyte_delegate: bool
    """True: marks the object as a delegate rather than an airbyte-cdk `Source`."""

    def spec(self) -> dict[str, Any]: ...
    def mask_secrets(self, config: Mapping[str, Any]) -> None:
        """Hide `config`'s secret values from every log line the source's output causes."""

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]: ...
    def discover(self, config: Mapping[str, Any]) -> dict[str, Any]: ...
    def read(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        state: list[dict[str, Any]],
        loop: ReadLoop,
    ) -> None: ...


class CaptureShim(AdapterCaptureShim):
    """Runs an Airbyte source as a Flow capture connector.

    `delegate` is an airbyte-cdk `Source` object (run in process) or an `AirbyteDelegate`
    such as `SubprocessSource`. `oauth2` overrides what `advanced_auth` would give.
    `usesSchemaInference` marks discovered schemas `x-infer-schema`. `discard_state`
    ignores the checkpointed state and re-captures everything (default: the
    `FLOW_SDK_AIRBYTE_DISCARD_STATE` environment variable). `idle_timeout` is how many
    seconds the source may send nothing before the capture fails naming the stream it was
    reading (default: `FLOW_SDK_IDLE_TIMEOUT`, else three hours; 0: no limit).

    Instead of `delegate`, `source_factory` builds the source in process for every request,
    `(config, catalog, state) -> Source` (config None for Spec; catalog and state, the CDK's
    own objects, only for Open): for sources that take them in their constructor, such as
    declarative ones (see `from_manifest`)."""

    def __init__(
        self,
        delegate: Any = None,
        oauth2: OAuth2 | Mapping[str, Any] | None = None,
        usesSchemaInference: bool = True,
        *,
        source_factory: SourceFactory | None = None,
        discard_state: bool | None = None,
        idle_timeout: float | None = None,
        sourced_schemas: bool = False,
    ) -> None:
        if (delegate is None) == (source_factory is None):
            raise TypeError("CaptureShim needs either a delegate or a source_factory")
        if source_factory is not None:
            from flow_sdk.airbyte.source.inprocess import InProcessSource

            delegate = InProcessSource(factory=source_factory)
        elif not getattr(delegate, "is_airbyte_delegate", False):
            if not (hasattr(delegate, "read") and hasattr(delegate, "discover")):
                raise TypeError(
                    f"CaptureShim needs an Airbyte Source, not {type(delegate).__name__}"
                )
            from flow_sdk.airbyte.source.inprocess import InProcessSource

            delegate = InProcessSource(delegate)
        self.delegate: AirbyteDelegate = delegate
        self.oauth2 = oauth2
        self.usesSchemaInference = usesSchemaInference
        if discard_state is None:
            discard_state = os.environ.get(DISCARD_STATE_ENV, "").lower() in ("1", "true", "yes")
        self.discard_state = discard_state
        self.idle_timeout = idle_timeout
        self.sourced_schemas = sourced_schemas
        """At Open, tell Flow each bound stream's discovered schema as `sourcedSchema`
        (off by default: it costs a discover per session)."""
        self._sealing_schema: Any = None

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        components: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> CaptureShim:
        """A manifest-only (declarative) source in process: `manifest` is a `manifest.yaml`
        path or its dict, `components` the path of its `components.py`. The declarative
        source is built for each request, so every Open resumes from its state (airbyte-cdk
        6 and 7). `options` are the other `CaptureShim` arguments."""
        from flow_sdk.airbyte.source.manifest import declarative_factory

        return cls(source_factory=declarative_factory(manifest, components), **options)

    def _mask(self, config: Any) -> None:
        self.delegate.mask_secrets(config)

    def _config_schema(self) -> Any:
        """The endpoint config's schema as Flow knows it (the Spec's `configSchema`, secrets
        marked `secret`): what the config-encryption service seals by."""
        if self._sealing_schema is None:
            self._sealing_schema = with_secret_marks(connection_schema(self.delegate.spec()))
        return self._sealing_schema

    def _route_controls(self, handler: Callable[[Mapping[str, Any]], Any]) -> None:
        """The delegate's CONTROL messages outside `read` (check, discover, a migration
        while configuring) go to `handler`."""
        if hasattr(self.delegate, "on_control"):
            self.delegate.on_control = handler  # type: ignore[attr-defined]

    def _updates(self, config: Mapping[str, Any]) -> None:
        self._route_controls(ConfigUpdates(config, self._config_schema, self.log).control)

    def spec(self, spec: SpecRequest) -> Spec:
        return flow_spec(self.delegate.spec(), self.oauth2)

    def discover(self, discover: request.Discover) -> response.Discovered:
        config = endpoint_config(discover.config)
        self._mask(config)
        self._updates(config)
        return discovered(self.delegate.discover(config), self.usesSchemaInference)

    def validate(self, validate: request.Validate) -> response.Validated:
        config = endpoint_config(validate.config)
        self._mask(config)
        self._updates(config)
        status = self.delegate.check(config)
        if status.get("status") != "SUCCEEDED":
            raise ValidateError(
                f"the source's connection check failed: {status.get('message') or 'no reason given'}"
            )
        if not validate.bindings:
            return response.Validated()
        catalog = self.delegate.discover(config)
        bindings = validated_bindings(catalog, [b.resourceConfig for b in validate.bindings])
        return response.Validated(bindings=bindings)

    def prepare_read(self, open: request.Open, emit: Emitter) -> PreparedRead:
        shim_state, overlay = without_overlay(open.state)
        config, kept, dropped = lay_over(endpoint_config(open.capture.config), overlay, self.log)
        self._mask(config)
        bindings = open.capture.bindings
        state = ShimState(bindings, shim_state, discard=self.discard_state)
        catalog = configured_catalog(bindings)
        updates = ConfigUpdates(config, self._config_schema, self.log, kept)
        loop = ReadLoop(emit, state, self.log, self._config_schema, updates)
        self._route_controls(loop.control)

        def begin() -> None:
            if self.sourced_schemas:
                self._emit_sourced_schemas(config, bindings, emit)
            if self.discard_state and shim_state:
                self.log.warning(
                    "discarding the checkpointed state: every binding starts from scratch"
                )
                emit.checkpoint({STATE_KEY: kept} if kept else {}, merge_patch=False)
            elif dropped:
                emit.checkpoint(dropped)
            loop.begin()

        def read() -> None:
            self.delegate.read(config, catalog, state.airbyte_input(), loop)

        return PreparedRead(loop, read, begin)

    def _emit_sourced_schemas(
        self, config: dict[str, Any], bindings: list[CaptureBinding], emit: Emitter
    ) -> None:
        """Each bound stream's schema from a discover, then the checkpoint that applies them."""
        streams = {
            (s.get("namespace") or None, s.get("name")): s
            for s in self.delegate.discover(config).get("streams") or []
        }
        for i, b in enumerate(bindings):
            rc = b.resourceConfig or {}
            stream = streams.get((rc.get("namespace") or None, rc.get("stream")))
            if stream is not None:
                emit.sourced_schema(i, document_schema(stream.get("json_schema"), False))
        emit.checkpoint({})


def configured_catalog(bindings: list[CaptureBinding]) -> dict[str, Any]:
    """The Airbyte ConfiguredAirbyteCatalog (as a dict) that reads these bindings."""
    streams = []
    for binding in bindings:
        rc = binding.resourceConfig or {}
        if not isinstance(rc, Mapping) or not isinstance(rc.get("stream"), str):
            raise ConnectorError(
                f"binding {binding.stateKey!r} has a resource config without `stream`: {rc!r}"
            )
        mode = rc.get("syncMode", "full_refresh")
        stream: dict[str, Any] = {
            "name": rc["stream"],
            "json_schema": source_schema(binding.collection.writeSchema),
            "supported_sync_modes": [mode],
        }
        if rc.get("namespace"):
            stream["namespace"] = rc["namespace"]
        configured: dict[str, Any] = {
            "stream": stream,
            "sync_mode": mode,
            "destination_sync_mode": "append",
        }
        if rc.get("cursorField"):
            configured["cursor_field"] = list(rc["cursorField"])
        streams.append(configured)
    return {"streams": streams}

