"""Failures of the local runtime, each a sentence for the person at the terminal.

The CLI prints the message of a `RuntimeFailure` as one line and exits non-zero; anything
else is a bug in flow-sdk and keeps its traceback.
"""

from __future__ import annotations


class RuntimeFailure(Exception):
    """A failure whose message is a complete sentence for the user."""


class CatalogError(RuntimeFailure):
    """The catalog (or a file it references) is missing, malformed or names unknown things."""


class ConnectorFailed(RuntimeFailure):
    """The connector process failed: it could not start, exited non-zero, or timed out."""


class ProtocolViolation(RuntimeFailure):
    """The connector broke a rule of the protocol that Flow's runtime enforces.

    `rule` is a short stable name (e.g. `opened-first`), `line` the offending message."""

    def __init__(self, rule: str, detail: str, line: bytes | str | None = None) -> None:
        self.rule = rule
        self.detail = detail
        self.line = line
        text = f"protocol violation [{rule}]: {detail}"
        if line is not None:
            text += f"; offending line: {quote_line(line)}"
        super().__init__(text)


def quote_line(line: bytes | str, limit: int = 300) -> str:
    """A message line as it can be shown in an error: decoded, stripped, shortened."""
    text = line.decode(errors="replace") if isinstance(line, bytes) else line
    text = text.rstrip("\n")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
