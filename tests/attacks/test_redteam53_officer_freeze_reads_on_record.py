"""Red team 53, as a security officer reviewing the trail: what a freeze and a
publication recorded as the entry's reads.

Rule (stop 38): the freeze records what the frozen entry reads now beside what it was
recorded as reading (``emergency.record_reads_now``), and a publication records what
its object reads as the source told it for its checks (``catalog.reads_change``). Those
reads govern which other entries the freeze holds and which the grants' "same data"
rules link with it — "any table" (a source that did not answer within
``ASK_WITHIN_S``) links the entry with every told entry of its system until its
steward's refresh.

Attack (a reviewer's question, not an exploit): the trail keeps only the row binding's
digest of that write; the ``dataset.frozen`` and ``dataset.published`` events do not
say what was recorded, so an officer reading the trail (or an export offline) cannot
tell what the freeze held, nor that it recorded "any table".

And a steward's refresh that changes only what the entry reads (a view redefined at the
source: no column added, removed or retyped) put no event on the trail at all.

Expected: each event names the reads its write recorded; a refresh that changes them is
on record (``dataset.updated``). On the embedded default and
on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.test_stop38_lineage_asked_again import _redefine, _view
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
DRAFT = "civil.dibao_rt53_onrecord"
WHY = {"reason": "incident IR-53: what did the freeze hold?"}


def _newest(gw: DemoGateway, type_: str, entry: str) -> dict[str, Any]:
    found = gw.client.get("/api/v1/audit/events", headers=gw.headers("sam"),
                          params={"type": type_, "dataset": entry, "limit": 1})  # fmt: skip
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert items, f"no {type_} of {entry}"
    return dict(items[0].get("details") or {})


def test_the_freeze_and_the_publication_say_what_they_recorded(deployment: DemoGateway) -> None:
    gw = deployment
    carl = gw.headers("carl")
    draft = gw.client.post("/api/v1/datasets", headers=carl, json={
        "source_id": "civil-db", "object_name": "dibao_recipients", "dataset_id": DRAFT,
        "title_en": "dibao, on record", "allowed_purposes": ["supervision"]})  # fmt: skip
    assert draft.status_code == 201, draft.text
    published = gw.client.post(f"/api/v1/datasets/{DRAFT}/publish", headers=carl)
    assert published.status_code == 200, published.text
    assert "dibao_recipients" in " ".join(_newest(gw, "dataset.published", DRAFT).get("reads")
                                          or [])  # fmt: skip
    frozen = gw.client.post(f"/api/v1/datasets/{DIBAO}/freeze", json=WHY,
                            headers=gw.headers("sam"))  # fmt: skip
    assert frozen.status_code == 200, frozen.text
    said = _newest(gw, "dataset.frozen", DIBAO)
    lifted = gw.client.post(f"/api/v1/datasets/{DIBAO}/unfreeze", json=WHY,
                            headers=gw.headers("root"))  # fmt: skip
    assert lifted.status_code == 200, lifted.text
    assert "dibao_recipients" in " ".join(said.get("reads") or []), said


def test_a_refresh_that_changes_only_what_the_entry_reads_is_on_record(
    deployment: DemoGateway,
) -> None:
    """A steward's refresh of a view redefined at the source over the roll (no column
    added, removed or retyped) records that the entry now reads the roll — linked with
    it for the freezes and the grants — with only the row binding's digest on the trail:
    no ``dataset.updated`` said so."""
    gw = deployment
    with _view(gw, "dibao_rt53_relinked") as entry:
        _redefine(gw, "dibao_rt53_relinked", "dibao_recipients")
        refreshed = gw.client.post(f"/api/v1/datasets/{entry}/refresh", headers=gw.headers("carl"))
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["added"] == refreshed.json()["removed"] == []
        said = _newest(gw, "dataset.updated", entry)
    assert "dibao_recipients" in " ".join(said.get("reads") or []), said
