"""The benchmark suite in one command: builds what it needs, runs every benchmark, writes
the results as JSON and prints the summary table of docs/benchmarks.md.

    python bench/run.py             # full sizes (about 10 minutes on 2 cores)
    python bench/run.py --quick     # small sizes, no builds: checks that everything runs

Builds (skipped with --quick or --no-build): the workspace's virtualenv (`uv sync --frozen
--inexact`: the lock as it is, extra tools such as profilers left alone) and, cached under
bench/.venvs/, Python 3.11 with flow-sdk 0.1.9 + airbyte-cdk 0.52 (`flow-sdk-019`) and with
estuary-cdk + airbyte-cdk 4.6.2 (`estuary-cdk`) from PyPI for the comparisons, bytecode
compiled as the workspace's is (each skipped when missing and not built). Runs on the standard library
only; every benchmark runs under the workspace's Python and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = ROOT / ".venv" / "bin" / "python"
VENV019 = HERE / ".venvs" / "flow-sdk-019"
PY019 = VENV019 / "bin" / "python"
REQUIREMENTS019 = ["flow-sdk==0.1.9", "airbyte-cdk==0.52.*"]
VENVESTUARY = HERE / ".venvs" / "estuary-cdk"
PYESTUARY = VENVESTUARY / "bin" / "python"
ESTUARY_CDK = "0.3.0.dev31"
REQUIREMENTS_ESTUARY = [f"estuary-cdk=={ESTUARY_CDK}", "airbyte-cdk==4.6.2"]

# name: (script, full-size arguments, quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "capture": (
        "capture_shim.py",
        ["--records", "200000", "--runs", "5"],
        ["--records", "2000", "--runs", "1"],
    ),
    "capture_memory": (
        "capture_shim.py",
        ["--suite", "memory", "--records", "200000", "--memory-records", "2000000", "--runs", "3"],
        ["--suite", "memory", "--records", "2000", "--memory-records", "20000", "--runs", "1"],
    ),
    "materialize": (
        "materialize_shim.py",
        ["--documents", "200000", "--txn", "10000", "--runs", "5"],
        ["--documents", "1000", "--txn", "500", "--runs", "1"],
    ),
    "destination_kvdb": (
        "destination_kvdb_write.py",
        ["--records", "100000", "--runs", "5"],
        ["--records", "1000", "--runs", "1"],
    ),
    "emitter": (
        "emitter_throughput.py",
        ["--messages", "1000000", "--runs", "5"],
        ["--messages", "20000", "--runs", "1"],
    ),
    # the local runtime (issue #18); the 10M-document scale figure is a separate, long run:
    # bench/runtime_run.py --documents 100000 --runs 1 --scale-documents 10000000
    "runtime_preview": (
        "runtime_preview.py",
        ["--documents", "200000", "--runs", "3"],
        ["--documents", "2000", "--runs", "1"],
    ),
    "runtime_preview_airbyte": (  # the "shim's documents/s into a drained pipe"
        "runtime_preview.py",
        ["--connector", "airbyte", "--documents", "200000", "--runs", "3"],
        ["--connector", "airbyte", "--documents", "2000", "--runs", "1"],
    ),
    "runtime_run": (
        "runtime_run.py",
        ["--documents", "300000", "--runs", "3", "--scale-documents", "1000000"],
        ["--documents", "2000", "--runs", "1"],
    ),
    "runtime_run_follow": (  # the materializations in their own process, beside the captures
        "runtime_run.py",
        ["--follow", "--documents", "300000", "--runs", "3"],
        ["--follow", "--documents", "2000", "--runs", "1"],
    ),
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def build_workspace() -> None:
    say("building: uv sync --frozen --inexact (the workspace's .venv)")
    subprocess.run(["uv", "sync", "--frozen", "--inexact"], cwd=ROOT, check=True)


def v019_versions() -> tuple[str, str] | None:
    """(flow-sdk, airbyte-cdk) versions of the cached 0.1.9 venv, None when it is unusable."""
    if not PY019.exists():
        return None
    probe = "from importlib.metadata import version as v; print(v('flow-sdk'), v('airbyte-cdk'))"
    done = subprocess.run([str(PY019), "-c", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    flow, cdk = done.stdout.split()
    return (flow, cdk) if flow == "0.1.9" and cdk.startswith("0.52.") else None


def build_v019() -> None:
    if v019_versions() is not None:
        return
    say(f"building: {VENV019} (Python 3.11, {' '.join(REQUIREMENTS019)})")
    shutil.rmtree(VENV019, ignore_errors=True)
    subprocess.run(["uv", "venv", "--python", "3.11", str(VENV019)], check=True)
    subprocess.run(
        ["uv", "pip", "install", "--compile-bytecode", "--python", str(PY019), *REQUIREMENTS019],
        check=True,
    )
    if v019_versions() is None:
        raise SystemExit(f"{VENV019} was built but does not hold {REQUIREMENTS019}")


def estuary_versions() -> tuple[str, str] | None:
    """(estuary-cdk, airbyte-cdk) versions of the cached estuary-cdk venv, None when unusable."""
    if not PYESTUARY.exists():
        return None
    probe = (
        "from importlib.metadata import version as v; import estuary_cdk.shim_airbyte_cdk; "
        "print(v('estuary-cdk'), v('airbyte-cdk'))"
    )
    done = subprocess.run([str(PYESTUARY), "-c", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    est, cdk = done.stdout.split()
    return (est, cdk) if (est, cdk) == (ESTUARY_CDK, "4.6.2") else None


def build_estuary() -> None:
    if estuary_versions() is not None:
        return
    say(f"building: {VENVESTUARY} (Python 3.11, {' '.join(REQUIREMENTS_ESTUARY)})")
    shutil.rmtree(VENVESTUARY, ignore_errors=True)
    subprocess.run(["uv", "venv", "--python", "3.11", str(VENVESTUARY)], check=True)
    subprocess.run(
        ["uv", "pip", "install", "--compile-bytecode", "--python", str(PYESTUARY)]
        + REQUIREMENTS_ESTUARY,
        check=True,
    )
    if estuary_versions() is None:
        raise SystemExit(f"{VENVESTUARY} was built but does not hold {REQUIREMENTS_ESTUARY}")


def versions() -> dict[str, str | None]:
    probe = (
        "from importlib.metadata import version as v; import platform, json; "
        "print(json.dumps({'python': platform.python_version(), 'flow-sdk': v('flow-sdk'), "
        "'airbyte-cdk': v('airbyte-cdk'), 'orjson': v('orjson')}))"
    )
    ours = json.loads(subprocess.run([str(PY), "-c", probe], capture_output=True).stdout)
    old = v019_versions()
    est = estuary_versions()
    return ours | {
        "flow-sdk (comparison)": old[0] if old else None,
        "airbyte-cdk (comparison)": old[1] if old else None,
        "estuary-cdk (comparison)": est[0] if est else None,
        "airbyte-cdk (estuary-cdk comparison)": est[1] if est else None,
    }


def run_benchmark(name: str, quick: bool, skipped: list[str]) -> dict:
    script, full, small = BENCHMARKS[name]
    argv = [str(PY), str(HERE / script), *(small if quick else full)]
    if name == "capture" and skipped:
        variants = "bare,inprocess,launch,subprocess,v019,estuary,bare@100,inprocess@100"
        argv += ["--variants", ",".join(v for v in variants.split(",") if v not in skipped)]
    say(f"running {name}: {' '.join(argv[1:])}")
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark {name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"bench"')]
    if not lines:
        raise SystemExit(f"benchmark {name} printed no result line:\n{done.stdout[-2000:]}")
    result = json.loads(lines[-1])
    say(f"  done in {time.perf_counter() - started:.0f} s")
    return result


# ---- the summary table ----


def targets(results: dict) -> list[tuple[str, str, float | None, str, str]]:
    """(what, how it is measured, measured, target, met) rows, from the issues' targets."""
    rows = []

    def row(what: str, how: str, value: float | None, target: str, ok: bool | None) -> None:
        met = "n/a" if ok is None else ("met" if ok else "NOT met")
        rows.append((what, how, value, target, met))

    cap = results.get("capture", {}).get("ratios", {})
    share = results.get("capture", {}).get("checkpoint_share", {})
    if "inprocess_over_bare" in cap:
        r = cap["inprocess_over_bare"]
        row(
            "capture in process vs bare `source.read()`",
            "wall s, ours / bare",
            r,
            "≤ 1.2×",
            r <= 1.2,
        )
    if "inprocess100_over_inprocess" in cap:
        r = cap["inprocess100_over_inprocess"]
        row("100 streams vs 2 (in process)", "wall s, 100 / 2", r, "≤ 1.1×", r <= 1.1)
    for key, label in (("inprocess", "2 streams"), ("inprocess@100", "100 streams")):
        if key in share:
            r = round(share[key] * 100, 3)
            row(f"checkpoint bytes, {label}", "% of output bytes", r, "< 1%", r < 1)
    if "v019_speedup_end_to_end" in cap:
        r = cap["v019_speedup_end_to_end"]
        row(
            "vs flow-sdk 0.1.9, end to end",
            "docs/s ours / 0.1.9, whole process",
            r,
            "≥ 2.5×",
            r >= 2.5,
        )
    if "v019_speedup_steady" in cap:
        r = cap["v019_speedup_steady"]
        row(
            "vs flow-sdk 0.1.9, steady state",
            "docs/s ours / 0.1.9, first to last doc",
            r,
            "≥ 2.5×",
            r >= 2.5,
        )
    for key, how in (
        ("estuary_speedup_end_to_end", ("end to end", "docs/s ours / estuary-cdk, whole process")),
        (
            "estuary_speedup_steady",
            ("steady state", "docs/s ours / estuary-cdk, first to last doc"),
        ),
    ):
        if key in cap:
            r = cap[key]
            row(f"vs estuary-cdk's Airbyte shim, {how[0]}", how[1], r, "— (#18 §5)", None)
    if "subprocess_over_launch" in cap:
        r = cap["subprocess_over_launch"]
        row(
            "subprocess mode vs the connector's own `read`",
            "wall s, shim / read",
            r,
            "≤ 1.3×",
            r <= 1.3,
        )
    if "capture_memory" in results:
        r = results["capture_memory"]["rss_growth_mib"]
        row("peak RSS growth, 200k → 2M records", "MiB, in process", r, "≤ 10 MB", r <= 10)
    mat = results.get("materialize", {}).get("ratios", {})
    for key, label in (
        ("shim-inprocess_over_direct_wall", "materialize shim in process vs `write`"),
        ("shim-subprocess_over_direct_wall", "materialize shim subprocess vs `write`"),
    ):
        if key in mat:
            r = mat[key]
            row(label, "wall s, shim / write", r, "≤ 1.15×", r <= 1.15)
    if "shim-subprocess-nocache_over_direct_wall" in mat:
        r = mat["shim-subprocess-nocache_over_direct_wall"]
        row("… with no spec kept (`spec`, then `write`)", "wall s, shim / write", r, "—", None)
    if "shim-subprocess_over_direct_marginal_wall" in mat:
        r = mat["shim-subprocess_over_direct_marginal_wall"]
        row("materialize subprocess, documents only", "wall s over start-up", r, "(≤ 1.15×)", None)
    if "emitter" in results:
        r = results["emitter"]["median_per_s"]
        row("emit floor (serialize + write)", "messages/s", r, "≥ 400,000", r >= 400_000)
    if "destination_kvdb" in results:
        r = results["destination_kvdb"]["median_per_s"]
        row("destination-kvdb local bucket", "records/s, in process", r, "—", None)
    rows += runtime_rows(results)
    return rows


