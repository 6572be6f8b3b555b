"""How the runtime reads a connector's stdout: in chunks split into lines (a line may span
chunks, the last may lack its newline), with a bounded read-ahead that never blocks an exit."""

from __future__ import annotations

import io
import sys
import time

from flow_sdk.runtime.console import Console
from flow_sdk.runtime.process import EOF, MAX_BATCHES, STDOUT_READ_BYTES, ConnectorProcess, Launch

LINES = 200_000
FLOOD = f"import sys; sys.stdout.buffer.write((b'x' * 99 + b'\\n') * {LINES})"


def start(script: str) -> ConnectorProcess:
    return ConnectorProcess(Launch(argv=[sys.executable, "-c", script]), Console(io.StringIO()))


def test_a_fast_connector_waits_on_its_pipe_and_its_exit_still_completes() -> None:
    with start(FLOOD) as proc:
        deadline = time.monotonic() + 30
        while proc._lines.qsize() < MAX_BATCHES and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # room for it to read more, if it were unbounded
        assert proc._lines.qsize() <= MAX_BATCHES
        assert proc.proc.poll() is None, "20 MB went into the runtime's memory unread"
        assert proc.wait(timeout=30) == 0  # waiting for the exit reads on, unbounded
        count = 0
        while (line := proc.next_line(10)) is not EOF:
            assert line == b"x" * 99 + b"\n"
            count += 1
        assert count == LINES
        assert proc.next_line(0) is EOF  # EOF stays


def test_lines_longer_than_a_chunk_and_a_final_partial_line() -> None:
    long = b'{"a":"' + b"y" * (3 * STDOUT_READ_BYTES) + b'"}'
    script = (
        "import sys; out = sys.stdout.buffer; "
        f"out.write(b'{{}}\\n' + b'{{\"a\":\"' + b'y' * {3 * STDOUT_READ_BYTES} + b'\"}}\\n' + b'tail')"
    )
    with start(script) as proc:
        assert proc.next_line(30) == b"{}\n"
        assert proc.next_line(30) == long + b"\n"
        assert proc.next_line(30) == b"tail"
        assert proc.next_line(30) is EOF
        assert proc.wait(timeout=30) == 0


def test_ready_line_never_waits_and_keeps_eof() -> None:
    """`ready_line`: None while nothing is waiting (the connector is still quiet), then each
    line in order across batches, then EOF on every later call."""
    script = "import sys, time; time.sleep(1); sys.stdout.write('a\\nb\\n'); sys.stdout.flush()"
    with start(script) as proc:
        started = time.monotonic()
        assert proc.ready_line() is None
        assert time.monotonic() - started < 0.5
        got = []
        while len(got) < 2 and proc.wait_line(30):
            got.append(proc.ready_line())
        assert got == [b"a\n", b"b\n"]
        assert proc.wait(timeout=30) == 0
        assert proc.wait_line(30)
        assert proc.ready_line() is EOF
        assert proc.ready_line() is EOF
        assert proc.next_line(0) is EOF
