"""As a steward: the Spark engine reads another department's database through another
address of its server, where the gateway's own connections are refused.

Every connection the gateway opens to a PostgreSQL source asks the server which it is
and is refused when another department's source, registered first, reached the same
server and database (``gateway.enforcement.sources.server_claims``). A comparison run on
the Spark engine (``engine: "spark"``) reads its sides by JDBC, in the JVM, where that
hook never runs: the address checks pass (the source names the server's LAN address,
through a relay here), and Spark read the rows (THREAT_MODEL: "Spark's JDBC reads do not
ask the server's identity").

State: civil registered its database first (its identity known); finance's source of
the same database, through the relay, got in while civil's identity was not yet known
(a source from before migration 0016 — the window
``test_steward_foreign_database_other_address`` shows). Every demo entry is served from
finance's source, so both sides of ``demo.payroll_on_dibao`` come from it.

Expected: the embedded engine's run fails on the refused connection, and so does the
Spark engine's — no hit from civil's database either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from catalog.models import Source
from tests.attacks.relay import lan_address, relay
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.comparison_env import PLANTED, start, wait
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.spark_jvm import shared_spark

pytestmark = pytest.mark.xdist_group("spark")  # one Spark session, on one worker
MASTER = "local[2]"
MODEL = "demo.payroll_on_dibao"


def _identity(url: str) -> str:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        row = conn.execute("SELECT s.system_identifier, current_database() "
                           "FROM pg_control_system() AS s").fetchone()  # fmt: skip
    assert row is not None
    return f"{row[0]}/{row[1]}"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    shared_spark(MASTER)
    address = lan_address()
    name, url = create_pg_database("sluice_spark_srvid")
    try:
        with (
            relay(address, ("127.0.0.1", 5432)) as port,
            demo_gateway(
                tmp_path_factory.mktemp("spark-srvid"),
                backend_url=url,
                sizes=PLANTED,
                spark_master=MASTER,
            ) as g,  # fmt: skip
        ):
            g.settings.source_allow_hosts.append(address)
            with g.services.sessions() as session:
                shared = session.query(Source).filter(Source.kind == "postgresql").one()
                real = make_url(shared.settings["url"])
                # civil's own source of the database, registered first, its identity known
                session.add(Source(
                    id="civil-roll", department="civil", kind="postgresql",
                    display_name="civil roll", settings={"url": shared.settings["url"]},
                    redacted="civil-roll", created_by="carl",
                    created_at=datetime.now(UTC) - timedelta(days=30),
                    server_identity=_identity(shared.settings["url"]),
                ))  # fmt: skip
                # finance's, later, through the relay on the LAN address
                shared.department = "finance"
                shared.created_at = datetime.now(UTC)
                shared.settings = {"url": real.set(host=address, port=port)
                                   .render_as_string(hide_password=False)}  # fmt: skip
                session.commit()
            g.client.app.state.broker.sources.close()  # type: ignore[attr-defined]
            yield g
    finally:
        drop_pg_database(name)


def _run(gw: DemoGateway, engine: str) -> dict[str, Any]:
    resp = start(gw, "dora", MODEL, engine=engine)
    assert resp.status_code == 202, resp.text
    return wait(gw, "dora", resp.json()["id"], timeout_s=300)


def test_the_embedded_engine_is_refused(gw: DemoGateway) -> None:
    run = _run(gw, "embedded")
    assert run["status"] == "failed", run
    assert not run.get("hits"), run


def test_spark_is_refused_as_the_gateway_is(gw: DemoGateway) -> None:
    run = _run(gw, "spark")
    assert run["status"] == "failed", run
    assert not run.get("hits"), run
