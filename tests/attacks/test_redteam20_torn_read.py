"""Red team 20, steward: a save that read the entry while another save committed left it
refused to everyone.

Seen on PostgreSQL under a loaded CPU only (``test_redteam20_steward_concurrent_saves``,
about one round in a few hundred): two PATCHes of the dibao roll sent together both
answered 200, and the entry then answered 423 ``entry_unsealed`` ("changed outside the
gateway") to every analyst, and every comparison model reading it did too. A save loads
the entry's row, then its fields (``lazy="selectin"``: a second SELECT); each statement
sees the newest commit (PostgreSQL at READ COMMITTED; SQLite's reads outside a write
transaction too), so when the other save committed between the two, this save's loaded
state was torn: the row from before the other save, its fields from after. It verified
under no seal, so it was taken as a row written back behind the gateway: not refused as
stale (409), bound to nothing, its seal left as loaded, and its values written under it.

Here the window is held open deterministically: carl's first save is paused between the
two SELECTs until his second save has committed. Now the first save, whose loaded state
does not verify while the entry as the database holds it now (read under the entry's
write lock) does and is the newest state the trail names, answers 409 ("load it again"),
and the entry serves. An entry genuinely written back behind the gateway still stays
refused (``test_insider_*``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event

from catalog import service as catalog_service
from gateway.stewardship.registration import datasets as steward_datasets
from tests.attacks.test_redteam20_steward_concurrent_saves import DIBAO, QUERY
from tests.gateway.demo_app import DemoGateway

PAUSE_S = 10.0


class _PauseBetweenLoads:
    """Holds the first request, once armed, that loads ``entry``'s fields (the second
    SELECT of a ``session.get`` of the entry) inside a marked function (the load the
    change goes on with) until ``go`` is set; later ones pass."""

    def __init__(self) -> None:
        self.paused, self.go = threading.Event(), threading.Event()
        self.entry = DIBAO
        self._armed = False
        self._lock = threading.Lock()
        self._editing = threading.local()

    def arm(self, entry: str = DIBAO) -> None:
        with self._lock:
            self.entry, self._armed = entry, True

    def mark(self, monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
        """``module.name``'s loads marked as the change's."""
        load: Callable[..., Any] = getattr(module, name)

        def marked(**kwargs: Any) -> Any:
            self._editing.on = True
            try:
                return load(**kwargs)
            finally:
                self._editing.on = False

        monkeypatch.setattr(module, name, marked)

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
                 _context: Any, _many: bool) -> None:  # fmt: skip
        flat = " ".join(statement.split()).lower()
        if not getattr(self._editing, "on", False):
            return
        if not (
            flat.startswith("select") and "from fields" in flat and self.entry in str(parameters)
        ):
            return
        with self._lock:
            if not self._armed:
                return
            self._armed = False
        self.paused.set()
        self.go.wait(PAUSE_S)


@pytest.fixture
def pause(deployment: DemoGateway) -> Iterator[_PauseBetweenLoads]:
    hook = _PauseBetweenLoads()
    engine = deployment.services.engine
    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield hook
    finally:
        hook.go.set()
        event.remove(engine, "before_cursor_execute", hook)


def _patch(gw: DemoGateway, body: dict[str, Any]) -> Any:
    return gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"), json=body)


def test_a_save_that_read_across_another_saves_commit_is_refused(
    deployment: DemoGateway, pause: _PauseBetweenLoads, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    pause.mark(monkeypatch, catalog_service, "update_dataset")  # the load the save edits
    entry = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("carl")).json()
    purposes = list(entry["allowed_purposes"])
    level = next(f["level"] for f in entry["fields"] if f["name"] == "household_size")
    other = "L3" if level != "L3" else "L2"
    first: dict[str, Any] = {}

    def save_first() -> None:  # loads the row, is paused before its fields
        first["resp"] = _patch(gw, {"fields": {"household_size": {"level": level}},
                                    "allowed_purposes": purposes[:1]})  # fmt: skip

    pause.arm()
    thread = threading.Thread(target=save_first)
    thread.start()
    try:
        assert pause.paused.wait(PAUSE_S), "the first save never loaded the entry's fields"
        second = _patch(gw, {"fields": {"household_size": {"level": other}}})
        assert second.status_code == 200, second.text
    finally:
        pause.go.set()
        thread.join()
    resp = gw.query("alice", DIBAO, QUERY)
    assert resp.status_code == 200, (first["resp"].status_code, resp.text)
    assert first["resp"].status_code == 409, first["resp"].text
    restored = _patch(gw, {"fields": {"household_size": {"level": level}},
                           "allowed_purposes": purposes})  # fmt: skip
    assert restored.status_code == 200, restored.text
    assert gw.query("alice", DIBAO, QUERY).status_code == 200


def test_a_publication_that_read_across_a_saves_commit_is_refused(
    deployment: DemoGateway, pause: _PauseBetweenLoads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a publication: it wrote ``published`` under the seal it had loaded
    (``bind_written`` bound nothing), and the entry was published refused to everyone."""
    gw = deployment
    entry, headers = "civil.dibao_torn_publication", gw.headers("carl")
    draft = gw.client.post("/api/v1/datasets", headers=headers, json={
        "source_id": "civil-db", "object_name": "dibao_recipients", "dataset_id": entry,
        "title_en": "dibao, torn", "allowed_purposes": ["supervision"]})  # fmt: skip
    assert draft.status_code == 201, draft.text
    region = gw.client.patch(f"/api/v1/datasets/{entry}", headers=headers,
                             json={"region_field": "region_code"})  # fmt: skip
    assert region.status_code == 200, region.text
    pause.mark(monkeypatch, steward_datasets, "_editable")  # the load it publishes
    pause.arm(entry)
    first: dict[str, Any] = {}

    def publish() -> None:
        first["resp"] = gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=headers)

    thread = threading.Thread(target=publish)
    thread.start()
    try:
        assert pause.paused.wait(PAUSE_S), "the publication never loaded the entry's fields"
        saved = gw.client.patch(f"/api/v1/datasets/{entry}", headers=headers,
                                json={"fields": {"household_size": {"level": "L3"}}})  # fmt: skip
        assert saved.status_code == 200, saved.text
    finally:
        pause.go.set()
        thread.join()
    assert first["resp"].status_code == 409, first["resp"].text
    again = gw.client.post(f"/api/v1/datasets/{entry}/publish", headers=headers)
    assert again.status_code == 200, again.text
    shown = gw.client.get(f"/api/v1/catalog/{entry}", headers=headers)
    assert shown.status_code == 200 and shown.json()["sealed"] is True, shown.text
