"""`flow-sdk run`'s materializations in a process of their own, beside the captures, as Flow
runs each materialization in shards of its own. After each capture commit it makes a pass:
with `--follow` it stores everything committed, as Flow's runtime does; by default only the
transactions later commits cannot change (settled: `materialize.run._JournalReader`), so
that a default run stores what one pass after the captures would, in the same
transactions, and only its last, short ones wait for the captures' end. (One exception: a
backfill that truncates a collection mid-run comes after transactions of the older
generation were stored; the destination gets its `backfillBegin`, as with `--follow`.)

A thread of the runtime's process cannot overlap them: the capture side keeps that
process's interpreter lock busy, so a following thread got a third of a core and moved no
work off the critical path (docs/benchmarks.md). The child is forked when the runtime has
no other thread (the CLI: it starts at once, its modules and the catalog already loaded),
else a fresh interpreter on the runtime's `sys.path` (a fork would copy locks other threads
may hold; unlike `multiprocessing`'s `spawn` it does not import the caller's main module
again). It prepares every enabled materialization (Spec, Validate, Apply, the session
opened), makes a pass over what the captures committed after each commit, and the run's last
pass once they ended.

One pipe carries everything back: the child's console lines (printed by the run's console,
so they land above its progress bars, or in the stream a caller gave it), the last pass's
progress, each materialization's result, and a failure as its class and sentence. The child
holds a copy of the data directory's lock file (the directory stays locked until it ended
too), and dies with the run: SIGKILL when the run's process ends (Linux), and it stops after
the pass in flight when the pipe closes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from flow_sdk.child_process import parent_death_signal
from flow_sdk.runtime.capture.run import catalog_committed_journals
from flow_sdk.runtime.catalog.load import Catalog, load_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.journal import DataDir
from flow_sdk.runtime.masking import mask
from flow_sdk.runtime.materialize.run import (
    MaterializationRun,
    Storing,
    prepare_materialization,
    store_committed,
)
from flow_sdk.runtime.testing_seams import arm_crash_points_from_environment, crash_point

STOP_SECONDS = 600.0
"""How long a stopped child may take to end its pass in flight before it is killed."""
EXIT_SECONDS = 10.0
"""How long a child that reported its results may take to exit before it is killed."""

Progress = Callable[[str, str, int | None], None]
"""`(kind, text, amount)`: `("start", description, total bytes)` before a task's last pass,
`("advance", note, bytes)` as it stores (`materialize.run.store_committed`'s calls)."""


class MaterializationsProcess:
    """The run's side of the child: `committed()` after each capture commit, `finish()` once
    the captures ended (the last pass; the results), `stop()` after a failure (what was
    stored; idempotent)."""

    def __init__(
        self,
        catalog: Catalog,
        source: str | Path,
        data: DataDir,
        transaction_documents: int,
        network: str,
        console: Console,
        follow: bool = True,
    ) -> None:
        self._console = console
        self._follow = follow
        self.error: BaseException | None = None
        """The child's failure, once it reported one."""
        self._runs: list[MaterializationRun] | None = None
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._ended = threading.Event()
        """The pipe closed (or broke): the child is gone or going."""
        self._commits = threading.Lock()
        self._asked = False
        """A `commit` was sent that the child has not taken yet: commits meanwhile set
        `_again` instead of sending their own, so the pipe never fills however often the
        captures commit, and the child makes one more pass once it takes the first."""
        self._again = False
        self._capture = ""
        """The capture of the last commit."""
        self._sending = threading.Lock()
        ours, theirs = socket.socketpair()
        settings = _Settings(
            str(data.root), transaction_documents, network, console.json_logs, follow
        )
        self._process: subprocess.Popen[bytes] | _Forked
        if can_fork():  # (the fork keeps its copy of the lock file: see `_fork`)
            self._process = _fork(ours, theirs, catalog, settings, console)
        else:
            self._process = _execute(theirs, source, settings, data.lock_fd())
        theirs.close()
        self._conn = Connection(ours.detach())
        self._reader = threading.Thread(target=self._read, name="materializations", daemon=True)
        self._reader.start()

    def committed(self, capture: str) -> None:
        """`capture` committed a transaction: the child makes a pass. Following, its failure,
        once reported, ends the captures here (what they committed is kept); storing ahead,
        the captures go on and `finish` raises it, as when the materializations follow them."""
        if not self._follow and (self.error is not None or self._ended.is_set()):
            return
        self._raise_failure()
        if self._ended.is_set():  # it died (or failed) with a commit outstanding
            self._reader.join()
            self._raise_failure()
            raise self._ended_without_result()
        with self._commits:
            self._capture = capture
            if self._asked:
                self._again = True
                return
            self._asked = True
            self._send(("commit", capture))

    def _took(self) -> None:
        """The child took a `commit` (the reader's thread): ask again if commits landed
        since it was sent, as its pass may have read the state files before them."""
        with self._commits:
            if self._again:
                self._again = False
                self._send(("commit", self._capture))
            else:
                self._asked = False

    def _send(self, message: str | tuple[str, str]) -> None:
        with self._sending, contextlib.suppress(OSError):  # (a gone child: see `_ended`)
            self._conn.send(message)

    def finish(self, progress: Progress) -> list[MaterializationRun]:
        """The last pass, over everything the captures committed: its progress, then each
        materialization's result (or the failure that stopped them)."""
        self._raise_failure()
        self._send("done")
        runs = self._collect(progress)
        self._raise_failure()
        if runs is None:
            raise self._ended_without_result()
        return runs

    def stop(self) -> list[MaterializationRun]:
        """End the child after its pass in flight (killed past `STOP_SECONDS`); what its
        materializations stored."""
        if self._runs is None and self._process.poll() is None:
            self._send("stop")
            self._collect(lambda kind, text, amount: None, STOP_SECONDS)
        if self._runs is not None:  # it reported: it only closes its pipe and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(EXIT_SECONDS)
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._reader.join()
        if self._runs is None:  # (it ended before this was called: its results are queued)
            self._collect(lambda kind, text, amount: None, 0)
        self._conn.close()
        return self._runs or []

    def _collect(self, progress: Progress, timeout: float | None = None) -> Any:
        """Events until the child's results (kept, and returned) or its end."""
        while self._runs is None:
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                return None
            kind = event[0]
            if kind == "ended":
                self._events.put(event)  # (for a later call)
                return None
            if kind in ("start", "advance"):
                progress(*event)
            elif kind == "ran":
                self._runs = [MaterializationRun(t, dict(d), n) for t, d, n in event[1]]
        return self._runs

    def _read(self) -> None:
        """The child's messages: console lines printed at once, the rest queued. Whatever
        ends this thread ends the child's part (`_ended`), so no caller waits for it."""
        try:
            while True:
                message = self._conn.recv()
                if message[0] == "line":
                    self._console.relay(message[1])
                elif message[0] == "took":
                    self._took()
                elif message[0] == "failed":
                    self.error = _failure(*message[1:])
                else:
                    self._events.put(message)
        except (EOFError, OSError):
            pass
        except Exception as exc:  # a garbled message, a console that failed: a bug
            self.error = RuntimeError(f"reading the run's materializations process failed: {exc!r}")
        finally:
            self._ended.set()
            self._events.put(("ended",))

    def _raise_failure(self) -> None:
        if self.error is not None:
            raise self.error

    def _ended_without_result(self) -> RuntimeFailure:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(5)
        code = self._process.returncode
        how = f"exit code {code}" if code is not None else "it closed its pipe"
        return RuntimeFailure(
            f"the run's materializations process ended without a result ({how}); what it "
            "committed is kept"
        )


class ChildTraceback(Exception):
    """Where a failure the materializations process reported was raised there: the cause of
    the failure raised again here, so that `--debug` shows the child's traceback too."""


def _failure(module: str, name: str, message: str, detail: str) -> BaseException:
    """The child's failure again: a `RuntimeFailure` of the same class and sentence (caused
    by its `ChildTraceback`), or (a bug) an error that shows the child's traceback."""
    kind = getattr(importlib.import_module(module), name, None) if module else None
    if isinstance(kind, type) and issubclass(kind, RuntimeFailure):
        failure = kind.__new__(kind)
        Exception.__init__(failure, message)
        failure.__cause__ = ChildTraceback(f"in the run's materializations process:\n{detail}")
        return failure
    return RuntimeError(f"the run's materializations process failed:\n{detail}")


# ---- the child ----


@dataclass(frozen=True)
class _Settings:
    data_dir: str
    transaction_documents: int
    network: str
    json_logs: bool
    follow: bool
    """Each pass stores everything committed; else only settled transactions (storing ahead)."""


def can_fork() -> bool:
    """Whether the child may be forked: the runtime has no other thread."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _fork(
    ours: socket.socket,
    theirs: socket.socket,
    catalog: Catalog,
    settings: _Settings,
    console: Console,
) -> _Forked:
    """The child forked. It keeps its copy of the data directory's lock file open, so the
    directory stays locked (a flock lasts while any copy is open) until it ended too."""
    run_pid = os.getpid()
    for stream in (sys.stdout, sys.stderr, console.stream):
        with contextlib.suppress(Exception):
            stream.flush()  # (else the child would write what is buffered again)
    pid = os.fork()
    if pid:
        return _Forked(pid)
    code = 1
    try:
        ours.close()
        _child_life(Connection(theirs.detach()), lambda: catalog, settings, run_pid)
        code = 0
    finally:
        os._exit(code)


def _execute(
    theirs: socket.socket, source: str | Path, settings: _Settings, lock_fd: int | None
) -> subprocess.Popen[bytes]:
    """The child executed; it inherits a copy of the data directory's lock file (`_fork`)."""
    arguments = [str(source), asdict(settings), os.getpid(), theirs.fileno()]
    kept = [theirs.fileno(), *([] if lock_fd is None else [lock_fd])]
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(sys.path), json.dumps(arguments)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        pass_fds=kept,
    )


