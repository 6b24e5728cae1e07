"""Issue 11, classes 2 and 3: a steward registers what is not theirs to register.

Before the fix the ownership check compared one settings field, so another department's
system could be reached through the secret (a full URL), a later PATCH of the secret,
or another spelling of the same server or file; SQL sources had no network guard at all,
so the machine's PostgreSQL and MariaDB — and on a PostgreSQL deployment the gateway's
own catalog and audit database — could be registered, and connection errors told which
ports answered. Every attack goes through the HTTP API as a steward (fiona: finance,
carl: civil) on the embedded SQLite default and on a PostgreSQL deployment.

``deployment`` has no allow-list (the newcomer's default); ``allowing`` allow-lists the
test servers' loopback names explicitly, as an admin running departments' databases on
the same machine would — the gateway's own databases must stay out even then.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from audit.search import EventFilter, list_events
from tests.attacks.deployments import KINDS, open_deployment
from tests.conftest import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)
from tests.gateway.demo_app import DemoGateway

ALLOWED = ["127.0.0.1", "localhost"]


@pytest.fixture(scope="module", params=KINDS)
def allowing(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    """Like ``deployment``, with the loopback servers allow-listed and a short timeout."""
    home = tmp_path_factory.mktemp(f"steward-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_attack_src",
                         source_allow_hosts=ALLOWED, statement_timeout_s=3.0) as gw:  # fmt: skip
        yield gw


@pytest.fixture(scope="module")
def civil_pg() -> Iterator[str]:
    """A database the civil department owns on the machine's PostgreSQL."""
    name, url = create_pg_database("sluice_civil")
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="module")
def civil_mysql() -> Iterator[str]:
    name, url = create_mysql_database("sluice_civil")
    try:
        yield url
    finally:
        drop_mysql_database(name)


def register(
    gw: DemoGateway, subject: str, kind: str, settings: dict[str, Any],
    secret: str | None = None, department: str | None = None,
) -> Any:  # fmt: skip
    body: dict[str, Any] = {
        "id": f"src-{uuid.uuid4().hex[:10]}",
        "department": department or ("finance" if subject == "fiona" else "civil"),
        "kind": kind,
        "display_name": "attempt",
        "settings": settings,
    }
    if secret is not None:
        body["secret"] = secret
    return gw.client.post("/api/v1/sources", json=body, headers=gw.headers(subject))


def shown(url: str) -> str:
    """A URL as a steward types it: no driver, no query."""
    parsed = make_url(url)
    return parsed.set(drivername=parsed.get_backend_name(), query={}).render_as_string(False)


def demo_file(gw: DemoGateway, name: str) -> Path:
    return Path(gw.settings.demo_data_dir) / name


def source_events(gw: DemoGateway, event_type: str) -> list[dict[str, Any]]:
    page = list_events(
        store=gw.services.audit.store, filters=EventFilter(), limit=300, order="desc"
    )
    return [e for e in page["items"] if e.get("type") == event_type]


def refused(resp: Any, status: int = 403) -> str:
    assert resp.status_code == status, resp.text
    return str(resp.json()["message"])


# -- class 2: a source's identity is what it connects to ---------------------------


def test_secret_url_cannot_name_another_departments_file(deployment: DemoGateway) -> None:
    """Settings name finance's own file; the secret (encrypted, never shown) names civil's."""
    civil = demo_file(deployment, "civil.db")
    resp = register(
        deployment, "fiona", "sqlite",
        {"url": f"sqlite:///{demo_file(deployment, 'finance.db')}"},
        secret=f"sqlite:///{civil}",
    )  # fmt: skip
    assert "credentials only" in refused(resp, 400) or "only the password" in resp.text


def test_secret_url_cannot_name_another_server(allowing: DemoGateway, civil_pg: str) -> None:
    assert register(allowing, "carl", "postgresql", {"url": shown(civil_pg)}).status_code == 201
    own_name, own_url = create_pg_database("sluice_fin")
    try:
        resp = register(
            allowing, "fiona", "postgresql", {"url": shown(own_url)},
            secret=shown(civil_pg).replace("postgres@", "postgres:x@"),
        )  # fmt: skip
        assert "only the password" in refused(resp, 400)
    finally:
        drop_pg_database(own_name)


