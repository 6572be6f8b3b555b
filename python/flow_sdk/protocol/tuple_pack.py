"""FoundationDB tuple encoding of materialization keys and values (`keyPacked`, `valuesPacked`).

Flow packs a JSON tuple element by element (`crates/doc/src/tuple_pack.rs`): null, booleans,
integers, doubles and strings use the tuple layer's own codes; arrays and objects become a
byte string holding their compact JSON text. `unpack_json` reverses that for connectors,
`pack_json` is what the local runtime sends. `unpack` keeps byte strings as `bytes`.
"""

from __future__ import annotations

import base64
import math
import struct
import uuid
from collections.abc import Iterable
from typing import Any

import orjson

NULL = 0x00
BYTES = 0x01
STRING = 0x02
NESTED = 0x05
INT_ZERO = 0x14
NEG_INT_ARBITRARY = 0x0B
POS_INT_ARBITRARY = 0x1D
FLOAT = 0x20
DOUBLE = 0x21
FALSE = 0x26
TRUE = 0x27
UUID = 0x30

_ESCAPED_NUL = b"\x00\xff"
_DOUBLE = struct.Struct(">d")
_FLOAT = struct.Struct(">f")


class TupleError(ValueError):
    """Bytes that are not a valid tuple encoding."""


# ---- pack ----


def pack(values: Iterable[Any]) -> bytes:
    """Pack a tuple of None, bool, int, float, str, bytes, uuid.UUID or nested tuples/lists.

    A list or tuple is packed as a *nested tuple* (code 0x05), as the tuple layer does; use
    `pack_json` for Flow's JSON convention, where arrays are JSON text."""
    if type(values) is list and len(values) == 1 and type(values[0]) is int:
        value = values[0]  # the common key, one integer id: packed without the loop
        if 0 < value < _TWO_TO_64:
            length = (value.bit_length() + 7) >> 3
            return _INT_CODES[length] + value.to_bytes(length, "big")
    out = bytearray()
    for value in values:
        _pack_one(out, value, nested=False)
    return bytes(out)


_TWO_TO_64 = 1 << 64
_INT_CODES = [bytes([INT_ZERO + length]) for length in range(9)]
"""The code byte of a positive integer of each length (up to 8 bytes)."""


def pack_json(values: Iterable[Any]) -> bytes:
    """Pack JSON values the way Flow does: arrays and objects as byte strings of JSON text."""
    out = bytearray()
    for value in values:
        if isinstance(value, (dict, list, tuple)):
            _pack_bytes(out, BYTES, orjson.dumps(value))
        else:
            _pack_one(out, value, nested=False)
    return bytes(out)


def _pack_one(out: bytearray, value: Any, *, nested: bool) -> None:
    kind = type(value)
    if kind is int:  # the common key components first (a bool is not one: its own code)
        _pack_int(out, value)
    elif kind is str:
        _pack_bytes(out, STRING, value.encode())
    elif value is None:
        out += _ESCAPED_NUL if nested else b"\x00"
    elif value is True:
        out.append(TRUE)
    elif value is False:
        out.append(FALSE)
    elif isinstance(value, int):
        _pack_int(out, value)
    elif isinstance(value, float):
        out.append(DOUBLE)
        out += _flip_float(_DOUBLE.pack(value), encode=True)
    elif isinstance(value, str):
        _pack_bytes(out, STRING, value.encode())
    elif isinstance(value, (bytes, bytearray, memoryview)):
        _pack_bytes(out, BYTES, bytes(value))
    elif isinstance(value, uuid.UUID):
        out.append(UUID)
        out += value.bytes
    elif isinstance(value, (list, tuple)):
        out.append(NESTED)
        for item in value:
            _pack_one(out, item, nested=True)
        out.append(0x00)
    else:
        raise TypeError(f"cannot pack a {type(value).__name__} into a tuple")


def _pack_bytes(out: bytearray, code: int, data: bytes) -> None:
    out.append(code)
    out += data.replace(b"\x00", _ESCAPED_NUL)
    out.append(0x00)


def _pack_int(out: bytearray, value: int) -> None:
    if value == 0:
        out.append(INT_ZERO)
        return
    magnitude = abs(value)
    length = (magnitude.bit_length() + 7) // 8
    if length > 8:
        if length > 255:
            raise ValueError("integers longer than 255 bytes cannot be packed")
        if value > 0:
            out.append(POS_INT_ARBITRARY)
            out.append(length)
            out += magnitude.to_bytes(length, "big")
        else:
            out.append(NEG_INT_ARBITRARY)
            out.append(length ^ 0xFF)
            out += (magnitude ^ ((1 << (8 * length)) - 1)).to_bytes(length, "big")
        return
    if value > 0:
        out.append(INT_ZERO + length)
        out += magnitude.to_bytes(length, "big")
    else:
        out.append(INT_ZERO - length)
        out += (magnitude ^ ((1 << (8 * length)) - 1)).to_bytes(length, "big")


