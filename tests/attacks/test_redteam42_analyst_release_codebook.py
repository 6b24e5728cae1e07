"""Red team 42, as an analyst: a re-identification's release as a codebook of its
case's tokens in another department's entry.

Rule (stop 34, red teams 39 and 41): what one department releases in clear decodes no
other department's masked values: a grant's clear rows decode no case's tokens. A
re-identification releases the people a comparison found, approved by every department
of its sides.

Attack: the three entries mask ID numbers with ``hash``. dora runs her model of the roll's
recipients in the death register (both civil's) under a case,
asks for the hits' identities, and civil (the only department of the sides) approves.
The release pairs each hit's ``key_token`` — for keys masked alike, the case's own
``hash`` token — with the ID number in clear; read under the same case, finance's payroll
shows its numbers as those very tokens: the released people's payroll rows are named.

Expected: nothing of finance's named without finance's approval. On the embedded
default and PostgreSQL.
"""

from __future__ import annotations

import orjson
import pytest

from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, _ok
from tests.attacks.test_reidentification_attacks import _approve, _released
from tests.attacks.test_stop34_analyst_grant_token_codebook import PAYROLL, hash_ids
from tests.gateway.comparison_env import CASE, run_to_end
from tests.gateway.demo_app import DemoGateway

pytestmark = pytest.mark.xfail(
    strict=True,
    reason="red team 42 (left, medium, a design choice): a release's key_token is the "
    "case's hash token, so under the run's case it names the released people's rows in "
    "every entry masked with that case's key",
)

MODEL = "r42.dibao_deaths"
DEATHS = "civil.death_registrations"


def _model(gw: DemoGateway) -> None:
    """dora's model: the roll's recipients in the death register (civil × civil)."""
    _ok(gw.client.post("/api/v1/comparison-models", headers=gw.headers("dora"), json={
        "id": MODEL, "name": {"zh": "死亡低保", "en": "dead recipients"},
        "sides": [{"alias": "d", "dataset": DIBAO}, {"alias": "x", "dataset": DEATHS}],
        "joins": [{"left": "d", "left_key": "id_number", "right": "x",
                   "right_key": "id_number"}],
        "output": ["d.region_code"]}))  # fmt: skip


def test_a_civil_release_names_no_payroll_row(deployment: DemoGateway) -> None:
    gw = deployment
    for steward, entry in (("fiona", PAYROLL), ("carl", DIBAO), ("carl", DEATHS)):
        hash_ids(gw, steward, entry)
    _model(gw)
    view = run_to_end(gw, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 1, view
    hits = list(range(1, view["hits"] + 1))
    asked = _ok(gw.client.post("/api/v1/access-requests", headers=gw.headers("dora"), json={
        "run": view["id"], "hits": hits, **CASE, "justification": "the deaths"}))  # fmt: skip
    assert _approve(gw, "carl", asked["id"]).status_code == 200
    resp = _released(gw, "dora", view["id"])
    assert resp.status_code == 200, resp.text
    codebook = {r["key_token"]: v for r in orjson.loads(resp.content)["rows"]
                for k, v in r.items() if k.endswith(".reidentified") and v}  # fmt: skip
    assert codebook
    payroll = _ok(gw.query("dora", PAYROLL, {
        "fields": ["id_number", "employer"], "limit": 10_000, "purpose": "audit",
        "case_ref": CASE["case_ref"]}))["rows"]  # fmt: skip
    named = [r for r in payroll if r["id_number"] in codebook]
    assert not named, (
        f"{len(named)} of finance's payroll rows named by civil's release of "
        f"{len(codebook)} people, with no finance approval"
    )
