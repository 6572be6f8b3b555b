"""Unsealing sops-encrypted endpoint configs, as Flow's runtime does before a connector sees them.

A config with a top-level `sops` object is decrypted with
`sops --decrypt --input-type json --output-type json /dev/stdin`; when
`sops.encrypted_suffix` is set, that suffix is then removed once from every object key at
every depth (`api_key_sops` → `api_key`). Other configs pass through unchanged.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from flow_sdk.runtime.errors import CatalogError

SOPS_ARGS = ["--decrypt", "--input-type", "json", "--output-type", "json", "/dev/stdin"]


def is_sealed(config: Any) -> bool:
    return isinstance(config, dict) and isinstance(config.get("sops"), dict)


def unseal(config: Any, where: str) -> Any:
    """The config a connector receives: decrypted and without the encrypted-key suffix.

    `where` names the config in errors (`file: captures.x.endpoint.local.config`)."""
    if not is_sealed(config):
        return config
    binary = shutil.which("sops")
    if binary is None:
        raise CatalogError(
            f"{where} is encrypted with sops, but the `sops` binary is not on PATH; "
            "install sops (https://github.com/getsops/sops) or give a decrypted config"
        )
    try:
        done = subprocess.run(
            [binary, *SOPS_ARGS],
            input=json.dumps(config).encode(),
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CatalogError(f"running sops to decrypt {where} failed: {exc}") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        cause = lines[-1] if lines else "no message"
        raise CatalogError(f"sops could not decrypt {where} (exit code {done.returncode}): {cause}")
    try:
        plain = json.loads(done.stdout)
    except ValueError:
        raise CatalogError(
            f"sops printed something other than JSON while decrypting {where}"
        ) from None
    if isinstance(plain, dict):
        plain.pop("sops", None)
    suffix = config["sops"].get("encrypted_suffix") or ""
    return strip_suffix(plain, suffix) if suffix else plain


def strip_suffix(value: Any, suffix: str) -> Any:
    """`value` with `suffix` removed once from the end of every object key, at every depth."""
    if isinstance(value, dict):
        return {_strip(k, suffix): strip_suffix(v, suffix) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_suffix(v, suffix) for v in value]
    return value


def _strip(key: str, suffix: str) -> str:
    return key[: -len(suffix)] if key.endswith(suffix) else key
