"""`{"$env": "NAME"}` in an endpoint config: a secret for local runs, kept out of the catalog.

Anywhere in a config (also in a referenced config file, and after sops decryption), an
object whose one key is `$env` is replaced, when the connector is started, by the value of
that environment variable: from the process environment first, else from a `.env` file
beside the catalog file that defines the endpoint (`FLOW_SDK_ENV_FILE` names another one).
The value is always a string. The catalog is never rewritten with it, and every resolved
value is masked in everything the runtime prints (`flow_sdk.runtime.masking`).

`.env` lines are `NAME=value` (optionally `export NAME=value`); `#` starts a comment line;
a value in single or double quotes is taken literally, without the quotes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flow_sdk import json_pointer
from flow_sdk.runtime import masking
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import CatalogError

KEY = "$env"
ENV_FILE_ENV = "FLOW_SDK_ENV_FILE"


def env_file_for(catalog_file: Path | None) -> Path | None:
    """The `.env` file a config of `catalog_file` reads (it may not exist)."""
    override = os.environ.get(ENV_FILE_ENV)
    if override:
        return Path(override)
    return None if catalog_file is None else catalog_file.parent / ".env"


def read_env_file(path: Path | None) -> dict[str, str]:
    """The variables of a `.env` file; none when there is no such file."""
    if path is None or not path.is_file():
        return {}
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.replace("_", "a").isalnum():
            raise CatalogError(f"{path}:{number}: expected `NAME=value`, got {raw.strip()!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def has_env_refs(value: Any) -> bool:
    if isinstance(value, dict):
        return KEY in value or any(has_env_refs(v) for v in value.values())
    if isinstance(value, list):
        return any(has_env_refs(v) for v in value)
    return False


def resolve_env(
    config: Any,
    where: str,
    catalog_file: Path | None,
    console: Console | None = None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """`config` with every `{"$env": NAME}` replaced by its value, each value registered for
    masking. `where` names the config in errors."""
    if not has_env_refs(config):
        return config
    env_file = env_file_for(catalog_file)
    resolver = _Resolver(where, env_file, environ if environ is not None else os.environ)
    resolved = resolver.walk(config, "")
    for name in sorted(resolver.short):
        if console is not None:
            console.log(
                "warn",
                f"environment variable {name} is shorter than {masking.MIN_LENGTH} characters, "
                "so it cannot be masked in logs",
            )
    return resolved


class _Resolver:
    def __init__(self, where: str, env_file: Path | None, environ: Mapping[str, str]) -> None:
        self.where = where
        self.env_file = env_file
        self.environ = environ
        self._file_values: dict[str, str] | None = None
        self.short: set[str] = set()

    def file_values(self) -> dict[str, str]:
        if self._file_values is None:
            self._file_values = read_env_file(self.env_file)
        return self._file_values

    def walk(self, value: Any, pointer: str) -> Any:
        if isinstance(value, dict):
            if KEY in value:
                return self.lookup(value, pointer)
            return {k: self.walk(v, f"{pointer}/{json_pointer.escape(k)}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, f"{pointer}/{i}") for i, v in enumerate(value)]
        return value

    def lookup(self, ref: dict[str, Any], pointer: str) -> str:
        at = f"{self.where} at {pointer or '/'}"
        name = ref[KEY]
        if len(ref) != 1 or not isinstance(name, str) or not name:
            raise CatalogError(
                f'{at}: an environment reference is an object with one key, {{"$env": "NAME"}}'
            )
        value = self.environ.get(name)
        if value is None:
            value = self.file_values().get(name)
        if value is None:
            places = "the environment"
            if self.env_file is not None:
                places += f" or {self.env_file}"
            raise CatalogError(
                f"{at} refers to environment variable {name}, which is not set in {places}"
            )
        if not masking.register(value) and value:
            self.short.add(name)
        return value


def restore_refs(updated: Any, template: Any, resolved: Any) -> Any:
    """`updated` (a connector's update of the `resolved` config) with every value that came
    from a `{"$env": NAME}` of `template` and that the connector left unchanged put back as
    that reference: a config kept on disk then holds no secret of the environment's that the
    connector did not rotate itself."""
    if isinstance(template, dict) and KEY in template:
        return template if updated == resolved else updated
    if isinstance(template, dict) and isinstance(updated, dict) and isinstance(resolved, dict):
        return {
            k: restore_refs(v, template[k], resolved.get(k)) if k in template else v
            for k, v in updated.items()
        }
    if (
        isinstance(template, list)
        and isinstance(updated, list)
        and isinstance(resolved, list)
        and len(template) == len(updated) == len(resolved)
    ):
        return [restore_refs(u, t, r) for u, t, r in zip(updated, template, resolved, strict=True)]
    return updated
