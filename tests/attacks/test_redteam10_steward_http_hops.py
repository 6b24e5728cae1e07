"""Red team 10, as a steward whose department runs the API it registers: reach another
department's HTTP API by a redirect or a next-page link.

Rule: a source is what it connects to, and a system one department registered is
never another department's source. The ownership check (``refuse_foreign_target``)
judges an HTTP source by its base URL: origin and base path.

Attack: civil registers its API at ``http://127.0.0.1:<port>/civil``. fiona registers
finance's at ``http://127.0.0.1:<port>/finance`` (another path: 201, rightly) — and
finance's server answers ``/finance/people`` with a redirect to ``/civil/people``, or
with one page of its own whose next-page link is ``/civil/people``. The redirect and
the link were checked against the network guard and the origin only, never against the
base path the ownership check had judged, so finance's entry served civil's records
(a redirect to another origin was followed too, only without the credentials).

Expected: every request of an HTTP source stays inside its base URL (origin and base
path, compared as reached): the redirect or link that leaves it fails the read (502),
and nothing of civil's is requested.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

CIVIL = [{"id": i, "name": f"civil person {i}", "region_code": "430121"} for i in range(3)]
OURS = [{"id": 100, "name": "finance person", "region_code": "430121"}]
Q = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["id", "region_code"]}


class Api:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.base_url = ""


def _handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def _json(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            api.log.append(path)
            if path == "/civil/people":
                self._json({"items": CIVIL})
            elif path == "/finance-redirect/people":  # finance's server, hostile
                self.send_response(302)
                self.send_header("Location", "/civil/people")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/finance-next/people":
                self._json({"items": OURS, "next": "/civil/people"})
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

    return Handler


@pytest.fixture(scope="module", params=KINDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoGateway, Api]]:
    api = Api()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home: Path = tmp_path_factory.mktemp(f"rt10-hops-{request.param}")
    try:
        with open_deployment(request.param, home, db_prefix="sluice_rt10_hops",
                             http_allow_hosts=["127.0.0.1"]) as gw:  # fmt: skip
            resp = gw.client.post("/api/v1/sources", headers=gw.headers("carl"),
                                  json=_source("civil-api", "civil", api.base_url + "/civil",
                                               paging="none"))  # fmt: skip
            assert resp.status_code == 201, resp.text
            yield gw, api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _source(source_id: str, department: str, base_url: str, paging: str) -> dict[str, Any]:
    return {
        "id": source_id, "department": department, "kind": "http",
        "display_name": f"{department} API",
        "settings": {"base_url": base_url, "auth": "none", "objects": [
            {"name": "people", "path": "/people", "records": "items",
             "paging": {"style": paging, "next_key": "next"}},
        ]},
    }  # fmt: skip


def _flow(gw: DemoGateway, api: Api) -> list[Any]:
    """Register finance's source, draft and publish its entry, query it: the answers,
    up to the first one that is not a success."""
    fiona = gw.headers("fiona")
    calls = [
        ("POST", "/api/v1/sources",
         _source("fin-next", "finance", api.base_url + "/finance-next", paging="next")),
        ("POST", "/api/v1/datasets",
         {"source_id": "fin-next", "object_name": "people", "dataset_id": "finance.people_next",
          "title_en": "people", "allowed_purposes": ["supervision"]}),
        ("POST", "/api/v1/datasets/finance.people_next/publish", None),
    ]  # fmt: skip
    answers = []
    for method, path, body in calls:
        answers.append(gw.client.request(method, path, headers=fiona, json=body))
        if answers[-1].status_code >= 300:
            return answers
    answers.append(gw.query("dora", "finance.people_next", Q))
    return answers


def test_a_redirect_out_of_the_base_path_is_not_followed(
    world: tuple[DemoGateway, Api],
) -> None:
    gw, api = world
    api.log.clear()
    body = _source("fin-redirect", "finance", api.base_url + "/finance-redirect", paging="none")
    resp = gw.client.post("/api/v1/sources", headers=gw.headers("fiona"), json=body)
    assert resp.status_code == 502, resp.text
    assert "/civil/people" not in api.log


def test_a_next_link_out_of_the_base_path_is_not_followed(
    world: tuple[DemoGateway, Api],
) -> None:
    gw, api = world
    api.log.clear()
    answers = _flow(gw, api)
    last = answers[-1]
    if last.status_code == 200 and len(answers) == 4:  # finance's own page only
        assert [row["id"] for row in last.json()["rows"]] == [100], last.text
    else:  # refused where the link was first followed
        assert last.status_code == 502, last.text
        assert "base path" in last.json()["message"], last.text
    assert "/civil/people" not in api.log
