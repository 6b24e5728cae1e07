"""Red team 64, as an analyst asking for the identities behind a run's hits in the
console, against the stewards who approve by case and the officer who follows it.

Rule: a re-identification request names the purpose and case it is for; the run's page
offers the run's own (its form prefilled with them).

Attack: the form's inputs are printed through ``rendering.shown``, which writes an
invisible character as ``\\uXXXX`` text: dora's run under ``JW-64`` + U+200B, asked for
as the page offered it, filed the request — and so the approval, the release and their
records — under ``JW-64\\u200b`` in plain text, a case reference nobody gave.

Expected: the request left as the page offered it names the run's own case reference.
On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

from sqlalchemy import select

from catalog.reidentifications import ReidentificationRequest
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
CASE = "JW-64\u200b"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _offered(page: str, name: str) -> str:
    found = re.search(rf'<input id="reid-[a-z]+" name="{name}" value="([^"]*)"', page)
    assert found is not None, page[:500]
    return html.unescape(found.group(1))


def test_a_reidentification_asked_as_offered_names_the_runs_case(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    run = run_to_end(gw, "dora", MODEL, case_ref=CASE)
    assert run["status"] == "done" and run["hits"], run
    client, csrf = console_sign_in(gw, "dora")
    page = client.get(f"/console/comparisons/runs/{run['id']}")
    assert page.status_code == 200, page.text[:300]
    body = urlencode({"csrf_token": csrf, "hits": "1", "purpose": _offered(page.text, "purpose"),
                      "case_ref": _offered(page.text, "case_ref"),
                      "justification": "a lead to confirm"})  # fmt: skip
    asked = client.post(f"/console/comparisons/runs/{run['id']}/reidentify", content=body,
                        headers=FORM)  # fmt: skip
    assert asked.status_code == 303, asked.text[:300]
    with gw.services.sessions() as session:
        found = session.scalars(select(ReidentificationRequest).where(
            ReidentificationRequest.run_id == run["id"])).all()  # fmt: skip
        assert [ascii(r.case_ref) for r in found] == [ascii(CASE)]