def test_patch_of_the_secret_cannot_switch_target(deployment: DemoGateway) -> None:
    """Finance's own demo source, re-pointed at civil's file by a PATCH of its secret."""
    resp = deployment.client.patch(
        "/api/v1/sources/finance-db",
        json={"secret": f"sqlite:///{demo_file(deployment, 'civil.db')}"},
        headers=deployment.headers("fiona"),
    )
    refused(resp, 400)
    query = deployment.query(
        "arthur", "finance.payroll", {"fields": ["region_code"], "purpose": "supervision",
                                      "case_ref": "JW-2026-S1", "limit": 1},
    )  # fmt: skip
    assert query.status_code != 500


@pytest.mark.parametrize(
    "spelling",
    [
        "postgresql://postgres@localhost/{db}",  # another name, default port omitted
        "postgresql://postgres@127.0.0.1/{db}",  # default port omitted
        "postgresql://other_user@LOCALHOST.:5432/{db}",  # case, trailing dot, another user
        "postgresql+psycopg2://postgres@127.0.0.1:5432/{db}",  # another driver
    ],
)
def test_another_spelling_of_civils_postgresql(
    allowing: DemoGateway, civil_pg: str, spelling: str
) -> None:
    db = make_url(civil_pg).database
    if not any(s.get("department") == "civil" for s in _sources(allowing, "carl")):
        assert register(allowing, "carl", "postgresql", {"url": shown(civil_pg)}).status_code == 201
    resp = register(allowing, "fiona", "postgresql", {"url": spelling.format(db=db)})
    assert "already registered by department 'civil'" in refused(resp)


def test_another_spelling_of_civils_mariadb(allowing: DemoGateway, civil_mysql: str) -> None:
    url = make_url(civil_mysql)
    assert register(allowing, "carl", "mysql", {"url": shown(civil_mysql)}).status_code == 201
    for spelling in (
        f"mysql://root@localhost/{url.database}",
        f"mariadb://root@127.0.0.1:3306/{url.database}",
        "mysql://root@127.0.0.1/information_schema",  # another database …
    ):
        settings: dict[str, Any] = {"url": spelling}
        if "information_schema" in spelling:
            settings["schema"] = url.database  # … whose `schema` reads civil's tables
        resp = register(allowing, "fiona", "mysql", settings)
        assert "already registered by department 'civil'" in refused(resp), spelling


@pytest.mark.parametrize("how", ["hard link", "symlink", "dot-dot"])
def test_another_path_to_civils_sqlite_file(deployment: DemoGateway, how: str) -> None:
    """A steward who can write in the shared demo directory makes another path to
    civil's file (before the fix a hard link passed: only real paths were compared)."""
    civil = demo_file(deployment, "civil.db")
    path = demo_file(deployment, f"fin-{how.replace(' ', '')}-{uuid.uuid4().hex[:6]}.db")
    if how == "hard link":
        os.link(civil, path)
    elif how == "symlink":
        path.symlink_to(civil)
    else:
        sub = demo_file(deployment, f"sub-{uuid.uuid4().hex[:6]}")
        sub.mkdir()
        path = sub / ".." / "civil.db"
    resp = register(deployment, "fiona", "sqlite", {"url": f"sqlite:///{path}"})
    if how == "dot-dot":  # refused by the path guard before any identity is derived
        assert "'..'" in refused(resp, 400)
    else:
        assert "already registered by department 'civil'" in refused(resp)


def test_audit_records_the_effective_target(allowing: DemoGateway) -> None:
    name, _url = create_pg_database("sluice_fin")
    try:
        secret = f"pw-{uuid.uuid4().hex}"
        spelled = f"postgresql://postgres@localhost/{name}"
        resp = register(allowing, "fiona", "postgresql", {"url": spelled}, secret=secret)
        assert resp.status_code == 201, resp.text
        source_id = resp.json()["id"]
        event = next(
            e for e in source_events(allowing, "source.registered")
            if e["resource"] == f"source:{source_id}"
        )  # fmt: skip
        target = event["details"]["target"]
        assert target["scheme"] == "postgresql" and target["port"] == 5432
        assert target["database"] == name and target["connected_address"] == "127.0.0.1"
        assert "127.0.0.1" in target["addresses"]
        assert secret not in str(event)
        patch = allowing.client.patch(
            f"/api/v1/sources/{source_id}", json={"secret": "another-password"},
            headers=allowing.headers("fiona"),
        )  # fmt: skip
        assert patch.status_code == 200, patch.text
        updated = next(
            e for e in source_events(allowing, "source.updated")
            if e["resource"] == f"source:{source_id}"
        )  # fmt: skip
        assert updated["details"]["target"]["database"] == name
        assert "another-password" not in str(updated)
    finally:
        drop_pg_database(name)