class _Forked:
    """A forked child, with the part of `Popen`'s interface the run uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None and self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        deadline = time.monotonic() + (timeout or 0)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


_CHILD = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from flow_sdk.runtime.following import follow_in_child; "
    "follow_in_child(*json.loads(sys.argv[2]))"
)
"""The executed child's program: the runtime's `sys.path`, then `follow_in_child`."""


class _Sender:
    """The child's end of the pipe: one message at a time from any of its threads (a large
    one is written in two parts, which another thread's must not come between)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, message: Any) -> None:
        with self._lock:
            self.conn.send(message)


class _RelayConsole(Console):
    """The child's console: each rendered line goes to the run's console, masked here (the
    secrets a materialization's config resolves are registered in this process)."""

    def __init__(self, sender: _Sender, json_logs: bool) -> None:
        super().__init__(sys.stderr, json_logs)
        self._sender = sender

    def _write(self, text: str) -> None:
        text = mask(text)
        try:
            self._sender.send(("line", text))
        except OSError:  # (a connector's last lines after the pipe closed: stderr, then)
            super()._write(text)


class _RelayProgress:
    """The child's `PassProgress`: the run's bars, over the pipe."""

    def __init__(self, sender: _Sender) -> None:
        self._sender = sender

    def start(self, description: str, total: int | None = None, unit: str = " docs") -> None:
        self._sender.send(("start", description, total))

    def advance(self, amount: int, note: str = "") -> None:
        self._sender.send(("advance", note, amount))

    def finish(self) -> None:
        pass


