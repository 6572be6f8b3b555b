"""A small JSON API on 127.0.0.1 for the demo tap: `/users` (paginated, filtered by
`since`, an API key required) and `/events` (no key). Tests add users between syncs and
read which requests the tap made."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAGE_SIZE = 2


class DemoApi:
    """The server and its data; `url` is what the tap's `api_url` setting points at."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.users: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = [{"kind": "signup", "n": n} for n in range(3)]
        self.requests: list[str] = []
        self.fail_users = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                api.requests.append(self.path)
                status, body = api.answer(self.path, self.headers.get("X-Api-Key"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add_users(self, count: int) -> None:
        start = len(self.users)
        for n in range(start + 1, start + count + 1):
            self.users.append({"id": n, "name": f"user {n}", "updated_at": 100 + n})

    def answer(self, path: str, key: str | None) -> tuple[int, Any]:
        url = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/events":
            return 200, {"items": self.events}
        if url.path != "/users":
            return 404, {"error": f"no such resource {url.path}"}
        if key != self.api_key:
            return 401, {"error": "the API key was refused"}
        if self.fail_users:
            return 400, {"error": "users are unavailable"}
        since = int(query.get("since", 0))
        page = int(query.get("page", 0))
        rows = [u for u in self.users if u["updated_at"] >= since]
        chunk = rows[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        more = (page + 1) * PAGE_SIZE < len(rows)
        return 200, {"items": chunk, "next_page": page + 1 if more else None}

    def __enter__(self) -> DemoApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
