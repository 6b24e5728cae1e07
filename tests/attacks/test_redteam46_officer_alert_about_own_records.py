"""Red team 46, as a security officer: close the alert about your own records.

Rule: an alert about your own conduct is acknowledged and resolved by another officer
or admin (``gateway.web.routes.audit._move``: separation of duties). The subject-token
rules (``same_person_many_users``, ``person_many_departments``) are about a *person*
whose records are being pulled — the pattern of someone assembling a profile of them —
and name that person by the same keyed token the user store keeps of each user's own
ID number (``users.id_number_hash``, set by an admin so that a user pulling their own
records is flagged).

Attack: four analysts pull the records of sam, the security officer (his own number
recorded), in one day: ``same_person_many_users`` opens, high, naming sam's token. Sam
reads the alert and resolves it ("routine"), closing the alert about people looking
into him — the separation of duties checked only whether he was its actor or did one
of its events.

Expected: an alert whose subject is the handler's own token is "about" them too (403);
another officer or an admin handles it. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from gateway.enforcement.query.subjects import subject_token
from tests.attacks.made_users import analyst_made_by_root
from tests.attacks.redteam36 import DIBAO, dibao_number_in, set_own_id_number
from tests.gateway.demo_app import DemoGateway

ANALYSTS = ("alice", "dora", "eve46", "flo46")
ALERTS = "/api/v1/audit/alerts"


def _alert_on(gw: DemoGateway, token: str) -> dict[str, Any]:
    listed = gw.client.get(ALERTS, headers=gw.headers("sam"))
    assert listed.status_code == 200, listed.text
    found = [
        a
        for a in listed.json()["alerts"]
        if a["rule"] == "same_person_many_users" and a.get("subject") == token
    ]
    assert found, [(a["rule"], a.get("subject")) for a in listed.json()["alerts"]]
    return dict(found[0])


def test_an_officer_does_not_resolve_the_alert_about_their_own_records(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    number = dibao_number_in(gw, "430121")
    set_own_id_number(gw, "sam", number)
    for subject in ANALYSTS:
        analyst_made_by_root(gw, subject)
    body = {
        "purpose": "supervision",
        "case_ref": "JW-RT46-SAM",
        "limit": 5,
        "fields": ["id_number", "region_code"],
        "where": [{"field": "region_code", "op": "prefix", "value": "430121"}],
    }
    for subject in ANALYSTS:
        resp = gw.query(subject, DIBAO, body)
        assert resp.status_code == 200, (subject, resp.text[:300])
    alert = _alert_on(gw, subject_token(gw.settings.home, number))

    note = {"note": "routine: nothing to see"}
    mine = gw.client.post(f"{ALERTS}/{alert['id']}/resolve", json=note, headers=gw.headers("sam"))
    assert mine.status_code == 403, mine.text
    acked = gw.client.post(f"{ALERTS}/{alert['id']}/acknowledge", json=note,
                           headers=gw.headers("sam"))  # fmt: skip
    assert acked.status_code == 403, acked.text
    assert _alert_on(gw, alert["subject"])["state"] == "open"
    # an admin who is not its subject handles it
    other = gw.client.post(f"{ALERTS}/{alert['id']}/acknowledge", json=note,
                           headers=gw.headers("root"))  # fmt: skip
    assert other.status_code == 200, other.text
