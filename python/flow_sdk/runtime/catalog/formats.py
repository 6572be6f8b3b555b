"""JSON Schema `format`s as Flow's validator checks them (`json::schema::formats`).

Flow validates formats on every document, also under draft 2020-12 where they are only
annotations elsewhere: a naive `2024-01-02T03:04:05` is not a `date-time`. jsonschema-rs's
own checks agree with Flow's for the standard formats except `ipv4` and `duration`; those,
and Flow's own (`integer`, `number`, `sha256`, `macaddr`, ...), are checked here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import FormatChecker

_DURATION = re.compile(
    r"P(?:\d+W|(?:(?:\d+Y(?:\d+M)?(?:\d+D)?|\d+M(?:\d+D)?|\d+D)"
    r"(?:T(?:\d+H(?:\d+M)?(?:\d+S)?|\d+M(?:\d+S)?|\d+S))?)"
    r"|T(?:\d+H(?:\d+M)?(?:\d+S)?|\d+M(?:\d+S)?|\d+S))"
)
_MACADDR = re.compile(r"([0-9A-Fa-f]{2}[:-]?){5}[0-9A-Fa-f]{2}")
_MACADDR8 = re.compile(r"([0-9A-Fa-f]{2}[:-]?){7}[0-9A-Fa-f]{2}")
_SHA256 = re.compile(r"sha256:[0-9A-Fa-f]{64}")


def _decimal(value: str) -> Decimal | None:
    if "_" in value or value != value.strip():
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _integer(value: str) -> bool:
    number = _decimal(value)
    return number is not None and number == number.to_integral_value()


def _number(value: str) -> bool:
    return _decimal(value) is not None or value in ("NaN", "Infinity", "-Infinity")


def _ipv4(value: str) -> bool:
    if value.startswith("0"):
        return False
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _never(_: str) -> bool:
    return False  # Flow parses idn-hostname and idn-email but never accepts a value


FLOW_CHECKS: dict[str, Callable[[str], bool]] = {
    "ipv4": _ipv4,
    "duration": lambda v: _DURATION.fullmatch(v) is not None,
    "macaddr": lambda v: _MACADDR.fullmatch(v) is not None,
    "macaddr8": lambda v: _MACADDR8.fullmatch(v) is not None,
    "sha256": lambda v: _SHA256.fullmatch(v) is not None,
    "integer": _integer,
    "uint32": _integer,
    "uint64": _integer,
    "number": _number,
    "idn-hostname": _never,
    "idn-email": _never,
}
"""Formats Flow checks differently from (or beyond) jsonschema-rs."""
STANDARD = (
    "date",
    "date-time",
    "time",
    "email",
    "hostname",
    "ipv6",
    "uuid",
    "iri",
    "uri",
    "uri-reference",
    "iri-reference",
    "uri-template",
    "json-pointer",
    "regex",
    "relative-json-pointer",
)
"""Formats jsonschema-rs checks as Flow does."""
ALIASES = {"datetime": "date-time"}
KNOWN = frozenset(STANDARD) | frozenset(FLOW_CHECKS) | frozenset(ALIASES)
"""Every `format` Flow's schema builder accepts; any other fails the schema."""


def rs_formats() -> dict[str, Callable[[str], bool]]:
    """The `formats=` of a jsonschema-rs validator (with `validate_formats=True`)."""
    out = dict(FLOW_CHECKS)
    for alias, name in ALIASES.items():
        out[alias] = _standard(name)
    return out


@cache
def _single(name: str) -> Any:
    return jsonschema_rs.validator_for(
        {"format": name}, validate_formats=True, formats=rs_formats()
    )


def _standard(name: str) -> Callable[[str], bool]:
    return lambda value: _single(name).is_valid(value)


def check(name: str, value: str) -> bool:
    """Whether `value` has format `name`, as Flow decides (unknown formats pass here; the
    catalog rules reject them before any document is validated)."""
    if name in FLOW_CHECKS:
        return FLOW_CHECKS[name](value)
    if name in STANDARD or name in ALIASES:
        return _single(ALIASES.get(name, name)).is_valid(value)
    return True


def format_checker() -> FormatChecker:
    """A `jsonschema` FormatChecker that agrees with the jsonschema-rs validators, so the
    error of an invalid document is worded for the format that made it invalid."""
    checker = FormatChecker(formats=())
    for name in KNOWN:
        checker.checks(name)(
            lambda value, name=name: not isinstance(value, str) or check(name, value)
        )
    return checker
