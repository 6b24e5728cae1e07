"""Red team 64, as an analyst paging a console preview, against the officer who follows a
case on the trail.

Rule: every read is on record under the case reference it was made for (the case keys
its tokens, the officer follows the case by it); a page of results carries the query it
answers, and its page buttons post that query again (``query_results.html``).

Attack: the carried query is printed into hidden inputs, and what a page prints goes
through ``rendering.shown``, which writes invisible characters as ``\\uXXXX`` (since
this session every format character: a zero-width space, a soft hyphen pasted with a
reference, a variation selector). alice previews under ``JW-64`` + U+200B; "next page"
posted ``JW-64\\u200b`` as plain text: page 2 was read, and recorded, under a case
reference nobody gave — the case's trail misses it, and its tokens are keyed by another
case than page 1's. A filter value was rewritten the same way.

Expected: page 2 is on record under the case reference page 1 was. On the embedded
default and on PostgreSQL.
"""

from __future__ import annotations

from urllib.parse import urlencode

from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway
from tests.gateway.web.console.page_form import page_form

DIBAO = "civil.dibao_recipients"
CASE = "JW-64\u200b"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _case_refs(gw: DemoGateway) -> list[str]:
    found = gw.client.get("/api/v1/audit/events", headers=gw.headers("sam"),
                          params={"actor": "alice", "type": "query.*", "limit": 100})  # fmt: skip
    assert found.status_code == 200, found.text
    return [e.get("case_ref") for e in found.json()["items"] if e.get("case_ref")]


def test_the_next_page_is_read_under_the_same_case(deployment: DemoGateway) -> None:
    client, csrf = console_sign_in(deployment, "alice")
    before = len(_case_refs(deployment))
    first = client.post(f"/console/query/{DIBAO}/preview", content=urlencode({
        "csrf_token": csrf, "purpose": "supervision", "case_ref": CASE, "page_size": "20",
        "page": "1"}), headers=FORM)  # fmt: skip
    assert first.status_code == 200, first.text[:500]
    assert 'name="page" value="2"' in first.text  # there is a next page
    again = urlencode([*page_form(first.text), ("page", "2")])
    second = client.post(f"/console/query/{DIBAO}/preview", content=again, headers=FORM)
    assert second.status_code == 200, second.text[:500]
    cases = _case_refs(deployment)
    assert len(cases) > before, cases
    new = [c for c in cases if c in (CASE, "JW-64\\u200b")]
    assert new and all(c == CASE for c in new), [ascii(c) for c in new]
