"""A local flow-sdk connector's later launches are forked from a warm copy of its first one
(`flow_sdk.fork_server`): still one process per request, each with its own streams and exit
code, the same documents; a wrapper command is never copied; the copy goes away with its
runtime's directory."""

from __future__ import annotations

import io
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pytest

from flow_sdk.fork_server import FORK_SERVER_ENV
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.forked import FORK_CONNECTORS_ENV, ForkedProcess, start_local
from flow_sdk.runtime.launcher import LAUNCH_AHEAD_ENV
from flow_sdk.runtime.process import ConnectorProcess, Launch
from flow_sdk.runtime.run import RunOptions, run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

CONNECTORS = Path(__file__).parents[1] / "connectors"
NOTED = f"""
import os, sys
sys.path.insert(0, {str(CONNECTORS)!r})
from counter_capture import CounterCapture
from flow_sdk.errors import ValidateError
LOG = os.environ["NOTE_LOG"]
def note(word):
    with open(LOG, "a") as out:
        out.write(f"{{word}} {{os.getpid()}}\\n")
note("import")
class Noted(CounterCapture):
    def spec(self, spec):
        note("spec")
        return super().spec(spec)
    def validate(self, validate):
        if os.environ.get("REJECT"):
            raise ValidateError("the test rejects this config")
        return super().validate(validate)
Noted().main()
"""
"""The counter capture, noting each import (a process started anew) and each Spec (every
launch gets a probe Spec) with its pid; `REJECT` in its environment fails Validate."""


@pytest.fixture
def noted(catalog: Path, yaml_edit):  # noqa: ANN001, ANN201
    """The runtime tests' counter catalog (5 documents a binding), its capture run by
    `command` with `NOTE_LOG` (and `env`) set; returns the catalog's path."""

    def with_command(command: list[str], **env: str) -> Path:
        def edit(data: dict) -> None:
            local = data["captures"]["acmeCo/counter"]["endpoint"]["local"]
            local["command"] = command
            local["env"] = {"NOTE_LOG": str(catalog.parent / "notes.log"), **env}

        yaml_edit(catalog, edit)
        return catalog

    return with_command


def notes(tmp_path: Path, word: str) -> list[int]:
    """The pids that noted `word`, each once, in order."""
    lines = (tmp_path / "notes.log").read_text().splitlines()
    return list(dict.fromkeys(int(line.split()[1]) for line in lines if line.split()[0] == word))


def captured_ids(tmp_path: Path) -> list[int]:
    journal = tmp_path / "data" / "collections" / "acmeCo" / "alpha.jsonl"
    return [orjson.loads(line)["id"] for line in journal.read_bytes().splitlines()]


def run_catalog(path: Path) -> None:
    run(path, RunOptions(data_dir=path.parent / "data", progress=False), Console(io.StringIO()))


@pytest.mark.parametrize(
    ("forking", "ahead", "started_anew"),
    [(True, False, 1), (True, True, 1), (False, True, None)],
    ids=["forked", "forked-with-launch-ahead", "not-forked"],
)
def test_later_launches_are_forked_from_the_first(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    noted,  # noqa: ANN001
    forking: bool,
    ahead: bool,
    started_anew: int | None,
) -> None:
    """Started anew: the first launch only (with launch-ahead, its successor is started once
    it answered its probe, by then from its fork server); every launch when forking is off."""
    monkeypatch.setenv(FORK_CONNECTORS_ENV, "1" if forking else "0")
    monkeypatch.setenv(LAUNCH_AHEAD_ENV, "1" if ahead else "0")
    run_catalog(noted([sys.executable, "-c", NOTED]))
    launches = notes(tmp_path, "spec")
    assert len(launches) >= 4  # Spec, Validate, Apply and the session, each its own process
    imports = notes(tmp_path, "import")
    assert sorted(imports) == sorted(launches[:started_anew])
    assert captured_ids(tmp_path) == list(range(5))


def test_a_wrapper_command_is_never_copied(tmp_path: Path, noted) -> None:  # noqa: ANN001
    """The process a wrapper execs is not the launch the runtime made: every launch runs the
    wrapper again (its side effects too)."""
    wrapper = 'echo wrapper >> "$NOTE_LOG"; exec "$@"'
    run_catalog(noted(["sh", "-c", wrapper, "sh", sys.executable, "-c", NOTED]))
    launches = notes(tmp_path, "spec")
    wrapped = (tmp_path / "notes.log").read_text().splitlines().count("wrapper")
    assert wrapped == len(launches) == len(notes(tmp_path, "import"))


