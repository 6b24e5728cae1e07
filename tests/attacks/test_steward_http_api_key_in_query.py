"""Steward: an HTTP API keyed by a query parameter (``?api_key=…``). ``auth`` was
``none``, ``bearer`` or ``basic``, so carl could only write civil's key into the base
URL or an object path: 201, the key stored in clear in the settings, shown in the
source's ``redacted`` URL to everyone who may read the source, and put on the trail
(``source.registered``). Settings *keys* that name a secret were refused, URLs were not.

Now ``"auth": "query"`` with ``"auth_param": "<name>"`` sends the source's sealed
``secret`` as that query parameter on every request to the source's origin — never in
the stored settings, the redacted URL or the trail — and a secret-like query parameter
(``api_key``, ``apikey``, ``key``, ``token``, ``access_token``, ``secret``,
``password``, ``sig``, ``signature``, any case) written into the base URL or an object
path is a 400 naming it, before anything is contacted or written. Against a real HTTP
server on loopback that answers only with the right key."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from audit.search import EventFilter, list_events
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.gateway.demo_app import DemoGateway, demo_gateway

KEY = "k3y-Of-Civil-7Qx9"
ROWS = [{"id": i, "name": f"person {i}", "region_code": "430121"} for i in range(3)]


@dataclass
class KeyedApi:
    """``/civil/people``, answering 401 without ``api_key=KEY`` in the query."""

    base_url: str = ""
    log: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)


def _handler(api: KeyedApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads ``api.log``."""

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            api.log.append((parts.path, query))
            keys = [v for k, v in query if k == "api_key"]
            status, body = 200, {"data": {"items": []}}
            if keys != [KEY]:
                status, body = 401, {"error": "no key"}
            elif parts.path.rstrip("/") == "/civil/people":
                page = int(dict(query).get("page", "1"))
                body = {"data": {"items": ROWS if page == 1 else []}}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture(scope="module")
def api() -> Iterator[KeyedApi]:
    found = KeyedApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    server.daemon_threads = True
    found.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    home: Path = tmp_path_factory.mktemp("http-query-key")
    with demo_gateway(home, http_allow_hosts=["127.0.0.1"]) as gateway:
        yield gateway


def _source(source_id: str, base_url: str, path: str = "/people", **extra: Any) -> dict[str, Any]:
    settings = {"base_url": base_url, "auth": "none", "objects": [
        {"name": "people", "path": path, "records": "data.items",
         "paging": {"style": "page", "page_param": "page", "size_param": "per_page"}},
    ]}  # fmt: skip
    settings.update(extra.pop("settings", {}))
    return {"id": source_id, "department": "civil", "kind": "http",
            "display_name": "civil API", "settings": settings, **extra}  # fmt: skip


def _trail(gw: DemoGateway) -> str:
    items = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=1000,
                        order="desc")["items"]  # fmt: skip
    return orjson.dumps(items).decode()


def _register(gw: DemoGateway, body: dict[str, Any]) -> Any:
    return gw.client.post("/api/v1/sources", json=body, headers=gw.headers("carl"))


@pytest.mark.parametrize(("where", "spelling"), [
    ("base", "api_key"), ("base", "API_KEY"), ("base", "apikey"), ("base", "Access_Token"),
    ("path", "api_key"), ("path", "token"), ("path", "Key"), ("path", "sig"),
    ("path", "signature"), ("base", "secret"), ("base", "password"),
    # red team 13: names that merely contain a credential's word passed a fixed list
    ("base", "client_secret"), ("path", "auth_token"), ("base", "access_key"),
    ("path", "passwd"), ("base", "X-Api-Key"), ("path", "refresh_token"),
])  # fmt: skip
def test_a_key_written_into_a_url_is_refused(
    gw: DemoGateway, api: KeyedApi, where: str, spelling: str
) -> None:
    api.log.clear()
    source_id = f"civil-key-{where}-{spelling.lower().replace('_', '-')}"
    carried = f"?{spelling}={KEY}"
    body = (_source(source_id, api.base_url + "/civil" + carried) if where == "base"
            else _source(source_id, api.base_url + "/civil", "/people" + carried))  # fmt: skip
    resp = _register(gw, body)
    assert resp.status_code == 400, f"registered: {resp.status_code} {resp.text}"
    assert spelling in resp.json()["message"] and "secret" in resp.json()["message"]
    assert KEY not in resp.text
    assert gw.client.get(f"/api/v1/sources/{source_id}",
                         headers=gw.headers("carl")).status_code == 404  # fmt: skip
    assert KEY not in _trail(gw)
    assert not api.log, "a refused source reached the API"


