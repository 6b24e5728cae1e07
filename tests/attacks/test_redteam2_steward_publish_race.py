"""Red team 2, as a steward: publishing an entry while its source is deregistered
(ATTACKS.md: concurrency, lifecycle).

``POST /api/v1/datasets/{id}/publish`` checked that the entry's source was live, put
the publication on record and then wrote it; a ``DELETE /api/v1/sources/{id}`` landing
in between found the entry still a draft, so nothing unpublished it: a published
entry of a deregistered source, in every analyst's catalog. One of the two must lose.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tests.gateway.demo_app import DemoGateway

SOURCE = "civil-db"
DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}


def test_a_publication_racing_a_deregistration_leaves_nothing_published(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    carl = gw.headers("carl")
    gw.edit_entry(DIBAO, status="draft")
    audit = gw.services.audit
    original = audit.append
    publishing = threading.Event()
    deregistered = threading.Event()

    def held_append(event: Mapping[str, Any]) -> Any:
        if event.get("type") == "dataset.published":
            publishing.set()  # the publication has checked the source
            assert deregistered.wait(30)
        return original(event)

    results: dict[str, Any] = {}

    def publish() -> None:
        results["publish"] = gw.client.post(f"/api/v1/datasets/{DIBAO}/publish", headers=carl)

    audit.append = held_append
    try:
        thread = threading.Thread(target=publish)
        thread.start()
        assert publishing.wait(30)
        delete = gw.client.delete(f"/api/v1/sources/{SOURCE}", headers=carl)
        deregistered.set()
        thread.join(30)
    finally:
        audit.append = original
    # one of the two loses, before its record (red team 25: the publication holds the
    # entry's lock from before its record, the deregistration waits for it and is
    # refused; refused after its record, the publication had left 'dataset.published'
    # ok on the trail); never a published entry of a deregistered source
    answers = sorted([delete.status_code, results["publish"].status_code])
    assert answers == [200, 409], (delete.text, results["publish"].text)
    gone = gw.client.get(f"/api/v1/sources/{SOURCE}", headers=carl).status_code == 404
    assert gone == (delete.status_code == 200)
    served = gw.query("alice", DIBAO, {"limit": 1, **CASE}).status_code
    assert served == (404 if gone else 200)
