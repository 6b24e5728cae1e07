"""Red team 64's left row 1, closed by the lead (stop 43): an analyst asking for access
from a refused query's link, against the stewards approving it and the officer following
the case.

Rule: a console form left as the page showed it is no change (red teams 62-64): what
is asked is under the case reference the analyst gave.

Attack: a refused query links to the request page with its fields, purpose and case
reference; the page prints the case reference through ``rendering.shown``, which writes
an invisible character as ``\\uXXXX``. alice's refused query under ``JW-65`` + U+200B
(a zero-width space pasted with the reference) became a request under the plain text
``JW-65\\u200b`` when she sent the form as offered: the grant matches no query under the
real case (it fails closed), and the stewards approve, and the officer finds, a case
reference nobody gave.

Expected: the form sent as offered asks under the case reference of the link; one she
typed over is asked as typed. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

from sqlalchemy import select

from catalog.access_requests import AccessRequest
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.dibao_recipients"
CASE = "JW-65\u200b"
FORM = {"content-type": "application/x-www-form-urlencoded"}
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def _asked(gw: DemoGateway, typed: str | None) -> list[str]:
    """alice opens the request page as a refused query links to it and sends its form,
    its case reference as shown (``typed`` None) or typed over: the case references of
    her requests for the entry."""
    client, csrf = console_sign_in(gw, "alice")
    link = {"dataset": ENTRY, "fields": "id_number", "purpose": "supervision", "case_ref": CASE}
    page = client.get("/console/requests/new", params=link)
    assert page.status_code == 200, page.text[:300]
    form = _HIDDEN.findall(page.text)
    shown = re.search(r'<input id="case_ref" name="case_ref"[^>]* value="([^"]*)"', page.text)
    assert shown is not None, page.text[:500]
    case = html.unescape(shown.group(1)) if typed is None else typed
    sent = [(n, html.unescape(v)) for n, v in form if n != "csrf_token"]
    body = urlencode([*sent, ("csrf_token", csrf), ("fields", "id_number"),
                      ("purpose", "supervision"), ("case_ref", case), ("days", "7"),
                      ("justification", "a note to read")])  # fmt: skip
    answer = client.post("/console/requests", content=body, headers=FORM)
    assert answer.status_code == 303, answer.text[:500]
    with gw.services.sessions() as session:
        asked = session.scalars(select(AccessRequest).where(AccessRequest.requester == "alice"))
        return [a.case_ref for a in asked if a.dataset_id == ENTRY]


def test_the_request_sent_as_offered_is_under_the_links_case(deployment: DemoGateway) -> None:
    asked = _asked(deployment, None)
    assert asked and asked[-1] == CASE, [ascii(a) for a in asked]


def test_a_case_typed_over_is_asked_as_typed(deployment: DemoGateway) -> None:
    asked = _asked(deployment, " JW-66 ")
    assert asked and asked[-1] == "JW-66", [ascii(a) for a in asked]


def test_an_offered_case_other_than_offered_is_refused(deployment: DemoGateway) -> None:
    client, csrf = console_sign_in(deployment, "alice")
    for offered in ("zz", b"\x00".hex(), "4a57ff"):  # not hex, a NUL, not UTF-8
        body = urlencode({"csrf_token": csrf, "dataset": ENTRY, "fields": "id_number",
                          "purpose": "supervision", "case_ref": "JW-65", "days": "7",
                          "case_ref_offered": offered, "justification": "a note"})  # fmt: skip
        answer = client.post("/console/requests", content=body, headers=FORM)
        assert answer.status_code == 400, (offered, answer.status_code, answer.text[:300])
