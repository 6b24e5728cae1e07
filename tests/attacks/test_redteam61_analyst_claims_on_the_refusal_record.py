"""Red team 61, as an analyst whose token's claims say more than the user store (an
identity provider's department and roles claims, which the gateway otherwise ignores;
or an embedded token minted before a demotion, valid up to 7 days), against the
security officer reading the trail.

Rule: identity is read fresh — department, roles and clearance are the user store's
word, never the token's (``gateway.stewardship.users.directory``). What the trail
records of an actor is what governs them.

Attack: alice (an analyst of no department) presents a token whose claims say
``dept: finance``, ``roles: [admin, security_officer]``, then sends requests that are
refused before any route resolves her identity: a path no route takes (404), a method
(405), a body that is not JSON (400), a body over the limit (413). Each refusal went on
record (``request.refused``) with the *token's* department and roles as the actor's: an
officer searching ``department=finance`` found alice's probes under finance, and the
events read as an administrator's and an officer's. A subject the store does not know
(mallory) was recorded with whatever roles its token claimed.

Expected: the refusal names the store's identity (alice: no department, ``analyst``);
a subject the store does not know (or refuses) is named with no department and no roles.
On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from gateway.auth.claims import claim_names_from
from gateway.auth.issuer import EMBEDDED_ISSUER, mint_token
from gateway.auth.keys import load_or_create_signing_key
from tests.gateway.demo_app import DemoGateway

CLAIMED = {"department": "finance", "roles": ["admin", "security_officer"],
           "clearance": "L4", "jurisdiction": [""]}  # fmt: skip


def _claiming(gw: DemoGateway, subject: str) -> dict[str, str]:
    user = SimpleNamespace(subject=subject, **CLAIMED)
    token = mint_token(user=user, key=load_or_create_signing_key(gw.settings.home),
                       issuer=EMBEDDED_ISSUER, audience=gw.settings.oidc_audience,
                       claim_names=claim_names_from(gw.settings))  # fmt: skip
    return {"Authorization": f"Bearer {token}", "content-type": "application/json"}


def _refusals_of(gw: DemoGateway, subject: str) -> list[dict[str, Any]]:
    params = {"actor": subject, "type": "request.refused", "limit": 50}
    resp = gw.client.get("/api/v1/audit/events", headers=gw.headers("sam"), params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def _probe(gw: DemoGateway, headers: dict[str, str]) -> None:
    query = "/api/v1/datasets/civil.dibao_recipients/query"
    for method, path, body, status in (
        ("GET", "/api/v1/rt61-nothing-here", None, 404),
        ("DELETE", "/api/v1/catalog", None, 405),
        ("POST", query, b'{"limit": ', 400),
        ("POST", query, b'{"x": "' + b"a" * 1_100_000 + b'"}', 413),
    ):
        resp = gw.client.request(method, path, headers=headers, content=body)
        assert resp.status_code == status, (method, path, resp.status_code, resp.text[:200])


def test_a_refusal_names_the_stores_identity_not_the_tokens(deployment: DemoGateway) -> None:
    _probe(deployment, _claiming(deployment, "alice"))
    found = _refusals_of(deployment, "alice")
    assert len(found) >= 4, found
    actors = {(e["actor"]["dept"], tuple(e["actor"]["roles"])) for e in found}
    assert actors == {(None, ("analyst",))}, actors


def test_an_unknown_subject_is_named_with_no_department_or_roles(
    deployment: DemoGateway,
) -> None:
    _probe(deployment, _claiming(deployment, "mallory"))
    found = _refusals_of(deployment, "mallory")
    assert found, "the refusals of a validated token are on record"
    actors = {(e["actor"]["dept"], tuple(e["actor"]["roles"])) for e in found}
    assert actors == {(None, ())}, actors
