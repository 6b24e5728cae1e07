"""Which servers the guard takes the catalog's URL to reach: every host libpq or the
driver may try, one row per spelling (the attack tests deploy a gateway on the ones a
gateway can run on: tests/attacks/test_redteam7_steward_own_catalog_multi_host.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.settings import load_settings
from gateway.enforcement.sources.guard import own_systems

DB = "postgresql+psycopg://app@{}/sluice"
CASES = [
    (DB.format("10.0.0.5"), {("10.0.0.5", 5432)}),
    (DB.format("") + "?host=10.0.0.5,10.0.0.6", {("10.0.0.5", 5432), ("10.0.0.6", 5432)}),
    (DB.format("") + "?host=10.0.0.5,10.0.0.6&port=5433,5434",
     {("10.0.0.5", 5433), ("10.0.0.6", 5434)}),
    (DB.format("") + "?host=10.0.0.5:5433&host=10.0.0.6:5434",
     {("10.0.0.5", 5433), ("10.0.0.6", 5434)}),
    (DB.format("10.0.0.5") + "?host=10.0.0.6", {("10.0.0.5", 5432), ("10.0.0.6", 5432)}),
    (DB.format("db.invalid") + "?hostaddr=10.0.0.7", {("db.invalid", 5432), ("10.0.0.7", 5432)}),
    (DB.format("") + "?host=/var/run/postgresql,10.0.0.6",
     {("localhost", 5432), ("10.0.0.6", 5432)}),
    (DB.format(""), {("localhost", 5432)}),
]  # fmt: skip


@pytest.mark.parametrize(("url", "servers"), CASES)
def test_every_server_the_catalog_url_names(
    url: str, servers: set[tuple[str, int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PGHOST", "PGHOSTADDR", "PGPORT"):
        monkeypatch.delenv(name, raising=False)
    own = own_systems(load_settings(home=tmp_path, database_url=url))
    assert {(c.host, c.port) for c in own.catalogs} == servers
    assert all(c.database == "sluice" for c in own.catalogs)


def test_pghost_when_the_url_names_no_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "10.0.0.8")
    monkeypatch.setenv("PGPORT", "5440")
    monkeypatch.delenv("PGHOSTADDR", raising=False)
    own = own_systems(load_settings(home=tmp_path, database_url=DB.format("")))
    assert {(c.host, c.port) for c in own.catalogs} == {("10.0.0.8", 5440)}
