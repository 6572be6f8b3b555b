"""The suite-wide secret scan: every connector run of the reliability suite uses `CANARY` as
the value of a secret config field (`api_key`, `airbyte_secret: true`), records everything
the run printed here, and the session fixture in conftest.py fails the suite if the canary
shows up anywhere."""

from __future__ import annotations

CANARY = "canary-7f3e9a1c-s3cr3t"
_outputs: list[tuple[str, str]] = []


def record(where: str, *texts: str | bytes | None) -> None:
    """Keep what a run printed (stdout, stderr, the runtime's messages) for the final scan."""
    for text in texts:
        if text:
            decoded = text.decode(errors="replace") if isinstance(text, bytes) else text
            _outputs.append((where, decoded))


def leaks() -> list[str]:
    """Where the canary was printed, with the line it was in."""
    found = []
    for where, text in _outputs:
        for line in text.splitlines():
            if CANARY in line:
                found.append(f"{where}: {line[:300]}")
    return found


def scanned() -> int:
    return len(_outputs)
