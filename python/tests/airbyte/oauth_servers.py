"""Loopback servers for the config-update tests (real `http.server`s on 127.0.0.1).

`TokenApi`: an OAuth token endpoint whose refresh tokens are single-use (a reused one is
refused with `invalid_grant`, as Outreach, Zendesk or Xero do) and an `/items` API that takes
only the newest access token. `EncryptionService`: Flow's config-encryption endpoint
(`POST {"config", "schema"}`), answering a sops-like envelope: secret fields renamed with the
`_sops` suffix and their values replaced by `ENC[...]` digests, plus a `sops` stanza.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from flow_sdk.secrets import secret_paths


class _Handler(BaseHTTPRequestHandler):
    owner: Any

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, code: int, body: Any) -> None:
        data = orjson.dumps(body)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        code, answer = self.owner.post(self.path, self.headers.get("Content-Type", ""), body)
        self._answer(code, answer)

    def do_GET(self) -> None:  # noqa: N802
        code, answer = self.owner.get(self.path, self.headers.get("Authorization", ""))
        self._answer(code, answer)


@contextmanager
def serving(owner: Any) -> Iterator[str]:
    """Serve `owner` on a free loopback port; yields its base URL."""
    handler = type("Handler", (_Handler,), {"owner": owner})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class TokenApi:
    """Single-use refresh tokens; `/items` needs the newest access token."""

    def __init__(self, items: int = 3, expires_in: int = 1) -> None:
        self.items = items
        self.expires_in = expires_in
        self.lock = threading.Lock()
        self.refresh_token = "refresh-0-" + secrets.token_hex(8)
        self.access_token = ""
        self.initial_refresh_token = self.refresh_token
        self.issued: list[str] = []
        """Refresh tokens issued, oldest first."""
        self.refused: list[str] = []
        """Refresh tokens presented again after they were used."""

    def post(self, path: str, content_type: str, body: bytes) -> tuple[int, Any]:
        if path != "/oauth/token":
            return 404, {"error": "not_found"}
        if "json" in content_type:
            form = orjson.loads(body)
        else:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        with self.lock:
            if form.get("refresh_token") != self.refresh_token:
                self.refused.append(str(form.get("refresh_token")))
                return 400, {"error": "invalid_grant", "error_description": "refresh token reused"}
            n = len(self.issued) + 1
            self.refresh_token = f"refresh-{n}-" + secrets.token_hex(8)
            self.access_token = f"access-{n}-" + secrets.token_hex(8)
            self.issued.append(self.refresh_token)
            return 200, {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_in": self.expires_in,
            }

    def get(self, path: str, authorization: str) -> tuple[int, Any]:
        if not path.startswith("/items"):
            return 404, {"error": "not_found"}
        if not self.access_token or authorization != f"Bearer {self.access_token}":
            return 401, {"error": "invalid_token"}
        return 200, {"items": [{"id": n, "name": f"item {n}"} for n in range(1, self.items + 1)]}


class EncryptionService:
    """Seals configs like Flow's config-encryption service (not really encrypted)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def post(self, path: str, content_type: str, body: bytes) -> tuple[int, Any]:
        if path != "/v1/encrypt-config":
            return 404, {"error": "not_found"}
        request = orjson.loads(body)
        self.requests.append(request)
        return 200, sealed_envelope(request["config"], request["schema"])

    def get(self, path: str, authorization: str) -> tuple[int, Any]:
        return 404, {"error": "not_found"}


def sealed_envelope(config: Any, schema: Any) -> Any:
    """`config` with each secret's key suffixed `_sops` and its value an `ENC[...]` digest."""
    out = orjson.loads(orjson.dumps(config))
    for pointer, value in dict(secret_paths(schema, config)).items():
        *parents, last = pointer.split("/")[1:]
        node = out
        for token in parents:
            node = node[token]
        digest = base64.b64encode(hashlib.sha256(str(value).encode()).digest()).decode()
        node[f"{last}_sops"] = f"ENC[AES256_GCM,data:{digest},type:str]"
        del node[last]
    out["sops"] = {"encrypted_suffix": "_sops", "mac": "ENC[AES256_GCM,data:mac]", "version": "3.9"}
    return out
