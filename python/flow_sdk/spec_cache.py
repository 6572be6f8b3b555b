"""A wrapped connector's spec kept between processes, so that a session launches the
connector once (for its `write` or `read`), not twice.

Every connector process first answers the runtime's probe Spec, and a subprocess-mode shim
answers it with the wrapped connector's own spec: one launch (~2 s for an airbyte-cdk
connector) before the session's real one, in series, since the runtime sends Open only after
the Spec answer. The spec is kept in `$FLOW_SDK_SPEC_CACHE` (default
`$XDG_CACHE_HOME/flow-sdk/specs`, else `~/.cache/flow-sdk/specs`; `off` disables), keyed by
the command and the size and mtime of its program and scripts, and the shim checks a kept spec
against a fresh `spec` run alongside the session (`SubprocessSource.spec`), so a connector
changed behind an unchanged command is noticed in that session and fixed for the next.
Under the local runtime (`FLOW_SDK_SHARED_ANSWERS`) the runtime's own per-invocation answers
are used instead, fetched fresh once per invocation.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from flow_sdk.shared_answers import keep_answer

SPEC_CACHE_ENV = "FLOW_SDK_SPEC_CACHE"


def cache_dir() -> Path | None:
    """Where specs are kept; None when the cache is off."""
    chosen = os.environ.get(SPEC_CACHE_ENV)
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except RuntimeError:  # no home directory: nowhere to keep it
        return None
    return Path(base) / "flow-sdk" / "specs"


SCRIPTS = (".py", ".pyz", ".js", ".mjs", ".jar", ".rb", ".sh", ".yaml", ".yml", ".json")


def fingerprint(command: Sequence[str]) -> list[Any]:
    """The command, with (path, size, mtime) of its program (found on PATH) and of every
    script or manifest it names: a reinstalled or edited connector gets a new key. (Other
    files, such as a log the command appends to, would change the key on every run.)"""
    out: list[Any] = []
    for i, part in enumerate(command):
        if i == 0:
            found = shutil.which(part) if os.sep not in part else part
        else:
            found = part if part.endswith(SCRIPTS) else None
        try:
            st = os.stat(found) if found else None
        except (OSError, ValueError):
            st = None
        if st is not None and os.path.isfile(found or ""):
            out.append([part, os.path.abspath(found or part), st.st_size, st.st_mtime_ns])
        else:
            out.append(part)
    return out


def _path(what: str, command: Sequence[str]) -> Path | None:
    base = cache_dir()
    if base is None:
        return None
    digest = hashlib.sha256(orjson.dumps([what, fingerprint(command)])).hexdigest()[:32]
    return base / f"{what}-{digest}.json"


def load(what: str, command: Sequence[str]) -> Any:
    """The kept answer, or None (none kept, cache off or unreadable)."""
    path = _path(what, command)
    if path is None:
        return None
    with contextlib.suppress(OSError, orjson.JSONDecodeError):
        return orjson.loads(path.read_bytes())
    return None


def store(what: str, command: Sequence[str], answer: Any) -> None:
    """Keep `answer` (atomically; a read-only cache directory just keeps nothing)."""
    path = _path(what, command)
    if path is not None:
        keep_answer(path, answer)
