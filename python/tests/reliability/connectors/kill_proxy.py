"""`kill_proxy.py -- <connector command...>`: runs a connector behind a transparent stdio
proxy that SIGKILLs it (and then itself) at a protocol point, for crash tests of any
connector, Python or not, in process or with children of its own.

`RELIABILITY_KILL=<variant>:<n>` names the point: the n-th request of that variant (e.g.
`store:3`, `startCommit:1`, `acknowledge:2`) is killed right after it was passed on to the
connector; the n-th response of that variant (e.g. `startedCommit:1`, `acknowledged:2`) is
killed when the connector wrote it, before the runtime sees it. Unset: a plain proxy.

`RELIABILITY_GARBAGE=<variant>:<n>` instead writes a line of garbage to the runtime right
after the n-th response of that variant: a connector corrupting its own protocol stream.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import orjson

REQUESTS = frozenset({"spec", "validate", "apply", "open", "acknowledge", "load", "flush", "store", "startCommit"})  # fmt: skip


def variant(line: bytes) -> str:
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        return ""
    return next(iter(message), "") if isinstance(message, dict) else ""


def main() -> None:
    command = sys.argv[sys.argv.index("--") + 1 :]
    point, _, nth = os.environ.get("RELIABILITY_KILL", "").partition(":")
    remaining = {"count": int(nth or "1")}
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    lock = threading.Lock()

    def reached(line: bytes) -> bool:
        if not point or variant(line) != point:
            return False
        with lock:
            remaining["count"] -= 1
            return remaining["count"] == 0

    def die() -> None:
        child.kill()
        child.wait()
        os.kill(os.getpid(), signal.SIGKILL)

    def requests() -> None:
        try:
            for line in sys.stdin.buffer:
                child.stdin.write(line)
                child.stdin.flush()
                if point in REQUESTS and reached(line):
                    die()
            child.stdin.close()
        except BrokenPipeError:  # the connector exited; its exit code tells the runtime why
            pass

    threading.Thread(target=requests, daemon=True).start()
    garbage, _, garbage_nth = os.environ.get("RELIABILITY_GARBAGE", "").partition(":")
    responses_seen = 0
    out = sys.stdout.buffer
    for line in child.stdout:
        if point not in REQUESTS and reached(line):
            die()
        out.write(line)
        if garbage and variant(line) == garbage:
            responses_seen += 1
            if responses_seen == int(garbage_nth or "1"):
                out.write(b"this is not a protocol message\n")
        out.flush()
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