def test_a_forked_launch_fails_as_a_launched_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    noted,  # noqa: ANN001
) -> None:
    """Validate runs in a forked process and fails: the run reports its last log line."""
    monkeypatch.setenv(LAUNCH_AHEAD_ENV, "0")
    path = noted([sys.executable, "-c", NOTED], REJECT="1")
    with pytest.raises(RuntimeFailure, match="the test rejects this config"):
        run_catalog(path)
    assert len(notes(tmp_path, "import")) == 1
    assert len(notes(tmp_path, "spec")) == 2  # the probe's process, then Validate's


def _servers_of(path: str) -> list[int]:
    """Processes started with `path` as their fork server socket."""
    found = []
    needle = f"{FORK_SERVER_ENV}={path}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(pid))
    return found


def test_a_forked_process_is_driven_like_a_child(tmp_path: Path) -> None:
    """Streams, a kill, the exit code; and the server exits once its directory is gone."""
    directory = tempfile.mkdtemp(prefix="fork-test-")
    env = {**os.environ, "NOTE_LOG": str(tmp_path / "notes.log")}
    argv = [sys.executable, "-c", NOTED]
    first, asked = start_local(argv, env, directory)
    assert not isinstance(first, ForkedProcess)
    assert asked is not None and Path(asked).parent == Path(directory)
    request = b'{"spec":{"connectorType":"LOCAL","config":{}}}\n'
    out, _ = first.communicate(request, timeout=60)
    assert b'"spec"' in out and first.returncode == 0
    (socket_path,) = [str(p) for p in Path(directory).glob("fork-*.sock")]
    assert socket_path == asked
    assert _servers_of(socket_path), "the first launch left a fork server"

    second, asked = start_local(argv, env, directory)
    assert asked is None
    assert isinstance(second, ForkedProcess)
    second.stdin.write(request)
    second.stdin.close()
    assert b'"spec"' in second.stdout.read()
    assert second.wait(timeout=30) == 0 and not second.exit_unknown

    third, _ = start_local(argv, env, directory)
    assert isinstance(third, ForkedProcess)
    assert third.poll() is None  # waits for requests on its stdin
    with pytest.raises(Exception, match="timed out"):
        third.wait(timeout=0.2)
    third.kill()
    assert third.wait(timeout=30) == -signal.SIGKILL and not third.exit_unknown
    assert notes(tmp_path, "import") == [first.pid]
    assert notes(tmp_path, "spec") == [first.pid, second.pid]

    shutil.rmtree(directory)
    deadline = time.monotonic() + 15
    while _servers_of(socket_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _servers_of(socket_path), "the fork server outlived its directory"


def test_a_forked_process_outlives_its_server(tmp_path: Path) -> None:
    """A fork server killed while its process runs: the process is not taken for ended until
    it ends (its exit code unknown then: reported as killed)."""
    directory = tempfile.mkdtemp(prefix="fork-test-")
    env = {**os.environ, "NOTE_LOG": str(tmp_path / "notes.log")}
    argv = [sys.executable, "-c", NOTED]
    first, asked = start_local(argv, env, directory)
    first.communicate(b"", timeout=60)
    forked, _ = start_local(argv, env, directory)
    assert isinstance(forked, ForkedProcess)
    (server,) = set(_servers_of(str(asked))) - {forked.pid}
    os.kill(server, signal.SIGKILL)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert forked.poll() is None, "taken for ended while it still runs"
        time.sleep(0.1)
    forked.stdin.close()  # now it ends (a capture connector exits 0 at EOF)
    assert forked.wait(timeout=30) == -signal.SIGKILL
    assert forked.exit_unknown  # the runtime says so rather than blaming a kill
    assert not Path(f"/proc/{forked.pid}").exists() or _zombie(forked.pid)
    shutil.rmtree(directory)


def _zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _spec_answered(process: object) -> None:
    """Ask for a Spec and read the answer, leaving stdin open: the connector waits, imported."""
    process.stdin.write(b'{"spec":{"connectorType":"LOCAL","config":{}}}\n')  # type: ignore[attr-defined]
    process.stdin.flush()  # type: ignore[attr-defined]
    assert b'"spec"' in process.stdout.readline()  # type: ignore[attr-defined]


def test_a_forked_process_is_interrupted_as_a_fresh_one(tmp_path: Path) -> None:
    """A forked connector is in the runtime's process group (a terminal's Ctrl-C reaches it)
    with the connector's own SIGINT handling, while its fork server ignores the interrupt."""
    directory = tempfile.mkdtemp(prefix="fork-test-")
    env = {**os.environ, "NOTE_LOG": str(tmp_path / "notes.log")}
    argv = [sys.executable, "-c", NOTED]
    first, asked = start_local(argv, env, directory)
    _spec_answered(first)
    forked, _ = start_local(argv, env, directory)
    assert isinstance(forked, ForkedProcess)
    _spec_answered(forked)
    (server,) = set(_servers_of(str(asked))) - {forked.pid, first.pid}
    assert os.getpgid(forked.pid) == os.getpgid(server) == os.getpgrp()
    os.kill(server, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
    for process in (first, forked):
        process.send_signal(signal.SIGINT)
    fresh_code, forked_code = first.wait(timeout=30), forked.wait(timeout=30)
    assert forked_code == fresh_code != 0
    said = [orjson.loads(p.stderr.read().splitlines()[-1])["msg"] for p in (first, forked)]
    assert said == ["interrupted", "interrupted"]
    time.sleep(0.3)
    assert _servers_of(str(asked)) == [server], "the server is still there"
    shutil.rmtree(directory)


def test_a_connector_ignoring_sigchld_still_gets_exit_codes(tmp_path: Path) -> None:
    """A connector that ignores SIGCHLD at import (its children reaped by the kernel): its
    first launch still runs, and a forked launch's exit code is still reported."""
    directory = tempfile.mkdtemp(prefix="fork-test-")
    env = {**os.environ, "NOTE_LOG": str(tmp_path / "notes.log")}
    ignoring = "import signal\nsignal.signal(signal.SIGCHLD, signal.SIG_IGN)\n" + NOTED
    argv = [sys.executable, "-c", ignoring]
    first, asked = start_local(argv, env, directory)
    out, _ = first.communicate(b'{"spec":{"connectorType":"LOCAL","config":{}}}\n', timeout=60)
    assert b'"spec"' in out and first.returncode == 0
    forked, _ = start_local(argv, env, directory)
    assert isinstance(forked, ForkedProcess)
    forked.stdin.write(b'{"nonsense":{}}\n')
    forked.stdin.close()
    assert forked.wait(timeout=30) not in (0, -signal.SIGKILL)  # its own error exit, known
    shutil.rmtree(directory)


@pytest.mark.parametrize("form", ["path", "on-PATH", "env"])
def test_a_script_command_is_forked_too(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    noted,  # noqa: ANN001
    form: str,
) -> None:
    """A `#!` script (a console entry point like `flow-sdk`): the kernel runs its interpreter
    with the script's path, which is still the launch; later launches are forked from it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "noted-capture"
    python = Path(sys.executable)
    shebang = f"#!/usr/bin/env {python.name}" if form == "env" else f"#!{python}"
    script.write_text(f"{shebang}\n{NOTED}")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{python.parent}{os.pathsep}{os.defpath}")
    monkeypatch.setenv(LAUNCH_AHEAD_ENV, "0")
    run_catalog(noted([script.name if form == "on-PATH" else str(script)]))
    assert len(notes(tmp_path, "spec")) >= 4
    assert len(notes(tmp_path, "import")) == 1
    assert captured_ids(tmp_path) == list(range(5))


def test_a_lost_exit_status_is_reported_as_such(tmp_path: Path) -> None:
    """The fork server gone before its process: the failure says the ending is unknown (not
    that something killed the connector)."""
    directory = tempfile.mkdtemp(prefix="fork-test-")
    launch = Launch(
        argv=[sys.executable, "-c", NOTED],
        env={"NOTE_LOG": str(tmp_path / "notes.log")},
        label="the noted capture",
        fork_servers=directory,
    )
    with ConnectorProcess(launch, Console(io.StringIO())) as first:
        first.close_stdin()
        assert first.wait() == 0
    with ConnectorProcess(launch, Console(io.StringIO())) as forked:
        assert isinstance(forked.proc, ForkedProcess)
        (server,) = set(_servers_of(str(first.fork_server))) - {forked.proc.pid}
        os.kill(server, signal.SIGKILL)
        time.sleep(0.3)
        forked.close_stdin()
        forked.wait()
        message = str(forked.failure("the test"))
    assert "how it ended is unknown" in message and "killed by signal" not in message
    shutil.rmtree(directory)


def test_an_idle_server_gives_its_name_back(tmp_path: Path) -> None:
    """A fork server that exits idle removes its socket: the next launch starts anew and
    leaves a server there again (rather than finding the name taken)."""
    directory = tempfile.mkdtemp(prefix="fork-test-")
    env = {**os.environ, "NOTE_LOG": str(tmp_path / "notes.log")}
    quick = "import flow_sdk.fork_server as servers\nservers.IDLE_SECONDS = 0.5\n" + NOTED
    argv = [sys.executable, "-c", quick]
    request = b'{"spec":{"connectorType":"LOCAL","config":{}}}\n'
    for _ in range(2):
        first, asked = start_local(argv, env, directory)
        assert asked is not None, "started anew, asked to leave a server"
        first.communicate(request, timeout=60)
        assert Path(asked).exists() and _servers_of(asked)
        deadline = time.monotonic() + 15
        while Path(asked).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(asked).exists(), "the idle server left its socket behind"
    shutil.rmtree(directory)
