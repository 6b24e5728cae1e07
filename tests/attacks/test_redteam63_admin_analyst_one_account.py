"""Red team 63, as an administrator making an analyst of another administrator (or an
administrator of an analyst), against separation of duties.

Rule (README, docs/policies.md rule 8): whoever reads the audit trail does not query
the data it records — a security officer never holds the analyst role (``EXCLUSIVE``,
409 at the assignment, and the policy denies anyway).

Attack: an administrator holds every audit power the officer's exclusion is about —
``audit:read``, ``audit:verify``, ``audit:export``, ``alerts:read`` and the emergency
actions — yet ``admin`` and ``analyst`` were not exclusive. root made ``ada`` an
administrator and then an analyst (or gave arthur, an analyst, the administrator's
role): one account then read the roll under a case *and* read the whole trail about
it, officers' look-ups of her included (200 and 200).

Expected: the second role is refused (409, separation of duties) either way round,
nothing assigned; an account that held both before the rule queries nothing (as an
officer, whatever else it holds, never queries: the policy file's deny line). On the
embedded default and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from policies import rbac
from tests.attacks.test_redteam2_analyst_model_race import BASE
from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"


def _roles(gw: DemoGateway, subject: str) -> set[str]:
    return {r["role"] for r in gw.listed_user(subject)["roles"]}


def test_an_admin_is_never_made_an_analyst(deployment: DemoGateway) -> None:
    client, root = deployment.client, deployment.headers("root")
    ada = {"display_name": "Ada", "clearance": "L3", "jurisdiction": [""]}
    made = client.put(f"{USERS}/ada63", headers=root, json=ada)
    assert made.status_code == 200, made.text
    given = client.post(f"{USERS}/ada63/roles", headers=root, json={"role": "admin", "domain": "*"})
    assert given.status_code == 200, given.text
    resp = client.post(f"{USERS}/ada63/roles", headers=root,
                       json={"role": "analyst", "domain": "*"})  # fmt: skip
    assert resp.status_code == 409, resp.text[:300]
    assert "separation of duties" in resp.json()["message"]
    assert _roles(deployment, "ada63") == {"admin"}


def test_an_analyst_is_never_made_an_admin(deployment: DemoGateway) -> None:
    client, root = deployment.client, deployment.headers("root")
    resp = client.post(f"{USERS}/arthur/roles", headers=root, json={"role": "admin", "domain": "*"})
    assert resp.status_code == 409, resp.text[:300]
    assert "separation of duties" in resp.json()["message"]
    assert _roles(deployment, "arthur") == {"analyst"}
    # and so arthur reads no trail
    events = client.get("/api/v1/audit/events", headers=deployment.headers("arthur"))
    assert events.status_code == 403, events.text[:200]


def test_an_admin_made_an_analyst_before_the_rule_queries_nothing(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account that held both before the exclusion (a deployment upgraded with one)
    keeps them; its queries and comparisons are refused, as an officer's are."""
    client, root = deployment.client, deployment.headers("root")
    ada = {"display_name": "Ada before", "clearance": "L3", "jurisdiction": [""]}
    assert client.put(f"{USERS}/ada63b", headers=root, json=ada).status_code == 200
    with monkeypatch.context() as before:  # the rule as it was
        before.setattr(rbac, "EXCLUSIVE", {("analyst", "security_officer"),
                                           ("security_officer", "analyst")})  # fmt: skip
        for role in ("admin", "analyst"):
            given = client.post(f"{USERS}/ada63b/roles", headers=root,
                                json={"role": role, "domain": "*"})  # fmt: skip
            assert given.status_code == 200, given.text
    body = {"purpose": "audit", "case_ref": "JW-63", "fields": ["employer"], "limit": 1}
    resp = deployment.query("ada63b", "finance.payroll", body)
    assert resp.status_code == 403, resp.text[:300]


def test_an_auditor_made_an_analyst_before_the_rule_asks_and_compares_nothing(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team 63's left row 2: the same account's other analyst actions — an access
    request for the data, a comparison model authored or run — are refused too, for an
    administrator and for an officer who held the analyst's role before the rule."""
    client, root = deployment.client, deployment.headers("root")
    for subject, auditor in (("ada63c", "admin"), ("otto63c", "security_officer")):
        person = {"display_name": subject, "clearance": "L3", "jurisdiction": [""]}
        assert client.put(f"{USERS}/{subject}", headers=root, json=person).status_code == 200
        with monkeypatch.context() as before:  # no exclusion at all, as a table edit
            before.setattr(rbac, "EXCLUSIVE", set())
            for role in (auditor, "analyst"):
                given = client.post(f"{USERS}/{subject}/roles", headers=root,
                                    json={"role": role, "domain": "*"})  # fmt: skip
                assert given.status_code == 200, given.text
        h = deployment.headers(subject)
        asked = client.post("/api/v1/access-requests", headers=h, json={
            "dataset": "finance.payroll", "fields": ["bank_card"], "days": 3,
            "justification": "audit", "purpose": "audit", "case_ref": "JW-63"})  # fmt: skip
        assert asked.status_code == 403, (auditor, asked.text[:300])
        model = client.post("/api/v1/comparison-models", headers=h,
                            json={**BASE, "id": f"test.{subject}"})  # fmt: skip
        assert model.status_code == 403, (auditor, model.text[:300])
