"""Values the runtime must never print: every line it writes passes through `mask`.

The registry is process-wide: `Console` lines (the runtime's own and its connectors'
rendered logs) and the CLI's final error line are all masked, whichever task resolved the
value. `run --follow`'s materializations process resolves its own tasks' values, so it masks
its lines and its failure before they reach the run (`runtime.following`). A value is masked
as written, JSON-escaped and `repr`-escaped, since log fields are rendered in those forms.
"""

from __future__ import annotations

import threading

import orjson

MASK = "***"
MIN_LENGTH = 4
"""Shorter values would mask ordinary text (digits, words) all over the log: they are not
registered, and `register` says so."""

_lock = threading.Lock()
_values: set[str] = set()


def register(value: str) -> bool:
    """Mask `value` from now on; False when it is too short to mask."""
    if len(value) < MIN_LENGTH:
        return False
    forms = {value, orjson.dumps(value).decode()[1:-1], repr(value)[1:-1]}
    with _lock:
        _values.update(form for form in forms if len(form) >= MIN_LENGTH)
    return True


def mask(text: str) -> str:
    """`text` with every registered value replaced by `***` (longest first, so a value that
    contains another is masked whole)."""
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def clear() -> None:
    """Forget every value (tests that run several catalogs in one process)."""
    with _lock:
        _values.clear()
