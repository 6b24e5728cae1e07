"""Red team 22, as a compromised partner source (an HTTP JSON API a department runs):
hold an analyst's query, and the gateway's worker, open for as long as it likes.

Rule (THREAT_MODEL, "Compromised partner source ... or hangs. Defences: statement
timeouts and max rows on every adapter"): a source answers a read within
``SLUICE_STATEMENT_TIMEOUT_S`` or the read fails (504 ``source_timeout``, on record).

Attack: the source's server answers at once and then sends its page a few bytes at a
time, each burst well within the timeout (every read of the socket returns before
httpx's read timeout), the whole page taking many times the timeout. Civil's steward
registers it (a legitimate registration: the server is civil's own), publishes an entry,
dora queries it.

Expected: the read fails once the statement timeout has passed (a 504 a moment after
the timeout), not when the source chooses to finish (the page, then a 200, after the
trickle's length). On main the timeout bounded each socket read only, so the query was
answered after the whole trickle: the bound a statement timeout promises did not hold.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.redteam22 import publish_over
from tests.gateway.demo_app import DemoGateway

TIMEOUT_S = 1.0
TRICKLE_S = 8.0  # the page's whole time: eight timeouts
MODE = ["body"]  # or "headers": the status line and headers trickled instead
PEOPLE = [{"id": i, "region_code": "430121"} for i in range(3)]
Q = {"purpose": "supervision", "case_ref": "JW-2026-022", "fields": ["id", "region_code"]}


def _handler() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            data = json.dumps({"items": PEOPLE}).encode()
            # padding inside the JSON (whitespace) so that the page has bytes to dribble
            data = data[:-1] + b" " * 40 + data[-1:]
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\nX-Padding: %s\r\n\r\n"
                    % (len(data), b"p" * 40))  # fmt: skip
            # the part trickled, and the part sent at once (before it, or after it)
            slow, before, after = (head, b"", data) if MODE[0] == "headers" else (data, head, b"")
            step = TRICKLE_S / len(slow)
            try:
                self.wfile.write(before)
                self.wfile.flush()
                for i in range(len(slow)):
                    self.wfile.write(slow[i : i + 1])
                    self.wfile.flush()
                    time.sleep(step)  # each byte well inside the read timeout
                self.wfile.write(after)
                self.wfile.flush()
            except OSError:  # the gateway hung up: what it should do
                return
            self.close_connection = True

    return Handler


@pytest.fixture(scope="module", params=KINDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler())
    server.daemon_threads = True
    base_url = f"http://127.0.0.1:{server.server_address[1]}/civil"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home: Path = tmp_path_factory.mktemp(f"rt22-trickle-{request.param}")
    try:
        with open_deployment(request.param, home, db_prefix="redteam22_trickle",
                             http_allow_hosts=["127.0.0.1"],
                             statement_timeout_s=TIMEOUT_S) as gw:  # fmt: skip
            source = {
                "id": "civil-slow-api", "department": "civil", "kind": "http",
                "display_name": "civil API", "settings": {
                    "base_url": base_url, "auth": "none", "objects": [
                        {"name": "people", "path": "/people", "records": "items",
                         "paging": {"style": "none"}}]},
            }  # fmt: skip
            # registration and the draft read the source too: set up while it is quick
            with _quick():
                publish_over(gw, "carl", source, "people", "civil.slow_people")
            yield gw
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _quick:
    """The server answers at once while the steward sets the source up."""

    def __enter__(self) -> None:
        global TRICKLE_S
        self.saved, TRICKLE_S = TRICKLE_S, 0.0

    def __exit__(self, *exc: object) -> None:
        global TRICKLE_S
        TRICKLE_S = self.saved


def test_a_trickled_page_ends_at_the_statement_timeout(world: DemoGateway) -> None:
    gw = world
    started = time.monotonic()
    resp = gw.query("dora", "civil.slow_people", Q)
    took = time.monotonic() - started
    assert resp.status_code == 504, (resp.status_code, resp.text[:300], took)
    assert resp.json()["code"] == "source_timeout", resp.text
    # the timeout, a moment for the connect and one last socket read; never the trickle
    assert took < TIMEOUT_S + 2.5, took


def test_trickled_headers_end_at_the_statement_timeout(world: DemoGateway) -> None:
    gw = world
    MODE[0] = "headers"
    try:
        started = time.monotonic()
        resp = gw.query("dora", "civil.slow_people", Q)
        took = time.monotonic() - started
    finally:
        MODE[0] = "body"
    assert resp.status_code == 504, (resp.status_code, resp.text[:300], took)
    assert took < TIMEOUT_S + 2.5, took


def test_the_timed_out_read_is_on_record(world: DemoGateway) -> None:
    gw = world
    resp = gw.query("dora", "civil.slow_people", Q)
    assert resp.status_code == 504, resp.text
    events = gw.request_events(gw.last_request_id(), want=2)
    assert [e["type"] for e in events][-1] == "query.failed", events
