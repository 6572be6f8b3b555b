"""Progress of a long preview on stderr (documents per collection, rate) and its summary.

The bar is shown only when stderr is a terminal (or when asked); connector logs printed
meanwhile go above it through the console's sink."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from flow_sdk.runtime.console import Console
from flow_sdk.runtime.durations import format_duration


class Progress:
    """Counts committed documents and transactions; draws a tqdm bar when enabled."""

    def __init__(self, console: Console, enabled: bool | None = None) -> None:
        self.console = console
        self.started = time.monotonic()
        self.documents: Counter[str] = Counter()
        self.transactions = 0
        self.sessions = 0
        self._bar: Any = None
        if enabled is None:
            enabled = console.wants_bars()
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                desc="preview", unit=" docs", file=console.stream, dynamic_ncols=True, leave=False
            )
            console.sink = lambda text: self._bar.write(text, file=console.stream)

    def committed(self, counts: Counter[str]) -> None:
        """One transaction's documents were committed (printed): `counts` per collection."""
        self.transactions += 1
        self.documents.update(counts)
        if self._bar is not None:
            self._bar.update(sum(counts.values()))
            self._bar.set_postfix_str(self._per_collection(short=True), refresh=False)

    def close(self) -> str:
        """Remove the bar and return the summary line."""
        if self._bar is not None:
            self._bar.close()
            self.console.sink = None
        elapsed = time.monotonic() - self.started
        total = sum(self.documents.values())
        rate = total / elapsed if elapsed > 0 else 0.0
        summary = (
            f"preview: {total} document(s) in {self.transactions} transaction(s) over "
            f"{self.sessions} session(s) in {format_duration(elapsed)} ({rate:,.0f} docs/s)"
        )
        if self.documents:
            summary += "; " + self._per_collection(short=False)
        return summary

    def _per_collection(self, short: bool) -> str:
        items = sorted(self.documents.items())
        return ", ".join(f"{name.rsplit('/', 1)[-1] if short else name}: {n}" for name, n in items)
