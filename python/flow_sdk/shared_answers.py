"""Answers of a wrapped connector, shared between the shim processes of one local-runtime
invocation, so each runtime request launches the connector at most once.

The local runtime (`flow-sdk preview`, `run`, `raw ...`) starts a fresh shim process for
every request, and each one is first probed for its Spec; a subprocess-mode shim needs the
wrapped connector's own spec (Airbyte's `spec`, a Singer tap's `--about`) for that answer and
to know which config values to mask; a Singer tap's Open needs the `--discover` its Validate
just ran. The runtime sets `FLOW_SDK_SHARED_ANSWERS` to a directory
that lives for its invocation only; the first shim process that fetches an answer leaves it
there and later ones read it, keyed by the command. Outside the local runtime (in Flow) the
variable is unset and every process fetches its own answer, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

CONFIG_UPDATE_FILE_ENV = "FLOW_SDK_CONFIG_UPDATE_FILE"
"""The other channel between the local runtime and a shim process: set by the runtime, the
file where flow-sdk's Airbyte shim leaves a source's updated (plaintext) config for it."""

SHARED_ANSWERS_ENV = "FLOW_SDK_SHARED_ANSWERS"


def config_digest(config: Any) -> str:
    """A key part for answers that depend on config (the config itself is never stored)."""
    return hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest()


def shared_answer(what: str, command: Sequence[str], fetch: Callable[[], Any]) -> Any:
    """`fetch()`'s answer, from the runtime's shared directory when an earlier process of
    this invocation left it there (and left there for later ones otherwise). `command`
    identifies the connector (and, with `config_digest`, its config)."""
    directory = os.environ.get(SHARED_ANSWERS_ENV)
    if not directory:
        return fetch()
    digest = hashlib.sha256(orjson.dumps([what, list(command)])).hexdigest()[:32]
    path = Path(directory) / f"{what}-{digest}.json"
    with contextlib.suppress(OSError, orjson.JSONDecodeError):
        return orjson.loads(path.read_bytes())
    answer = fetch()
    keep_answer(path, answer)
    return answer


def keep_answer(path: Path, answer: Any) -> None:
    """Write `answer` as JSON to `path` atomically (a reader sees the whole answer or none).
    A directory that cannot be written, or an answer that is not JSON, just keeps nothing:
    the answer is asked for again next time."""
    with contextlib.suppress(OSError, TypeError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(answer))
        os.replace(temporary, path)
