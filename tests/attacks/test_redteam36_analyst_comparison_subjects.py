"""Red team 36, as an analyst: look people up through a comparison that names nobody.

Rule ("who looked up whom", README; red team 20 for queries): every read of people's
records names them on the trail by their subject tokens (keyed HMACs of their ID
numbers), whatever columns were asked for, so that an officer's lookup of a person
(``POST /api/v1/audit/lookups``) finds it and a user pulling their own records is
flagged (``self_hash_hit``, the own-records alert, high).

Attack: red team 20 made a *query* read the entry's ID-number fields beside the columns
asked for (``plan._trail_only``), but a comparison side still took its subject tokens
from its key, or else from an ID-number field among the fields it shows
(``plan._subject_column``). Dora compares the dibao roll with the death register keyed
on ``name`` (a masked key, matched as its hash token, as any key is) and shows
``phone`` and ``death_date``: each match is a person's masked phone next to a date of
death, her own record among them. The sides' ends and ``comparison.completed`` carried
no subject token at all: sam's lookup of dora's ID number found nothing and the trail
never said she had pulled her own record.

Expected: a comparison side reads the entry's first ID-number field beside what it
shows (never sent) when neither its key nor its fields are one, so its rows and its
matches are named as a query's are. On the embedded SQLite default and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tests.attacks.redteam36 import set_own_id_number
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
DEATHS = "civil.death_registrations"
BODY: dict[str, Any] = {
    "left": {"dataset": DIBAO, "key": "name", "fields": ["phone"]},
    "right": {"dataset": DEATHS, "key": "name", "fields": ["death_date"]},
    "purpose": "supervision",
    "case_ref": "JW-RT36-NAMES",
}


def _own_record(gw: DemoGateway) -> str:
    """The ID number of a dibao recipient whose name is also in the death register:
    made dora's own, as an admin records it."""
    civil = sqlite3.connect(gw.settings.demo_data_dir / "civil.db")
    try:
        ((number,),) = civil.execute(
            "SELECT d.id_number FROM dibao_recipients d JOIN death_registrations r "
            "ON d.name = r.name ORDER BY d.id_number LIMIT 1"
        ).fetchall()
    finally:
        civil.close()
    set_own_id_number(gw, "dora", number)
    return str(number)


def test_a_comparison_keyed_on_names_names_the_people_it_read(deployment: DemoGateway) -> None:
    gw = deployment
    own = _own_record(gw)
    resp = gw.compare("dora", BODY)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["row_count"] > 0, resp.json()
    assert all("id_number" not in str(c["name"]) for c in resp.json()["columns"])  # not sent
    request_id = resp.headers["X-Request-Id"]
    events = gw.request_events(request_id, want=6)
    ends = {e["request_id"]: e for e in events
            if e["type"] in ("query.completed", "comparison.completed")}  # fmt: skip
    assert len(ends) == 3, [(e["type"], e["request_id"]) for e in events]
    for end in ends.values():  # each side's rows and the matches name people
        assert end["details"]["subject_tokens"], (end["type"], end["request_id"])
    done = ends[request_id]
    assert done["details"]["self_hash_hit"] is True, done["details"].get("self_hash_hit")
    found = gw.client.post("/api/v1/audit/lookups", json={"id_number": own},
                           headers=gw.headers("sam"))  # fmt: skip
    assert found.status_code == 200, found.text
    assert request_id in {e.get("request_id") for e in found.json()["items"]}, found.json()
