"""Start-up paid once per task: a connector process the local runtime launched leaves a warm
copy of itself behind, and the runtime's later launches of the same command are forked from
that copy instead of importing everything again (an airbyte-cdk connector's ~1.4 s).

How it fits together (Linux only; the runtime's side is `flow_sdk.runtime.forked`):

- The runtime launches a local command with `FLOW_SDK_FORK_SERVER` naming a socket path
  derived from the launch (`launch_key`: argv, environment, working directory).
- `offer()`, first thing in `BaseConnector.main` (every module imported, no request read),
  forks a *fork server* when this process is exactly that launch: its `/proc/self/cmdline`,
  initial environment and working directory give the same key. A wrapper (a shell script, a
  logging wrapper, `uv run`) is never copied, so what a launch runs stays what it names.
- The fork server listens on the socket. For each connection it receives the new process's
  stdin, stdout and stderr (`SCM_RIGHTS`), forks, answers `P <pid>`, and `X <exit code>` once
  that process ends. The forked process continues from `offer()` as a fresh launch would.
- It exits once its socket is gone (the runtime removes the directory), its runtime is gone,
  or it sat idle for `IDLE_SECONDS`.

A process that is not single-threaded or holds open files at that point offers nothing: a
copy would share them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence

FORK_SERVER_ENV = "FLOW_SDK_FORK_SERVER"
"""Set by the local runtime: the socket path a fork server of this launch listens on."""
OWNER_ENV = "FLOW_SDK_FORK_SERVER_OWNER"
"""The runtime's pid: a fork server outliving it exits."""
IDLE_SECONDS = 120.0


def launch_key(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> str:
    """What identifies a launch: its exact argv, environment (less `FLOW_SDK_FORK_SERVER`)
    and working directory, hashed."""
    digest = hashlib.sha256()
    for arg in argv:
        digest.update(os.fsencode(arg) + b"\0")
    digest.update(b"\1")
    for name in sorted(env):
        if name != FORK_SERVER_ENV:
            digest.update(os.fsencode(name) + b"=" + os.fsencode(env[name]) + b"\0")
    digest.update(b"\1" + os.fsencode(cwd))
    return digest.hexdigest()[:20]


def offer() -> None:
    """Leave a fork server of this process behind when the runtime asked for one and this
    process is exactly the launch it names; in a process forked from it, return as that
    launch (with its stdin, stdout and stderr)."""
    path = os.environ.pop(FORK_SERVER_ENV, None)
    if not path or not sys.platform.startswith("linux") or not _is_the_launch(path):
        return
    if len(os.listdir("/proc/self/task")) != 1 or _open_files() or not _pidfds_work():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        ready, listening = os.pipe()
    except OSError:
        return
    try:
        first = os.fork()
    except OSError:  # no server, nothing lost: this launch goes on as it would have
        os.close(ready)
        os.close(listening)
        return
    if first:
        os.close(listening)
        with contextlib.suppress(ChildProcessError):  # gone already if SIGCHLD is ignored
            os.waitpid(first, 0)  # the middle process exits at once: the server is no child
        os.read(ready, 1)  # the server listens (or gave up) before this launch reads a request
        os.close(ready)
        return
    _start_server(path, ready, listening)


def _start_server(path: str, ready: int, listening: int) -> None:
    """In the first fork: become the fork server (a grandchild of the launch, in its process
    group, so a terminal's Ctrl-C reaches the processes it forks as it reaches a fresh launch)
    and serve; returns only in a forked connector process. Any failure ends the server,
    never the launch."""
    server = 0
    try:
        os.close(ready)
        if os.fork():
            os._exit(0)
        server = os.getpid()
        # The server ignores a terminal's Ctrl-C and reaps its processes itself, whatever the
        # connector set at import; each process it forks gets the connector's own handlers.
        inherited = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGCHLD)}
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _detach_std_streams()
        owner = int(os.environ.get(OWNER_ENV, "0") or 0)
        listener = _listen(path)
        os.close(listening)
        if listener is None:
            os._exit(0)  # another launch of the same command got there first
        _serve(listener, path, owner)
        for sig, handler in inherited.items():
            if handler is not None:
                signal.signal(sig, handler)
    except BaseException:
        os._exit(0 if os.getpid() == server else 70)


