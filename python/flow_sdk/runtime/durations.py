"""Human-friendly durations as the catalog and flowctl spell them (`5m`, `10s`, `1h30m`)."""

from __future__ import annotations

import re

from flow_sdk.runtime.errors import RuntimeFailure

_UNITS = {
    "ns": 1e-9,
    "nsec": 1e-9,
    "us": 1e-6,
    "usec": 1e-6,
    "ms": 1e-3,
    "msec": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 604800.0,
    "week": 604800.0,
    "weeks": 604800.0,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds in `text`, a sequence of number-unit pairs (`1h30m`, `1h 30m`, `500ms`).

    Raises ValueError with a sentence when `text` is not such a duration."""
    rest = text.strip()
    if not rest:
        raise ValueError("an empty duration; write one like 5m, 10s or 1h30m")
    total = 0.0
    while rest:
        match = _PART.match(rest)
        unit = match.group(2).lower() if match else ""
        if not match or unit not in _UNITS:
            raise ValueError(f"{text!r} is not a duration; write one like 5m, 10s or 1h30m")
        total += float(match.group(1)) * _UNITS[unit]
        rest = rest[match.end() :].lstrip()
    return total


def format_duration(seconds: float) -> str:
    """A short human rendering (`250ms`, `2.5s`, `1h30m5s`) for logs and summaries."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}".removesuffix(".0") + "s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return out + (f"{secs}s" if secs else "")


def flag_duration(flag: str, value: str | None) -> float | None:
    """A command-line duration flag's seconds (None when not given); a bad value is a
    RuntimeFailure naming the flag."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise RuntimeFailure(f"{flag}: {exc}") from None
