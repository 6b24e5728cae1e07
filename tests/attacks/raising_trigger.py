"""A database insider's trigger that refuses a write with a message of their choosing
(SQLite ``RAISE(ABORT, …)``, PostgreSQL ``RAISE EXCEPTION``), and what an operator's
terminal then shows: red teams 61 and 62 put escape sequences in the message, which the
driver quotes into whatever the gateway prints of the failure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_redteam24_steward_terminal_text import CONTROL
from tests.gateway.demo_app import DemoGateway

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def refusing(
    kind: str, home: Path, *, table: str, name: str, message: str
) -> Iterator[DemoGateway]:
    """A demo deployment of ``kind`` whose ``table`` refuses every insert with ``message``
    (a trigger ``name``), planted behind the gateway."""
    with open_deployment(kind, home, db_prefix=f"sluice_{name}") as gw:
        if kind == "sqlite":
            gw.sql(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{message}'); END")  # fmt: skip
        else:
            gw.sql(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$body$ BEGIN RAISE EXCEPTION '{message}'; END $body$")  # fmt: skip
            gw.sql(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {name}()")  # fmt: skip
        yield gw


def refusing_gateway(*, table: str, name: str, message: str) -> Callable[..., Any]:
    """A module-scoped fixture ``gw``: ``refusing`` on each of ``KINDS`` in turn."""

    @pytest.fixture(scope="module", params=KINDS)
    def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[DemoGateway]:  # fmt: skip
        home = tmp_path_factory.mktemp(f"{name}-{request.param}")
        with refusing(request.param, home, table=table, name=name, message=message) as gateway:
            yield gateway

    return gw


def users_add(gw: DemoGateway, subject: str) -> tuple[int, str]:
    """``sluice users add SUBJECT`` on the deployment's host: exit status and stderr."""
    env = {**os.environ, "SLUICE_HOME": str(gw.settings.home), "PYTHONPATH": str(ROOT),
           "SLUICE_DATABASE_URL": gw.settings.resolved_database_url}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "users", "add", subject,
                           "--name", "Carol"], env=env, capture_output=True, timeout=120,
                          cwd=ROOT)  # fmt: skip
    return done.returncode, done.stderr.decode("utf-8", "replace")


def assert_no_control(text: str) -> None:
    """No control character reaches the terminal (line breaks aside)."""
    found: re.Match[str] | None = CONTROL.search(text.replace("\r\n", "\n"))
    assert found is None, ascii(text[max(found.start() - 200, 0) : found.end() + 80])
