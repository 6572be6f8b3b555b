"""One rule for the values a capture emits, whatever produced them.

Every captured document, from a native connector, an Airbyte source or a Singer tap, in
process or as a subprocess, is encoded here. The fast path is one `orjson.dumps`; values
orjson cannot take (or takes silently wrong: NaN becomes `null`) fall to `normalize`, which
walks the document with its JSON pointer and applies the table below. Subprocess lines
that orjson cannot parse exactly are decoded by `parse_lenient` into the same Python values,
so both modes meet the same rule.

| value                                   | emitted as                                          |
|-----------------------------------------|-----------------------------------------------------|
| `Decimal` (finite)                      | an exact JSON number, its digits as written         |
| numpy scalars / arrays                  | numbers, booleans, arrays                           |
| `bytes`, `bytearray`, `memoryview`      | standard base64 text (padded)                       |
| `datetime`, pandas `Timestamp`          | ISO 8601 / RFC 3339 text; naive values stay naive    |
| `date`, `time` (naive or aware)         | ISO 8601 text                                       |
| `timedelta`                             | ISO 8601 duration (`P1DT2H3M4.5S`)                  |
| `set`, `frozenset`, `tuple`             | arrays (sets sorted when their items sort)          |
| pandas `NaT`, `NA`                      | `null`                                              |
| `UUID`, `Enum`                          | as orjson writes them (text, the enum's value)      |
| NaN (float, numpy, `Decimal`)           | `null`, warned once per stream and field, counted   |
| lone surrogate, invalid UTF-8           | U+FFFD, warned once per stream and field, counted   |
| ±Infinity, a number beyond a double     | failure naming stream, field and value              |
| an integer outside [-2^63, 2^64-1]      | failure naming stream, field and value              |
| int and str keys that collide (`1`/`"1"`)| failure naming stream and field                    |
| nesting deeper than 254 levels          | failure naming stream and where                     |
| anything else                           | failure naming stream, field and Python type        |
"""

from __future__ import annotations

import base64
import datetime
import decimal
import enum
import logging
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from flow_sdk import json_pointer
from flow_sdk.errors import ConnectorError

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
MAX_DEPTH = 254
"""orjson's nesting limit; Flow's documents are no deeper in practice."""

_DOUBLE_MAX = decimal.Decimal(repr(1.7976931348623157e308))
OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_PASSTHROUGH_SUBCLASS
"""Subclasses of str, int, dict and list reach `default` (a `NumberLiteral` is a str)."""
_Fragment = orjson.Fragment

NAN = "NaN"
"""Conversion kinds, as named in warnings and the session summary."""
SURROGATE = "lone surrogate or invalid UTF-8"
_REPLACEMENT = "\ufffd"


class NumberLiteral(str):
    """A JSON number with a fraction or exponent, as a child wrote it: kept as text so its
    digits and its kind (never an integer) reach Flow exactly."""


def _literal(value: NumberLiteral) -> _Fragment | None:
    return _Fragment(str(value)) if math.isfinite(float(value)) else None


class ValueRejected(ConnectorError):
    """A value the rule cannot carry: the sentence names the stream, the field and why."""


def _rejected(where: str, pointer: str, what: str) -> ValueRejected:
    return ValueRejected(
        f"{where}: the field {pointer or '(the document)'} {what}; "
        "the capture stopped before it (nothing after the last checkpoint is committed)"
    )


def _duration(value: datetime.timedelta) -> str:
    """ISO 8601 duration, exact to the microsecond (`-P1DT2S` for negatives)."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    days, micros = divmod(micros, 86_400_000_000)
    hours, micros = divmod(micros, 3_600_000_000)
    minutes, micros = divmod(micros, 60_000_000)
    seconds, micros = divmod(micros, 1_000_000)
    out = f"{sign}P{days}D" if days else f"{sign}P"
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if seconds or micros or not (days or clock):
        clock += f"{seconds}.{micros:06d}".rstrip("0").rstrip(".") + "S"
    return out + ("T" + clock if clock else "")


def _decimal(value: decimal.Decimal) -> _Fragment | None:
    """An exact JSON number for a Decimal, or None when the rule has no exact form."""
    if not value.is_finite() or abs(value) > _DOUBLE_MAX:
        return None
    text = str(value)
    if "E" not in text and "." not in text and not INT_MIN <= int(value) <= INT_MAX:
        return None  # an integer literal Flow would read inexactly
    return _Fragment(text)


def _sorted(items: Any) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return list(items)


def _is_missing(value: Any) -> bool:
    """pandas' NaT and NA (looked up by type name: pandas is never imported here)."""
    return type(value).__name__ in ("NaTType", "NAType")


