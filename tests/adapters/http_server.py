"""A tiny department REST API on 127.0.0.1 for the HTTP adapter tests (stdlib only).

Endpoints: ``/people`` (page paging, honours ``region``), ``/offset`` (offset paging,
body is the list), ``/linked`` (next links), ``/ignores`` (ignores ``region``),
``/leaky`` (next link to another origin), ``/redirect?to=...`` (302), ``/slow``,
``/whoami`` (echoes the Authorization header). Every request is logged."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RECORDS = [
    {
        "id": i,
        "name": f"p{i:02d}",
        "region": "110101" if i % 3 else "120101",
        "amount": i * 1.5,
        "born": f"19{50 + i}-01-0{1 + i % 9}",
        "active": i % 2 == 0,
    }
    for i in range(1, 26)
]


@dataclass
class ServerLog:
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _handler(log: ServerLog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read ``log`` instead."""

        def _json(self, body: Any, status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(parts.query))
            log.requests.append((self.path, dict(self.headers.items())))
            rows = RECORDS
            if parts.path == "/people":
                if "region" in q:
                    rows = [r for r in rows if r["region"] == q["region"]]
                page, size = int(q.get("page", 1)), int(q.get("per_page", 10))
                self._json({"data": {"items": rows[(page - 1) * size : page * size]}})
            elif parts.path == "/offset":
                offset, limit = int(q.get("offset", 0)), int(q.get("limit", 10))
                self._json(rows[offset : offset + limit])
            elif parts.path in {"/linked", "/leaky"}:
                cursor = int(q.get("cursor", 0))
                nxt: str | None = f"{parts.path}?cursor={cursor + 10}"
                if parts.path == "/leaky":
                    nxt = f"http://127.0.0.2:{self.server.server_address[1]}/linked?cursor=10"
                if cursor + 10 >= len(rows):
                    nxt = None
                self._json({"items": rows[cursor : cursor + 10], "next": nxt})
            elif parts.path == "/ignores":
                self._json(rows)
            elif parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", q["to"])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif parts.path == "/slow":
                time.sleep(2)
                self._json([])
            elif parts.path == "/whoami":
                self._json(
                    [
                        {
                            "auth": self.headers.get("Authorization", ""),
                            "host": self.headers.get("Host", ""),
                        }
                    ]
                )
            else:
                self._json({"error": "not found"}, status=404)

    return Handler


@contextmanager
def serve() -> Iterator[tuple[str, ServerLog]]:
    """Run the API on an ephemeral port of 127.0.0.1; yields (base URL, request log)."""
    log = ServerLog()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(log))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
