"""Red team 64, as an analyst keeping her reads out of the officer's case search, against
the security officer following a case in the console.

Rule (red teams 55, 62): the officer reads and searches the trail by case; a case
reference holding a character that shows nothing is shown on the console as ``\\uXXXX``
(this session: every format character and default-ignorable code point), so that it
reads differently from the case it imitates.

Attack: alice queries under ``JW-64`` + U+200B and under ``JW-64 `` (a trailing space:
the record keeps a reference as typed). The officer's audit page lists them as
``JW-64\\u200b`` and ``JW-64 ``; sam types (or pastes) exactly that into the page's case
filter — and finds nothing: the filter searched the escape as plain text, and stripped
the space the reference holds. The reads under those references cannot be found from
the console by what it shows of them.

Expected: the case filter, given what the page showed, lists the events under that case
reference. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import re

from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import case_refs_fixture
from tests.gateway.demo_app import DemoGateway

HIDDEN, SPACED = "JW-64\u200b", "JW-64 "
SHOWN = {HIDDEN: "JW-64\\u200b", SPACED: "JW-64 "}

gw = case_refs_fixture("red64_case_filter", ["JW-64", HIDDEN, SPACED])


def _seqs(gw: DemoGateway, case_ref: str) -> set[int]:
    found = gw.client.get("/api/v1/audit/events", headers=gw.headers("sam"),
                          params={"case_ref": case_ref, "actor": "alice"})  # fmt: skip
    assert found.status_code == 200, found.text
    return {e["seq"] for e in found.json()["items"]}


def test_the_officers_case_filter_finds_a_case_by_what_the_page_shows(gw: DemoGateway) -> None:
    client, _ = console_sign_in(gw, "sam")
    for case, shown in SHOWN.items():
        wanted = _seqs(gw, case)
        assert wanted, ascii(case)
        page = client.get("/console/audit", params={"actor": "alice", "case_ref": shown})
        assert page.status_code == 200, page.text[:300]
        listed = {int(s) for s in re.findall(r'href="/console/audit/events/(\d+)"', page.text)}
        assert listed >= wanted, (ascii(case), listed, wanted)
    # and the escape names its character: JW-64 itself is another case, not listed
    page = client.get("/console/audit", params={"actor": "alice", "case_ref": SHOWN[HIDDEN]})
    listed = {int(s) for s in re.findall(r'href="/console/audit/events/(\d+)"', page.text)}
    assert not listed & _seqs(gw, "JW-64"), listed