def follow_in_child(source: str, settings: dict[str, Any], run_pid: int, fd: int) -> None:
    """The executed child: its catalog loaded from `source`, then `_child_life`."""
    _child_life(Connection(fd), lambda: load_catalog(source), _Settings(**settings), run_pid)


def _child_life(
    conn: Connection, catalog_of: Callable[[], Catalog], settings: _Settings, run_pid: int
) -> None:
    """Prepare, then a pass per `commit`, the last pass at `done`; stop after the pass in
    flight at `stop` or when the run is gone."""
    _die_with(run_pid)
    arm_crash_points_from_environment()
    crash_point.partner = run_pid  # (a test's kill point kills the whole run)
    sender = _Sender(conn)
    console = _RelayConsole(sender, settings.json_logs)
    storings: dict[str, Storing] = {}
    try:
        catalog = catalog_of()
        data = DataDir(Path(settings.data_dir))
        for task in catalog.materializations.values():
            if not task.disable:
                prepared = prepare_materialization(
                    catalog, task, data, console, settings.network, open_session=True
                )
                limit = settings.transaction_documents
                storings[task.name] = Storing(prepared, task.name, data, console, limit)
        _passes(_Inbox(conn), sender, console, catalog, data, storings, settings.follow)
    except EOFError:
        pass  # the run is gone: what was committed is kept
    except KeyboardInterrupt:
        pass  # (Ctrl-C reached the whole process group: the run says so itself)
    except BaseException as exc:  # sent to the run, which raises it
        _report(sender, exc)
    finally:
        for storing in storings.values():
            storing.close()  # (ended already after the last pass)
        with contextlib.suppress(OSError):
            results = [
                (s.task, s.result.documents, s.result.transactions) for s in storings.values()
            ]
            sender.send(("ran", results))
        conn.close()


