"""A throwaway S3 endpoint on 127.0.0.1 for the published file-based source's tests: moto's
server, from a cached virtualenv of its own (moto is no dependency of flow-sdk), with uploads
made through that virtualenv's boto3, as a client of a real bucket would make them."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cached_venv import cached_venv

MOTO = ["moto[server]==5.2.5"]
KEYS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}

_UPLOAD = """
import sys, boto3
url, bucket, key, body = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
if key == "":
    s3.create_bucket(Bucket=bucket)
else:
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
"""


@dataclass
class S3Server:
    url: str
    python: Path  # moto's virtualenv, which has boto3

    def create_bucket(self, bucket: str) -> None:
        self._client(bucket, "", "")

    def upload(self, bucket: str, key: str, body: str) -> None:
        self._client(bucket, key, body)

    def _client(self, bucket: str, key: str, body: str) -> None:
        subprocess.run(
            [str(self.python), "-c", _UPLOAD, self.url, bucket, key, body],
            check=True,
            timeout=60,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def s3_server(log: Path) -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port until the block ends (stopped, then waited)."""
    python = cached_venv("moto-server", MOTO)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(python.parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto's S3 server did not start: {log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        yield S3Server(url=url, python=python)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
