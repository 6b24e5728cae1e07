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

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.search import EventFilter, list_events
from catalog.entry_seals import entry_key
from catalog.models import Dataset
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


def _draft(gw: DemoGateway, entry: str) -> None:
    made = gw.client.post("/api/v1/datasets", headers=gw.headers("carl"), json={
        "source_id": "civil-db", "object_name": "dibao_recipients", "dataset_id": entry,
        "title_en": "copy", "allowed_purposes": ["supervision"]})  # fmt: skip
    assert made.status_code == 201, made.text


def _unshared_id(gw: DemoGateway) -> str:
    """An entry id whose lock stripe no row of civil-db shares (a shared stripe would
    serialise the two requests by chance, whatever the code does)."""
    with gw.services.sessions() as session:
        ids = session.scalars(select(Dataset.id).where(Dataset.source_id == "civil-db")).all()
    taken = {row_locks._stripe(source_key("civil-db"))}
    taken |= {row_locks._stripe(entry_key(i)) for i in ids}
    return next(f"civil.copy{n}" for n in range(100)
                if row_locks._stripe(entry_key(f"civil.copy{n}")) not in taken)  # fmt: skip


def _paused_at(gw: DemoGateway, type_: str, first: Any, second: Any) -> tuple[Any, Any]:
    """``first()`` in a thread, paused at its ``type_`` record, while ``second()`` runs;
    both responses."""
    audit = gw.services.audit
    original, paused, resume = audit.append, threading.Event(), threading.Event()

    def held(event: Mapping[str, Any]) -> Any:
        if event.get("type") == type_:
            paused.set()
            assert resume.wait(30)
        return original(event)

    done: dict[str, Any] = {}
    audit.append = held  # type: ignore[method-assign]
    try:
        thread = threading.Thread(target=lambda: done.setdefault("first", first()))
        thread.start()
        assert paused.wait(30)
        audit.append = original  # type: ignore[method-assign]
        answer = second()
        resume.set()
        thread.join(30)
    finally:
        audit.append = original  # type: ignore[method-assign]
        resume.set()
    return done["first"], answer


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("paused", ["dataset.published", "source.deregistered"])
def test_a_publication_racing_the_deregistration_is_on_record_only_if_done(
    kind: str, paused: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """carl publishes a draft of civil-db while he deregisters civil-db: the publication's
    record was on the trail ``ok`` and its answer 409 (the source gone when it wrote)."""
    monkeypatch.setattr(row_locks, "WRITE_WAIT_S", 0.2)
    with open_deployment(kind, tmp_path / "h", db_prefix="sluice_red25_pubdereg") as gw:
        copy = _unshared_id(gw)
        _draft(gw, copy)
        publish = lambda: gw.client.post(  # noqa: E731
            f"/api/v1/datasets/{copy}/publish", headers=gw.headers("carl")
        )
        deregister = lambda: gw.client.delete(  # noqa: E731
            "/api/v1/sources/civil-db", headers=gw.headers("carl")
        )
        if paused == "dataset.published":
            published, deregistered = _paused_at(gw, paused, publish, deregister)
        else:
            deregistered, published = _paused_at(gw, paused, deregister, publish)
        for answer, type_ in ((published, "dataset.published"),
                              (deregistered, "source.deregistered")):  # fmt: skip
            assert answer.status_code in (200, 409), answer.text
            on_record = [e for e in _events(gw, type_) if e["outcome"] == "ok"]
            assert len(on_record) == (answer.status_code == 200), (type_, answer.text)
        assert sorted([published.status_code, deregistered.status_code]) == [200, 409]
