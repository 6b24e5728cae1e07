"""A gateway served over a real socket for the attacks on streams in flight, and the
deployment under it (issue 11; red teams 3 and 4 reuse it).

TestClient cannot close a connection mid-body or stop reading, so the gateway runs on
uvicorn in a thread (httptools, as ``sluice serve`` runs it) over an ``open_deployment``
(embedded default or PostgreSQL), with a 200,000-row table added to the civil
department's SQLite file so a result outgrows every buffer; ``RawStream`` reads a query's
answer over a raw socket only as far as it is told.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from audit.search import EventFilter, list_events
from catalog.models import Dataset, Field, Source
from gateway.web.app import create_app
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from gateway.web.http_protocol import Utf8RequestLineProtocol
from tests import live_http
from tests.attacks.deployments import open_deployment
from tests.gateway.demo_app import DemoGateway

BIG = "civil.big_rows"
BIG_ROWS = 200_000
CASE = {"purpose": "supervision", "case_ref": "JW-2026-011"}
STALL_S = 5.0  # the server's stall timeout in these tests
# how often a stream in flight re-reads its caller (``SLUICE_STREAM_GOVERN_EVERY_S``) in the
# mid-stream tests, which wait past it after a change: a fifth of the default second
GOVERN_S = 0.2
# a change made while a client holds its stream (a loaded machine: seconds) must meet the
# re-check, not the stall bound; L2 and L3 entries may be read whole
IN_FLIGHT_LIMITS: dict[str, Any] = {
    "stream_govern_every_s": GOVERN_S, "stream_stall_timeout_s": 60.0,
    "max_rows_by_level": {"L2": BIG_ROWS, "L3": BIG_ROWS},
}  # fmt: skip
PER_USER = 2
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Live:
    """A gateway served by uvicorn on a free port, and the demo it runs over."""

    gw: DemoGateway
    app: FastAPI
    server: uvicorn.Server
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, subject: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return live_http.post(
            f"{self.base}/api/v1/datasets/{BIG}/query",
            params={"format": "ndjson"}, json={**CASE, **body},
            headers={"Authorization": f"Bearer {self.gw.token(subject)}", **headers},
            timeout=60,
        )  # fmt: skip

    def events(self, request_id: str) -> list[dict[str, Any]]:
        page = list_events(store=self.gw.services.audit.store, filters=EventFilter(),
                           limit=500, order="desc")  # fmt: skip
        return [e for e in reversed(page["items"]) if e.get("request_id") == request_id]


def add_big_table(
    gw: DemoGateway,
    *,
    table: str = "big_rows",
    dataset: str = BIG,
    rows: int = BIG_ROWS,
    note: str = "'row ' || n || ' of a result larger than every buffer on the way'",
) -> None:
    """``rows`` rows in the civil department's SQLite file (``note``: the SQL of each
    row's note, over its number ``n``), published as an L2 entry ``dataset``."""
    with gw.services.sessions() as session:
        source = session.get(Source, "civil-db")
        assert source is not None
        url = source.settings["url"]
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(
                f"CREATE TABLE {table} (id INTEGER, region_code TEXT, note TEXT)"
            ))  # fmt: skip
            conn.execute(text(
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g "
                f"WHERE n < {rows}) INSERT INTO {table} SELECT n, "
                "CASE n % 3 WHEN 0 THEN '430121' WHEN 1 THEN '430102' ELSE '430181' END, "
                f"{note} FROM g"
            ))  # fmt: skip
        engine.dispose()
        ds = Dataset(
            id=dataset, department="civil", source_id="civil-db", object_name=table,
            title_zh="大表", title_en="Big table", level="L2",
            allowed_purposes=["supervision"], region_field="region_code", tags=[],
            status="published", schema_version=1,
        )  # fmt: skip
        specs = [("id", "int64"), ("region_code", "string"), ("note", "string")]
        ds.fields = [Field(name=n, type=t, level="L1", pi_category="none", position=i)
                     for i, (n, t) in enumerate(specs)]  # fmt: skip
        session.add(ds)
        session.commit()


@contextmanager
def serve(gw: DemoGateway, *, graceful_s: float = 2.0) -> Iterator[Live]:
    """The gateway on uvicorn in a thread (httptools, as ``sluice serve`` runs it)."""
    app = create_app(gw.settings, gw.services)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="critical", http=Utf8RequestLineProtocol,
                            lifespan="on", timeout_graceful_shutdown=graceful_s)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    live = Live(gw=gw, app=app, server=server, port=port)
    wait_for(lambda: server.started, "the server to start")
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()


