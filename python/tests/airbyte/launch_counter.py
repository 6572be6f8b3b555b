"""`python launch_counter.py LOG -- <command ...>`: appends one line with the command's
arguments to LOG, then becomes the command. Counts how often a shim launches the connector
it wraps, and with which verb (spec, check, discover, read, write).

Tests import `counted` (a command wrapped so) and `launched` (the verbs LOG holds)."""

import os
import sys
from collections.abc import Sequence
from pathlib import Path

VERBS = ("spec", "check", "discover", "read", "write")


def counted(log: Path, *command: str) -> list[str]:
    """`command`, each launch of it logged to `log`."""
    return [sys.executable, str(Path(__file__).resolve()), str(log), "--", *command]


def launched(log: Path, verbs: Sequence[str] = VERBS) -> list[str]:
    """The verb of each launch logged to `log`, in order (none when nothing was launched)."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [next(v for v in verbs if v in line.split()) for line in lines]


if __name__ == "__main__":
    split = sys.argv.index("--")
    log, command = sys.argv[1], sys.argv[split + 1 :]
    with open(log, "a") as out:
        out.write(" ".join(command[1:]) + "\n")
    os.execv(command[0], command)
