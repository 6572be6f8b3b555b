"""A loopback HTTP server speaking the part of the KvDB API destination-kvdb uses: `txn`
transactions (`POST /<bucket>`), prefix listing (`GET /<bucket>/?prefix&skip&limit&values
&format=json`), the secret key as HTTP Basic user or Bearer token, and scripted failures
(429 with rate-limit headers, 5xx) to test the client's retries."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    operations: int
    at: float


class FakeKvdb:
    """The server's state: buckets (id → secret, keys), scripted answers, requests seen."""

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[str, dict[str, Any]]] = {}
        self.script: list[Scripted] = []
        self.seen: list[Seen] = []
        self.rate_headers: dict[str, str] = {}
        self.lock = threading.Lock()
        self.url = ""

    def bucket(self, bucket_id: str, secret: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        self.buckets[bucket_id] = (secret, data)
        return data

    def fail_next(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        self.script.extend(Scripted(status, headers or {}, "try later") for _ in range(times))

    def transactions(self) -> list[int]:
        """Operation counts of the successful transaction requests, in order."""
        return [s.operations for s in self.seen if s.method == "POST" and s.operations >= 0]


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in {**self.server.fake.rate_headers, **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _authorized(self, secret: str) -> bool:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[7:] == secret
        if header.startswith("Basic "):
            user = base64.b64decode(header[6:]).decode().split(":", 1)[0]
            return user == secret
        return False

    def _route(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(method, parts.path, query, -1, time.monotonic())
        with fake.lock:
            fake.seen.append(seen)
            if fake.script:
                scripted = fake.script.pop(0)
                return self._answer(scripted.status, scripted.body, scripted.headers)
            bucket_id = parts.path.strip("/").split("/")[0]
            if bucket_id not in fake.buckets:
                return self._answer(404, "bucket not found")
            secret, data = fake.buckets[bucket_id]
            if not self._authorized(secret):
                return self._answer(401, "unauthorized")
            if method == "POST" and parts.path == f"/{bucket_id}":
                return self._transact(data, body, seen)
            if method == "GET" and parts.path == f"/{bucket_id}/":
                return self._list(data, query)
            return self._answer(400, "unsupported request")

    def _transact(self, data: dict[str, Any], body: bytes, seen: Seen) -> None:
        try:
            txn = json.loads(body)["txn"]
        except (ValueError, KeyError, TypeError):
            return self._answer(400, 'body must be {"txn": [...]}')
        if len(txn) > 1000:
            return self._answer(400, "too many operations in one transaction")
        for op in txn:
            key = op.get("set", op.get("delete"))
            if not isinstance(key, str) or len(key.encode()) > 128:
                return self._answer(400, f"bad key {key!r}")
            if "set" in op and not isinstance(op.get("value"), str):
                return self._answer(400, "values must be strings")
        for op in txn:
            if "set" in op:
                data[op["set"]] = op["value"]
            else:
                data.pop(op["delete"], None)
        seen.operations = len(txn)
        self._answer(200, "")

    def _list(self, data: dict[str, Any], query: dict[str, str]) -> None:
        prefix = query.get("prefix", "")
        skip, limit = int(query.get("skip", "0")), int(query.get("limit", "10000"))
        keys = sorted(k for k in data if k.startswith(prefix))[skip : skip + limit]
        if query.get("values") == "true":
            return self._answer(200, [[k, data[k]] for k in keys])
        self._answer(200, keys)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeKvdb) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = fake


@contextmanager
def serving() -> Iterator[FakeKvdb]:
    fake = FakeKvdb()
    server = Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
