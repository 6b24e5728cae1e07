"""The deployments the attacks run against, opened one way for every fixture.

``sqlite`` is the embedded default a newcomer gets (SQLite catalog and audit store, the
demo departments' SQLite files); ``postgres`` puts the catalog and the audit store in a
fresh database on the machine's PostgreSQL server (created here, migrated and seeded by
the demo's setup as ``sluice demo`` does it, dropped afterwards whatever the test did).
A fixture parametrised over ``KINDS`` runs each attack on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import drop_pg_database
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.migrated import create_migrated_pg_database

KINDS = ["sqlite", "postgres"]


@contextmanager
def open_deployment(
    kind: str, home: Path, *, db_prefix: str = "sluice_attack", **settings: Any
) -> Iterator[DemoGateway]:
    """A demo gateway in ``home`` on the ``kind`` deployment, with ``settings`` (the
    gateway's settings, as ``load_settings`` takes them); ``db_prefix`` names the
    PostgreSQL database (a random suffix is added), so a leftover says whose it was."""
    if kind not in KINDS:
        raise ValueError(f"a deployment is one of {KINDS}, not {kind!r}")
    if kind == "sqlite":
        with demo_gateway(home, **settings) as gw:
            yield gw
        return
    name, url = create_migrated_pg_database(db_prefix)
    try:
        with demo_gateway(home, database_url=url, **settings) as gw:
            yield gw
    finally:
        drop_pg_database(name)
