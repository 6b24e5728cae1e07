"""Red team 62, as a steward saving an entry's corrections in the console (and a source's
or another steward's title holding a control character: a line separator pasted from a
word processor, a bidi mark), against the catalog's own data.

Rule: the console shows every printed value's controls as ``\\uXXXX`` (red team 61's
left row, ``rendering.shown``) — a display rule: the records are unchanged.

Attack: the entry page's form prints the entry's titles, purposes and tags into its
inputs' ``value`` through the same ``finalize``: a title ``Dibao\\u2028recipients`` (one
character, U+2028) arrives in the input as the six characters ``\\u2028``, and the
classify action saves every input that differs from the entry. carl, changing only one
field's level, rewrote the title into the escaped text (and a purpose holding a control
into another purpose: queries naming the real one were refused) — the display rule
wrote itself into the catalog, a change nobody asked for, on record as carl's.

Expected: saving the form unchanged leaves the titles, the purposes and the tags as
they were. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.entry_form import entry_as_listed, patched_then_saved_as_shown
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.dibao_recipients"
TITLE = "Dibao\u2028recipients \u202eyllaer"
PURPOSE = "case\u0085review"


def test_saving_the_form_unchanged_keeps_a_title_that_holds_a_control(
    deployment: DemoGateway,
) -> None:
    purposes = [*entry_as_listed(deployment, ENTRY)["allowed_purposes"], PURPOSE]
    after = patched_then_saved_as_shown(
        deployment, ENTRY, {"title_en": TITLE, "allowed_purposes": purposes}
    )
    assert after["title_en"] == TITLE, after["title_en"]
    assert after["allowed_purposes"] == purposes, after["allowed_purposes"]
