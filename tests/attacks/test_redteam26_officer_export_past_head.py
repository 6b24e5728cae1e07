"""Red team 26's left row, as a security officer: an export that starts past the head.

``GET /api/v1/audit/export?from=N`` with N past the trail's newest event answered 200
with an export of no event whose ``start_prev_hash`` is the genesis hash, and it
verified (``sluice audit verify --file``) as an empty export: harmless, but an officer
who mistyped ``from`` was handed a proof of nothing that looked like evidence. It is
now a 400 that says where the head is, before anything is exported or on record as
exported; ``from`` at the head still exports that one event.
"""

from __future__ import annotations

import orjson

from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway


def _exports(gw: DemoGateway) -> list[dict[str, object]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="audit.exported"), limit=1000)  # fmt: skip
    return list(page["items"])


def test_an_export_from_past_the_head_is_a_clear_400(deployment: DemoGateway) -> None:
    gw = deployment
    sam = gw.headers("sam")
    assert gw.client.get("/api/v1/audit/export", headers=sam).status_code == 200
    exported = len(_exports(gw))
    newest = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=50)
    head = max(int(e["seq"]) for e in newest["items"])
    for fmt in ("jsonl", "csv"):
        past = gw.client.get(f"/api/v1/audit/export?format={fmt}&from={head + 1000}",
                             headers=sam)  # fmt: skip
        assert past.status_code == 400, past.text
        assert "past the trail's head" in past.json()["message"], past.json()
    assert len(_exports(gw)) == exported, "an export of nothing is on record as exported"
    # from the head (or before it) still exports what is there
    at = gw.client.get(f"/api/v1/audit/export?from={head}", headers=sam)
    assert at.status_code == 200, at.text
    events = [r for r in map(orjson.loads, at.content.splitlines()) if r.get("kind") == "event"]
    assert events and int(events[0]["seq"]) == head, events[:1]
