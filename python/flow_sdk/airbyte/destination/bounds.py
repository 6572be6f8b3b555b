"""How long one `write()` of an Airbyte destination may live, and the timer that ends it.

Airbyte's platform runs one `write()` per sync, and destinations finalize at its end: bulk-load
destinations merge a dedup stream's temp table into the real table, or swap an overwrite's
temp table in, only after STREAM_STATUS COMPLETE and the end of input. A `write()` that spans
hours of Flow transactions therefore hides rows that Flow was told are committed. The shim
ends a `write()` (COMPLETE for every stream, then end of input) at a transaction boundary
once it has served `transactions` transactions or been open `seconds` — at a commit, or from
a timer while the runtime has no transaction in flight. A write that overwrites backfilled
streams is the exception: it spans the backfill and ends when the session ends or when the
runtime has sent nothing for `seconds` after a commit (the backfill has caught up).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

WRITE_TRANSACTIONS = 100
"""Transactions one `write()` serves at most (`--write-transactions`)."""
WRITE_SECONDS = 300.0
"""Seconds one `write()` stays open at most, between transactions (`--write-seconds`)."""


@dataclass(frozen=True)
class WriteBounds:
    """The limits of one `write()`; both must be positive."""

    transactions: int = WRITE_TRANSACTIONS
    seconds: float = WRITE_SECONDS

    def __post_init__(self) -> None:
        if self.transactions < 1:
            raise ValueError("a write() must be allowed at least one transaction")
        if not self.seconds > 0:
            raise ValueError("a write() must be allowed a positive number of seconds")

    def due(self, transactions: int, age: float) -> bool:
        """Whether a (non-backfill) write that served `transactions` in `age` seconds ends."""
        return transactions >= self.transactions or age >= self.seconds


class WriteTimer:
    """Calls `expire` on a daemon thread `delay` seconds after `arm`, unless disarmed first.
    The callee takes the shim's lock and decides whether the write may still end."""

    def __init__(self, expire: Callable[[], None]) -> None:
        self._expire = expire
        self._timer: threading.Timer | None = None

    def arm(self, delay: float) -> None:
        self.cancel()
        timer = threading.Timer(max(0.0, delay), self._expire)
        timer.name = "airbyte destination write() deadline"
        timer.daemon = True
        self._timer = timer
        timer.start()

    def cancel(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