def _is_the_launch(path: str) -> bool:
    """Whether this process is the launch `path` was derived from (not a process a wrapper
    started or exec'd with other arguments or environment)."""
    try:
        with open("/proc/self/cmdline", "rb") as file:
            argv = [os.fsdecode(a) for a in file.read().split(b"\0")[:-1]]
        with open("/proc/self/environ", "rb") as file:
            pairs = [p.partition(b"=") for p in file.read().split(b"\0") if p]
        env = {os.fsdecode(k): os.fsdecode(v) for k, _, v in pairs}
        cwd = os.getcwd()
    except OSError:
        return False
    return os.path.basename(path) == f"fork-{launch_key(argv, env, cwd)}.sock"


def _pidfds_work() -> bool:
    """Whether the kernel has pidfds (Linux 5.3): the server waits for its processes by them."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


def _open_files() -> bool:
    """Whether anything but stdin, stdout and stderr is open."""
    fds = {int(fd) for fd in os.listdir("/proc/self/fd")}
    return len(fds - {0, 1, 2}) > 1  # listdir's own descriptor is one


def _detach_std_streams() -> None:
    """The launch's pipes belong to that launch: the server must not hold them open."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _listen(path: str) -> socket.socket | None:
    """Listen on `path`, claimed atomically (a hard link fails if the name exists)."""
    temp = f"{path}.{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(temp)
    listener.listen(16)
    try:
        os.link(temp, path)
    except OSError:
        listener.close()
        return None
    finally:
        os.unlink(temp)
    return listener


def _serve(listener: socket.socket, path: str, owner: int) -> None:
    """Fork a connector process per connection until the socket, the owner or the requests
    are gone; returns in each forked process."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    running: dict[int, tuple[socket.socket, int]] = {}  # pidfd -> (connection, pid)
    try:
        claimed: int | None = os.stat(path).st_ino
    except OSError:
        claimed = None
    idle_since = time.monotonic()
    while True:
        for key, _ in selector.select(timeout=1.0):
            if key.fileobj is listener:
                if _fork_one(listener, selector, running):
                    return
            else:
                _report_exit(key.fd, selector, running)
            idle_since = time.monotonic()  # idle: nothing forked or ended for IDLE_SECONDS
        if not running and _should_exit(path, owner, idle_since):
            _release(path, claimed)
            os._exit(0)


def _fork_one(
    listener: socket.socket,
    selector: selectors.BaseSelector,
    running: dict[int, tuple[socket.socket, int]],
) -> bool:
    """Serve one connection; True in the forked process. A connection that fails is closed
    before any `P` line: the runtime then starts that launch as a new process."""
    try:
        conn, _ = listener.accept()
    except OSError:
        return False
    fds: list[int] = []
    try:
        _, fds, _, _ = socket.recv_fds(conn, 64, 3)
        pid = os.fork() if len(fds) == 3 else -1
    except OSError:
        pid = -1
    if pid == 0:
        _become_launch(fds, selector, [conn, *(c for c, _ in running.values())])
        return True
    for fd in fds:
        os.close(fd)
    try:
        pidfd = os.pidfd_open(pid) if pid > 0 else -1
    except OSError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pidfd = -1
    if pidfd < 0:
        conn.close()
        return False
    running[pidfd] = (conn, pid)
    selector.register(pidfd, selectors.EVENT_READ)
    _tell(conn, b"P %d\n" % pid)
    return False


def _tell(conn: socket.socket, line: bytes) -> None:
    """Send to the runtime; one that is gone changes nothing (the process is still reaped),
    and a connector that restored SIGPIPE's default cannot make that kill the server."""
    with contextlib.suppress(OSError):
        conn.sendall(line, socket.MSG_NOSIGNAL)


def _become_launch(
    fds: list[int], selector: selectors.BaseSelector, connections: list[socket.socket]
) -> None:
    """In the forked process: drop the server's descriptors, take the launch's streams."""
    for key in list(selector.get_map().values()):
        obj = key.fileobj
        obj.close() if isinstance(obj, socket.socket) else os.close(key.fd)
    selector.close()
    for connection in connections:  # this launch's and those of the processes still running
        connection.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)


def _report_exit(
    pidfd: int, selector: selectors.BaseSelector, running: dict[int, tuple[socket.socket, int]]
) -> None:
    conn, pid = running.pop(pidfd)
    selector.unregister(pidfd)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    _tell(conn, b"X %d\n" % os.waitstatus_to_exitcode(status))
    conn.close()


def _release(path: str, claimed: int | None) -> None:
    """Remove the socket's name if it is still this server's (inode `claimed`), so the next
    launch of the command (after an idle exit) leaves a server there again instead of finding
    the name taken."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == claimed:
            os.unlink(path)


def _should_exit(path: str, owner: int, idle_since: float) -> bool:
    if time.monotonic() - idle_since > IDLE_SECONDS or not os.path.exists(path):
        return True
    if owner:
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    return False
