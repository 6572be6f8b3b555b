"""Test-only seams of the local runtime: the one place its production code calls into tests.

`crash_point(name)` marks a point of `flow-sdk run`'s commit protocol. It does nothing
unless crash testing armed it through `FLOW_SDK_RUN_KILL_AT=point[:n]` (read when a run
starts): then the run kills itself (SIGKILL) the n-th time it reaches `point`, and
`python/tests/runtime/test_run.py` checks that the next run loses and duplicates nothing.
The points, in the order a run reaches them: `capture-appended`, `capture-committed`
(per capture transaction), `captures-done`, then per materialization transaction
`stores-sent`, `commit-started`, `materialization-committed`.
"""

from __future__ import annotations

import os
import signal

KILL_AT_ENV = "FLOW_SDK_RUN_KILL_AT"


class CrashPoints:
    """Kills the process at the armed point (inert until `arm` is given a point)."""

    def __init__(self) -> None:
        self.point, self.remaining = "", 0
        self.partner: int | None = None
        """A process killed first (the run, when `run --follow`'s materializations process
        reaches the point): the run dies at the point, whichever process reached it."""

    def arm(self, spec: str | None) -> None:
        """Arm from `point[:n]` (the n-th time `point` is reached; n defaults to 1), or
        disarm when `spec` is empty or None."""
        self.point, self.remaining = "", 0
        if spec:
            point, _, count = spec.partition(":")
            self.point, self.remaining = point, int(count or "1")

    def __call__(self, point: str) -> None:
        if point != self.point:
            return
        self.remaining -= 1
        if self.remaining <= 0:
            if self.partner is not None:
                os.kill(self.partner, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)


crash_point = CrashPoints()
"""The seam production code calls: `crash_point("stores-sent")`."""


def arm_crash_points_from_environment() -> None:
    """Arm `crash_point` from `FLOW_SDK_RUN_KILL_AT` (disarmed when it is unset)."""
    crash_point.arm(os.environ.get(KILL_AT_ENV))
