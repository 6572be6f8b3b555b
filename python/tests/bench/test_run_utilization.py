"""`bench/run_utilization.py` runs a real `run` and accounts for its processes' CPU by role."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def test_a_small_run_is_accounted_by_role() -> None:
    """100k documents: the capture session (a forked process, not its fork server) spans
    several 50 ms readings."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_utilization.py"), "--documents", "100000"]
        + ["--interval", "0.05"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bench"] == "run_utilization" and result["documents"] == 100000
    assert result["wall_s"] > 0 and result["docs_per_s"] > 0
    # the runtime, the capture's connector and the materialization's connector all ran
    assert {"runtime", "capture", "materialization"} <= set(result["cpu_s"])
    assert all(result["cpu_s"][role] > 0 for role in ("runtime", "capture", "materialization"))
    start, end = result["capture_session_s"]
    assert 0 < start < end < result["wall_s"]
    for phase in ("capture_phase_core_shares", "materialization_phase_core_shares"):
        assert all(0 <= share <= 2.5 for share in result[phase].values()), result[phase]
    assert result["capture_phase_core_shares"]["runtime"] > 0
    assert result["materialization_phase_core_shares"]["materialization"] > 0
