"""`ChildProcess`: a background child (the kept-spec check beside a session) runs only on
CPU nothing else wants, so it cannot slow the session it runs beside."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from flow_sdk.child_process import ChildProcess

REPORT = "import os; print(os.sched_getscheduler(0), os.nice(0))"


def scheduling(background: bool) -> tuple[int, int]:
    run = ChildProcess(
        [sys.executable, "-c", REPORT], logging.getLogger("test"), background=background
    )
    lines = list(run.start([]))
    assert run.wait() == 0
    policy, nice = lines[0].split()
    return int(policy), int(nice)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling policies")
def test_a_background_child_runs_on_idle_cpu_only() -> None:
    assert scheduling(background=True) == (os.SCHED_IDLE, 19)


def test_a_session_child_keeps_the_parents_priority() -> None:
    assert scheduling(background=False) == (os.sched_getscheduler(0), os.nice(0))
