"""Red team 20, anonymous client: ``/metrics`` series made up by the caller.

``/metrics`` counts requests by method, route template and status, and says route
*templates*, never raw paths, so that "an attacker cannot blow up the series count". The
method label, though, was the request line's method as sent: HTTP lets a method be any
token, so an anonymous client sending ``GET``'s cousins (``AAAA0``, ``AAAA1``, … each up
to the request line's limit) to ``/healthz`` or any unknown path made one new series
per request — held in the gateway's memory until restart and scraped every time. A
method the gateway does not know is now counted as ``other``.
"""

from __future__ import annotations

import re
import uuid

from tests.gateway.demo_app import DemoGateway

KNOWN = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def _methods(gw: DemoGateway) -> set[str]:
    scraped = gw.client.get("/metrics", headers=gw.headers("sam"))
    assert scraped.status_code == 200, scraped.text
    return set(re.findall(r'^sluice_http_requests_total\{method="([^"]*)"', scraped.text, re.M))


def test_made_up_methods_make_no_series_of_their_own(deployment: DemoGateway) -> None:
    gw = deployment
    tag = uuid.uuid4().hex[:6].upper()
    for i in range(40):
        gw.client.request(f"M{tag}{i}", "/healthz")
        gw.client.request(f"N{tag}{i}" + "X" * 200, f"/nowhere-{i}")
    methods = _methods(gw)
    assert methods <= KNOWN, sorted(methods - KNOWN)[:5]
    assert "other" in methods
