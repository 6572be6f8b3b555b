"""`CaptureShim`: a Singer tap, in process (singer-sdk) or as a subprocess, as a Flow capture.

Spec from the tap's config schema; discover from its catalog; validate checks the bound
streams against the catalog and runs a dry sync of only those streams; open restores each
binding's bookmark by stateKey and syncs, STATE messages becoming merge-patch checkpoints.
The pieces live beside it: `spec`, `catalog`, `state`, `read_loop`, `inprocess`, `process`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from flow_sdk.capture import Emitter, request, response
from flow_sdk.capture.adapter_shim import AdapterCaptureShim, PreparedRead, endpoint_config
from flow_sdk.errors import ConnectorError, ValidateError
from flow_sdk.protocol.flow import OAuth2, Spec, SpecRequest
from flow_sdk.secrets import mask_config_secrets, with_secret_marks
from flow_sdk.singer.catalog import discovered, selected_catalog, validated_bindings
from flow_sdk.singer.read_loop import SingerReadLoop
from flow_sdk.singer.spec import check_config, flow_spec
from flow_sdk.singer.state import SingerState


class SingerDelegate(Protocol):
    """What the shim needs of a tap; `InProcessTap` and `SubprocessTap` provide it. Catalogs
    and states are plain dicts in the Singer JSON shape."""

    name: str
    is_singer_delegate: bool

    def config_schema(self) -> dict[str, Any]: ...
    def discover(self, config: Mapping[str, Any]) -> dict[str, Any]: ...
    def dry_run(self, config: Mapping[str, Any], catalog: dict[str, Any]) -> dict[str, int]: ...
    def sync(
        self,
        config: Mapping[str, Any],
        catalog: dict[str, Any],
        state: dict[str, Any],
        loop: SingerReadLoop,
    ) -> None: ...


class CaptureShim(AdapterCaptureShim):
    """Runs a Singer tap as a Flow capture connector.

    `delegate` is a singer-sdk Tap class or instance (run in process; its config is ignored,
    Flow's is used), a factory taking the Tap's keywords (including `message_writer`), or a
    `SingerDelegate` such as `SubprocessTap`. `config_schema` overrides the tap's own;
    `usesSchemaInference` marks discovered schemas `x-infer-schema`."""

    def __init__(
        self,
        delegate: Any,
        oauth2: OAuth2 | Mapping[str, Any] | None = None,
        usesSchemaInference: bool = True,
        *,
        config_schema: Mapping[str, Any] | None = None,
        documentation_url: str | None = None,
        sourced_schemas: bool = False,
    ) -> None:
        if not getattr(delegate, "is_singer_delegate", False):
            from flow_sdk.singer.inprocess import InProcessTap

            delegate = InProcessTap(delegate, config_schema)
        self.delegate: SingerDelegate = delegate
        self.oauth2 = oauth2
        self.usesSchemaInference = usesSchemaInference
        self.documentation_url = documentation_url
        self.sourced_schemas = sourced_schemas
        """Tell Flow the tap's SCHEMA messages as `sourcedSchema` (off by default)."""
        self._schema: dict[str, Any] | None = None

    def _config_schema(self) -> dict[str, Any]:
        if self._schema is None:
            self._schema = self.delegate.config_schema()
        return self._schema

    def _config(self, config: Any) -> dict[str, Any]:
        config = endpoint_config(config)
        mask_config_secrets(with_secret_marks(self._config_schema()), config)
        check_config(self._config_schema(), config)
        return config

    def spec(self, spec: SpecRequest) -> Spec:
        return flow_spec(self._config_schema(), self.oauth2, self.documentation_url)

    def discover(self, discover: request.Discover) -> response.Discovered:
        config = self._config(discover.config)
        return discovered(self.delegate.discover(config), self.usesSchemaInference)

    def validate(self, validate: request.Validate) -> response.Validated:
        config = self._config(validate.config)
        catalog = self.delegate.discover(config)
        resources = [b.resourceConfig for b in validate.bindings]
        bindings = validated_bindings(catalog, resources)
        if bindings:
            selected = selected_catalog(catalog, resources)
            try:
                records = self.delegate.dry_run(config, selected)
            except (ValidateError, ConnectorError):
                raise
            except Exception as exc:
                self.log.error("the tap's dry run failed", exc_info=True)
                raise ValidateError(
                    f"the Singer tap's dry run of the bound streams failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            self.log.info("dry run of the bound streams succeeded", extra={"records": records})
        return response.Validated(bindings=bindings)

    def prepare_read(self, open: request.Open, emit: Emitter) -> PreparedRead:
        config = self._config(open.capture.config)
        bindings = open.capture.bindings
        state = SingerState(bindings, open.state)
        catalog = selected_catalog(
            self.delegate.discover(config), [b.resourceConfig for b in bindings]
        )
        loop = SingerReadLoop(emit, state, self.log, self.sourced_schemas)

        def begin() -> None:
            if state.migrated:
                self.log.info("rewriting the state of flow-sdk 0.1.x's Singer shim in this layout")
                emit.checkpoint(state.full_state(), merge_patch=False)

        def read() -> None:
            self.delegate.sync(config, catalog, state.singer_state(), loop)

        return PreparedRead(loop, read, begin)
