"""A throwaway PostgreSQL server on 127.0.0.1 for tests that need a real database driver.

Debian's `postgresql` package provides the binaries (installed with apt-get when missing,
which needs root); the cluster lives in a fresh temp directory with its own port, owned by
the `postgres` user when we are root, because the server refuses to run as root. Run this
file to start one by hand: `python postgres_server.py` prints its URL until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_ROOT = Path("/usr/lib/postgresql")
INSTALL_LOCK = Path(tempfile.gettempdir()) / "flow-sdk-postgres-install.lock"
SUPERUSER = "postgres"


class Unavailable(Exception):
    """No PostgreSQL can be had on this machine (not installed, and installing is impossible)."""


def find_bin_dir() -> Path | None:
    """The newest `/usr/lib/postgresql/<major>/bin` that has `initdb` and `postgres`."""
    if not PG_ROOT.is_dir():
        return None
    majors = sorted(
        (d for d in PG_ROOT.iterdir() if d.name.isdigit()), key=lambda d: int(d.name), reverse=True
    )
    for major in majors:
        bin_dir = major / "bin"
        if (bin_dir / "initdb").exists() and (bin_dir / "postgres").exists():
            return bin_dir
    return None


def ensure_installed(timeout: float = 900) -> Path:
    """The server's bin directory, installing Debian's `postgresql` first when it is missing.

    One installer at a time (pytest-xdist workers share the machine): a file lock, and apt's
    own lock is waited for rather than failed on. Raises `Unavailable` with the reason when
    this machine cannot install it."""
    found = find_bin_dir()
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise Unavailable("PostgreSQL is not installed and this machine has no apt-get")
    if os.geteuid() != 0:
        raise Unavailable(
            "PostgreSQL is not installed and installing it needs root: "
            "run `apt-get install -y postgresql` once"
        )
    with open(INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find_bin_dir()  # another worker may have installed it while we waited
        if found is not None:
            return found
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        wait = ["-o", "DPkg::Lock::Timeout=600"]
        for argv in (
            ["apt-get", *wait, "update", "-q"],
            ["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends", "postgresql"],
        ):
            done = subprocess.run(
                argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip()[-1500:]
                raise Unavailable(f"`{' '.join(argv)}` failed with code {done.returncode}: {tail}")
    found = find_bin_dir()
    if found is None:
        raise Unavailable(f"apt-get installed postgresql, but {PG_ROOT} has no initdb")
    return found


def _die_with_parent() -> Callable[[], None]:
    """A preexec_fn asking Linux to send the server SIGINT (a fast shutdown) when the test
    process dies, so a killed pytest leaves no server running; prepared before the fork, as
    the child may only call into libc."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def set_signal() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGINT), 0, 0, 0)

    return set_signal


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A running server: connect to `host:port` as `user` with `password`."""

    bin_dir: Path
    home: Path
    port: int
    process: subprocess.Popen[bytes]
    user: str = SUPERUSER
    password: str = "flow-sdk-pg-secret"
    host: str = "127.0.0.1"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    @property
    def log(self) -> str:
        path = self.home / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def psql(self, sql: str, database: str = "postgres", timeout: float = 120) -> str:
        """Run `sql` with psql (stopping at the first error); its output, unaligned."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
            ],
            input=sql,
            env={**os.environ, "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "30"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed on {database!r}: {done.stderr.strip()}")
        return done.stdout

    def stop(self, timeout: float = 60) -> None:
        """Fast shutdown (SIGINT: abort sessions, then a clean stop); SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


@dataclass(frozen=True)
class ServerUser:
    """The `postgres` account the server runs as when we are root (it refuses root)."""

    uid: int
    gid: int
    home: str

    def popen(self) -> dict[str, Any]:
        """Popen keywords running a child as this user, with its HOME."""
        env = {**os.environ, "HOME": self.home, "USER": "postgres", "LOGNAME": "postgres"}
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "env": env}


def _server_user() -> ServerUser | None:
    """None when we are not root: the server then runs as we do."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable(
            "running as root, but there is no `postgres` user to run the server as"
        ) from None
    return ServerUser(entry.pw_uid, entry.pw_gid, entry.pw_dir)


def _initdb(bin_dir: Path, home: Path, password: str, user: ServerUser | None) -> None:
    pwfile = home / "pwfile"
    pwfile.write_text(password + "\n")
    if user is not None:
        os.chown(pwfile, user.uid, user.gid)
    done = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(home / "data"),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **(user.popen() if user else {}),
    )
    pwfile.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed with code {done.returncode}: {done.stderr.strip()}")


def _start(
    bin_dir: Path, home: Path, port: int, user: ServerUser | None
) -> subprocess.Popen[bytes]:
    log = open(home / "postgres.log", "ab")  # noqa: SIM115 - the server's stderr; closed below
    try:
        return subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(home / "data"),
                "-p",
                str(port),
                "-k",
                str(home),
                "-c",
                "listen_addresses=127.0.0.1",
                # a test database: durability is not wanted, speed on a loaded machine is
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # a Ctrl-C of pytest does not reach it before teardown
            preexec_fn=_die_with_parent(),  # runs after the switch to the server's user
            **(user.popen() if user else {}),
        )
    finally:
        log.close()


def _wait_ready(server: PostgresServer, timeout: float) -> bool:
    """True once the server accepts connections; False when it exited (a port taken)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        ready = subprocess.run(
            [str(server.bin_dir / "pg_isready"), "-q", "-h", server.host, "-p", str(server.port)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if ready.returncode == 0:
            return True
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(
        f"PostgreSQL did not accept connections on port {server.port} within {timeout:.0f}s; "
        f"its log ends: {server.log[-1500:]}"
    )


@contextlib.contextmanager
def postgres_server(timeout: float = 180) -> Iterator[PostgresServer]:
    """A fresh cluster on a free loopback port, stopped and deleted on exit."""
    bin_dir = ensure_installed()
    user = _server_user()
    home = Path(tempfile.mkdtemp(prefix="flow-sdk-pg-"))
    server: PostgresServer | None = None
    try:
        if user is not None:
            os.chown(home, user.uid, user.gid)
        _initdb(bin_dir, home, PostgresServer.password, user)
        for _attempt in range(3):  # a free port can be taken before the server binds it
            port = free_port()
            server = PostgresServer(bin_dir, home, port, _start(bin_dir, home, port, user))
            if _wait_ready(server, timeout):
                break
        else:
            raise RuntimeError(
                f"PostgreSQL exited at start three times; its log ends: {server.log[-1500:]}"
                if server is not None
                else "PostgreSQL did not start"
            )
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly on SIGTERM too
    started = time.monotonic()
    with postgres_server() as pg:
        print(f"{pg.url()} (ready in {time.monotonic() - started:.1f}s; Ctrl-C stops it)")
        with contextlib.suppress(KeyboardInterrupt):
            pg.process.wait()
