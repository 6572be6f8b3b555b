"""source-bigdata's Flow capture (the Airbyte shim) that SIGKILLs itself at a chosen record.

`RELIABILITY_KILL=<how>:<stream>:<position>` names the record by its own position in the
generated data, from 0 (`index` for bigdata, `id - 1` for users and events), so a kill point means the
same place in every session. `how`:

- `before`: die just before emitting that record (its group is still in the buffer);
- `flushed`: write every document emitted so far to stdout, unfinished group included, then die;
- `checkpointed`: die right after the next checkpoint following that record reached stdout.

With `--subprocess` the source runs as its Airbyte CLI behind `SubprocessSource`, so this
process is the shim of subprocess mode and its Airbyte child dies with it.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from flow_sdk.airbyte import CaptureShim
from flow_sdk.airbyte.source.process import SubprocessSource
from flow_sdk.capture import Emitter, request

KILL_ENV = "RELIABILITY_KILL"


def parse_kill(spec: str) -> tuple[str, str, int]:
    how, stream, position = spec.split(":")
    if how not in ("before", "flushed", "checkpointed"):
        raise SystemExit(f"unknown kill mode {how!r}")
    return how, stream, int(position)


def position_of(stream: str, doc: Any) -> int:
    """0-based: bigdata's `index`, users' and events' `id` less one."""
    return doc["index"] if stream == "bigdata" else doc["id"] - 1


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillingShim(CaptureShim):
    """The shim, with the kill armed around the session's emitter."""

    def open(self, open: request.Open, emit: Emitter) -> None:
        spec = os.environ.get(KILL_ENV)
        if spec:
            streams = [b.resourceConfig["stream"] for b in open.capture.bindings]
            arm(emit, streams, *parse_kill(spec))
        super().open(open, emit)


def arm(emit: Emitter, streams: list[str], how: str, stream: str, position: int) -> None:
    captured, checkpoint = emit.captured, emit.checkpoint
    passed = False

    def killing_captured(binding: int, doc: Any) -> None:
        nonlocal passed
        if streams[binding] == stream and position_of(stream, doc) == position:
            if how == "before":
                die()
            if how == "flushed":
                emit._writer.flush()  # what the emitter does itself past FLUSH_BYTES
                die()
            passed = True
        captured(binding, doc)

    def killing_checkpoint(updated: Any = None, merge_patch: bool = True) -> None:
        checkpoint(updated, merge_patch)
        if passed:
            die()

    emit.captured = killing_captured  # type: ignore[method-assign]  # the read loop binds it
    emit.checkpoint = killing_checkpoint  # type: ignore[method-assign]


def main() -> None:
    if "--subprocess" in sys.argv[1:]:
        delegate: Any = SubprocessSource([sys.executable, "-m", "source_bigdata.run"])
    else:
        from source_bigdata.source import SourceBigdata

        delegate = SourceBigdata()
    KillingShim(delegate=delegate, oauth2=None, usesSchemaInference=True).main()


if __name__ == "__main__":
    main()
