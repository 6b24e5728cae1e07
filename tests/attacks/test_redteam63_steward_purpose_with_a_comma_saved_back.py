"""Red team 63, as a steward saving an entry's corrections in the console, against the
purposes analysts' queries and grants name (and the entry's titles and tags).

Rule (red team 62): an input left as the page showed it is no change — saving the form
unchanged leaves the entry as it was.

Attack: the API takes a purpose, a tag or a title as typed — a purpose holding a comma
(``fraud review, phase 2``), one with spaces around it, a title ending in a space. The
entry page prints the purposes into one input, joined by ", ", and the classify action
split that input on commas and stripped every word (and stripped the titles) before
comparing: carl, changing nothing (or one field's level), replaced the purpose
``fraud review, phase 2`` by two, ``fraud review`` and ``phase 2`` — queries and grants
under the purpose the department allowed were refused from then on, and a purpose it
never allowed was allowed — and rewrote the title, all on record as his change.

Expected: saving the form as shown leaves the titles, the purposes and the tags as they
were. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.entry_form import entry_as_listed, patched_then_saved_as_shown
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.death_registrations"
TITLE = " Death registrations (2024) "
PURPOSES = ["fraud review, phase 2", " audit "]
TAGS = ["deaths, registered", "civil "]


def test_saving_the_form_as_shown_keeps_a_purpose_holding_a_comma(
    deployment: DemoGateway,
) -> None:
    before = entry_as_listed(deployment, ENTRY)
    purposes = [*before["allowed_purposes"], *PURPOSES]
    tags = [*before["tags"], *TAGS]
    after = patched_then_saved_as_shown(
        deployment, ENTRY, {"title_en": TITLE, "allowed_purposes": purposes, "tags": tags}
    )
    assert after["allowed_purposes"] == purposes, after["allowed_purposes"]
    assert after["title_en"] == TITLE, after["title_en"]
    assert after["tags"] == tags, after["tags"]
    # and a query under the purpose the department allowed is still answered
    answer = deployment.query("dora", ENTRY, {"purpose": PURPOSES[0], "case_ref": "JW-63",
                                              "fields": ["death_date"], "limit": 1})  # fmt: skip
    assert answer.status_code == 200, answer.text[:300]