def _flip_float(raw: bytes, *, encode: bool) -> bytes:
    """Order-preserving float bytes: flip every bit of negatives, only the sign of the rest."""
    negative = (raw[0] & 0x80) != 0 if encode else (raw[0] & 0x80) == 0
    if negative:
        return bytes(b ^ 0xFF for b in raw)
    return bytes([raw[0] ^ 0x80]) + raw[1:]


# ---- unpack ----


def unpack(data: bytes) -> list[Any]:
    """Decode a packed tuple into Python values (byte strings stay `bytes`)."""
    data = bytes(data)
    values, pos = _unpack_items(data, 0, nested=False)
    if pos != len(data):
        raise TupleError(f"trailing bytes at offset {pos} of a packed tuple")
    return values


def unpack_json(data: bytes) -> list[Any]:
    """Decode a tuple Flow packed from JSON: byte strings holding JSON arrays or objects are
    parsed back, other byte strings become base64 text (JSON has no bytes)."""
    return [_json_value(v) for v in unpack(data)]


def unpack_b64(text: str) -> list[Any]:
    """`unpack_json` of a base64 `keyPacked` / `valuesPacked` field."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise TupleError(f"packed tuple is not valid base64: {exc}") from None
    return unpack_json(raw)


def pack_b64(values: Iterable[Any]) -> str:
    """`pack_json` as base64 text, the wire form of `keyPacked` / `valuesPacked`."""
    return base64.b64encode(pack_json(values)).decode()


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        if value[:1] in (b"{", b"["):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _unpack_items(view: bytes, pos: int, *, nested: bool) -> tuple[list[Any], int]:
    out: list[Any] = []
    end = len(view)
    while pos < end:
        code = view[pos]
        if nested and code == 0x00:
            if pos + 1 < end and view[pos + 1] == 0xFF:
                out.append(None)
                pos += 2
                continue
            return out, pos + 1
        value, pos = _unpack_one(view, pos)
        out.append(value)
    if nested:
        raise TupleError("a nested tuple is not terminated")
    return out, pos


def _unpack_one(view: bytes, pos: int) -> tuple[Any, int]:
    code = view[pos]
    pos += 1
    if code == NULL:
        return None, pos
    if code in (BYTES, STRING):
        data, pos = _read_escaped(view, pos)
        if code == BYTES:
            return data, pos
        try:
            return data.decode(), pos
        except UnicodeDecodeError:
            raise TupleError(f"tuple string at offset {pos} is not UTF-8") from None
    if NEG_INT_ARBITRARY < code < POS_INT_ARBITRARY:
        length = code - INT_ZERO
        if length >= 0:
            return int.from_bytes(_take(view, pos, length), "big"), pos + length
        length = -length
        raw = int.from_bytes(_take(view, pos, length), "big")
        return raw - ((1 << (8 * length)) - 1), pos + length
    if code == POS_INT_ARBITRARY:
        length = _take(view, pos, 1)[0]
        return int.from_bytes(_take(view, pos + 1, length), "big"), pos + 1 + length
    if code == NEG_INT_ARBITRARY:
        length = _take(view, pos, 1)[0] ^ 0xFF
        raw = int.from_bytes(_take(view, pos + 1, length), "big")
        return raw - ((1 << (8 * length)) - 1), pos + 1 + length
    if code == DOUBLE:
        raw = _flip_float(_take(view, pos, 8), encode=False)
        return _DOUBLE.unpack(raw)[0], pos + 8
    if code == FLOAT:
        raw = _flip_float(_take(view, pos, 4), encode=False)
        return _FLOAT.unpack(raw)[0], pos + 4
    if code == FALSE:
        return False, pos
    if code == TRUE:
        return True, pos
    if code == UUID:
        return uuid.UUID(bytes=_take(view, pos, 16)), pos + 16
    if code == NESTED:
        return _unpack_items(view, pos, nested=True)
    raise TupleError(f"unknown tuple type code 0x{code:02X} at offset {pos - 1}")


def _take(view: bytes, pos: int, length: int) -> bytes:
    if pos + length > len(view):
        raise TupleError(f"packed tuple ends inside an element at offset {pos}")
    return view[pos : pos + length]


def _read_escaped(view: bytes, pos: int) -> tuple[bytes, int]:
    raw = view
    out = bytearray()
    while True:
        nul = raw.find(b"\x00", pos)
        if nul < 0:
            raise TupleError("a tuple string or byte string is not terminated")
        out += raw[pos:nul]
        if nul + 1 < len(raw) and raw[nul + 1] == 0xFF:
            out.append(0x00)
            pos = nul + 2
            continue
        return bytes(out), nul + 1
