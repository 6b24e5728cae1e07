"""Startup tells an unsafe store from an absent one by the error's type, not its text."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from audit.log import AuditLog
from audit.store import AuditStore, StoreNotDurable
from catalog.errors import Unavailable
from tests.audit.helpers import event, open_log, sqlite_url


def test_settings_that_could_lose_events_are_refused_by_type(tmp_path: Path) -> None:
    store = AuditStore(sqlite_url(tmp_path), timeout_s=1.0)
    conn = sqlite3.connect(tmp_path / "loose.db")
    conn.execute("PRAGMA synchronous=OFF")
    try:
        with pytest.raises(StoreNotDurable, match="not durable") as caught:
            store.check_durable(conn)
    finally:
        conn.close()
    assert isinstance(caught.value, Unavailable)  # the same 503 as before
    assert caught.value.code == "unavailable"


def test_an_unsafe_store_stops_startup(
    tmp_path: Path, sluice_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def loose(self: AuditStore, conn: Any) -> None:
        raise StoreNotDurable("audit store not durable (the test says so)")

    monkeypatch.setattr(AuditStore, "check_durable", loose)
    with pytest.raises(StoreNotDurable):
        open_log(sqlite_url(tmp_path), sluice_home)


def test_a_store_that_is_down_does_not(sluice_home: Path) -> None:
    # nothing listens on port 1: unreachable, which a restart of the store may mend
    log = AuditLog.open(url="postgresql://postgres@127.0.0.1:1/sluice", home=sluice_home,
                        append_timeout_s=0.5, background=False)  # fmt: skip
    try:
        with pytest.raises(Unavailable) as caught:
            log.append(event(1))
        assert not isinstance(caught.value, StoreNotDurable)
    finally:
        log.close()
