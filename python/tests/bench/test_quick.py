"""The benchmark suite's quick mode: every script runs and its output is complete.

No timing assertions (timings belong in docs/benchmarks.md): small sizes, one run each, and
the flow-sdk 0.1.9 and estuary-cdk comparisons only when their virtualenvs are already cached
(never built here).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PY019 = ROOT / "bench" / ".venvs" / "flow-sdk-019" / "bin" / "python"
PYESTUARY = ROOT / "bench" / ".venvs" / "estuary-cdk" / "bin" / "python"
CAPTURE_VARIANTS = {"bare", "inprocess", "launch", "subprocess", "bare@100", "inprocess@100"}
RUN_KEYS = {"runs", "wall_s", "wall_min_s", "wall_max_s", "cpu_s", "peak_rss_mib"}
COUNTED_KEYS = {"documents", "first_document_s", "steady_per_s", "end_to_end_per_s"}


def positive(summary: dict, keys: set[str], where: str) -> None:
    missing = keys - summary.keys()
    assert not missing, f"{where} lacks {sorted(missing)}: {summary}"
    for key in keys:
        assert isinstance(summary[key], (int, float)) and summary[key] > 0, (where, key, summary)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| what | measured as | median | target |" in done.stdout
    return json.loads(out.read_text())


pytestmark = pytest.mark.slow


def test_report_names_machine_versions_and_every_benchmark(report: dict) -> None:
    assert report["quick"] is True
    assert set(report["results"]) == {
        "capture",
        "capture_memory",
        "materialize",
        "destination_kvdb",
        "emitter",
        "runtime_preview",
        "runtime_preview_airbyte",
        "runtime_run",
        "runtime_run_follow",
    }
    assert report["machine"]["cpus"] > 0 and len(report["machine"]["load_average_end"]) == 3
    assert report["versions"]["flow-sdk"] and report["versions"]["airbyte-cdk"].startswith("7.")
    for result in report["results"].values():
        assert result["machine"]["python"] and result["machine"]["date"]


def test_capture_variants_ratios_and_checkpoint_shares(report: dict) -> None:
    capture = report["results"]["capture"]
    expected = CAPTURE_VARIANTS | ({"v019"} if PY019.exists() else set())
    expected |= {"estuary"} if PYESTUARY.exists() else set()
    assert set(capture["variants"]) == expected
    for name, summary in capture["variants"].items():
        positive(summary, RUN_KEYS | COUNTED_KEYS, f"capture variant {name}")
        assert summary["documents"] == capture["records"], (name, summary)
    ratios = {
        "inprocess_over_bare",
        "inprocess_over_launch",
        "subprocess_over_launch",
        "inprocess100_over_inprocess",
        "bare100_over_bare",
        "inprocess_steady_over_bare_steady",
    }
    if "v019" in expected:
        ratios |= {"v019_speedup_end_to_end", "v019_speedup_steady"}
    if "estuary" in expected:
        ratios |= {"estuary_speedup_end_to_end", "estuary_speedup_steady"}
    positive(capture["ratios"], ratios, "capture ratios")
    shares = {"inprocess", "inprocess@100"} | ({"v019", "estuary"} & expected)
    positive(capture["checkpoint_share"], shares, "checkpoint shares")


def test_memory_at_two_sizes(report: dict) -> None:
    memory = report["results"]["capture_memory"]
    for size in ("small", "large"):
        positive(memory["variants"][size], RUN_KEYS | COUNTED_KEYS, f"memory {size}")
        assert memory["variants"][size]["documents"] == memory["records"][size]
    assert isinstance(memory["rss_growth_mib"], (int, float))


def test_materialize_variants_startup_and_ratios(report: dict) -> None:
    materialize = report["results"]["materialize"]
    names = {"direct", "shim-inprocess", "shim-subprocess", "shim-subprocess-nocache"}
    assert set(materialize["variants"]) == names == set(materialize["startup"])
    for name in names:
        positive(materialize["variants"][name], RUN_KEYS | {"end_to_end_per_s"}, name)
        positive(materialize["startup"][name], RUN_KEYS, f"{name} start-up")
    ratios = materialize["ratios"]
    wall_and_cpu = {
        f"{name}_over_direct_{what}"
        for name in ("shim-inprocess", "shim-subprocess", "shim-subprocess-nocache")
        for what in ("wall", "cpu")
    }
    positive(ratios, wall_and_cpu, "materialize ratios")
    # The marginal ratios are differences of tiny runs here: present, maybe None.
    assert {k.replace("_over_direct_", "_over_direct_marginal_") for k in wall_and_cpu} <= set(
        ratios
    )


def test_emit_floor_and_destination_kvdb(report: dict) -> None:
    keys = {"median_per_s", "min_per_s", "max_per_s"}
    positive(report["results"]["emitter"], keys | {"median_mb_per_s"}, "emitter")
    positive(report["results"]["destination_kvdb"], keys, "destination-kvdb")


def test_runtime_figures_are_present(report: dict) -> None:
    keys = {"connector_per_s", "session_per_s", "preview_per_s", "session_over_connector"}
    for name in ("runtime_preview", "runtime_preview_airbyte"):
        positive(report["results"][name], keys, name)
    assert report["results"]["runtime_preview_airbyte"]["connector"] == "airbyte"
    for name in ("runtime_run", "runtime_run_follow"):
        positive(report["results"][name], {"per_s", "wall_s", "peak_rss_mib"}, name)
    assert report["results"]["runtime_run_follow"]["follow"] is True
    assert "`preview` session vs the counter capture alone" in report["table"]
    assert "`preview` session vs the Airbyte source behind the shim alone" in report["table"]
    assert "`run` end to end into kvdb" in report["table"]
    assert "`run --follow` end to end into kvdb" in report["table"]
