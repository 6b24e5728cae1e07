"""Red team 37, as a steward (or a partner source's column names): a field named like
the gateway's own subject-token column.

Rule (README, "Who looked up whom"; THREAT_MODEL.md): a comparison records the subject
tokens (keyed HMACs of ID numbers) of the people it matched, never a raw ID number, and
an officer finds a person's lookups by their token. A side carries them in a column of
the gateway's own, ``__subject_token``, dropped before the hits are stored.

Attack (red team 36's left row, not tried there): the name is an identifier an entry's
field may take — a source column so named is drafted as is. Civil's steward publishes
an entry over a table whose ``__subject_token`` column holds a raw ID number and a
made-up token; dora compares it with itself, showing that field. The engine took the
field for the side's subject tokens: ``comparison.completed`` named
``110101199001011234`` and ``FAKE-TOKEN`` as the people matched (a raw ID number on the
trail, a forged "who looked up whom"), and the column dora asked for was listed in the
answer's header and dropped from its rows.

Expected: an entry holding a field of that reserved name is read by no query or
comparison (422, on record), and nothing of it reaches the trail. On the embedded
default and PostgreSQL. (Since stop 33 the catalog takes no new field so named —
tests/attacks/test_stop33_steward_reserved_field_name.py — so the entry here is one
published before that rule: the draft is made with it lifted.)
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from audit.search import EventFilter, list_events
from tests.attacks.legacy_entry import civil_draft, civil_table, publish_before_the_rule
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.rt37_people"
RAW = "110101199001011234"
CASE = {"purpose": "supervision", "case_ref": "JW-RT37-SUBJ"}


def _publish(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    columns = ["region_code", "__subject_token", "note"]
    civil_table(gw, "rt37_people", columns,
                [("430121", RAW, "n1"), ("430102", "FAKE-TOKEN", "n2")])  # fmt: skip
    publish_before_the_rule(gw, monkeypatch, civil_draft("rt37_people", ENTRY, "People"),
                            columns)  # fmt: skip


def test_a_field_named_like_the_subject_column_forges_nothing(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    _publish(gw, monkeypatch)
    before = _head(gw)
    side = {"dataset": ENTRY, "key": "region_code", "fields": ["__subject_token", "note"]}
    resp = gw.compare("dora", {"left": side, "right": side, **CASE})
    query = {"fields": ["region_code", "__subject_token"], **CASE}
    asked = gw.query("dora", ENTRY, query)
    time.sleep(0.5)  # an ad-hoc comparison's end is queued behind its answer
    since = _since(gw, before)
    trail = json.dumps(since)
    assert RAW not in trail and "FAKE-TOKEN" not in trail, trail[:600]
    assert resp.status_code == 422, resp.text[:300]
    assert asked.status_code == 422, asked.text[:300]
    refused = [e for e in since if e["actor"]["sub"] == "dora"]
    assert len(refused) >= 2, [e["type"] for e in since]  # both refusals on record


def _head(gw: DemoGateway) -> int:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=1,
                       order="desc")  # fmt: skip
    return int(page["items"][0]["seq"]) if page["items"] else 0


def _since(gw: DemoGateway, seq: int) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=300,
                       order="desc")  # fmt: skip
    return [e for e in page["items"] if int(e["seq"]) > seq]