@contextmanager
def deployment_home(kind: str, home: Path, **overrides: Any) -> Iterator[DemoGateway]:
    settings: dict[str, Any] = {
        "max_rows_by_level": {"L2": BIG_ROWS}, "daily_row_quota": 10 * BIG_ROWS,
        "rate_limit": "10000/minute", "stream_stall_timeout_s": STALL_S,
        "source_max_connections_per_user": PER_USER, **overrides,
    }  # fmt: skip
    with open_deployment(kind, home, db_prefix="sluice_lifecycle", **settings) as gw:
        add_big_table(gw)
        yield gw


def wait_for(check: Callable[[], Any], what: str, *, within_s: float = 30.0) -> Any:
    """Poll until ``check()`` is truthy (bounded; never a timing assertion)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


class RawPost:
    """A POST (or ``method``) over a raw socket with a 4 KB receive buffer, to any path, with any
    headers: it reads what it is told to and nothing more, as a client that stalls or
    hangs up would."""

    def __init__(
        self, live: Live, path: str, payload: bytes, headers: dict[str, str],
        method: str = "POST",
    ) -> None:  # fmt: skip
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", live.port))
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n{extra}"
                          f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)  # fmt: skip
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(4096)
        head, self.body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}

    @property
    def request_id(self) -> str:
        return self.headers["x-request-id"]

    def read(self, at_least: int) -> None:
        while len(self.body) < at_least:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.body += chunk

    def read_to_the_end(self) -> None:
        while chunk := self.sock.recv(1 << 20):
            self.body += chunk
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


class RawStream(RawPost):
    """``subject``'s query of the big table for NDJSON (``body`` over the case), posted
    as ``RawPost`` posts."""

    def __init__(self, live: Live, subject: str, body: dict[str, Any], **headers: str) -> None:
        super().__init__(live, f"/api/v1/datasets/{BIG}/query?format=ndjson",
                         json.dumps({**CASE, **body}).encode(),
                         {"Authorization": f"Bearer {live.gw.token(subject)}",
                          "Content-Type": "application/json", **headers})  # fmt: skip


def ended(live: Live, request_id: str) -> dict[str, Any]:
    """The end event of a request (polled: it is written as the stream stops)."""

    def end() -> dict[str, Any] | None:
        found = [e for e in live.events(request_id) if e["type"] != "query.started"]
        return found[0] if found else None

    return wait_for(end, f"an end on record for {request_id}")  # type: ignore[no-any-return]


def console_session(live: Live, subject: str) -> tuple[str, str]:
    """``subject`` signed in to the console: their session cookie header and CSRF token."""
    console: Console = live.app.state.console
    passwords = set_demo_passwords(console.accounts, [subject])
    with httpx.Client(base_url=live.base, follow_redirects=False, timeout=30) as client:
        page = client.get("/console/sign-in")
        token = _CSRF_FIELD.search(page.text)
        assert token is not None
        signed = client.post(
            "/console/sign-in",
            data={"csrf_token": token.group(1), "username": subject,
                  "password": passwords[subject]},
        )  # fmt: skip
        assert signed.status_code == 303, signed.text[:300]
        home = client.get("/console")
        csrf = _CSRF.search(home.text)
        assert csrf is not None
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return cookie, csrf.group(1)


@dataclass
class ConsoleStream:
    """A console result in flight: its stream, the session's cookie header and CSRF."""

    stream: RawPost
    cookie: str
    csrf: str


DOWNLOAD = (f"/console/query/{BIG}/download?format=csv",
            {"fields": ["id", "region_code", "note"], **CASE})  # fmt: skip


def console_stream(live: Live, subject: str, path: str = DOWNLOAD[0],
                   form: dict[str, Any] | None = None) -> ConsoleStream:  # fmt: skip
    """``subject``'s console POST of ``path`` (``form``; by default dora's kind of CSV
    download of the big table), answered 200 and its first 200 KB read."""
    cookie, csrf = console_session(live, subject)
    headers = {"Cookie": cookie, "Origin": live.base,
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    fields = {"csrf_token": csrf, **(DOWNLOAD[1] if form is None else form)}
    stream = RawPost(live, path, str(httpx.QueryParams(fields)).encode(), headers)
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    return ConsoleStream(stream, cookie, csrf)