def runtime_rows(results: dict) -> list[tuple[str, str, float | None, str, str]]:
    """The local runtime's rows (issue #18)."""
    out = []
    for name, connector in (
        ("runtime_preview", "the counter capture"),
        ("runtime_preview_airbyte", "the Airbyte source behind the shim"),
    ):
        pre = results.get(name, {})
        if "session_over_connector" in pre:
            r = pre["session_over_connector"]
            met = "met" if r >= 0.8 else "NOT met"
            what = f"`preview` session vs {connector} alone"
            out.append((what, "docs/s ratio", r, "≥ 0.8×", met))
    run = results.get("runtime_run", {})
    for name, what in (("runtime_run", "`run`"), ("runtime_run_follow", "`run --follow`")):
        if "per_s" in results.get(name, {}):
            r = results[name]["per_s"]
            met = "met" if r >= 50_000 else "NOT met"
            out.append((f"{what} end to end into kvdb", "docs/s", r, "≥ 50,000", met))
    if "rss_growth_mib" in run:
        r = run["rss_growth_mib"]
        how = f"MiB, runtime RSS {run['documents']:,} → {run['scale_documents']:,} docs"
        out.append(
            ("`run` memory in documents", how, r, "≤ 50 MB", "met" if r <= 50 else "NOT met")
        )
    if "materializations_rss_growth_mib" in run:
        r = run["materializations_rss_growth_mib"]
        how = (
            f"MiB, its materializations process, {run['documents']:,} → {run['scale_documents']:,}"
        )
        out.append(
            ("… and its materializations", how, r, "≤ 50 MB", "met" if r <= 50 else "NOT met")
        )
    return out