def default(value: Any) -> Any:
    """orjson's fallback on the fast path: lossless forms only; anything else raises so
    the caller takes `normalize`, which knows where in the document the value is."""
    if type(value) is NumberLiteral:
        fragment = _literal(value)
        if fragment is not None:
            return fragment
    elif isinstance(value, decimal.Decimal):
        fragment = _decimal(value)
        if fragment is not None:
            return fragment
    elif isinstance(value, Mapping):  # dict subclasses too
        return dict(value)
    elif isinstance(value, str):  # str subclasses: numpy.str_, ...
        return str(value)
    elif isinstance(value, int):  # int subclasses: bool and IntEnum are native
        return int(value)
    elif isinstance(value, list):
        return list(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode()
    elif isinstance(value, datetime.datetime):  # a subclass: pandas Timestamp, NaT
        return None if _is_missing(value) else value.isoformat()
    elif isinstance(value, datetime.time):  # aware: orjson refuses them
        return value.isoformat()
    elif isinstance(value, datetime.timedelta):
        return _duration(value)
    elif isinstance(value, (set, frozenset)):
        return _sorted(value)
    elif _is_missing(value):
        return None
    raise TypeError


def has_nan(value: Any) -> bool:
    """Whether a document holds a float orjson wrote as `null` (NaN, ±Infinity).

    Called only for documents whose JSON holds `null`; written for speed: `v - v` is 0.0
    for a finite float and NaN (truthy) otherwise."""
    items = value.values() if type(value) is dict else value
    if _LEAVES.issuperset(map(type, items)):  # C speed: flat rows without floats
        return False
    for v in items:
        kind = type(v)
        if kind is float:
            if v - v:
                return True
        elif kind is dict or kind is list:
            if has_nan(v):
                return True
        elif kind not in _LEAVES and _odd_has_nan(v):
            return True
    return False


def nan_written(doc: Any, body: bytes) -> bool:
    """Whether `body` (orjson's JSON of `doc`, holding `null`) may hide a NaN or ±Infinity.

    A flat row's `null`s are its None values when the counts agree (both C-speed counts);
    only otherwise is the document walked."""
    if type(doc) is dict:
        try:
            if body.count(b"null") == list(doc.values()).count(None):
                return False
        except Exception:  # noqa: BLE001 - a value whose == None is not a bool: walk instead
            pass
    return has_nan(doc)


def _odd_has_nan(value: Any) -> bool:
    """`has_nan` of anything but str, int, bool, None, float, dict and list."""
    if isinstance(value, float):  # float subclasses: numpy float64
        return not math.isfinite(value)
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        plain = value.tolist()
        return has_nan([plain])
    if isinstance(value, Mapping):
        return has_nan(dict(value))
    if isinstance(value, (tuple, list)):
        return has_nan(list(value))
    return False


_LEAVES = frozenset((str, int, bool, type(None)))
_NATIVE = frozenset((datetime.datetime, datetime.date, uuid.UUID))


class Conversions:
    """Values changed under the documented conversions: warned once per stream, field and
    kind, counted for the session summary."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.counts: dict[tuple[str, str, str], int] = {}

    def note(self, where: str, pointer: str, kind: str, example: str) -> None:
        key = (where, pointer, kind)
        count = self.counts.get(key, 0)
        self.counts[key] = count + 1
        if not count:
            conversion = "null" if kind == NAN else "U+FFFD"
            self.log.warning(
                "%s: the field %s held %s, which JSON cannot carry; emitted as %s "
                "(warned once per stream and field; counted in the session summary)",
                where,
                pointer or "(the document)",
                example,
                conversion,
            )

    def summary(self) -> None:
        """One warning listing every conversion of the session, with counts."""
        if not self.counts:
            return
        total = sum(self.counts.values())
        parts = [f"{w} {p or '/'}: {n} {k}" for (w, p, k), n in sorted(self.counts.items())]
        self.log.warning(
            "%d value(s) were converted this session (NaN → null, lone surrogates and invalid "
            "UTF-8 → U+FFFD): %s",
            total,
            "; ".join(parts),
            extra={"conversions": total},
        )


class _Walk:
    """`normalize`'s state: where the document came from and where the walk is."""

    def __init__(self, where: str, conversions: Conversions | None) -> None:
        self.where = where
        self.conversions = conversions

    def note(self, pointer: str, kind: str, example: str) -> None:
        """A documented conversion; without `conversions` (state, responses) a failure."""
        if self.conversions is None:
            raise _rejected(self.where, pointer, f"holds {example}, which JSON cannot carry")
        self.conversions.note(self.where, pointer, kind, example)

    def text(self, value: str, pointer: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            fixed = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            fixed = "".join(_REPLACEMENT if 0xD800 <= ord(c) <= 0xDFFF else c for c in fixed)
            self.note(pointer, SURROGATE, "a lone surrogate or invalid UTF-8")
            return fixed
        return value

    def number(self, value: Any, pointer: str) -> Any:
        """A float or Decimal under the rule."""
        if isinstance(value, decimal.Decimal):
            if value.is_nan():
                self.note(pointer, NAN, "NaN")
                return None
            fragment = _decimal(value)
            if fragment is not None:
                return fragment
            if value.is_finite() and abs(value) <= _DOUBLE_MAX:
                raise self.big_int(value, pointer)
            raise _rejected(
                self.where,
                pointer,
                f"holds {_short(value)}, a number JSON documents cannot carry "
                "(beyond a double's range)",
            )
        f = float(value)
        if math.isnan(f):
            self.note(pointer, NAN, "NaN")
            return None
        if math.isinf(f):
            raise _rejected(
                self.where,
                pointer,
                f"holds {'-' if f < 0 else ''}Infinity, which JSON documents cannot carry",
            )
        return f

    def big_int(self, value: Any, pointer: str) -> ValueRejected:
        return _rejected(
            self.where,
            pointer,
            f"holds the integer {_short(value)}, outside the 64-bit range Flow's documents "
            "carry exactly [-2^63, 2^64-1] (have the source emit it as text or a decimal)",
        )

    def key(self, key: Any, pointer: str) -> str:
        if type(key) is str:
            return self.text(key, pointer)
        if isinstance(key, enum.Enum):
            key = key.value
        if isinstance(key, bool):
            return "true" if key else "false"
        if key is None:
            return "null"
        if isinstance(key, (int, float, decimal.Decimal, uuid.UUID)):
            return str(key)
        if isinstance(key, (datetime.date, datetime.time)):
            return key.isoformat()
        if isinstance(key, str):
            return self.text(str(key), pointer)
        raise _rejected(
            self.where,
            pointer,
            f"is an object with a key of type {type(key).__name__}, which JSON cannot carry",
        )

    def value(self, value: Any, pointer: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _rejected(
                self.where,
                pointer[:200] + ("…" if len(pointer) > 200 else ""),
                f"nests deeper than {MAX_DEPTH} levels, the most a JSON document may",
            )
        kind = type(value)
        if value is None or kind is bool:
            return value
        if kind is NumberLiteral:
            fragment = _literal(value)
            if fragment is None:
                raise _rejected(
                    self.where,
                    pointer,
                    f"holds {value}, a number JSON documents cannot carry (beyond a double's range)",
                )
            return fragment
        if kind is str:
            return self.text(value, pointer)
        if kind is int:
            if not INT_MIN <= value <= INT_MAX:
                raise self.big_int(value, pointer)
            return value
        if kind is float or isinstance(value, decimal.Decimal):
            return self.number(value, pointer)
        if isinstance(value, Mapping):
            return self.mapping(value, pointer, depth)
        if isinstance(value, (list, tuple, set, frozenset)):
            items = _sorted(value) if isinstance(value, (set, frozenset)) else value
            return [self.value(v, f"{pointer}/{i}", depth + 1) for i, v in enumerate(items)]
        return self.python_value(value, pointer, depth)

    def mapping(self, value: Mapping[Any, Any], pointer: str, depth: int) -> dict[str, Any]:
        """An object: its keys as JSON strings (two that read the same are refused)."""
        out: dict[str, Any] = {}
        for k, v in value.items():
            name = self.key(k, pointer)
            child = f"{pointer}/{json_pointer.escape(name)}"
            if name in out:
                raise _rejected(
                    self.where,
                    child,
                    "appears twice in one object (keys of different types that read "
                    f"the same, such as 1 and '1': {_short(k)})",
                )
            out[name] = self.value(v, child, depth + 1)
        return out

    def python_value(self, value: Any, pointer: str, depth: int) -> Any:
        """A value of no JSON type: subclasses, enums, dates, numpy's, or what `default`
        converts; anything else is refused by its type."""
        kind = type(value)
        if isinstance(value, (str, int)):  # str / int subclasses, numpy's included
            return self.value(str(value) if isinstance(value, str) else int(value), pointer, depth)
        if isinstance(value, float):  # float subclasses: numpy float64
            return self.number(value, pointer)
        if isinstance(value, enum.Enum):
            return self.value(value.value, pointer, depth)
        if kind in _NATIVE or (kind is datetime.time and value.tzinfo is None):
            return orjson.loads(orjson.dumps(value))  # exactly as the fast path writes it
        if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
            if getattr(getattr(value, "dtype", None), "kind", "") in ("M", "m"):
                return orjson.loads(orjson.dumps(value, option=OPTIONS))
            return self.value(value.tolist(), pointer, depth)
        try:
            plain = default(value)
        except TypeError:
            pass
        else:
            return plain if isinstance(plain, _Fragment) else self.value(plain, pointer, depth)
        raise _rejected(
            self.where,
            pointer,
            f"holds a value of Python type {type(value).__module__}.{type(value).__qualname__}, "
            "which has no JSON form",
        )


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (int, decimal.Decimal)) else str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def normalize(doc: Any, where: str, conversions: Conversions | None) -> Any:
    """`doc` made of values orjson writes exactly (and `orjson.Fragment`s), per the rule."""
    return _Walk(where, conversions).value(doc, "", 0)


def encode(doc: Any, where: str, conversions: Conversions | None) -> bytes:
    """Compact JSON of `doc` under the rule (the slow path of `Emitter.captured`)."""
    return orjson.dumps(normalize(doc, where, conversions), option=OPTIONS)


# ---- subprocess lines ----


class LineRejected(ConnectorError):
    """A stdout line that looks like a protocol message but cannot be one."""


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


_CONSTANTS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def parse_lenient(line: bytes) -> Any:
    """A JSON line decoded exactly into Python values: integers of any size, numbers with a
    fraction or exponent as `NumberLiteral` (their text kept), `NaN`/`Infinity` as floats, lone
    surrogates and invalid UTF-8 as surrogate code points (`normalize` replaces them).
    Raises `_DuplicateKey` or `ValueError`."""
    import json  # the slow path only: the stdlib decoder keeps what orjson cannot

    text = line.decode("utf-8", "surrogateescape")
    return json.loads(
        text,
        object_pairs_hook=_no_duplicates,
        parse_float=NumberLiteral,
        parse_constant=_CONSTANTS.__getitem__,
    )


def looks_like_message(line: bytes) -> bool:
    """Whether a line that failed to parse was meant as a protocol message."""
    head = line.lstrip()[:40]
    return head.startswith(b"{") and b'"type"' in head.replace(b" ", b"")


def _quote(line: bytes) -> str:
    text = line.decode("utf-8", "replace").rstrip()
    return text if len(text) <= 300 else text[:300] + "…"


def decode_line(line: bytes, whose: str, reading: Callable[[], str]) -> Any | None:
    """One stdout line of a child connector as a message dict, or None when it is a log
    line. Exact JSON takes orjson; anything orjson would read differently from what the
    child wrote (big integers, NaN, lone surrogates, invalid UTF-8, duplicate keys, number
    digits a double cannot hold) takes `parse_lenient`. `whose` names the child and
    `reading()` says what it was reading, for the error."""
    body = line[:-1] if line.endswith(b"\n") else line
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError:
        msg = None
    else:
        if type(msg) is not dict:
            return None
        if orjson.dumps(msg) == body:
            return msg
    try:
        msg = parse_lenient(body)
    except _DuplicateKey as dup:
        raise LineRejected(
            f"{whose} wrote a message with the key {dup.key!r} twice in one object "
            f"({reading()}): {_quote(line)}"
        ) from None
    except ValueError:
        if looks_like_message(body):
            raise LineRejected(
                f"{whose} wrote a line that looks like a protocol message but is not JSON "
                f"({reading()}): {_quote(line)}"
            ) from None
        return None
    return msg if type(msg) is dict else None
