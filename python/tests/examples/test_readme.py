"""The README's example commands, run as the README shows them, so the guide cannot rot.

Every `$ command` in a console block of README.md is either run here (in a scratch working
directory where `python/` links to the repository's, so relative paths resolve and
`.flow-data/` stays out of the checkout) or excused with the test that covers it instead.
What the README shows after a command must be what the command prints: JSON lines exactly
(a line ending in `...` as a prefix), in order; error lines and summaries with directories
and timings masked.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
TIMEOUT = 180

HELLO = "python/examples/hello.flow.yaml"
KVDB_PREVIEW = (
    "flow-sdk preview --source python/examples/kvdb.flow.yaml --name acmeCo/destination-kvdb "
    "--fixture python/examples/kvdb.fixture.json --output-state"
)
SQLITE = "sqlite3 .flow-data/examples/kvdb.sqlite 'SELECT key, value FROM kv ORDER BY key'"
SOPS_PREVIEW = "flow-sdk preview --source sealed.flow.yaml --sessions 1"

# Commands the README shows that this module does not run, and what tests them instead.
EXCUSED = {
    "git remote add -f --no-tags upstream file:///tmp/rdm/up": "tests/delivery/test_pull_upstream.py",
    "./pull_upstream.sh": "tests/delivery/test_pull_upstream.py (throwaway repositories)",
    "git log -1 --format=%B": "tests/delivery/test_pull_upstream.py (the trailers)",
    "./build-local.sh": "tests/delivery/test_build_local.py (a stand-in docker)",
    "CONTAINER_ENGINE=docker ./build-local.sh": "tests/delivery/test_build_local.py",
    "scripts/prepare_images.sh": ".ci/run runs it; tests/images need what it prepares",
    ".venv/bin/python scripts/image_smoke.py source-bigdata": "tests/delivery/test_image_smoke.py",
    "FLOW_SDK_DEBUGPY=127.0.0.1:5678 flow-sdk raw spec": "tests/delivery/test_debugging.py (a real attach)",
    "flow-sdk new ": "tests/runtime/scaffold/test_new.py (a copy of the workspace)",
    "flow-sdk raw spec --source test.flow.yaml --name acmeCo/hello/": "tests/runtime/scaffold/test_new.py",
    "flow-sdk raw discover --source test.flow.yaml --capture acmeCo/hello/": "tests/runtime/scaffold/test_new.py",
    "flow-sdk preview --source test.flow.yaml --name acmeCo/hello/": "tests/runtime/scaffold/test_new.py",
    "pytest -q source-": "tests/runtime/scaffold/test_new.py (runs the generated tests; faker by hand)",
}


@dataclass
class Shown:
    """A README command and the output lines shown under it."""

    command: str
    lines: list[str] = field(default_factory=list)


def readme_commands() -> list[Shown]:
    shown: list[Shown] = []
    in_console = False
    lines = iter(README.read_text().splitlines())
    for line in lines:
        if line.startswith("```"):
            in_console = line.strip() == "```console" and not in_console
            continue
        if not in_console:
            continue
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1] + next(lines).strip()
            shown.append(Shown(command.strip()))
        elif shown and line:
            shown[-1].lines.append(line)
    return shown


@dataclass
class Ran:
    command: str
    code: int
    stdout: str
    stderr: str


@dataclass
class Group:
    """Commands sharing one scratch working directory, run in order."""

    name: str
    commands: list[str]
    codes: dict[str, int] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None


def scratch(tmp: Path) -> Path:
    tmp.mkdir(parents=True)
    (tmp / "python").symlink_to(ROOT / "python", target_is_directory=True)
    return tmp


def run_group(group: Group, cwd: Path) -> list[Ran]:
    if group.setup:
        group.setup(cwd)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("LOG_LEVEL", None)
    out = []
    for command in group.commands:
        if command == SQLITE:  # the sqlite3 CLI may be missing; the same query in Python
            out.append(query_bucket(cwd / ".flow-data/examples/kvdb.sqlite"))
            continue
        done = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT
        )
        out.append(Ran(command, done.returncode, done.stdout.decode(), done.stderr.decode()))
    return out


def query_bucket(path: Path) -> Ran:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT key, value FROM kv ORDER BY key").fetchall()
    finally:
        db.close()
    return Ran(SQLITE, 0, "".join(f"{k}|{v}\n" for k, v in rows), "")


def sealed_catalog(cwd: Path) -> None:
    """The sops section's files: its sealed config (the README's YAML block) and
    `sealed.flow.yaml`, the hello catalog pointing at it."""
    text = README.read_text()
    block = re.search(r"```yaml\n(greeting: Hello\ncount_sops:.*?)```", text, re.S)
    assert block, "the README's sops section no longer shows the sealed config"
    (cwd / "hello.config.sops.yaml").write_text(block.group(1))
    catalog = yaml.safe_load((ROOT / HELLO).read_text())
    catalog["captures"]["acmeCo/hello"]["endpoint"]["local"]["config"] = "hello.config.sops.yaml"
    (cwd / "sealed.flow.yaml").write_text(yaml.safe_dump(catalog))


def groups() -> list[Group]:
    return [
        Group(
            "hello",
            [
                f"flow-sdk raw spec --source {HELLO}",
                f"flow-sdk raw discover --source {HELLO} --emit-raw",
                f"flow-sdk raw validate --source {HELLO}",
                f"flow-sdk preview --source {HELLO} --sessions 1 --output-state",
                f"flow-sdk preview --source {HELLO} --sessions -1 --initial-state "
                """'{"bindingStateV1":{"greetings":{"next":3}}}'""",
                "flow-sdk preview --source python/examples/balances.flow.yaml --name "
                "acmeCo/balances --fixture python/examples/balances.fixture.json --output-state",
            ],
        ),
        Group(
            "bigdata-subprocess",
            [
                "flow-sdk preview --source python/examples/bigdata-subprocess.flow.yaml "
                "--sessions 1 --output-state"
            ],
        ),
        Group("kvdb", ["cat python/examples/kvdb.fixture.json", KVDB_PREVIEW, SQLITE]),
        Group(
            "run",
            ["flow-sdk run --source python/examples/kvdb.flow.yaml --data-dir .flow-data/examples"],
        ),
        Group("sops", [SOPS_PREVIEW], {SOPS_PREVIEW: 1}, sealed_catalog),
    ]


# ---- comparing what the README shows with what ran ----

_DIRS = re.compile(r"(?<![\w.])/[^\s:()'\"]*/")
_TIMES = re.compile(
    r"(?<![\w.])(?=\d)(\d+h)?(\d+m(?!s))?(\d+(\.\d+)?(ms|s))?(?![\w.])|\(\d+ docs/s\)"
)


def masked(line: str) -> str:
    return _TIMES.sub("<t>", _DIRS.sub("", line)).strip()


def mismatches(shown: Shown, ran: Ran) -> list[str]:
    problems = []
    out_lines = ran.stdout.splitlines()
    if ran.command.startswith("cat ") or ran.command == SQLITE:
        if shown.lines != out_lines:
            problems.append(f"shows {shown.lines} but it prints {out_lines}")
        return problems
    position = 0
    for line in shown.lines:
        if line[:1] in "[{":
            prefix = line.endswith("...")
            want = line[:-3] if prefix else line
            for i in range(position, len(out_lines)):
                if out_lines[i].startswith(want) if prefix else out_lines[i] == want:
                    position = i + 1
                    break
            else:
                problems.append(f"shows this stdout line, which it no longer prints: {line}")
        elif line.startswith(("flow-sdk: error:", "preview:", "run:")):
            err = {masked(e) for e in ran.stderr.splitlines()}
            if masked(line) not in err:
                problems.append(f"shows this stderr line, which it no longer prints: {line}")
    return problems


def test_every_readme_command_is_run_or_excused() -> None:
    run = {c for g in groups() for c in g.commands}
    for shown in readme_commands():
        excused = any(shown.command.startswith(prefix) for prefix in EXCUSED)
        assert shown.command in run or excused, (
            f"README.md shows `{shown.command}`, which python/tests/examples does not run: "
            "add it to a group (or to EXCUSED with the test that covers it)"
        )
    shown_commands = {s.command for s in readme_commands()}
    for command in run:
        assert command in shown_commands, f"README.md no longer shows `{command}`"


@pytest.mark.slow
def test_readme_commands_print_what_the_readme_shows(tmp_path: Path) -> None:
    work = [g for g in groups() if not (g.name == "sops" and shutil.which("sops"))]
    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        futures = {g.name: pool.submit(run_group, g, scratch(tmp_path / g.name)) for g in work}
        results = {name: future.result() for name, future in futures.items()}
    shown = {s.command: s for s in readme_commands()}
    problems = []
    for group in work:
        for ran in results[group.name]:
            expected = group.codes.get(ran.command, 0)
            if ran.code != expected:
                tail = "\n".join(ran.stderr.splitlines()[-5:])
                problems.append(f"`{ran.command}` exited {ran.code}, not {expected}:\n{tail}")
                continue
            problems += [f"`{ran.command}` {p}" for p in mismatches(shown[ran.command], ran)]
    assert not problems, "\n".join(problems)

    # What the README says happens, beyond the printed lines.
    kvdb = tmp_path / "kvdb" / ".flow-data" / "examples" / "kvdb.sqlite"
    assert kvdb.is_file() and not (ROOT / "python" / ".flow-data").exists()
    run_dir = tmp_path / "run" / ".flow-data" / "examples"
    journal = run_dir / "collections" / "acmeCo" / "greetings.jsonl"
    assert len(journal.read_text().splitlines()) == 5
    keys = query_bucket(run_dir / "kvdb.sqlite").stdout.splitlines()
    assert [k.split("|")[0] for k in keys] == [f"greetings/{n}" for n in range(5)]
