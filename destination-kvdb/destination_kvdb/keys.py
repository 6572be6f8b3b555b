"""Bucket keys of records: `<stream>/<primary key>` when the stream has a primary key (so a
replayed record overwrites itself), else `<stream>/<emitted_at>-<sequence>` (an append log
readable by prefix). Segments are percent-escaped, so a `/` or `.` in a name or key value
can never make one stream's prefix contain another's."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson


class RecordKeyError(ValueError):
    """A record lacks (part of) its primary key."""


_sequence = itertools.count()
"""Process-wide, so two `write()` calls in one process never reuse a sequence number."""


def escape(segment: str) -> str:
    """Percent-escape everything but letters, digits and `-_~` (so `/`, `.`, `%` too)."""
    return quote(segment, safe="-_~").replace(".", "%2E")


def stream_prefix(name: str, namespace: str | None) -> str:
    """`<stream>/`, or `<namespace>.<stream>/` for a stream with a namespace."""
    if namespace:
        return f"{escape(namespace)}.{escape(name)}/"
    return f"{escape(name)}/"


def key_text(value: Any) -> str:
    """A primary-key component as text: strings as they are, numbers and booleans as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def primary_key_suffix(data: Mapping[str, Any], primary_key: Sequence[Sequence[str]]) -> str:
    """The record's key components, each escaped, joined by `/`."""
    parts = []
    for path in primary_key:
        value: Any = data
        for name in path:
            if not isinstance(value, Mapping) or name not in value:
                raise RecordKeyError(f"the record has no primary key field {'.'.join(path)!r}")
            value = value[name]
        if value is None:
            raise RecordKeyError(f"the record's primary key field {'.'.join(path)!r} is null")
        parts.append(escape(key_text(value)))
    return "/".join(parts)


def log_suffix(emitted_at: int) -> str:
    """`<emitted_at>-<sequence>`, zero-padded so keys sort in arrival order."""
    return f"{emitted_at:013d}-{next(_sequence):010d}"
