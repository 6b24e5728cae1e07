"""Red team 25 (steward, with another request's save in flight): a source's
deregistration (or change) refused 409 left ``source.deregistered`` (``source.updated``)
``ok`` on the trail.

The deregistration put its record on the trail first and only then took each published
entry's write lock (``row_trail.bind_written``, and its torn-read check since 3787502):
another save of ``civil.dibao_recipients`` in flight past ``WRITE_WAIT_S`` (here: its
lock held, as a slow save or a replica's transaction holds it) made carl's deregistration
409 after the record was durable. The officers read a withdrawn source; it stayed
registered and alice's queries of its entries went on (200). The locks and checks come
before the record now; the deregistration retried after the save ends is on record once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.search import EventFilter, list_events
from catalog.entry_seals import entry_key
from catalog.source_seals import source_key
from gateway.stewardship import row_locks
from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.dibao_recipients"
QUERY = {"fields": ["name"], "limit": 1, "purpose": "supervision", "case_ref": "R25-1"}


def _events(gw: DemoGateway, type_: str) -> list[dict[str, object]]:
    page = list_events(store=gw.services.audit.store,  # type: ignore[attr-defined]
                       filters=EventFilter(type=type_), limit=10)  # fmt: skip
    return list(page["items"])


def _deregistered(gw: DemoGateway) -> list[dict[str, object]]:
    return _events(gw, "source.deregistered")


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_deregistration_is_not_on_record_as_done(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(row_locks, "WRITE_WAIT_S", 0.2)
    with open_deployment(kind, tmp_path / "h", db_prefix="sluice_red25_dereg") as gw:
        stripe = row_locks._STRIPES[row_locks._stripe(entry_key(ENTRY))]
        assert stripe.acquire(timeout=5)  # another request's save of the entry, in flight
        try:
            refused = gw.client.delete("/api/v1/sources/civil-db", headers=gw.headers("carl"))
        finally:
            stripe.release()
        assert refused.status_code == 409, refused.text
        assert _deregistered(gw) == []  # before the fix: 'ok' on record, source still live
        still = gw.query("alice", ENTRY, QUERY)
        assert still.status_code == 200, still.text
        done = gw.client.delete("/api/v1/sources/civil-db", headers=gw.headers("carl"))
        assert done.status_code == 200, done.text
        assert [e["outcome"] for e in _deregistered(gw)] == ["ok"]
        gone = gw.query("alice", ENTRY, QUERY)
        assert gone.status_code == 404, gone.text


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_source_change_is_not_on_record_as_done(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a steward's change of the source (its binding took the source's lock
    after ``source.updated`` was on record)."""
    monkeypatch.setattr(row_locks, "WRITE_WAIT_S", 0.2)
    with open_deployment(kind, tmp_path / "h", db_prefix="sluice_red25_srcedit") as gw:
        stripe = row_locks._STRIPES[row_locks._stripe(source_key("civil-db"))]
        assert stripe.acquire(timeout=5)  # another request's save of the source, in flight
        try:
            refused = gw.client.patch("/api/v1/sources/civil-db", headers=gw.headers("carl"),
                                      json={"display_name": "civil (renamed)"})  # fmt: skip
        finally:
            stripe.release()
        assert refused.status_code == 409, refused.text
        assert _events(gw, "source.updated") == []  # before the fix: 'ok' on record
        done = gw.client.patch("/api/v1/sources/civil-db", headers=gw.headers("carl"),
                               json={"display_name": "civil (renamed)"})  # fmt: skip
        assert done.status_code == 200, done.text
        assert [e["outcome"] for e in _events(gw, "source.updated")] == ["ok"]
