"""Attack fixtures: the whole product as a newcomer deploys it, attacked through HTTP.

``deployment`` is parametrised over the embedded default (SQLite catalog and audit
store, the demo departments' SQLite files) and a PostgreSQL deployment (catalog and
audit store in a fresh PostgreSQL database on the machine's server). Each attack test
that takes it runs against both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import drop_pg_database_later
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.migrated import create_migrated_pg_database


@contextmanager
def deployed(backend: str, home: Path, **overrides: Any) -> Iterator[DemoGateway]:
    """The demo gateway on ``backend`` (``sqlite``: the embedded default; ``postgres``: a
    fresh PostgreSQL database), with settings ``overrides``."""
    if backend == "sqlite":
        with demo_gateway(home, **overrides) as gw:
            yield gw
        return
    name, url = create_migrated_pg_database("sluice_attack")
    try:
        with demo_gateway(home, database_url=url, **overrides) as gw:
            yield gw
    finally:
        drop_pg_database_later(name)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    """A demo gateway on the embedded default, then on a PostgreSQL deployment."""
    with deployed(request.param, tmp_path_factory.mktemp(f"attack-{request.param}")) as gw:
        yield gw
