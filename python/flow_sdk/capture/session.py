"""The runtime's side of an open capture session: a thread that keeps reading stdin.

Flow fails a task whose connector does not accept an Acknowledge within ~10 s, so stdin is
read concurrently with the connector's work. Acknowledgements are queued and handed to the
connector on its own thread at the next checkpoint; stdin EOF marks the session stopping.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator

from flow_sdk.capture.emitter import Emitter
from flow_sdk.logger import last_words
from flow_sdk.protocol.capture import Acknowledge, Request
from flow_sdk.protocol.wire import ProtocolError, parse_message

STOP_GRACE_ENV = "FLOW_SDK_STOP_GRACE_SECONDS"


class SessionInput:
    """Reads acknowledgements (and EOF) from the rest of stdin on a daemon thread."""

    def __init__(self, lines: Iterator[bytes], emitter: Emitter, log: logging.Logger) -> None:
        self._lines = lines
        self._emitter = emitter
        self._log = log
        self._acks: deque[int] = deque()
        self.eof = threading.Event()
        self._grace = float(os.environ.get(STOP_GRACE_ENV, "10"))
        self._thread = threading.Thread(target=self._run, name="flow-sdk stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def take_acknowledged(self) -> int:
        """Checkpoints acknowledged since the last call."""
        total = 0
        while self._acks:
            total += self._acks.popleft()
        return total

    def _run(self) -> None:
        try:
            for line in self._lines:
                request = parse_message(Request, line)
                if request.variant != "acknowledge":
                    raise ProtocolError(
                        f"expected only `acknowledge` after `open`, got `{request.variant}`"
                    )
                ack: Acknowledge = request.acknowledge
                if ack.checkpoints < 1:
                    raise ProtocolError("`acknowledge.checkpoints` must be at least 1")
                self._acks.append(ack.checkpoints)
        except ProtocolError as exc:
            last_words(f"malformed request during the capture session: {exc}")
            os._exit(1)
        except Exception as exc:  # reading stdin itself failed
            last_words(f"reading stdin failed during the capture session: {exc}")
            os._exit(1)
        self.eof.set()
        self._emitter.stopping = True
        # The connector stops at its next message; if it is blocked in its source, end the
        # process after a grace period. Nothing past the last checkpoint was flushed.
        deadline = time.monotonic() + self._grace
        while time.monotonic() < deadline:
            time.sleep(0.05)
        self._log.info(
            "stdin closed and the connector did not reach a message boundary in %.0fs; exiting",
            self._grace,
        )
        os._exit(0)