def _passes(
    inbox: _Inbox,
    sender: _Sender,
    console: Console,
    catalog: Catalog,
    data: DataDir,
    storings: dict[str, Storing],
    follow: bool,
) -> None:
    """A pass per `("commit", capture)` (commits that arrived meanwhile make one), until
    `done` (the last pass) or `stop` (which also ends a pass in flight between two of its
    transactions). Storing ahead (not `follow`), a pass stores only settled transactions,
    and a materialization that fails leaves the others storing, as when they all store
    after the captures; following, the failure ends the process (and the captures)."""
    captures = _CaptureOrder(catalog)
    failed: dict[str, Exception] = {}
    while True:
        message = inbox.next()
        if message == "stop":
            return
        if message != "done":
            sender.send(("took",))  # (before the state files are read: see `_took`)
        committed = catalog_committed_journals(catalog, data)
        if message == "done":
            _last_pass(storings, failed, committed, sender, console)
            return
        growing = None if follow else captures.still_writing(message[1])
        for name, storing in storings.items():
            if name in failed:
                continue
            storing.unread(*committed)
            try:
                storing.store(lambda collection, documents, read: None, growing, inbox.stopping)
            except Exception as exc:  # (its session was abandoned)
                if follow:
                    raise
                failed[name] = exc


def _last_pass(
    storings: dict[str, Storing],
    failed: dict[str, Exception],
    committed: tuple[dict[str, int], dict[str, dict[str, Any]]],
    sender: _Sender,
    console: Console,
) -> None:
    """The run's last pass in the catalog's order, each session ended and checked, up to the
    first materialization that failed while storing ahead, whose failure it raises: a pass
    after the captures would have stopped there too. The failures of later ones are logged."""
    names = list(storings)
    first = next((i for i, name in enumerate(names) if name in failed), len(names))
    healthy = {name: storings[name] for name in names[:first]}
    store_committed(healthy, committed, _RelayProgress(sender), [])
    if first < len(names):
        for name in names[first + 1 :]:
            if name in failed:
                console.log("error", f"{name} failed too: {failed[name]}")
        raise failed[names[first]]


class _Inbox:
    """The run's messages, as the child's passes take them: commits that arrived meanwhile
    make one, and a pass in flight sees a `stop` between its transactions (`stopping`)
    without losing a commit that came before it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._commit: Any = None
        self._last: str | None = None
        """`stop` or `done`, once sent: nothing follows them."""

    def next(self) -> Any:
        """`stop` or `done` once sent, else the latest commit (waiting for one)."""
        self._drain()
        if self._last is None and self._commit is None:
            self._take(self._conn.recv())
            self._drain()
        if self._last is not None:
            return self._last
        message, self._commit = self._commit, None
        return message

    def stopping(self) -> bool:
        self._drain()
        return self._last == "stop"

    def _drain(self) -> None:
        while self._last is None and self._conn.poll():
            self._take(self._conn.recv())

    def _take(self, message: Any) -> None:
        if isinstance(message, tuple) and message[0] == "commit":
            self._commit = message
        else:
            self._last = message


class _CaptureOrder:
    """The collections a run's captures may still write, given the capture committing now:
    they run one after another in the catalog's order, so its own and those of the captures
    after it."""

    def __init__(self, catalog: Catalog) -> None:
        enabled = [task for task in catalog.captures.values() if not task.disable]
        self._names = [task.name for task in enabled]
        self._targets = [frozenset(b.target for b in task.enabled_bindings) for task in enabled]

    def still_writing(self, capture: str) -> frozenset[str]:
        later = self._names.index(capture) if capture in self._names else 0
        return frozenset().union(*self._targets[later:])


def _report(sender: _Sender, exc: BaseException) -> None:
    """The failure, masked here as the console's lines are."""
    kind = type(exc)
    detail = mask("".join(traceback.format_exception(exc)))
    with contextlib.suppress(OSError):
        sender.send(("failed", kind.__module__, kind.__qualname__, mask(str(exc)), detail))


def _die_with(run_pid: int) -> None:
    """SIGKILL this process when the run's process ends (Linux: the parent-death signal,
    tied to the thread that started the child; the run starts it from its own)."""
    hook = parent_death_signal()
    if hook is not None:
        hook()
    if os.getppid() != run_pid:  # it ended before the signal was set
        os._exit(1)
