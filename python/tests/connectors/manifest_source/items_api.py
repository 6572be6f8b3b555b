"""A small JSON API on loopback for the manifest source: `GET /items?since=&until=` returns
the items updated strictly after `since` and at or before `until` (timestamps as
`YYYY-MM-DDTHH:MM:SSZ`, which compare as strings), behind an `X-Api-Key` header."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

API_KEY = "sekrit-manifest-key"


class ItemsApi:
    """The server and its data; `requests` lists each request's query (to see resumes)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = list(items)
        self.requests: list[dict[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                api.requests.append(query)
                if self.headers.get("X-Api-Key") != API_KEY:
                    self._send(401, {"error": "bad api key"})
                elif url.path != "/items":
                    self._send(404, {"error": f"no {url.path}"})
                else:
                    since, until = query.get("since", ""), query.get("until", "9999")
                    found = [i for i in api.items if since < i["updated_at"] <= until]
                    self._send(200, {"items": found})

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ItemsApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