def _sources(gw: DemoGateway, subject: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = gw.client.get(
        "/api/v1/sources", headers=gw.headers(subject)
    ).json()
    return [s for s in found if s.get("kind") == "postgresql"]


# -- class 3: SQL sources reach internal systems -----------------------------------


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("postgresql", "postgresql://postgres@127.0.0.1:5432/postgres"),
        ("postgresql", "postgresql://postgres@localhost/postgres"),
        ("postgresql", "postgresql://postgres@127.1/postgres"),
        ("postgresql", "postgresql://postgres@[::ffff:127.0.0.1]/postgres"),
        ("mysql", "mysql://root@127.0.0.1:3306/mysql"),
        ("mysql", "mysql://root@localhost/mysql"),
    ],
)
def test_local_database_servers_are_refused(deployment: DemoGateway, kind: str, url: str) -> None:
    resp = register(deployment, "fiona", kind, {"url": url})
    assert "SLUICE_SOURCE_ALLOW_HOSTS" in refused(resp)


def test_gateway_own_catalog_is_never_a_source(allowing: DemoGateway) -> None:
    """Even with its server allow-listed, the catalog/audit database stays out."""
    own = make_url(allowing.settings.resolved_database_url)
    if own.get_backend_name() == "sqlite":
        catalog = Path(str(own.database))
        link = demo_file(allowing, f"fin-{uuid.uuid4().hex[:6]}.db")
        os.link(catalog, link)  # the steward's directory and the home share a disk
        symlink = demo_file(allowing, f"fin-{uuid.uuid4().hex[:6]}.db")
        symlink.symlink_to(catalog)
        for path in (link, symlink):
            resp = register(allowing, "fiona", "sqlite", {"url": f"sqlite:///{path}"})
            assert resp.status_code == 403, resp.text
        return
    for host in ("127.0.0.1", "localhost", "127.0.0.1:5432"):
        url = f"postgresql://{own.username}@{host}/{own.database}"
        resp = register(allowing, "fiona", "postgresql", {"url": url})
        assert "gateway's own catalog" in refused(resp), url
    # another database on the same (allow-listed) server is a source like any other
    name, other = create_pg_database("sluice_fin")
    try:
        assert register(allowing, "fiona", "postgresql", {"url": shown(other)}).status_code == 201
    finally:
        drop_pg_database(name)


def test_a_source_repointed_behind_the_api_is_refused_on_connect(allowing: DemoGateway) -> None:
    """An operator's direct edit (or a DNS change) is caught when the adapter opens."""
    own = make_url(allowing.settings.resolved_database_url)
    if own.get_backend_name() == "sqlite":
        target = f"sqlite:///{demo_file(allowing, 'civil.db')}"  # civil registered it first
    else:
        target = f"postgresql://{own.username}@localhost/{own.database}"
    kind = "sqlite" if target.startswith("sqlite") else "postgresql"
    allowing.edit_source("finance-db", kind=kind, settings={"url": target})
    resp = allowing.query(
        "alice", "finance.payroll",
        {"fields": ["region_code"], "purpose": "supervision", "case_ref": "JW-2026-S2", "limit": 5},
    )  # fmt: skip
    assert resp.status_code == 403, resp.text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_errors_do_not_tell_which_ports_answer(allowing: DemoGateway) -> None:
    """A closed port, another protocol's port and the right server read the same."""
    closed = _closed_port()
    pg_is_catalog = allowing.settings.resolved_database_url.startswith("postgresql")
    # on a PostgreSQL deployment its server's port is refused outright (the catalog's)
    mysql_ports = (closed, 6379) if pg_is_catalog else (closed, 6379, 5432)
    for kind, ports in (("postgresql", (closed, 6379, 3306)), ("mysql", mysql_ports)):
        messages = set()
        for port in ports:
            resp = register(
                allowing, "fiona", kind,
                {"url": f"{kind}://nobody@127.0.0.1:{port}/nothing"}, secret="pw",
            )  # fmt: skip
            assert resp.status_code in (502, 504), resp.text
            message = resp.json()["message"]
            assert str(port) not in message and "127.0.0.1" not in message
            messages.add(message)
        assert len(messages) == 1, messages
        assert messages.pop().startswith("could not connect")


def test_unlisted_addresses_are_refused_before_connecting(deployment: DemoGateway) -> None:
    """Without an allow-list the real PostgreSQL and a closed port are one refusal."""
    messages = {
        refused(register(deployment, "fiona", "postgresql",
                         {"url": f"postgresql://postgres@127.0.0.1:{port}/postgres"}))
        for port in (5432, _closed_port(), 6379)
    }  # fmt: skip
    assert len(messages) == 1
