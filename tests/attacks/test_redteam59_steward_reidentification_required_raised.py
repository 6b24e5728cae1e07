"""Red team 59, as a department's steward deciding a re-identification (red team 55's
left row 4, and its insider's way in).

Attack: dora asks for the identities behind a hit of her ``payroll_on_dibao`` run while
the dibao roll's ``id_number`` — the key the release reveals — is L3: the request
stores ``required`` {civil: 1, finance: 1}. carl then raises the field to L4 (its entry
with it). fiona approves for finance, carl alone for civil: the request read
``approved``, though an L4 key needs two different stewards of its department. The
policy refused the release afterwards (an L4 entry is used only by permission) — but
the stewards' screen, the trail and the requester were told "approved" by one; and a
catalog-database insider who wrote the level down only while dora asked (and back
after) got the same one-steward ``required`` with nothing to tell it from a genuine one.

Expected: an approval counts against the stewards the department needs *now*: the
stored ``required`` is raised to what the catalog asks at the approval (never lowered),
so carl's approval leaves the request pending on civil until a second steward of civil
approves.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Table

from catalog.models import Field
from tests.attacks.redteam27 import USERS, ok, second_civil_steward
from tests.attacks.reidentify_steps import approve, ask
from tests.attacks.test_insider_unsealed_console_catalog import _changed
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
DIBAO = "civil.dibao_recipients"
_F: Table = Field.__table__  # type: ignore[assignment]


def _key_level(gw: DemoGateway, level: str) -> None:
    body: dict[str, Any] = {"fields": {"id_number": {"level": level}}}
    if level != "L4":
        body["level"] = level  # the entry followed the field up; brought back down with it
    ok(gw.client.patch(f"/api/v1/datasets/{DIBAO}", json=body, headers=gw.headers("carl")))


@pytest.fixture
def cora(deployment: DemoGateway) -> Iterator[DemoGateway]:
    """A second steward of civil (cora) for the test."""
    gw = deployment
    second_civil_steward(gw)
    try:
        yield gw
    finally:
        gw.client.delete(f"{USERS}/cora/roles/steward/civil", headers=gw.headers("root"))


def _state(gw: DemoGateway, request_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(gw.client.get(f"/api/v1/access-requests/{request_id}",
                                              headers=gw.headers("dora")))  # fmt: skip
    return found


def test_an_approval_counts_against_the_stewards_needed_now(cora: DemoGateway) -> None:
    gw = cora
    view = run_to_end(gw, "dora", MODEL)
    assert view["status"] == "done" and view["hits"], view
    request_id = ask(gw, view["id"], [1], "JW-RT59-RAISED")
    assert _state(gw, request_id)["required"] == {"civil": 1, "finance": 1}
    _key_level(gw, "L4")
    try:
        approve(gw, "fiona", request_id)
        approve(gw, "carl", request_id)
        after = _state(gw, request_id)
        assert after["status"] == "pending", after
        assert after["required"]["civil"] == 2 and after["waiting_on"] == ["civil"], after
        approve(gw, "cora", request_id)
        assert _state(gw, request_id)["status"] == "approved"
    finally:
        _key_level(gw, "L3")


def test_no_approval_while_an_entry_is_changed_behind_the_gateway(cora: DemoGateway) -> None:
    """The insider's way in kept open through the approval: the key's level written down
    while the request is asked *and* decided, restored before the release. The approval
    reads the levels a gateway wrote, or none: 423 while the entry does not verify."""
    gw = cora
    view = run_to_end(gw, "dora", MODEL)
    field = (_F.c.dataset_id == DIBAO) & (_F.c.name == "id_number")
    with _changed(gw, _F, field, level="L2"):
        request_id = ask(gw, view["id"], [1], "JW-RT59-INSIDER")
        refused = gw.client.post(f"/api/v1/access-requests/{request_id}/approve",
                                 headers=gw.headers("carl"), json={})  # fmt: skip
        assert refused.status_code == 423, refused.text
    approve(gw, "carl", request_id)  # restored: decided on the genuine levels
    assert _state(gw, request_id)["waiting_on"] == ["finance"]