def markdown(report: dict) -> str:
    m, v = report["machine"], report["versions"]
    head = (
        f"{report['date']} · {m['cpus']} cores, {m['platform']} · load average "
        f"{m['load_average_start']} → {m['load_average_end']} · Python {v['python']}, "
        f"flow-sdk {v['flow-sdk']}, airbyte-cdk {v['airbyte-cdk']}; comparison flow-sdk "
        f"{v['flow-sdk (comparison)']}, airbyte-cdk {v['airbyte-cdk (comparison)']}; "
        f"estuary-cdk {v.get('estuary-cdk (comparison)')}, airbyte-cdk "
        f"{v.get('airbyte-cdk (estuary-cdk comparison)')}"
        f"{' · QUICK (sizes too small to mean anything)' if report['quick'] else ''}"
    )
    out = [head, "", "| what | measured as | median | target | |", "|---|---|---|---|---|"]
    for what, how, value, target, met in targets(report["results"]):
        shown = f"{value:,}" if isinstance(value, int) else f"{value}"
        out.append(f"| {what} | {how} | **{shown}** | {target} | {met} |")
    cap = report["results"].get("capture", {}).get("variants", {})
    if cap:
        out += [
            "",
            f"Capture, {report['results']['capture']['records']:,} records:",
            "",
            "| variant | wall s | docs/s end to end | docs/s steady | first doc s | peak RSS MiB |",
            "|---|---|---|---|---|---|",
        ]
        for name, s in cap.items():
            out.append(
                f"| {name} | {s['wall_s']} | {s['end_to_end_per_s']:,} | "
                f"{s.get('steady_per_s') or 0:,} | {s.get('first_document_s')} | {s['peak_rss_mib']} |"
            )
    mat = report["results"].get("materialize", {})
    if mat:
        out += [
            "",
            f"Materialize, {mat['documents']:,} documents:",
            "",
            "| variant | wall s | CPU s | start-up wall s (1 document) |",
            "|---|---|---|---|",
        ]
        for name, s in mat["variants"].items():
            out.append(
                f"| {name} | {s['wall_s']} | {s['cpu_s']} | {mat['startup'][name]['wall_s']} |"
            )
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, no builds")
    p.add_argument("--no-build", action="store_true", help="use the virtualenvs as they are")
    p.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated benchmarks")
    p.add_argument("--out", type=Path, default=HERE / "out" / "results.json")
    args = p.parse_args()
    if not args.quick and not args.no_build:
        build_workspace()
        build_v019()
        build_estuary()
    skipped = []
    if v019_versions() is None:
        skipped.append("v019")
        say(f"{VENV019} is missing: the flow-sdk 0.1.9 comparison is skipped")
    if estuary_versions() is None:
        skipped.append("estuary")
        say(f"{VENVESTUARY} is missing: the estuary-cdk comparison is skipped")
    load_start = [round(x, 1) for x in os.getloadavg()]
    results = {name: run_benchmark(name, args.quick, skipped) for name in args.only.split(",")}
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(terse=True),
            "load_average_start": load_start,
            "load_average_end": [round(x, 1) for x in os.getloadavg()],
        },
        "versions": versions(),
        "results": results,
    }
    report["table"] = markdown(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(report["table"])
    say(f"results: {args.out}")


if __name__ == "__main__":
    main()
