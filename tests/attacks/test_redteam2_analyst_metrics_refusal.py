"""Red team 2, as an analyst and a steward: probing ``/metrics`` (ATTACKS.md: unaudited
paths).

``/metrics`` says its refusals are on record "like any refused request", but refusals
were recorded only under ``/api/v1/``: alice and carl could ask for the operators'
figures (audit counters, alert states by rule) again and again, refused each time,
and the trail never showed it. Every refused request of a known caller is on record,
whatever its path (the console records its own).
"""

from __future__ import annotations

import uuid

import pytest

from tests.gateway.comparison_env import events
from tests.gateway.demo_app import DemoGateway


@pytest.mark.parametrize("who", ["alice", "carl"])
def test_a_refused_metrics_scrape_is_on_record(deployment: DemoGateway, who: str) -> None:
    gw = deployment
    before = len(_refusals(gw, who, "/metrics"))
    resp = gw.client.get("/metrics", headers=gw.headers(who))
    assert resp.status_code == 403, resp.text
    assert len(_refusals(gw, who, "/metrics")) == before + 1


def test_an_unknown_path_outside_the_api_is_on_record(deployment: DemoGateway) -> None:
    gw = deployment
    path = f"/internal-{uuid.uuid4().hex[:8]}"
    resp = gw.client.get(path, headers=gw.headers("alice"))
    assert resp.status_code == 404, resp.text
    assert len(_refusals(gw, "alice", path)) == 1


def _refusals(gw: DemoGateway, who: str, path: str) -> list[dict[str, object]]:
    return [e for e in events(gw, types=("request.refused",))
            if e["actor"]["sub"] == who and e["details"].get("path") == path]  # fmt: skip
