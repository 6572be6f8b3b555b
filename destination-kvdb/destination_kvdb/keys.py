"""Bucket keys of records: `<stream>/<primary key>` when the stream has a primary key (so a
replayed record overwrites itself), else `<stream>/<emitted_at>-<sequence>` (an append log
readable by prefix). Segments are percent-escaped, so a `/` or `.` in a name or key value
can never make one stream's prefix contain another's.

A key component is written in its **bare** form, the form every bucket written before
distinct typed keys used: a string as it is, anything else as its JSON text (`1`, `1.0`,
`true`), percent-escaped. Bare forms collide across types (`1` and `"1"`, `true` and `"true"`),
so one side of each collision gets a **tagged** form, which never equals a bare one (escaping
turns every `.` into `%2E`, so no bare form starts with `.`):

- in a stream whose key field is declared a string (`type: string`, or `[string, null]`),
  strings stay bare and other values are tagged `.json.<JSON text>` (`.json.1`, `.json.true`);
- in any other stream (integer, boolean or mixed types, or no declared type), numbers,
  booleans, arrays and objects stay bare, and only a string whose text is exactly the JSON of
  such a value is tagged `.str.<string>` (`"1"` → `.str.1`; `"abc"` and `"01"` stay bare);
- null, which no bucket could hold before (it failed the write), is always `.json.null`.

So the keys an existing bucket holds keep their meaning: a string-keyed stream keeps every
string key, an integer-keyed stream every integer key, and a replay overwrites the same keys.
Only values that used to collide move: a string `"1"` in an integer-keyed stream is now written
to `.str.1`, and the old `1` row (which either value may have written) is left to the integer.
Numbers keep their JSON text, so `1` and `1.0` stay two keys, as they always were here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson


class RecordKeyError(ValueError):
    """A record lacks (part of) its primary key."""


STRING_TAG = ".str."
JSON_TAG = ".json."

_sequence = itertools.count()
"""Process-wide, so two `write()` calls in one process never reuse a sequence number."""


_UNESCAPED = re.compile(r"[A-Za-z0-9_~-]*").fullmatch
"""A segment `escape` leaves as it is (most keys: ids, numbers), found without quoting."""


def escape(segment: str) -> str:
    """Percent-escape everything but letters, digits and `-_~` (so `/`, `.`, `%` too)."""
    if _UNESCAPED(segment):
        return segment
    return quote(segment, safe="-_~").replace(".", "%2E")


def stream_prefix(name: str, namespace: str | None) -> str:
    """`<stream>/`, or `<namespace>.<stream>/` for a stream with a namespace."""
    if namespace:
        return f"{escape(namespace)}.{escape(name)}/"
    return f"{escape(name)}/"


def key_text(value: Any) -> str:
    """A primary-key component as text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    if type(value) is int and -(1 << 63) <= value < (1 << 64):  # orjson's range: its JSON text
        return str(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def component(value: Any, *, string_typed: bool) -> str:
    """One key component's segment: bare when it was bare before, tagged on the side of a
    collision (see the module docstring). `string_typed`: the field is declared a string."""
    if type(value) is int and not string_typed and -(1 << 63) <= value < (1 << 64):
        return str(value)  # the common id: its JSON text, digits and `-`, needs no escaping
    if isinstance(value, str):
        if string_typed or not _reads_as_other_type(value):
            return escape(value)
        return STRING_TAG + escape(value)
    if value is None or string_typed:
        return JSON_TAG + escape(key_text(value))
    return escape(key_text(value))


def _reads_as_other_type(text: str) -> bool:
    """Whether some non-null, non-string value has `text` as its bare JSON text."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return value is not None and not isinstance(value, str) and key_text(value) == text


def declared_string(schema: Any, path: Sequence[str]) -> bool:
    """Whether `schema` declares the field at `path` a string (null allowed), through plain
    `properties`; anything else (other or mixed types, `anyOf`, no type) is not."""
    node = schema
    for name in path:
        properties = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(properties, Mapping) or name not in properties:
            return False
        node = properties[name]
    declared = node.get("type") if isinstance(node, Mapping) else None
    types = [declared] if isinstance(declared, str) else declared
    return isinstance(types, list) and {t for t in types if t != "null"} == {"string"}


def primary_key_suffix(
    data: Mapping[str, Any],
    primary_key: Sequence[Sequence[str]],
    string_typed: Sequence[bool] = (),
) -> str:
    """The record's key components, each a segment, joined by `/`. `string_typed[i]`: the
    i-th component's field is declared a string (missing entries: not)."""
    parts = []
    for i, path in enumerate(primary_key):
        value: Any = data
        for name in path:
            if not (type(value) is dict or isinstance(value, Mapping)) or name not in value:
                raise RecordKeyError(f"the record has no primary key field {'.'.join(path)!r}")
            value = value[name]
        typed = i < len(string_typed) and string_typed[i]
        parts.append(component(value, string_typed=typed))
    return "/".join(parts)


def suffix_function(
    primary_key: Sequence[Sequence[str]], string_typed: Sequence[bool] = ()
) -> Callable[[Mapping[str, Any]], str]:
    """`primary_key_suffix` with the key fixed, for a stream's every record: a key of one
    top-level field (the common id) is looked up directly, anything else goes the long way."""
    if len(primary_key) != 1 or len(primary_key[0]) != 1:
        return lambda data: primary_key_suffix(data, primary_key, string_typed)
    name = primary_key[0][0]
    typed = bool(string_typed) and string_typed[0]

    def single_field(data: Mapping[str, Any]) -> str:
        if type(data) is dict and name in data:
            value = data[name]
            if type(value) is int and not typed and -(1 << 63) <= value < (1 << 64):
                return str(value)  # (`component`'s first case, without the call)
            return component(value, string_typed=typed)
        return primary_key_suffix(data, primary_key, string_typed)  # (a Mapping, or missing)

    return single_field


def log_suffix(emitted_at: int) -> str:
    """`<emitted_at>-<sequence>`, zero-padded so keys sort in arrival order."""
    return f"{emitted_at:013d}-{next(_sequence):010d}"
