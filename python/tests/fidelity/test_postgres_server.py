"""The throwaway PostgreSQL the fidelity tests run against: loopback only, a password on
TCP, and nothing left behind (no process, no directory) once it is stopped."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from postgres_server import PostgresServer, postgres_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a cold run installs PostgreSQL


def test_a_server_listens_on_loopback_wants_its_password_and_leaves_nothing(
    postgres: PostgresServer,
) -> None:
    """A second server beside the session's (`postgres` made sure one can be had)."""
    with postgres_server() as server:
        assert server.port != postgres.port
        assert server.psql("SHOW listen_addresses;").strip() == "127.0.0.1"
        assert server.psql("SELECT current_user;").strip() == "postgres"
        wrong = subprocess.run(
            [str(server.bin_dir / "psql"), "-h", server.host, "-p", str(server.port)],
            input="SELECT 1;",
            env={**os.environ, "PGUSER": server.user, "PGPASSWORD": "not-the-password"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
        home, pid = server.home, server.process.pid
    assert server.process.poll() is not None
    assert not home.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=5).close()
