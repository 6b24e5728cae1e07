"""Red team 44, as an analyst: two objects of one HTTP source that the "surely the same
object" answer (``objects.surely_same``) took for one, so a grant of one counted as a
grant of the other and a comparison matched the other's masked ID numbers with the
payroll's clear ones (red team 43's query-string variant, by the other ways an HTTP
object is told apart).

``surely_same`` compared an HTTP object by ``location_of``: the path's segments read
"more alike than a server may read them, never less" (``path_segments``: case folded,
a segment's ``;`` parameters cut off) — right for a freeze, which it makes stop more,
wrong where "the same" waves a key through as known — and not by the records pointer
that picks the object's rows out of the response. Three variants, each one endpoint's
two record sets: ``records`` (``data.public`` / ``data.archive`` of one response), the
path's case (``/people`` / ``/People``) and a segment's parameters (``/people;set=…``).

Expected: refused (403) or no hits, as without civil's grant of the public object. The
source is an HTTP server on both deployments (the fixture's).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from tests.attacks.test_redteam43_analyst_other_schema_grant import (
    _http_source,
    hits_unless_refused,
    payroll_sets,
    public_granted_archive_compared,
)
from tests.attacks.test_steward_sources import allowing
from tests.gateway.demo_app import DemoGateway

__all__ = ["allowing"]  # a fixture, used by name

VARIANTS = {
    "records": (("/people", "data.public"), ("/people", "data.archive")),
    "case": (("/people", "data.items"), ("/People", "data.items")),
    "matrix": (("/people;set=public", "data.items"), ("/people;set=archive", "data.items")),
}


class _Sets(BaseHTTPRequestHandler):
    """``/civil/people`` answers the public set as ``data.items``; ``/civil/People`` and
    ``/civil/people;set=archive`` the archive's; every answer carries both sets too
    (``data.public``, ``data.archive``)."""

    sets: ClassVar[dict[str, list[dict[str, Any]]]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query))
        last = split.path.rstrip("/").rsplit("/", 1)[-1]
        chosen = "archive" if last in ("People", "people;set=archive") else "public"

        def kept(name: str) -> list[dict[str, Any]]:
            return [r for r in self.sets.get(name, [])
                    if query.get("region_code") in (None, r["region_code"])]  # fmt: skip

        first = int(query.get("page", 1)) == 1
        data = {"items": kept(chosen), "public": kept("public"), "archive": kept("archive")}
        body = json.dumps({"data": data if first else {k: [] for k in data}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_grant_of_one_http_object_is_no_grant_of_one_spelt_otherwise(
    allowing: DemoGateway, variant: str
) -> None:
    gw, tag = allowing, variant.upper()
    _Sets.sets = payroll_sets(gw, f"JW-RT44-{tag}-PAY")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sets)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/civil"
        objects = [{"name": f"people_{s}", "path": path, "records": records}
                   for s, (path, records) in zip(("public", "archive"), VARIANTS[variant],
                                                 strict=True)]  # fmt: skip
        source = f"civil-api-rt44-{variant}"
        _http_source(gw, source, base, objects)
        public, archive = f"civil.people_rt44_{variant}_p", f"civil.people_rt44_{variant}_a"
        resp = public_granted_archive_compared(gw, source, public, archive, f"JW-RT44-{tag}")
    finally:
        server.shutdown()
        server.server_close()
    hits = hits_unless_refused(resp)
    assert not hits, f"{len(hits)} of the archive object's masked ID numbers named ({variant})"
