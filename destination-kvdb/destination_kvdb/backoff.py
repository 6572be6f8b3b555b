"""How long to wait before retrying a KvDB request: what the server's rate-limit headers say
(`Retry-After`, `X-Ratelimit-Reset`), else exponential backoff with jitter."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

EPOCH_THRESHOLD = 1_000_000_000
"""A reset value above this is a Unix time; below, a number of seconds from now."""


@dataclass(frozen=True)
class Backoff:
    attempts: int = 8
    """Tries per request, the first included."""
    base: float = 0.5
    """First exponential wait, doubled at each retry."""
    cap: float = 60.0
    """Longest exponential wait."""
    max_wait: float = 900.0
    """Longest wait a server may ask for; a longer one fails the request with its reason."""

    def exponential(self, retry: int) -> float:
        """The wait before retry number `retry` (1-based) when the server says nothing."""
        wait = min(self.cap, self.base * 2 ** (retry - 1))
        return wait * (0.5 + random.random() / 2)


def server_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks to wait, from `Retry-After` (seconds or an HTTP date) or, when
    no requests remain, `X-Ratelimit-Reset`; None if it says nothing usable."""
    now = time.time() if now is None else now
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - now)
    return reset_wait(headers, now)


def reset_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until the rate limit resets, when the headers say none remain."""
    remaining, reset = headers.get("X-Ratelimit-Remaining"), headers.get("X-Ratelimit-Reset")
    if remaining is None or reset is None:
        return None
    try:
        if int(float(remaining)) > 0:
            return None
        value = float(reset)
    except ValueError:
        return None
    now = time.time() if now is None else now
    return max(0.0, value - now if value > EPOCH_THRESHOLD else value)
