"""Red team 62, as an analyst (or a steward of a department) probing the governed
query's body, against the security officer reading the trail.

Rule: a refusal's actor is the user store's identity (red team 61); a subject is named
alone, with no department and no roles, only when the store refuses the account.

Attack: the query route resolves its caller late (``deferred_user``): a token verified
before is checked on the event loop and the store is asked first thing in the route.
A body that is JSON but not a valid query (a field of the wrong type, an unknown field)
fails FastAPI's validation after that dependency ran and before the route: the request
carries the token's subject (``request.state.token_user``) but no resolved identity,
and the refusal handler took that for "the store refused this account" — fiona of
finance, a steward, was on record with no department and no roles, so an officer
searching the refusals of ``department=finance`` did not find her probes (the first
request of a token, resolved in full, named her right; every one after it did not).

Expected: every such refusal names the store's identity (finance, ``steward``).
On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.gateway.demo_app import DemoGateway

QUERY = "/api/v1/datasets/finance.payroll/query"


def _refusals_of(gw: DemoGateway, subject: str) -> list[dict[str, Any]]:
    params = {"actor": subject, "type": "request.refused", "limit": 50}
    resp = gw.client.get("/api/v1/audit/events", headers=gw.headers("sam"), params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def test_a_known_tokens_bad_query_body_names_the_stores_identity(
    deployment: DemoGateway,
) -> None:
    headers = {**deployment.headers("fiona"), "content-type": "application/json"}
    for body in (b'{"limit": "many"}', b'{"limit": 5, "rt62": 1}', b'{"limit": []}'):
        resp = deployment.client.post(QUERY, headers=headers, content=body)
        assert resp.status_code == 400, resp.text[:200]
    found = _refusals_of(deployment, "fiona")
    assert len(found) >= 3, found
    actors = [(e["actor"]["dept"], tuple(e["actor"]["roles"])) for e in found]
    assert set(actors) == {("finance", ("steward",))}, actors
