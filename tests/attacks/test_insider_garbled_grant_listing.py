"""A grant row garbled behind the gateway does not take the request listing down.

Red team 15's open row: the database insider writes an approval without its moment
(``[{"by": "carl"}]``) or ``fields`` as a JSON object onto one of alice's requests, and
GET /api/v1/access-requests answered 500 for alice and for the department's stewards —
every request of theirs unreadable because of one row (the response model refused the
stored shape). Such a row grants nothing (``catalog.grant_seals``); it is now listed with
what can be read of it and ``sealed: false``, and the rest of the listing is served;
a value of a shape no gateway writes holds no seal rather than raising in its readers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-GARBLED"}
REQUESTS = "/api/v1/access-requests"


def _ask(gw: DemoGateway) -> str:
    body = {"dataset": DIBAO, "fields": ["phone"], "justification": "garbled", "days": 5}
    resp = gw.client.post(REQUESTS, headers=gw.headers("alice"), json={**body, **CASE})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


@pytest.fixture
def gw(deployment: DemoGateway) -> Iterator[DemoGateway]:
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")
    yield deployment
    deployment.sql("DELETE FROM access_requests WHERE requester = 'alice'")


@pytest.mark.parametrize(("column", "value"), [
    ("approvals", '[{"by": "carl"}]'),
    ("approvals", '[{"at": "2026-01-01T00:00:00.000000Z"}]'),
    ("approvals", '{"by": "carl"}'),
    ("fields", '{"phone": 1, "id_number": 2}'),
    ("fields", '["phone", 7]'),
])  # fmt: skip
def test_a_garbled_request_is_listed_unsealed_and_the_rest_served(
    gw: DemoGateway, column: str, value: str
) -> None:
    garbled, intact = _ask(gw), _ask(gw)
    gw.sql(f"UPDATE access_requests SET {column} = :v WHERE id = :i", v=value, i=garbled)
    for who in ("alice", "carl"):
        resp = gw.client.get(REQUESTS, headers=gw.headers(who))
        assert resp.status_code == 200, resp.text
        listed = {r["id"]: r for r in resp.json()}
        assert listed[garbled]["sealed"] is False
        assert listed[intact]["sealed"] is True
    one = gw.client.get(f"{REQUESTS}/{garbled}", headers=gw.headers("alice"))
    assert one.status_code == 200, one.text
    assert one.json()["sealed"] is False
    # nor does it break her queries (the broker reads her grants on every one)
    resp = gw.query("alice", DIBAO, {"fields": ["name", "phone"], "limit": 1, **CASE})
    assert resp.status_code in (200, 403), resp.text
