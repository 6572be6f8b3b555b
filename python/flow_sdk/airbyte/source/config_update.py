"""CONTROL `CONNECTOR_CONFIG` → Flow's `configUpdate`, sealed; rotated secrets kept in state.

Airbyte sources persist a new config this way (a single-use refresh token rotated, a config
migrated). Flow's control plane republishes the task when the connector logs a
`configUpdate` event whose `config` is the *whole* endpoint config, sops-sealed by the
config-encryption service (`ENCRYPTION_URL`, as estuary-cdk names it; the service gets
`{"config", "schema"}` and answers the sealed config). So an update is merged over the
current config (Airbyte's may be partial), its new secrets are masked at once, and it is
sealed before it is logged; the plaintext never reaches a log line.

Until Flow republishes, a restarted session would open with the old config, whose rotated
token is already dead. So every changed secret is also checkpointed under the reserved state
key `flowSdkConfigOverlay` and laid over the config at the next Open — unless the config has
caught up (the overlay is dropped) or was changed by someone else since (the config wins).

Under the local runtime (`FLOW_SDK_CONFIG_UPDATE_FILE` set by `flow-sdk preview|run`), the
full updated config is also written to that file (mode 0600) for the runtime to use next,
and sealing is skipped unless `ENCRYPTION_URL` is set explicitly.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from flow_sdk import json_pointer
from flow_sdk.logger import mask_secrets
from flow_sdk.secrets import secret_paths
from flow_sdk.shared_answers import CONFIG_UPDATE_FILE_ENV

ENCRYPTION_URL_ENV = "ENCRYPTION_URL"
DEFAULT_ENCRYPTION_URL = "https://config-encryption.estuary.dev/v1/encrypt-config"
STATE_KEY = "flowSdkConfigOverlay"
"""The reserved top-level key of the connector state holding rotated secrets."""
SEAL_TIMEOUT_SECONDS = 30.0
_KEEP_DIGESTS = 8
_MISSING = json_pointer.MISSING


class SealError(Exception):
    """The config-encryption service could not seal a config (the message says why)."""


# ---- the config ----


def merged_config(current: Any, update: Any) -> Any:
    """`update` laid over `current`: objects merge key by key (at every depth), anything
    else in `update` replaces what was there. Airbyte's update may restate only some keys."""
    if not isinstance(current, Mapping) or not isinstance(update, Mapping):
        return copy.deepcopy(update)
    out = dict(copy.deepcopy(current))
    for key, value in update.items():
        out[key] = merged_config(out[key], value) if key in out else copy.deepcopy(value)
    return out


def _sorted(value: Any) -> Any:
    """Keys in lexicographic order at every depth: Flow sorts them, and sops' MAC depends on
    the order it meets them in."""
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def encryption_url() -> str:
    return os.environ.get(ENCRYPTION_URL_ENV) or DEFAULT_ENCRYPTION_URL


