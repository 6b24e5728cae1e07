"""Red team 20, security officer: the release of a person's ID number in clear is not
found by "who looked up whom".

Rule (README): an officer finds every lookup of one person with ``POST
/api/v1/audit/lookups`` (events carrying the person's subject token). A
re-identification's release hands the analyst the raw ID numbers of the hits approved —
the most intrusive lookup the gateway makes — but ``reidentification.released`` named
only the run and hit ids: sam's lookup of a person whose ID number dora had just
received found the comparison that matched them (when within its first 1,000 people),
never the release, so nothing told him who received the number in clear, or when. The
release now names the people it released (their subject tokens).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.attacks.test_reidentification_attacks import MODEL, _approve, _ask, _released
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway


@pytest.fixture(scope="module")
def run(deployment: DemoGateway) -> dict[str, Any]:
    view = run_to_end(deployment, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 2, view
    return view


def test_a_released_id_number_is_found_by_the_officers_lookup(
    deployment: DemoGateway, run: dict[str, Any]
) -> None:
    gw = deployment
    req = _ask(gw, "dora", run["id"], [2]).json()
    assert _approve(gw, "carl", req["id"]).status_code == 200
    assert _approve(gw, "fiona", req["id"]).status_code == 200
    resp = _released(gw, "dora", run["id"])
    assert resp.status_code == 200, resp.text
    rows = orjson.loads(resp.content)["rows"]
    released = [v for r in rows if r["hit_id"] == 2 for k, v in r.items()
                if k.endswith(".reidentified") and v]  # fmt: skip
    assert released, rows
    found = gw.client.post("/api/v1/audit/lookups", json={"id_number": released[0]},
                           headers=gw.headers("sam"))  # fmt: skip
    assert found.status_code == 200, found.text
    releases = [e for e in found.json()["items"] if e["type"] == "reidentification.released"]
    assert releases, [e["type"] for e in found.json()["items"]]
    assert releases[0]["actor"]["sub"] == "dora"
