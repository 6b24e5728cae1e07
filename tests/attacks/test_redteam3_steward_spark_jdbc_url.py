"""Red team 3, as a steward: the Spark engine's JDBC URL obeys a database name.

Attack: a steward points their own source at a database on their own server whose
*name* ends in a JDBC parameter — ``decoy?PGDBNAME=<another database>`` (PostgreSQL
allows any character in a quoted database name). The gateway checks the target it
sees, the decoy (its own connection, the ownership and own-database checks and the
connection test all use the literal name, and it holds empty tables), and saves it.
A comparison run on the Spark engine (``engine: "spark"``) then builds
``jdbc:postgresql://<pinned address>:<port>/<database>`` by pasting the name in: the
driver reads ``?PGDBNAME=…`` (or ``PGHOST``, ``PGPORT``, ``socketFactory``, …) as its own
parameters, and Spark reads another database than the one the gateway checked — here
a database full of people, where the embedded engine, on the same source, finds none.

Rule broken: a source is what it connects to, checked on register, update and every
connect (THREAT_MODEL, issue 11 classes 2 and 3: the effective target, the gateway's own
databases never a source however spelled); a steward acts only on their own system.

Runs on a real Spark in local mode with the departments' tables on PostgreSQL (JDBC
reads need a SQL server; the catalog is the embedded default).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import make_url

from catalog.demo.users import DEMO_USERS
from catalog.models import Source
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.comparison_env import PLANTED, start, wait
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.spark_jvm import shared_spark

pytestmark = pytest.mark.xdist_group("spark")  # one Spark session, on one worker
MASTER = "local[2]"
MODEL = "demo.payroll_on_dibao"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    shared_spark(MASTER)
    name, url = create_pg_database("sluice_rt3_spark")
    try:
        with demo_gateway(tmp_path_factory.mktemp("rt3-spark"), backend_url=url,
                          sizes=PLANTED, spark_master=MASTER) as g:  # fmt: skip
            with g.services.sessions() as session:  # the shared source is carl's (civil)
                session.query(Source).filter(Source.kind == "postgresql").one().department = "civil"
                session.commit()
            yield g
    finally:
        drop_pg_database(name)


@pytest.fixture
def decoy(gw: DemoGateway) -> Iterator[str]:
    """A database named ``<name>_decoy?PGDBNAME=<name>`` on the same server, with the
    real database's tables, empty (the steward's own server: their choice)."""
    with gw.services.sessions() as session:
        source = session.query(Source).filter(Source.kind == "postgresql").one()
        real = make_url(source.settings["url"])
    name = f"{real.database}_decoy?PGDBNAME={real.database}"
    admin = create_engine(real.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        tables = MetaData()
        tables.reflect(create_engine(real))
        engine = create_engine(real.set(database=name))
        tables.create_all(engine)
        engine.dispose()
        yield name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _steward_of(department: str) -> str:
    return next(u["subject"] for u in DEMO_USERS
                if u["department"] == department and "steward" in u["roles"])  # fmt: skip


def _run(gw: DemoGateway, engine: str) -> dict[str, Any]:
    resp = start(gw, "dora", MODEL, engine=engine)
    assert resp.status_code == 202, resp.text
    return wait(gw, "dora", resp.json()["id"], timeout_s=300)


def test_spark_reads_the_database_the_gateway_checked(gw: DemoGateway, decoy: str) -> None:
    with gw.services.sessions() as session:
        source = session.query(Source).filter(Source.kind == "postgresql").one()
        source_id, department, real = source.id, source.department, source.settings["url"]
    repointed = make_url(real).set(database=decoy).render_as_string(hide_password=False)
    steward = _steward_of(department)
    patch = gw.client.patch(f"/api/v1/sources/{source_id}", json={"settings": {"url": repointed}},
                            headers=gw.headers(steward))  # fmt: skip
    assert patch.status_code == 200, patch.text
    try:
        embedded = _run(gw, "embedded")
        assert embedded["status"] == "done", embedded
        assert embedded["hits"] == 0  # the checked database holds nobody
        spark = _run(gw, "spark")
        # Spark reads what the gateway checked, or refuses: never another database
        assert spark["status"] != "done" or spark["hits"] == 0, spark
        assert spark["status"] == "failed", spark
        assert "database name" in spark["error"]["message"], spark["error"]
    finally:
        with gw.services.sessions() as session:
            row = session.get(Source, source_id)
            assert row is not None
            row.settings = {"url": real}
            session.commit()
