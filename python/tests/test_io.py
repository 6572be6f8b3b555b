"""The stdio transport: huge lines, buffered flushing, and stdout protection."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading

import orjson

from flow_sdk.io import FLUSH_BYTES, ProtocolWriter, stdin_lines


def test_stdin_lines_handle_tens_of_megabytes() -> None:
    big = b'{"captured":{"doc":{"x":"' + b"a" * (40 << 20) + b'"}}}'
    lines = list(stdin_lines(io.BytesIO(big + b"\n\n" + b'{"spec":{}}\r\n' + b'{"last":1}')))
    assert [len(x) for x in lines] == [len(big), 11, 10]


def test_writer_buffers_until_flush_or_bound() -> None:
    read_fd, write_fd = os.pipe()
    writer = ProtocolWriter(write_fd)
    writer.write(b"x" * 100)
    assert writer.pending == 100
    os.set_blocking(read_fd, False)
    assert _drain(read_fd) == b""
    writer.flush()
    assert _drain(read_fd) == b"x" * 100
    # Past the bound, a write flushes by itself (read concurrently: the pipe is small).
    received = bytearray()

    def drain_all() -> None:
        while len(received) < FLUSH_BYTES:
            received.extend(os.read(read_fd, 1 << 16))

    os.set_blocking(read_fd, True)
    reader = threading.Thread(target=drain_all, daemon=True)
    reader.start()
    writer.write(b"y" * FLUSH_BYTES)
    assert writer.pending == 0
    reader.join(timeout=10)
    assert bytes(received) == b"y" * FLUSH_BYTES
    os.close(read_fd)
    os.close(write_fd)


def test_discard_drops_unflushed_bytes() -> None:
    _, write_fd = os.pipe()
    writer = ProtocolWriter(write_fd)
    writer.write(b"abc")
    assert writer.discard() == 3
    assert writer.pending == 0


def test_stray_output_goes_to_stderr_not_the_protocol() -> None:
    script = (
        "import os, sys\n"
        "from flow_sdk.io import protect_stdout\n"
        "w = protect_stdout()\n"
        "print('stray print')\n"
        "os.write(1, b'raw fd write\\n')\n"
        "os.system('echo child process')\n"
        "w.write(b'{\"opened\":{}}\\n'); w.flush()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert done.returncode == 0
    assert [orjson.loads(x) for x in done.stdout.splitlines()] == [{"opened": {}}]
    assert done.stderr.decode().splitlines() == ["stray print", "raw fd write", "child process"]


def _drain(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return b""
