"""Backfill signals in the local collection journals.

Flow publishes a capture's `backfillBegin` / `backfillComplete` as CONTROL documents in the
collection's journals (`{"_meta": {"backfillBegin": true, ...}}`); a materialization that
reads one passes it to its connector in the next `Flush`, with the truncation boundary
(`truncatedAt`): the time the begin was published. flow-sdk's journals hold them as lines of
their own that readers tell from documents by their fixed opening.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson

from flow_sdk.runtime.document_meta import UUID_PLACEHOLDER

_PREFIXES = {
    b'{"_meta":{"backfillBegin":true,': "backfillBegin",
    b'{"_meta":{"backfillComplete":true,': "backfillComplete",
}


def now_timestamp() -> str:
    """The current time as Flow's JSON writes a `google.protobuf.Timestamp` (UTC, `Z`)."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


def control_line(variant: str, truncated_at: str) -> bytes:
    """The journal line of a `backfillBegin` or `backfillComplete` signal."""
    meta = {variant: True, "truncatedAt": truncated_at, "uuid": UUID_PLACEHOLDER}
    return orjson.dumps({"_meta": meta}, option=orjson.OPT_APPEND_NEWLINE)


def control_of(line: bytes) -> tuple[str, str] | None:
    """`(variant, truncatedAt)` when the journal line is a backfill signal, else None."""
    if not line.startswith(b'{"_meta":{"backfill'):
        return None
    for prefix, variant in _PREFIXES.items():
        if line.startswith(prefix):
            meta: Any = orjson.loads(line)["_meta"]
            return variant, str(meta.get("truncatedAt", ""))
    return None