def test_a_harmless_query_parameter_still_passes(gw: DemoGateway, api: KeyedApi) -> None:
    """``?format=json`` names no secret: registered (the API then answers 401 without
    the key, so the connection test fails with a 502, never a 400 on the URL)."""
    resp = _register(gw, _source("civil-format", api.base_url + "/civil?format=json"))
    assert resp.status_code == 502, resp.text


def test_the_key_goes_as_a_query_parameter_from_the_secret(gw: DemoGateway, api: KeyedApi) -> None:
    api.log.clear()
    body = _source("civil-keyed", api.base_url + "/civil",
                   settings={"auth": "query", "auth_param": "api_key"}, secret=KEY)  # fmt: skip
    resp = _register(gw, body)
    assert resp.status_code == 201, resp.text
    assert KEY not in resp.text
    assert "auth: query" in resp.json()["redacted"]
    shown = gw.client.get("/api/v1/sources/civil-keyed", headers=gw.headers("carl"))
    assert shown.status_code == 200 and KEY not in shown.text
    objects = gw.client.post("/api/v1/sources/civil-keyed/introspect", headers=gw.headers("carl"))
    assert objects.status_code == 200, objects.text
    assert {c["name"] for c in objects.json()[0]["columns"]} >= {"id", "name", "region_code"}
    assert api.log and all([v for k, v in q if k == "api_key"] == [KEY] for _p, q in api.log)
    assert KEY not in _trail(gw)


@pytest.mark.parametrize("settings", [
    {"auth": "query"},  # which parameter?
    {"auth": "query", "auth_param": "api key"},
    {"auth": "query", "auth_param": ""},
])  # fmt: skip
def test_query_auth_needs_a_parameter_name(
    gw: DemoGateway, api: KeyedApi, settings: dict[str, Any]
) -> None:
    body = _source("civil-keyed-bad", api.base_url + "/civil", settings=settings, secret=KEY)
    resp = _register(gw, body)
    assert resp.status_code == 400, resp.text
    assert "auth_param" in resp.json()["message"] and KEY not in resp.text


def _console(gw: DemoGateway, subject: str) -> tuple[TestClient, str]:
    console: Console = gw.client.app.state.console
    password = set_demo_passwords(console.accounts, [subject])[subject]
    client = TestClient(gw.client.app, follow_redirects=False)
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/sign-in").text)
    assert nonce is not None
    answer = client.post("/console/sign-in", data={
        "csrf_token": nonce.group(1), "username": subject, "password": password})  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/console").text)
    assert csrf is not None
    return client, csrf.group(1)


def test_the_console_form_takes_query_auth_and_refuses_a_key_in_the_url(
    gw: DemoGateway, api: KeyedApi
) -> None:
    """The console's source form is the API's twin: ``query`` with its parameter tests
    fine (the key from the secret field), a key written into the base URL is refused."""
    client, csrf = _console(gw, "carl")
    objects = json.dumps(_source("x", "x")["settings"]["objects"])
    form = {"csrf_token": csrf, "kind": "http", "id": "civil-console", "display_name": "civil",
            "base_url": api.base_url + "/civil", "objects": objects}  # fmt: skip
    page = client.get("/console/sources/new?kind=http")
    assert 'value="query"' in page.text and 'name="auth_param"' in page.text
    keyed = client.post("/console/sources/test", data={
        **form, "auth": "query", "auth_param": "api_key", "secret": KEY})  # fmt: skip
    assert keyed.status_code == 200 and 'class="notice ok"' in keyed.text, keyed.text[-800:]
    assert KEY not in keyed.text
    in_url = client.post("/console/sources/test", data={
        **form, "auth": "none", "base_url": f"{api.base_url}/civil?api_key={KEY}"})  # fmt: skip
    assert "looks like a secret" in in_url.text
