"""Shared set-up of the registration tests: a gateway home, two departments with a
steward each, an analyst, SQLite source files, and an in-process HTTP client."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from catalog.models import Department, User
from gateway.auth import mint_token
from gateway.core.services import Services
from gateway.core.settings import load_settings
from gateway.web.app import create_app
from gateway.wiring.container import build_services
from policies.decision import UserContext
from tests.adapters.sql_sources import TEST_SERVER_HOSTS
from tests.migrated import with_migrated_catalog

FIN = UserContext("fin_steward", "fin", ("steward",), "L3")
CIVIL = UserContext("civil_steward", "civil", ("steward",), "L3")
ANALYST = UserContext("analyst1", "fin", ("analyst",), "L3")

IDS = ["11010519491231002X", "440106198708123455", "110101199003074477"]
PEOPLE = [
    (1, "张伟", IDS[0], "13800138000", 120.5),
    (2, "欧阳娜娜", IDS[1], "15912345678", 99.0),
    (3, "王秀英", IDS[2], "18612345678", 0.0),
]


@dataclass
class Env:
    services: Services
    data: Path
    app: FastAPI | None = None

    def token(self, user: UserContext) -> dict[str, str]:
        auth = self.services.authenticator
        token = mint_token(user=user, key=auth.signing_key, issuer=auth.issuer, audience="sluice")
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, url: str, user: UserContext, body: Any = None) -> httpx.Response:
        """One request through ``httpx.ASGITransport`` (no network, no TestClient)."""
        if self.app is None:
            self.app = create_app(services=self.services)
        app = self.app

        async def _call() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            base = "http://testserver"  # a name the suite allows (tests/conftest.py)
            async with httpx.AsyncClient(transport=transport, base_url=base) as client:
                return await client.request(method, url, json=body, headers=self.token(user))

        return asyncio.run(_call())


def close_env(env: Env) -> None:
    env.services.audit.close()
    env.services.engine.dispose()


def make_env(tmp_path: Path, *, allow_hosts: tuple[str, ...] = TEST_SERVER_HOSTS) -> Env:
    """The test PostgreSQL and MariaDB are on loopback: allow-listed explicitly here,
    as an admin would (``SLUICE_SOURCE_ALLOW_HOSTS``); pass ``allow_hosts=()`` to see
    the network guard refuse them."""
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(
        home=tmp_path / "home", file_roots=[data], source_allow_hosts=list(allow_hosts)
    )
    services = build_services(with_migrated_catalog(settings))
    with services.sessions.begin() as session:
        session.add_all(
            [
                Department(code="fin", name_zh="财政局", name_en="Finance"),
                Department(code="civil", name_zh="民政局", name_en="Civil Affairs"),
            ]
        )
        session.flush()
        for user in (FIN, CIVIL, ANALYST):
            session.add(
                User(
                    subject=user.subject,
                    display_name=user.subject,
                    department=user.department,
                    clearance=user.clearance,
                    jurisdiction=[],
                    roles=list(user.roles),
                )
            )
    for user in (FIN, CIVIL):  # casbin: give the stewards their role
        services.authorizer.assign(subject=user.subject, role="steward", domain=user.department)
    return Env(services=services, data=data)


def make_sqlite_source(path: Path) -> Path:
    """A department's SQLite database with one table of people (made once per path)."""
    if path.exists():
        return path
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, xm TEXT, sfzh TEXT, "
            "phone TEXT, amount REAL)"
        )
        conn.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", PEOPLE)
    return path


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
