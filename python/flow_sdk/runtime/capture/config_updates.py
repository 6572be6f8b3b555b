"""Config updates applied by the local runtime, as Flow republishes a task with them.

A source that rotates a single-use token must open its next session with the new one.
Flow's control plane gets it as a sealed `configUpdate` event; the local runtime cannot
unseal that (it has no keys), so it gives each local connector process a file to leave the
updated plaintext config in (`FLOW_SDK_CONFIG_UPDATE_FILE`, written by flow-sdk's Airbyte
shim) and takes it after the process ends. `flow-sdk run` keeps it in the data directory
(`configs/captures/<task>.json`, mode 0600) for the next run, tied to the catalog config it
updates: once that is edited (say, a fresh OAuth login), the catalog's config wins again.
Values the catalog takes from the environment (`{"$env": NAME}`) are kept as those
references unless the connector changed them, so the file holds no secret of the
environment's that it did not rotate itself (sops-decrypted values are kept decrypted).
`flow-sdk preview` keeps it for its next sessions. Image endpoints get no file (their
container cannot reach it); they rely on the state overlay alone.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from flow_sdk.runtime.catalog.env_refs import resolve_env, restore_refs
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.shared_answers import CONFIG_UPDATE_FILE_ENV

ENV = CONFIG_UPDATE_FILE_ENV


def _digest(config: Any) -> str:
    return hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ConfigInbox:
    """One task's config updates: where its connector leaves them, and the newest one."""

    def __init__(
        self,
        inbox: Path,
        catalog_config: Any,
        console: Console,
        task: str,
        store: Path | None,
        template: Any = None,
        catalog_file: Path | None = None,
    ) -> None:
        """`catalog_config` is the config as resolved for the connector; `template` the same
        before its `$env` references were resolved (from `catalog_file`'s directory)."""
        self.inbox = inbox
        self.store = store
        self.console = console
        self.task = task
        self.resolved = catalog_config
        self.template = template
        self.catalog_file = catalog_file
        self.base = _digest(catalog_config)
        self.config: Any = None
        """The updated config (None: the catalog's)."""
        if store is not None:
            self.config = self._stored(store)

    def _stored(self, store: Path) -> Any:
        try:
            kept = orjson.loads(store.read_bytes())
        except FileNotFoundError:
            return None
        except orjson.JSONDecodeError as exc:
            raise RuntimeFailure(
                f"the updated config of {self.task} in {store} is not valid JSON ({exc}); "
                "delete it to use the catalog's config"
            ) from None
        if not isinstance(kept, dict) or kept.get("base") != self.base:
            store.unlink()
            self.console.log(
                "info",
                f"{self.task}: the catalog's endpoint config changed since the connector "
                "updated it; using the catalog's config",
            )
            return None
        self.console.log(
            "info",
            f"{self.task}: using the endpoint config the connector updated in an earlier run "
            f"(kept in {store}, as Flow republishes a task with its config updates)",
        )
        return resolve_env(
            kept.get("config"), f"the updated config in {store}", self.catalog_file, self.console
        )

    def take(self) -> bool:
        """Take the update a connector process left, if any; True when the config changed."""
        try:
            data = self.inbox.read_bytes()
        except FileNotFoundError:
            return False
        self.inbox.unlink()
        try:
            config = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RuntimeFailure(
                f"{self.task}: the connector left a config update in {self.inbox} that is not "
                f"valid JSON ({exc})"
            ) from None
        if not isinstance(config, dict) or config == self.config:
            return False
        self.config = config
        where = " for the next session"
        if self.store is not None:
            kept = restore_refs(config, self.template, self.resolved)
            _write_private(self.store, {"base": self.base, "config": kept})
            where = f" for the next session and run (kept in {self.store})"
        self.console.log("info", f"{self.task}: applied the connector's config update{where}")
        return True


def _write_private(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(value))
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