def seal(config: Any, schema: Any, url: str, timeout: float = SEAL_TIMEOUT_SECONDS) -> Any:
    """The sealed config, as the config-encryption service at `url` returns it."""
    import urllib.error  # only a rotated config is sealed: no process pays for it at start-up
    import urllib.request

    body = orjson.dumps({"config": _sorted(config), "schema": schema or {}})
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode(errors="replace").strip()
        raise SealError(
            f"the config-encryption service at {url} answered HTTP {exc.code}"
            + (f": {detail}" if detail else "")
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SealError(
            f"the config-encryption service at {url} is unreachable: {reason}"
        ) from None
    try:
        sealed = orjson.loads(answer)
    except orjson.JSONDecodeError:
        sealed = None
    if not isinstance(sealed, dict):
        raise SealError(f"the config-encryption service at {url} did not answer a JSON object")
    return sealed


def _digest(value: Any) -> str:
    """A fingerprint of a (dead) secret: enough to recognise it, useless to anyone else."""
    data = b"\x00" if value is _MISSING else orjson.dumps(value)
    return hashlib.sha256(b"flow-sdk config overlay\x00" + data).hexdigest()[:32]


# ---- the state overlay ----


def lay_over(
    config: dict[str, Any], overlay: Any, log: logging.Logger
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The config to open with: `config` with the overlay's rotated secrets laid over where
    the config still holds a value they replaced. Returns it, the entries kept, and a state
    patch dropping the rest (the config caught up, or was changed since)."""
    if not isinstance(overlay, Mapping) or not overlay:
        return config, {}, {}
    out = copy.deepcopy(config)
    kept: dict[str, Any] = {}
    dropped: dict[str, Any] = {}
    for pointer, entry in overlay.items():
        if not isinstance(entry, Mapping) or "value" not in entry:
            dropped[pointer] = None
            continue
        current = json_pointer.get(config, pointer)
        if current is not _MISSING and current == entry["value"]:
            dropped[pointer] = None  # Flow republished the task with it
        elif _digest(current) in (entry.get("replaces") or []) and json_pointer.set_value(
            out, pointer, entry["value"]
        ):
            kept[pointer] = entry
        else:
            dropped[pointer] = None
            log.info(
                "the endpoint config's %s was changed since the source last rotated it; "
                "using the config's value",
                pointer,
            )
    if kept:
        log.info(
            "laid %d secret(s) the source rotated over the endpoint config (Flow has not "
            "republished the task with them yet)",
            len(kept),
            extra={"pointers": sorted(kept)},
        )
    return out, kept, ({STATE_KEY: dropped} if dropped else {})


def without_overlay(state: Any) -> tuple[Any, Any]:
    """The connector state without the reserved key, and that key's value."""
    if isinstance(state, Mapping) and STATE_KEY in state:
        return {k: v for k, v in state.items() if k != STATE_KEY}, state[STATE_KEY]
    return state, None


# ---- one request's updates ----


class ConfigUpdates:
    """The config updates of one request (a session, a check, a discover)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        schema: Callable[[], Any],
        log: logging.Logger,
        overlay: Mapping[str, Any] | None = None,
    ) -> None:
        self.config: Any = copy.deepcopy(dict(config))
        self.schema = schema
        self.log = log
        self.overlay: dict[str, Any] = dict(overlay or {})
        self.updates = 0

    def mask(self, control: Mapping[str, Any]) -> None:
        """Register the update's secrets with the logger (call before anything may log it)."""
        update = _update_of(control)
        if update is not None:
            merged = merged_config(self.config, update)
            mask_secrets(v for _, v in secret_paths(self.schema(), merged))

    def control(self, control: Mapping[str, Any]) -> dict[str, Any] | None:
        """Handle one CONTROL message; returns the state patch keeping rotated secrets (None
        when none changed)."""
        update = _update_of(control)
        if update is None:
            self.log.info("unknown Airbyte control message type %r; ignored", control.get("type"))
            return None
        schema = self.schema()
        merged = merged_config(self.config, update)
        secrets = dict(secret_paths(schema, merged))
        mask_secrets(secrets.values())
        patch: dict[str, Any] = {}
        for pointer, value in secrets.items():
            before = json_pointer.get(self.config, pointer)
            if before is not _MISSING and before == value:
                continue
            replaces = list((self.overlay.get(pointer) or {}).get("replaces") or [])
            if (digest := _digest(before)) not in replaces:
                replaces.append(digest)
            entry = {"value": value, "replaces": replaces[-_KEEP_DIGESTS:]}
            self.overlay[pointer] = patch[pointer] = entry
        self.config = merged
        self.updates += 1
        self._publish(merged, schema, sorted(patch))
        return {STATE_KEY: patch} if patch else None

    def _publish(self, config: Any, schema: Any, rotated: list[str]) -> None:
        """The sealed `configUpdate` event, and the local runtime's copy."""
        local = os.environ.get(CONFIG_UPDATE_FILE_ENV)
        if local:
            _write_private(local, config)
        what = f" (rotated: {', '.join(rotated)})" if rotated else ""
        if local and not os.environ.get(ENCRYPTION_URL_ENV):
            self.log.info(
                "the source updated its config%s; the local runtime keeps it for the next "
                "session (set %s to also seal it as Flow's control plane would)",
                what,
                ENCRYPTION_URL_ENV,
            )
            return
        url = encryption_url()
        try:
            sealed = seal(config, schema, url)
        except SealError as exc:
            after = (
                "the rotated secrets are kept in the connector state, so the capture keeps "
                "working until an update is sealed or the endpoint config is updated by hand"
                if rotated
                else "update the endpoint config by hand to keep the change"
            )
            self.log.warning(
                "the source updated its config%s, but it could not be sealed for Flow's control "
                "plane, so no configUpdate event was logged: %s; %s",
                what,
                exc,
                after,
            )
            return
        self.log.info(
            "the source updated its config%s; Flow republishes the task with it",
            what,
            extra={"eventType": "configUpdate", "config": sealed},
        )


def _update_of(control: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if control.get("type") != "CONNECTOR_CONFIG":
        return None
    update = (control.get("connectorConfig") or {}).get("config")
    return update if isinstance(update, Mapping) else {}


def _write_private(path: str, config: Any) -> None:
    """Replace `path` with `config` atomically, readable by its owner only."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temp = f"{path}.tmp{os.getpid()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(config))
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
