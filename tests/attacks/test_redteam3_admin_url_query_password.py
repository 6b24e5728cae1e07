"""Red team 3, as an admin reading what the CLI prints: a database password in the URL's
query string.

libpq, psycopg and PyMySQL take the password as a URL parameter as well as in the user
information (``postgresql+psycopg://sluice_owner@db/sluice?password=…``,
``mysql+pymysql://u@h/db?passwd=…``), and the gateway connects with either spelling.
``redact_url`` hid only the user-information password, so ``sluice db current`` and
``sluice db migrate`` (run by the owner, output pasted into tickets), the ``sluice
serve`` banner and ``sluice doctor`` printed the other spelling whole: the owner's
password, which must stay off the gateway hosts (docs/deploy.md), in a terminal log.

Rule broken: secrets never in responses or logs (THREAT_MODEL.md, tests that hold each
line: "secrets encrypted at rest, never in responses or logs").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from gateway.cli.banner import redact_url
from gateway.cli.main import cli
from tests.conftest import create_pg_database, drop_pg_database

SECRET = "owner-s3cret-in-the-query"


@pytest.fixture
def pg_url() -> Iterator[str]:
    name, url = create_pg_database("sluice_rt3_url")
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.mark.parametrize("spelling", [
    "postgresql+psycopg://sluice_owner@db.example/sluice?password={s}",
    "postgresql+psycopg://u:pw@db.example/sluice?sslmode=require&sslpassword={s}",
    "postgresql+psycopg:///sluice?host=/run/postgresql&PassWord={s}",
    "mysql+pymysql://u@db.example/sluice?passwd={s}&charset=utf8mb4",
    "mysql+pymysql://u@db.example/sluice?password={s}",
])  # fmt: skip
def test_redact_url_hides_a_password_in_the_query(spelling: str) -> None:
    shown = redact_url(spelling.format(s=SECRET))
    assert SECRET not in shown, shown


def test_db_commands_never_print_a_query_string_password(
    pg_url: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path))
    monkeypatch.setenv("SLUICE_DATABASE_URL", f"{pg_url}?password={SECRET}")
    runner = CliRunner()
    for args in (["db", "migrate"], ["db", "current"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "database" in result.output and SECRET not in result.output, result.output
