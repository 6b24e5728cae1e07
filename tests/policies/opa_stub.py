"""A loopback stand-in for an OPA server: the OPA REST data API, answered by the real
OPA Go engine (``opa_bindings``) loaded from a Sluice bundle tarball.

Only what ``OpaServerPDP`` uses: ``POST /v1/data/<path>`` with ``{"input": ...}`` and
``GET /v1/data/<path>``; ``{"result": ...}``, or ``{}`` when undefined (as OPA does).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opa_bindings import OpaEngine, OpaUndefinedError

from policies.bundle import read_bundle


class OpaStub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bundle: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.engine = OpaEngine()
        modules, data = read_bundle(bundle)
        for name, source in modules.items():
            self.engine.add_policy(name, source)
        self.engine.add_data(data)
        self.delay_s = 0.0
        self.fail_status: int | None = None
        self.raw_answer: bytes | None = None  # sent verbatim to POSTs when set
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, path: str, value: Any) -> tuple[int, dict[str, Any]]:
        self.requests += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_status is not None:
            return self.fail_status, {"code": "internal_error", "message": "stub failure"}
        if not path.startswith("/v1/data/"):
            return 404, {"code": "not_found", "message": path}
        document = path.removeprefix("/v1/data/").strip("/").replace("/", ".")
        try:
            return 200, {"result": self.engine.eval_document(document, value)}
        except OpaUndefinedError:
            return 200, {}


class _Handler(BaseHTTPRequestHandler):
    server: OpaStub

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, body: dict[str, Any]) -> None:
        self._send_raw(status, json.dumps(body).encode())

    def _send_raw(self, status: int, raw: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        status, answer = self.server.answer(self.path, body.get("input"))
        if self.server.raw_answer is not None:
            self._send_raw(200, self.server.raw_answer)
            return
        self._send(status, answer)

    def do_GET(self) -> None:
        self._send(*self.server.answer(self.path, None))


@contextmanager
def running_stub(bundle: Path) -> Iterator[OpaStub]:
    stub = OpaStub(bundle)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.shutdown()
        stub.server_close()
        thread.join(timeout=5)
        stub.engine.close()
