"""The stdio transport of a connector process.

Requests arrive as JSON lines on stdin (a line may be tens of MB), read through a private
duplicate of fd 0 (`protect_stdin`). Responses leave through
`ProtocolWriter`, the only owner of a private duplicate of fd 1: `protect_stdout` points
fd 1 and `sys.stdout` at stderr for the rest of the process, so a stray `print` (or a C
library, or a child process) writes a log line instead of corrupting the protocol stream.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

FLUSH_BYTES = 1 << 20
"""Flush the output buffer once it holds this much, even between checkpoints."""


class ProtocolWriter:
    """A buffered writer of protocol bytes on a private handle to the original stdout.

    Writes are appended to a buffer; `flush()` writes it out. Callers flush at checkpoints
    and whenever `write` reports the buffer passed `FLUSH_BYTES`."""

    __slots__ = ("_fd", "_buf")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buf = bytearray()

    def write(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) >= FLUSH_BYTES:
            self.flush()

    @property
    def buffer(self) -> bytearray:
        """The live output buffer, for appenders on the hot path (flush when it grows)."""
        return self._buf

    @property
    def pending(self) -> int:
        """Bytes written but not yet flushed."""
        return len(self._buf)

    def flush(self) -> None:
        view = memoryview(self._buf)
        total = len(view)
        done = 0
        try:
            while done < total:
                done += os.write(self._fd, view[done:])
        finally:
            view.release()
            del self._buf[:done]

    def discard(self) -> int:
        """Drop what is buffered (documents that must not reach the runtime); returns bytes dropped."""
        dropped = len(self._buf)
        self._buf.clear()
        return dropped


def protect_stdout() -> ProtocolWriter:
    """Take fd 1 for the protocol and send everything else that writes to stdout to stderr."""
    sys.stdout.flush()
    private = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return ProtocolWriter(private)


def protect_stdin() -> BinaryIO:
    """Take fd 0 for the protocol: return a private reader of the requests, and point fd 0
    and `sys.stdin` at /dev/null for everything else.

    Forked workers (multiprocessing) close `sys.stdin` when they start, which blocks on the
    lock a reader thread holds; child processes would inherit the runtime's pipe. With a
    private handle neither can touch the protocol stream."""
    private = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(os.devnull)  # noqa: SIM115 (lives as long as the process)
    return os.fdopen(private, "rb", buffering=1 << 16)


def stdin_lines(stream: BinaryIO | None = None) -> Iterator[bytes]:
    """Yield request lines from stdin (without the newline), skipping blank lines.

    A final line without a newline is yielded as is; the parser then reports it truncated."""
    source = stream if stream is not None else sys.stdin.buffer
    for line in source:  # (readline in C: a materialization reads one line per document)
        line = line.rstrip(b"\r\n")
        if line and not line.isspace():  # (blank or not, without a stripped copy)
            yield line
