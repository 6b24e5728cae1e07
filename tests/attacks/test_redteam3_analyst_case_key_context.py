"""Red team 3, as an analyst: a case reference that names the trail's own key.

Attack: every per-case key is HKDF(mask secret, info=case_ref), and the gateway-wide
key of the trail's subject tokens is the same derivation with the info
``sluice:audit-subjects``. An analyst who gives that text as their ``case_ref`` gets
hit lists (and hash masks, and token filters) keyed with the trail's key: the
``key_token`` of each hit is the gateway-wide token of that person, the one the audit
trail, the self-lookup alert and "who looked up whom" use.

Rule broken: the matches a user receives carry case-keyed tokens, which cannot be
linked to the trail's (THREAT_MODEL, known gaps: comparison subject tokens); a case
reference is text from the request and must never select a key the gateway keeps for
itself (ATTACKS.md "Name collisions", "Text re-parsed as structure").

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import orjson

from tests.gateway.comparison_env import events, hits, start, wait
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
RESERVED = "sluice:audit-subjects"


def test_a_case_reference_never_selects_the_trails_key(deployment: DemoGateway) -> None:
    gw = deployment
    resp = start(gw, "dora", MODEL, case_ref=RESERVED)
    if resp.status_code == 202:  # queued: its tokens must still not be the trail's
        view = wait(gw, "dora", resp.json()["id"])
        if view["status"] == "done":
            rows = orjson.loads(hits(gw, "dora", view["id"]).content)["rows"]
            mine = {r["key_token"] for r in rows}
            [done] = events(gw, run_id=view["id"], types=("comparison.completed",), want=1)
            trail = set((done.get("details") or {}).get("subject_tokens") or [])
            assert mine, "the run found no one: the attack shows nothing"
            assert not mine & trail, "the hits carry the trail's gateway-wide tokens"
        return
    assert resp.status_code == 400, resp.text
    assert "case" in resp.text
    # the same text anywhere a case key is made: a governed query with a token filter
    query = gw.query("dora", "civil.dibao_recipients", {
        "fields": ["region_code"], "purpose": "supervision", "case_ref": RESERVED,
        "where": [{"field": "id_number", "op": "=", "value": "x" * 16}],
    })  # fmt: skip
    assert query.status_code in (400, 403), query.text
