"""Base models and codec rules shared by every Flow protocol message.

Requests are parsed leniently (unknown keys and `$internal` ignored), responses are
serialized exactly (camelCase, raw embedded JSON, no nulls, no default values, 64-bit
integers as strings) and can be parsed strictly, which is what the local runtime does.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, PlainSerializer, ValidationError, model_validator

from flow_sdk.errors import ProtocolError  # re-exported: defined without pydantic

PROTOCOL = 3032023
"""The protocol number every Spec response carries (`flow-protocol.md` §1.4)."""

Int64 = Annotated[int, PlainSerializer(str, return_type=str, when_used="json")]
"""A 64-bit protobuf integer: a JSON string on output, a number or string on input."""

M = TypeVar("M", bound="WireModel")


class WireModel(BaseModel):
    """A protocol message. Field names are spelled as on the wire."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The message as Flow's JSON codec writes it: no nulls and no default values."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude_none=True)

    # flow-sdk 0.1.x passed requests as TypedDicts; connectors written for it index them.
    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None) if key in type(self).model_fields else None
        return default if value is None else value

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None


class ResponseModel(WireModel):
    """A message a connector writes. Strict parsing (the local runtime's) forbids extra keys
    and nulls in protocol fields; raw embedded JSON may of course contain nulls."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None:
                    raise ValueError(f"field {key!r} is null; omit it instead")
        return data


class Envelope(WireModel):
    """A message with exactly one variant key, such as `{"open": {...}}`."""

    variants: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _one_variant(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"a message must be a JSON object, not {type(data).__name__}")
        present = [k for k in cls.variants if k in data]
        if not present:
            keys = ", ".join(repr(k) for k in data if k != "$internal") or "none"
            raise ValueError(
                f"no known message variant (keys: {keys}; expected one of: {', '.join(cls.variants)})"
            )
        if len(present) > 1:
            raise ValueError(f"more than one message variant: {', '.join(present)}")
        if data[present[0]] is None:
            raise ValueError(
                f"the `{present[0]}` message is null; send an object (`{{}}` if empty)"
            )
        return data

    @property
    def variant(self) -> str:
        """The wire name of the variant this message carries."""
        for name in self.variants:
            if self.payload_of(name) is not None:
                return name
        raise AssertionError("validated envelope without a variant")

    @property
    def payload(self) -> Any:
        """The variant's message."""
        return self.payload_of(self.variant)

    def payload_of(self, wire_name: str) -> Any:
        """The message of variant `wire_name` (a Python keyword-safe alias is resolved)."""
        return getattr(self, _field_name(type(self), wire_name))

    def __getitem__(self, key: str) -> Any:
        if key not in self.variants:
            raise KeyError(key)
        return self.payload_of(key)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.payload_of(key) if key in self.variants else None
        return default if value is None else value


class StrictEnvelope(Envelope):
    """A response envelope: unknown keys are protocol errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _field_name(model: type[BaseModel], wire_name: str) -> str:
    for name, info in model.model_fields.items():
        if (info.alias or name) == wire_name:
            return name
    raise KeyError(wire_name)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ProtocolError(f"duplicate key {key!r} in a message")
        out[key] = value
    return out


def decode_line(line: bytes | str, *, check_duplicates: bool = False) -> Any:
    """Parse one JSON line. Duplicate-key checking is slower and used by the strict runtime."""
    try:
        if check_duplicates:
            text = line.decode() if isinstance(line, bytes) else line
            return json.loads(text, object_pairs_hook=_reject_duplicates)
        return orjson.loads(line)
    except ProtocolError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"message is not valid JSON ({exc}): {_quote(line)}") from None


def parse_message(model: type[M], line: bytes | str, *, strict: bool = False) -> M:
    """Parse one line into `model`, raising ProtocolError with a readable sentence."""
    data = decode_line(line, check_duplicates=strict)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"{describe_validation_error(exc)}: {_quote(line)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """One sentence out of pydantic's error list: where, and what is wrong."""
    parts = []
    for err in exc.errors()[:3]:
        where = "/".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{where}: {msg}" if where else msg)
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _quote(line: bytes | str, limit: int = 300) -> str:
    text = line.decode(errors="replace") if isinstance(line, bytes) else line
    text = text.rstrip("\n")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def encode(message: WireModel) -> bytes:
    """One message as a JSON line."""
    return orjson.dumps(message.to_wire(), option=orjson.OPT_APPEND_NEWLINE)
