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
from tests.attacks.test_redteam20_steward_concurrent_saves import DIBAO, QUERY
from tests.gateway.demo_app import DemoGateway

PAUSE_S = 10.0


class _PauseBetweenLoads:
    """Holds the first save, once armed, that loads the dibao roll's fields (the second
    SELECT of the ``session.get`` of the entry that ``catalog.service.update_dataset``
    edits) until ``go`` is set; later ones pass."""

    def __init__(self) -> None:
        self.paused, self.go = threading.Event(), threading.Event()
        self._armed = False
        self._lock = threading.Lock()
        self._editing = threading.local()

    def arm(self) -> None:
        with self._lock:
            self._armed = True

    def editing(self, edit: Callable[..., Any]) -> Callable[..., Any]:
        """``edit`` (``catalog.service.update_dataset``), its loads marked as the save's."""

        def marked(**kwargs: Any) -> Any:
            self._editing.on = True
            try:
                return edit(**kwargs)
            finally:
                self._editing.on = False

        return marked

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
                 _context: Any, _many: bool) -> None:  # fmt: skip
        flat = " ".join(statement.split()).lower()
        if not getattr(self._editing, "on", False):
            return
        if not (flat.startswith("select") and "from fields" in flat and DIBAO in str(parameters)):
            return
        with self._lock:
            if not self._armed:
                return
            self._armed = False
        self.paused.set()
        self.go.wait(PAUSE_S)


@pytest.fixture
def pause(deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[_PauseBetweenLoads]:
    hook = _PauseBetweenLoads()
    monkeypatch.setattr(
        catalog_service, "update_dataset", hook.editing(catalog_service.update_dataset)
    )
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
    deployment: DemoGateway, pause: _PauseBetweenLoads
) -> None:
    gw = deployment
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
