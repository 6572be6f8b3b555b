"""The idle watchdog: fires once after `timeout` seconds without progress, never while
progress moves, never after its block ends; the timeout comes from the environment."""

from __future__ import annotations

import threading
import time

import pytest

from flow_sdk.capture.watchdog import DEFAULT_IDLE_TIMEOUT, Watchdog, idle_timeout
from flow_sdk.errors import ConnectorError


def test_no_progress_for_the_timeout_fires_once_naming_what_was_read() -> None:
    fired: list[str] = []
    done = threading.Event()

    def stuck(message: str) -> None:
        fired.append(message)
        done.set()

    with Watchdog(0.2, lambda: 7, lambda: "stream 'users'", stuck):
        assert done.wait(5)
    assert len(fired) == 1
    assert "sent no message for 0.2 seconds while reading stream 'users'" in fired[0]


def test_moving_progress_keeps_it_quiet_and_leaving_the_block_stops_it() -> None:
    fired: list[str] = []
    count = iter(range(1_000_000))
    with Watchdog(0.2, lambda: next(count), lambda: "x", fired.append):
        time.sleep(0.6)
    time.sleep(0.4)  # idle after the block: no longer watched
    assert fired == []


def test_zero_watches_nothing() -> None:
    with Watchdog(0, lambda: 0, lambda: "x", lambda m: pytest.fail(m)) as dog:
        assert dog._thread is None


def test_timeout_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOW_SDK_IDLE_TIMEOUT", raising=False)
    assert idle_timeout() == DEFAULT_IDLE_TIMEOUT
    assert idle_timeout(5) == 5
    monkeypatch.setenv("FLOW_SDK_IDLE_TIMEOUT", "2.5")
    assert idle_timeout() == 2.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("FLOW_SDK_IDLE_TIMEOUT", bad)
        with pytest.raises(ConnectorError, match="FLOW_SDK_IDLE_TIMEOUT must be"):
            idle_timeout()
